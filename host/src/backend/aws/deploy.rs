//! `switchyard deploy`: makes the AWS resources match routes.toml, idempotently. It reads what
//! exists, compares it with what routes.toml asks for, and changes only the difference, so a
//! second run changes nothing. With `dry_run` it only says what it would change.
//!
//! - tables with their streams, the idempotency table (with a TTL) and the lease table;
//! - queues with their attributes and redrive policies, and queue policies that let EventBridge
//!   rules send to them;
//! - buses, their archives, rules (patterns as written) and targets: input path or transformer,
//!   FIFO message group, retry policy and DLQ.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType as AwsViewType};
use aws_sdk_eventbridge::types::{
    DeadLetterConfig, InputTransformer, RetryPolicy, RuleState, SqsParameters, Target,
};
use aws_sdk_sqs::types::QueueAttributeName as Attr;
use serde_json::{Value, json};

use super::queues::seconds;
use super::{AwsStore, unavailable};
use crate::backend::StoreError;
use crate::config::{BusConfig, Destination, QueueConfig, StreamViewType, TargetInput};

/// What deploy changed, or would change, one line each.
pub type Plan = Vec<String>;

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
        self.deploy_tables(dry_run, &mut plan).await?;
        let arns = self
            .deploy_queues(queues, buses, dry_run, &mut plan)
            .await?;
        self.deploy_buses(buses, &arns, dry_run, &mut plan).await?;
        Ok(plan)
    }

    async fn deploy_tables(&self, dry_run: bool, plan: &mut Plan) -> Result<(), StoreError> {
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
            let wanted = view(table.view);
            if !existing.contains(&table.name) {
                plan.push(format!(
                    "create table `{}` keyed by `{}` with a {} stream",
                    table.name,
                    table.key,
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
            if !existing.contains(name) {
                plan.push(format!("create table `{name}` for {what}"));
                if !dry_run {
                    self.create_table(name, key, None).await?;
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

    /// The attributes routes.toml asks of a queue, but its redrive policy.
    fn queue_attributes(queue: &QueueConfig) -> BTreeMap<Attr, String> {
        let mut attributes = BTreeMap::from([
            (
                Attr::VisibilityTimeout,
                seconds(queue.visibility_timeout).to_string(),
            ),
            (
                Attr::MessageRetentionPeriod,
                seconds(queue.retention).clamp(60, 1_209_600).to_string(),
            ),
            (
                Attr::DelaySeconds,
                seconds(queue.delay).min(900).to_string(),
            ),
        ]);
        if queue.fifo {
            attributes.insert(
                Attr::ContentBasedDeduplication,
                queue.content_based_deduplication.to_string(),
            );
        }
        attributes
    }

    /// Creates missing queues, then sets attributes that differ; returns each queue's ARN
    /// (`None` for one a dry run would create).
    async fn deploy_queues(
        &self,
        queues: &[QueueConfig],
        buses: &[BusConfig],
        dry_run: bool,
        plan: &mut Plan,
    ) -> Result<Vec<Option<String>>, StoreError> {
        let mut arns = Vec::new();
        for (queue, aws) in queues.iter().zip(&self.queues) {
            let exists = self
                .sqs
                .get_queue_url()
                .queue_name(&aws.name)
                .send()
                .await
                .is_ok();
            if !exists {
                plan.push(format!("create queue `{}`", aws.name));
                if dry_run {
                    arns.push(None);
                    continue;
                }
                let mut attributes: HashMap<Attr, String> =
                    Self::queue_attributes(queue).into_iter().collect();
                if queue.fifo {
                    attributes.insert(Attr::FifoQueue, "true".into());
                }
                self.sqs
                    .create_queue()
                    .queue_name(&aws.name)
                    .set_attributes(Some(attributes))
                    .send()
                    .await
                    .map_err(unavailable)?;
            }
            arns.push(Some(self.queue_arn(&aws.name).await?));
        }
        let senders = self.senders(queues, buses);
        for (index, queue) in queues.iter().enumerate() {
            let Some(arn) = &arns[index] else { continue };
            let mut wanted = Self::queue_attributes(queue);
            if !senders[index].is_empty() {
                // Rules live in the queue's region and account.
                let rules: Vec<String> = senders[index]
                    .iter()
                    .map(|r| {
                        r.replace("{region}", region(arn))
                            .replace("{account}", account(arn))
                    })
                    .collect();
                wanted.insert(Attr::Policy, policy(arn, &rules));
            }
            if let Some(redrive) = queue.redrive {
                let Some(dlq) = &arns[redrive.dlq.index()] else {
                    continue;
                };
                wanted.insert(
                    Attr::RedrivePolicy,
                    json!({"deadLetterTargetArn": dlq, "maxReceiveCount": redrive.max_receive_count})
                        .to_string(),
                );
            }
            let current = self.current_attributes(&self.queues[index].name).await?;
            let mut changed: HashMap<Attr, String> = wanted
                .iter()
                .filter(|(name, value)| {
                    current
                        .get(name)
                        .is_none_or(|now| !same_attribute(name, now, value))
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            if changed.is_empty() {
                continue;
            }
            let mut names: Vec<&str> = changed.keys().map(Attr::as_str).collect();
            names.sort_unstable();
            plan.push(format!(
                "set {} of queue `{}`",
                names.join(", "),
                self.queues[index].name
            ));
            // moto forgets a queue's policy when other attributes are set without it.
            if let Some(policy) = wanted.get(&Attr::Policy) {
                changed.insert(Attr::Policy, policy.clone());
            }
            if !dry_run {
                self.set_queue_attributes(&self.queues[index].name, changed)
                    .await?;
            }
        }
        Ok(arns)
    }

    /// Per queue, the ARNs of the rules that send to it (as a target or the target's DLQ).
    fn senders(&self, queues: &[QueueConfig], buses: &[BusConfig]) -> Vec<Vec<String>> {
        let mut senders: Vec<Vec<String>> = vec![Vec::new(); queues.len()];
        for (bus, name) in buses.iter().zip(&self.buses) {
            for rule in &bus.rules {
                let rule_arn = format!(
                    "arn:aws:events:{{region}}:{{account}}:rule/{name}/{}",
                    rule.name
                );
                for target in &rule.targets {
                    let destination = match target.destination {
                        Destination::Queue(q) => Some(q),
                        Destination::Bus(_) => None,
                    };
                    for q in [destination, target.dlq].into_iter().flatten() {
                        if !senders[q.index()].contains(&rule_arn) {
                            senders[q.index()].push(rule_arn.clone());
                        }
                    }
                }
            }
        }
        senders
    }

    pub(super) async fn queue_arn(&self, name: &str) -> Result<String, StoreError> {
        let url = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(unavailable)?
            .queue_url
            .unwrap_or_default();
        let got = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(Attr::QueueArn)
            .send()
            .await
            .map_err(unavailable)?;
        got.attributes
            .and_then(|mut a| a.remove(&Attr::QueueArn))
            .ok_or_else(|| StoreError::Unavailable(format!("SQS gave no ARN for `{name}`")))
    }

    async fn current_attributes(&self, name: &str) -> Result<HashMap<Attr, String>, StoreError> {
        let url = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(unavailable)?
            .queue_url
            .unwrap_or_default();
        let got = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(Attr::All)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(got.attributes.unwrap_or_default())
    }

    async fn set_queue_attributes(
        &self,
        name: &str,
        attributes: HashMap<Attr, String>,
    ) -> Result<(), StoreError> {
        let url = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(unavailable)?
            .queue_url
            .unwrap_or_default();
        self.sqs
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Creates missing buses, archives, rules and targets, and updates those that differ;
    /// and the rules on them.
    async fn deploy_buses(
        &self,
        buses: &[BusConfig],
        queue_arns: &[Option<String>],
        dry_run: bool,
        plan: &mut Plan,
    ) -> Result<(), StoreError> {
        for (bus, name) in buses.iter().zip(&self.buses) {
            let arn = match self.events.describe_event_bus().name(name).send().await {
                Ok(found) => found.arn,
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    plan.push(format!("create bus `{name}`"));
                    if dry_run {
                        None
                    } else {
                        self.events
                            .create_event_bus()
                            .name(name)
                            .send()
                            .await
                            .map_err(unavailable)?
                            .event_bus_arn
                    }
                }
                Err(err) => return Err(unavailable(err)),
            };
            if let (Some(archive), Some(arn)) = (&bus.archive, &arn) {
                self.deploy_archive(name, arn, archive, dry_run, plan)
                    .await?;
            }
            for rule in &bus.rules {
                self.deploy_rule(name, arn.is_some(), rule, queue_arns, dry_run, plan)
                    .await?;
            }
        }
        Ok(())
    }

    async fn deploy_archive(
        &self,
        bus: &str,
        bus_arn: &str,
        archive: &crate::config::ArchiveConfig,
        dry_run: bool,
        plan: &mut Plan,
    ) -> Result<(), StoreError> {
        let name = format!("{bus}-archive");
        let pattern = archive.pattern.as_ref().map(|p| p.text.clone());
        let days = archive
            .retention
            .map(|r| r.as_secs().div_ceil(86400) as i32)
            .unwrap_or(0);
        match self
            .events
            .describe_archive()
            .archive_name(&name)
            .send()
            .await
        {
            Ok(found) => {
                let same_pattern = match (&found.event_pattern, &pattern) {
                    (Some(a), Some(b)) => same_json(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !same_pattern || found.retention_days.unwrap_or(0) != days {
                    plan.push(format!("update archive `{name}`"));
                    if !dry_run {
                        self.events
                            .update_archive()
                            .archive_name(&name)
                            .set_event_pattern(pattern)
                            .retention_days(days)
                            .send()
                            .await
                            .map_err(unavailable)?;
                    }
                }
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                plan.push(format!("create archive `{name}` of bus `{bus}`"));
                if !dry_run {
                    self.events
                        .create_archive()
                        .archive_name(&name)
                        .event_source_arn(bus_arn)
                        .set_event_pattern(pattern)
                        .retention_days(days)
                        .send()
                        .await
                        .map_err(unavailable)?;
                }
            }
            Err(err) => return Err(unavailable(err)),
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn deploy_rule(
        &self,
        bus: &str,
        bus_exists: bool,
        rule: &crate::config::RuleConfig,
        queue_arns: &[Option<String>],
        dry_run: bool,
        plan: &mut Plan,
    ) -> Result<(), StoreError> {
        let current = if bus_exists {
            match self
                .events
                .describe_rule()
                .name(&rule.name)
                .event_bus_name(bus)
                .send()
                .await
            {
                Ok(found) => Some(found),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    None
                }
                Err(err) => return Err(unavailable(err)),
            }
        } else {
            None
        };
        let same = current.as_ref().is_some_and(|found| {
            found
                .event_pattern
                .as_deref()
                .is_some_and(|p| same_json(p, &rule.pattern.text))
                && found.state == Some(RuleState::Enabled)
        });
        if !same {
            let verb = if current.is_some() {
                "update"
            } else {
                "create"
            };
            plan.push(format!("{verb} rule `{}` on bus `{bus}`", rule.name));
            if !dry_run {
                self.events
                    .put_rule()
                    .name(&rule.name)
                    .event_bus_name(bus)
                    .event_pattern(&rule.pattern.text)
                    .state(RuleState::Enabled)
                    .send()
                    .await
                    .map_err(unavailable)?;
            }
        }
        // Targets: compared as JSON, so that only real differences count.
        let mut wanted = Vec::new();
        for (i, target) in rule.targets.iter().enumerate() {
            let arn = match target.destination {
                Destination::Queue(q) => queue_arns[q.index()].clone(),
                Destination::Bus(b) => {
                    let name = &self.buses[b.index()];
                    self.events
                        .describe_event_bus()
                        .name(name)
                        .send()
                        .await
                        .ok()
                        .and_then(|f| f.arn)
                }
            };
            let Some(arn) = arn else {
                // A dry run: the destination does not exist yet, and creating it is planned.
                plan.push(format!(
                    "set target {} of rule `{}` on bus `{bus}`",
                    i + 1,
                    rule.name
                ));
                continue;
            };
            let dlq = target.dlq.and_then(|q| queue_arns[q.index()].clone());
            wanted.push(self.target(&format!("target-{}", i + 1), arn, bus, rule, target, dlq));
        }
        let existing = if current.is_some() {
            self.events
                .list_targets_by_rule()
                .rule(&rule.name)
                .event_bus_name(bus)
                .send()
                .await
                .map_err(unavailable)?
                .targets
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let changed: Vec<Target> = wanted
            .into_iter()
            .filter(|t| !existing.iter().any(|e| same_target(e, t)))
            .collect();
        let removed: Vec<String> = existing
            .iter()
            .filter(|e| !(1..=rule.targets.len()).any(|i| e.id() == format!("target-{i}")))
            .map(|e| e.id().to_string())
            .collect();
        for target in &changed {
            plan.push(format!(
                "set target `{}` of rule `{}` on bus `{bus}` to {}",
                target.id(),
                rule.name,
                target.arn()
            ));
        }
        for id in &removed {
            plan.push(format!(
                "remove target `{id}` of rule `{}` on bus `{bus}`",
                rule.name
            ));
        }
        if dry_run {
            return Ok(());
        }
        if !changed.is_empty() {
            let put = self
                .events
                .put_targets()
                .rule(&rule.name)
                .event_bus_name(bus)
                .set_targets(Some(changed))
                .send()
                .await
                .map_err(unavailable)?;
            if let Some(failed) = put.failed_entries.unwrap_or_default().first() {
                return Err(StoreError::Refused(format!(
                    "EventBridge refused a target of rule `{}`: {}",
                    rule.name,
                    failed.error_message.as_deref().unwrap_or_default()
                )));
            }
        }
        if !removed.is_empty() {
            self.events
                .remove_targets()
                .rule(&rule.name)
                .event_bus_name(bus)
                .set_ids(Some(removed))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn target(
        &self,
        id: &str,
        arn: String,
        bus: &str,
        rule: &crate::config::RuleConfig,
        target: &crate::config::RuleTargetConfig,
        dlq: Option<String>,
    ) -> Target {
        let mut built = Target::builder().id(id).arn(arn);
        built = match &target.input {
            TargetInput::Event => built,
            TargetInput::Path(path) => built.input_path(path),
            TargetInput::Transformer { paths, template } => built.input_transformer(
                InputTransformer::builder()
                    .set_input_paths_map(Some(paths.clone().into_iter().collect()))
                    .input_template(template)
                    .build()
                    .expect("the template is set"),
            ),
        };
        if let Destination::Queue(q) = target.destination
            && self.queues[q.index()].fifo
        {
            // One group per rule keeps the bus's order, as the embedded bus does.
            built = built.sqs_parameters(
                SqsParameters::builder()
                    .message_group_id(format!("{bus}/{}", rule.name))
                    .build(),
            );
        }
        let mut retry = RetryPolicy::builder();
        if let Some(attempts) = target.retry.attempts {
            retry = retry.maximum_retry_attempts(attempts.min(185) as i32);
        }
        if let Some(age) = target.retry.max_age {
            retry = retry.maximum_event_age_in_seconds(age.as_secs().clamp(60, 86400) as i32);
        }
        if target.retry.attempts.is_some() || target.retry.max_age.is_some() {
            built = built.retry_policy(retry.build());
        }
        if let Some(dlq) = dlq {
            built = built.dead_letter_config(DeadLetterConfig::builder().arn(dlq).build());
        }
        built.build().expect("id and arn are set")
    }
}

/// A queue policy that lets the EventBridge rules `rules` send to the queue `arn`, as the
/// console writes it.
fn policy(arn: &str, rules: &[String]) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "switchyard-rules",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rules}},
        }],
    })
    .to_string()
}

/// Policies compare as JSON; redrive policies also with `maxReceiveCount` as a number or a
/// string; the rest as text.
fn same_attribute(name: &Attr, now: &str, wanted: &str) -> bool {
    match name {
        Attr::Policy => same_json(now, wanted),
        Attr::RedrivePolicy => same_redrive(now, wanted),
        _ => now == wanted,
    }
}

fn same_redrive(now: &str, wanted: &str) -> bool {
    let normal = |text: &str| -> Option<(String, String)> {
        let v: Value = serde_json::from_str(text).ok()?;
        let count = match &v["maxReceiveCount"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some((v["deadLetterTargetArn"].as_str()?.to_string(), count))
    };
    normal(now).is_some() && normal(now) == normal(wanted)
}

fn same_target(a: &Target, b: &Target) -> bool {
    let transformer = |t: &Target| {
        t.input_transformer().map(|i| {
            (
                i.input_paths_map()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect::<BTreeMap<_, _>>(),
                i.input_template().to_string(),
            )
        })
    };
    a.id() == b.id()
        && a.arn() == b.arn()
        && a.input_path() == b.input_path()
        && transformer(a) == transformer(b)
        && a.sqs_parameters().and_then(|s| s.message_group_id())
            == b.sqs_parameters().and_then(|s| s.message_group_id())
        && a.retry_policy()
            .map(|r| (r.maximum_retry_attempts(), r.maximum_event_age_in_seconds()))
            == b.retry_policy()
                .map(|r| (r.maximum_retry_attempts(), r.maximum_event_age_in_seconds()))
        && a.dead_letter_config().and_then(|d| d.arn())
            == b.dead_letter_config().and_then(|d| d.arn())
}
