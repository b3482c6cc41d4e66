//! `switchyard deploy`: makes the AWS resources match routes.toml, idempotently. It reads what
//! exists, compares it with what routes.toml asks for, and changes only the difference, so a
//! second run changes nothing. With `dry_run` it only says what it would change.
//!
//! - tables with their streams, the idempotency table (with a TTL) and the lease table;
//! - queues with their attributes and redrive policies, and queue policies that let EventBridge
//!   rules send to them;
//! - buses, their archives, rules (patterns as written) and targets: input path or transformer,
//!   FIFO message group, retry policy and DLQ.

mod buses;
mod queues;

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType as AwsViewType};
use serde_json::Value;

use super::{AwsStore, unavailable};
use crate::backend::StoreError;
use crate::config::{BusConfig, Destination, KeySchema, QueueConfig, StreamViewType};

/// What deploy changed, or would change, one line each.
pub type Plan = Vec<String>;

/// Tells a progress display which resource deploy is checking: `(checked so far, of how many,
/// which)`, e.g. `(3, 9, "queue `orders-dlq`")`.
pub type Checking<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// Counts the resources checked, for [`Checking`].
struct Checked<'a> {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    tell: Checking<'a>,
}

impl Checked<'_> {
    fn checking(&self, what: &str) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (self.tell)(done, self.total, what);
    }
}

fn view(view: StreamViewType) -> AwsViewType {
    match view {
        StreamViewType::KeysOnly => AwsViewType::KeysOnly,
        StreamViewType::NewImage => AwsViewType::NewImage,
        StreamViewType::OldImage => AwsViewType::OldImage,
        StreamViewType::NewAndOldImages => AwsViewType::NewAndOldImages,
    }
}

/// Two JSON texts with the same meaning compare equal, whatever their spacing and key order.
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The account in an ARN (`arn:aws:SERVICE:REGION:ACCOUNT:...`).
fn account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

fn region(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

impl AwsStore {
    /// Creates or updates every resource routes.toml names; returns what changed.
    pub async fn deploy(
        &self,
        queues: &[QueueConfig],
        buses: &[BusConfig],
        dry_run: bool,
    ) -> Result<Plan, StoreError> {
        self.deploy_with(queues, buses, dry_run, &|_, _, _| {})
            .await
    }

    /// [`AwsStore::deploy`], telling `checking` each table, queue and bus as it checks it.
    pub async fn deploy_with(
        &self,
        queues: &[QueueConfig],
        buses: &[BusConfig],
        dry_run: bool,
        checking: Checking<'_>,
    ) -> Result<Plan, StoreError> {
        for bus in buses {
            for rule in &bus.rules {
                for target in &rule.targets {
                    if let Destination::Queue(q) = target.destination
                        && queues[q.index()].fifo
                        && !queues[q.index()].content_based_deduplication
                    {
                        return Err(StoreError::Refused(format!(
                            "rule `{}` of bus `{}` sends to FIFO queue `{}`: EventBridge needs \
                             `content_based_deduplication = true` on it",
                            rule.name,
                            bus.name,
                            queues[q.index()].name
                        )));
                    }
                }
            }
        }
        let mut plan = Plan::new();
        let checked = Checked {
            // Tables, then the idempotency and lease tables, queues and buses.
            total: self.tables.len() + 2 + queues.len() + buses.len(),
            done: Default::default(),
            tell: checking,
        };
        self.deploy_tables(dry_run, &mut plan, &checked).await?;
        let arns = self
            .deploy_queues(queues, buses, dry_run, &mut plan, &checked)
            .await?;
        self.deploy_buses(buses, &arns, dry_run, &mut plan, &checked)
            .await?;
        Ok(plan)
    }

    async fn deploy_tables(
        &self,
        dry_run: bool,
        plan: &mut Plan,
        checked: &Checked<'_>,
    ) -> Result<(), StoreError> {
        let mut existing = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .list_tables()
                .set_exclusive_start_table_name(start)
                .send()
                .await
                .map_err(unavailable)?;
            existing.extend(page.table_names.unwrap_or_default());
            start = page.last_evaluated_table_name;
            if start.is_none() {
                break;
            }
        }
        for table in &self.tables {
            checked.checking(&format!("table `{}`", table.name));
            let wanted = view(table.view);
            if !existing.contains(&table.name) {
                plan.push(format!(
                    "create table `{}` keyed by {} with a {} stream",
                    table.name,
                    table
                        .key
                        .attributes()
                        .map(|a| format!("`{}` ({})", a.name, a.kind.as_str()))
                        .collect::<Vec<_>>()
                        .join(" and "),
                    wanted.as_str()
                ));
                if !dry_run {
                    let stream = StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(wanted)
                        .build()
                        .map_err(unavailable)?;
                    self.create_table(&table.name, &table.key, Some(stream))
                        .await?;
                }
                continue;
            }
            let described = self
                .client
                .describe_table()
                .table_name(&table.name)
                .send()
                .await
                .map_err(unavailable)?;
            let stream = described.table.and_then(|t| t.stream_specification);
            let current = stream
                .filter(|s| s.stream_enabled)
                .and_then(|s| s.stream_view_type);
            if current.as_ref() != Some(&wanted) {
                // DynamoDB cannot change a stream's view type in place: disable, then enable.
                plan.push(format!(
                    "set the stream of table `{}` to {}",
                    table.name,
                    wanted.as_str()
                ));
                if !dry_run {
                    if current.is_some() {
                        self.set_stream(&table.name, None).await?;
                    }
                    self.set_stream(&table.name, Some(wanted)).await?;
                }
            }
        }
        for (name, key, what) in [
            (&self.idempotency, "pk", "idempotency keys"),
            (
                &self.leases,
                super::leases::KEY,
                "pipe checkpoints and leases",
            ),
        ] {
            checked.checking(&format!("table `{name}`"));
            if !existing.contains(name) {
                plan.push(format!("create table `{name}` for {what}"));
                if !dry_run {
                    self.create_table(name, &KeySchema::simple(key), None)
                        .await?;
                    if name == &self.idempotency {
                        self.client
                            .update_time_to_live()
                            .table_name(name)
                            .time_to_live_specification(
                                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                                    .enabled(true)
                                    .attribute_name("expires")
                                    .build()
                                    .map_err(unavailable)?,
                            )
                            .send()
                            .await
                            .map_err(unavailable)?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn set_stream(&self, table: &str, view: Option<AwsViewType>) -> Result<(), StoreError> {
        let spec = StreamSpecification::builder()
            .stream_enabled(view.is_some())
            .set_stream_view_type(view)
            .build()
            .map_err(unavailable)?;
        self.client
            .update_table()
            .table_name(table)
            .stream_specification(spec)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
