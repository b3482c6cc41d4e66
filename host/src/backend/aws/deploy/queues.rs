//! Queues: created where missing, then every attribute that differs from routes.toml set,
//! the redrive policy and the policy that lets EventBridge rules send included.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::types::QueueAttributeName as Attr;
use serde_json::{Value, json};

use super::{Plan, account, region, same_json};
use crate::backend::StoreError;
use crate::backend::aws::queues::seconds;
use crate::backend::aws::{AwsStore, unavailable};
use crate::config::{BusConfig, Destination, QueueConfig};

impl AwsStore {
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
    pub(super) async fn deploy_queues(
        &self,
        queues: &[QueueConfig],
        buses: &[BusConfig],
        dry_run: bool,
        plan: &mut Plan,
        checked: &super::Checked<'_>,
    ) -> Result<Vec<Option<String>>, StoreError> {
        let mut arns = Vec::new();
        for (queue, aws) in queues.iter().zip(&self.queues) {
            checked.checking(&format!("queue `{}`", aws.name));
            let exists = match self.sqs.get_queue_url().queue_name(&aws.name).send().await {
                Ok(_) => true,
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_queue_does_not_exist()) =>
                {
                    false
                }
                Err(err) => return Err(unavailable(err)),
            };
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
            let current = self.attributes(&self.queues[index].name, Attr::All).await?;
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

    /// A queue's URL, by its SQS name.
    async fn url_of(&self, name: &str) -> Result<String, StoreError> {
        let found = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(found.queue_url.unwrap_or_default())
    }

    pub(in crate::backend::aws) async fn queue_arn(
        &self,
        name: &str,
    ) -> Result<String, StoreError> {
        self.attributes(name, Attr::QueueArn)
            .await?
            .remove(&Attr::QueueArn)
            .ok_or_else(|| StoreError::Unavailable(format!("SQS gave no ARN for `{name}`")))
    }

    /// A queue's attribute `which` (or all of them, with `Attr::All`).
    async fn attributes(
        &self,
        name: &str,
        which: Attr,
    ) -> Result<HashMap<Attr, String>, StoreError> {
        let got = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.url_of(name).await?)
            .attribute_names(which)
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
        self.sqs
            .set_queue_attributes()
            .queue_url(self.url_of(name).await?)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
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
