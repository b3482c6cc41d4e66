//! Buses, their archives, rules and targets: created where missing, updated where they differ
//! from routes.toml, and targets routes.toml no longer names removed.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{
    DeadLetterConfig, InputTransformer, RetryPolicy, RuleState, SqsParameters, Target,
};

use super::{Plan, same_json};
use crate::backend::StoreError;
use crate::backend::aws::{AwsStore, unavailable};
use crate::config::{BusConfig, Destination, TargetInput};

impl AwsStore {
    /// Creates missing buses, archives, rules and targets, and updates those that differ.
    pub(super) async fn deploy_buses(
        &self,
        buses: &[BusConfig],
        queue_arns: &[Option<String>],
        dry_run: bool,
        plan: &mut Plan,
        checked: &super::Checked<'_>,
    ) -> Result<(), StoreError> {
        for (bus, name) in buses.iter().zip(&self.buses) {
            checked.checking(&format!("bus `{name}`"));
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
