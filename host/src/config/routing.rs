//! The routing sections of routes.toml: pipes, buses with their rules, queues and consumers,
//! with their references to tables, plugins, buses and queues resolved to ids.

use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use toml::Spanned;

use super::checker::{Checker, NAME_RULE, secs, valid_name};
use super::compile::{Entry, Names};
use super::raw::{self, Text};
use super::units::{parse_duration, show_duration};
use super::*;

/// The defaults and ranges of a retry policy, where it is set.
struct RetryRules {
    attempts: i64,
    attempts_range: RangeInclusive<i64>,
    max_age: Option<Duration>,
    age_range: RangeInclusive<Duration>,
    /// Whether -1 attempts and an infinite `max_age` are allowed, meaning no limit.
    infinite: bool,
}

/// A pipe's: AWS's ranges for a Pipes stream source, where -1 is infinite, with Switchyard's
/// own default of 3 attempts (AWS retries until the record expires).
const PIPE_RETRY: RetryRules = RetryRules {
    attempts: 3,
    attempts_range: -1..=10_000,
    max_age: None,
    age_range: Duration::from_secs(60)..=Duration::from_secs(7 * 86400),
    infinite: true,
};

/// A rule target's: EventBridge's ranges and defaults, which have no infinite.
const TARGET_RETRY: RetryRules = RetryRules {
    attempts: 185,
    attempts_range: 0..=185,
    max_age: Some(Duration::from_secs(86400)),
    age_range: Duration::from_secs(60)..=Duration::from_secs(86400),
    infinite: false,
};

impl Checker<'_> {
    pub(super) fn pipe(
        &mut self,
        Entry { name, raw, .. }: Entry<raw::Pipe>,
        names: &Names,
    ) -> PipeConfig {
        let key = format!("pipes.{name}");
        let source = TableId(
            self.resolve(
                &format!("{key}.source"),
                "table",
                &names.tables,
                &raw.source,
            )
            .unwrap_or(0),
        );
        let starting_position = self.choice(
            &format!("{key}.starting_position"),
            raw.starting_position.as_ref(),
            StartingPosition::TrimHorizon,
            &[
                ("trim_horizon", StartingPosition::TrimHorizon),
                ("latest", StartingPosition::Latest),
            ],
        );
        let batch_size = self.integer(
            &format!("{key}.batch_size"),
            raw.batch_size.as_ref(),
            100,
            1..=10_000,
        ) as u32;
        let batching_window = self.duration(
            &format!("{key}.batching_window"),
            raw.batching_window.as_ref(),
            secs(0),
            secs(0)..=secs(300),
        );
        let filter = self.filter(&format!("{key}.filter"), raw.filter);
        let filter_plugin = raw.filter_plugin.as_ref().and_then(|p| {
            self.plugin_ref(&format!("{key}.filter_plugin"), names, p, World::Filter)
        });
        let enrichment = raw
            .enrichment
            .as_ref()
            .and_then(|p| self.plugin_ref(&format!("{key}.enrichment"), names, p, World::Enricher));
        let (target_span, target) = (raw.target.span(), raw.target.into_inner());
        let destination = self
            .destination(
                &format!("{key}.target"),
                target_span,
                target.bus.as_ref(),
                target.queue.as_ref(),
                names,
            )
            .unwrap_or(Destination::Queue(QueueId(0)));
        let retry = self.retry(&format!("{key}.retry"), raw.retry.as_ref(), &PIPE_RETRY);
        let dlq = raw
            .dlq
            .as_ref()
            .and_then(|q| self.resolve(&format!("{key}.dlq"), "queue", &names.queues, q))
            .map(QueueId);
        PipeConfig {
            target: PipeTarget {
                destination,
                detail_type: target.detail_type.map_or_else(
                    || "Event from aws:dynamodb".to_string(),
                    Spanned::into_inner,
                ),
                source: target
                    .source
                    .map_or_else(|| format!("Pipe {name}"), Spanned::into_inner),
                input_template: target.input_template.map(Spanned::into_inner),
            },
            name,
            source,
            starting_position,
            batch_size,
            batching_window,
            filter,
            unmarshal: raw.unmarshal,
            filter_plugin,
            enrichment,
            retry,
            dlq,
        }
    }

    pub(super) fn bus(
        &mut self,
        id: BusId,
        Entry { name, raw, .. }: Entry<raw::Bus>,
        names: &Names,
    ) -> BusConfig {
        let key = format!("buses.{name}");
        let archive = raw.archive.map(|a| ArchiveConfig {
            pattern: a
                .pattern
                .as_ref()
                .and_then(|p| self.pattern(&format!("{key}.archive.pattern"), p)),
            retention: a.retention.as_ref().map(|r| {
                self.duration(
                    &format!("{key}.archive.retention"),
                    Some(r),
                    secs(0),
                    secs(86400)..=secs(3650 * 86400),
                )
            }),
        });
        let mut rules = Vec::new();
        for (rule_name, rule) in raw.rules {
            let rule_key = format!("{key}.rules.{}", rule_name.get_ref());
            if !valid_name(rule_name.get_ref()) {
                self.report(&rule_key, rule_name.span(), NAME_RULE);
            }
            let pattern = self.pattern(&format!("{rule_key}.pattern"), &rule.pattern);
            let (targets_span, raw_targets) = (rule.targets.span(), rule.targets.into_inner());
            if raw_targets.is_empty() || raw_targets.len() > 5 {
                self.report(
                    format!("{rule_key}.targets"),
                    targets_span.clone(),
                    format!("a rule has 1 to 5 targets, found {}", raw_targets.len()),
                );
            }
            let mut targets = Vec::new();
            for (i, t) in raw_targets.into_iter().enumerate() {
                let target_key = format!("{rule_key}.targets[{i}]");
                let destination = self.destination(
                    &target_key,
                    targets_span.clone(),
                    t.bus.as_ref(),
                    t.queue.as_ref(),
                    names,
                );
                if destination == Some(Destination::Bus(id)) {
                    self.report(
                        format!("{target_key}.bus"),
                        t.bus.as_ref().map_or(targets_span.clone(), Spanned::span),
                        "a rule cannot target its own bus",
                    );
                }
                let input = match (t.input_path, t.input_transformer) {
                    (None, None) => TargetInput::Event,
                    (Some(path), None) => {
                        if !path.get_ref().starts_with('$') {
                            self.report(
                                format!("{target_key}.input_path"),
                                path.span(),
                                format!(
                                    "`{}` is not a JSONPath; it must start with `$`",
                                    path.get_ref()
                                ),
                            );
                        }
                        TargetInput::Path(path.into_inner())
                    }
                    (None, Some(tr)) => TargetInput::Transformer {
                        paths: tr
                            .input_paths
                            .into_iter()
                            .map(|(k, v)| (k, v.into_inner()))
                            .collect(),
                        template: tr.input_template.into_inner(),
                    },
                    (Some(path), Some(_)) => {
                        self.report(
                            format!("{target_key}.input_path"),
                            path.span(),
                            "set either `input_path` or `input_transformer`, not both",
                        );
                        TargetInput::Event
                    }
                };
                let retry = self.retry(
                    &format!("{target_key}.retry"),
                    t.retry.as_ref(),
                    &TARGET_RETRY,
                );
                let dlq = t
                    .dlq
                    .as_ref()
                    .and_then(|q| {
                        self.resolve(&format!("{target_key}.dlq"), "queue", &names.queues, q)
                    })
                    .map(QueueId);
                if let Some(destination) = destination {
                    targets.push(RuleTargetConfig {
                        destination,
                        input,
                        retry,
                        dlq,
                    });
                }
            }
            if let Some(pattern) = pattern {
                rules.push(RuleConfig {
                    name: rule_name.into_inner(),
                    pattern,
                    targets,
                });
            }
        }
        BusConfig {
            name,
            archive,
            rules,
        }
    }

    pub(super) fn queue(
        &mut self,
        index: usize,
        Entry { name, raw, span }: Entry<raw::Queue>,
        names: &Names,
    ) -> QueueConfig {
        let key = format!("queues.{name}");
        let visibility_timeout = self.duration(
            &format!("{key}.visibility_timeout"),
            raw.visibility_timeout.as_ref(),
            secs(30),
            secs(0)..=secs(12 * 3600),
        );
        let retention = self.duration(
            &format!("{key}.retention"),
            raw.retention.as_ref(),
            secs(4 * 86400),
            secs(60)..=secs(14 * 86400),
        );
        let delay = self.duration(
            &format!("{key}.delay"),
            raw.delay.as_ref(),
            secs(0),
            secs(0)..=secs(900),
        );
        let dlq = raw
            .dlq
            .as_ref()
            .and_then(|q| self.resolve(&format!("{key}.dlq"), "queue", &names.queues, q));
        let redrive = match (dlq, &raw.max_receive_count) {
            (Some(dlq), count) => {
                let dlq_span = raw.dlq.as_ref().map_or(span.clone(), Spanned::span);
                if dlq == index {
                    self.report(
                        format!("{key}.dlq"),
                        dlq_span.clone(),
                        "a queue cannot be its own dead-letter queue",
                    );
                }
                if names.queue_fifo[dlq] != raw.fifo {
                    let kind = if raw.fifo { "a FIFO" } else { "a standard" };
                    self.report(
                        format!("{key}.dlq"),
                        dlq_span,
                        format!("the dead-letter queue of {kind} queue must also be {kind} queue"),
                    );
                }
                let max_receive_count = self.integer(
                    &format!("{key}.max_receive_count"),
                    count.as_ref(),
                    10,
                    1..=1000,
                ) as u32;
                Some(Redrive {
                    dlq: QueueId(dlq),
                    max_receive_count,
                })
            }
            (None, Some(count)) if raw.dlq.is_none() => {
                self.report(
                    format!("{key}.max_receive_count"),
                    count.span(),
                    "needs `dlq`: the queue that messages move to after this many receives",
                );
                None
            }
            (None, _) => None,
        };
        if raw.content_based_deduplication && !raw.fifo {
            self.report(
                format!("{key}.content_based_deduplication"),
                span,
                "is only for FIFO queues (`fifo = true`)",
            );
        }
        QueueConfig {
            name,
            visibility_timeout,
            retention,
            delay,
            redrive,
            fifo: raw.fifo,
            content_based_deduplication: raw.content_based_deduplication,
        }
    }

    pub(super) fn consumer(
        &mut self,
        Entry { name, raw, .. }: Entry<raw::Consumer>,
        names: &Names,
    ) -> ConsumerConfig {
        let key = format!("consumers.{name}");
        let queue = self
            .resolve(&format!("{key}.queue"), "queue", &names.queues, &raw.queue)
            .unwrap_or(0);
        let handler = self
            .plugin_ref(
                &format!("{key}.handler"),
                names,
                &raw.handler,
                World::Consumer,
            )
            .unwrap_or(PluginId(0));
        let fifo = names.queue_fifo.get(queue).copied().unwrap_or(false);
        let max_batch = if fifo { 10 } else { 10_000 };
        let batch_size = self.integer(
            &format!("{key}.batch_size"),
            raw.batch_size.as_ref(),
            10,
            1..=max_batch,
        ) as u32;
        let batching_window = self.duration(
            &format!("{key}.batching_window"),
            raw.batching_window.as_ref(),
            secs(0),
            secs(0)..=secs(300),
        );
        let concurrency = self.integer(
            &format!("{key}.concurrency"),
            raw.concurrency.as_ref(),
            2,
            1..=1000,
        ) as u32;
        ConsumerConfig {
            name,
            queue: QueueId(queue),
            handler,
            batch_size,
            batching_window,
            concurrency,
        }
    }

    fn plugin_ref(
        &mut self,
        key: &str,
        names: &Names,
        text: &Text,
        world: World,
    ) -> Option<PluginId> {
        let index = self.resolve(key, "plugin", &names.plugins, text)?;
        match names.plugin_worlds[index] {
            Some(actual) if actual != world => {
                let message = format!(
                    "plugin `{}` has world `{}`, but this role needs world `{}`",
                    text.get_ref(),
                    actual.as_str(),
                    world.as_str()
                );
                self.report(key, text.span(), message);
                None
            }
            _ => Some(PluginId(index)),
        }
    }

    fn destination(
        &mut self,
        key: &str,
        span: Range<usize>,
        bus: Option<&Text>,
        queue: Option<&Text>,
        names: &Names,
    ) -> Option<Destination> {
        match (bus, queue) {
            (Some(bus), None) => self
                .resolve(&format!("{key}.bus"), "bus", &names.buses, bus)
                .map(|i| Destination::Bus(BusId(i))),
            (None, Some(queue)) => self
                .resolve(&format!("{key}.queue"), "queue", &names.queues, queue)
                .map(|i| Destination::Queue(QueueId(i))),
            _ => {
                self.report(key, span, "set exactly one of `bus` or `queue`");
                None
            }
        }
    }

    fn retry(&mut self, key: &str, raw: Option<&raw::Retry>, rules: &RetryRules) -> RetryPolicy {
        let attempts = self.integer(
            &format!("{key}.attempts"),
            raw.and_then(|r| r.attempts.as_ref()),
            rules.attempts,
            rules.attempts_range.clone(),
        );
        let max_age = match raw.and_then(|r| r.max_age.as_ref()) {
            None => rules.max_age,
            Some(age) => self.max_age(
                &format!("{key}.max_age"),
                age,
                rules.infinite,
                rules.age_range.clone(),
            ),
        };
        RetryPolicy {
            attempts: u32::try_from(attempts).ok(),
            max_age,
        }
    }

    /// A `max_age`: a duration within `range`, or, where `infinite` allows, `"infinite"` or
    /// `-1` for none (`None`).
    fn max_age(
        &mut self,
        key: &str,
        age: &Spanned<raw::MaxAge>,
        infinite: bool,
        range: RangeInclusive<Duration>,
    ) -> Option<Duration> {
        let (low, high) = (show_duration(*range.start()), show_duration(*range.end()));
        let or_infinite = if infinite { ", or `infinite` (-1)" } else { "" };
        let problem = match age.get_ref() {
            raw::MaxAge::Text(text) if infinite && text == "infinite" => return None,
            raw::MaxAge::Number(-1) if infinite => return None,
            raw::MaxAge::Text(text) if text == "infinite" => {
                format!("`infinite` is out of range: it must be from {low} to {high}")
            }
            raw::MaxAge::Text(text) => match parse_duration(text) {
                Ok(age) if range.contains(&age) => return Some(age),
                Ok(_) => format!(
                    "`{text}` is out of range: it must be from {low} to {high}{or_infinite}"
                ),
                Err(err) => err,
            },
            raw::MaxAge::Number(n) if *n > 0 => {
                format!("{n} is not a duration: write it with its unit, like `\"{n}s\"`")
            }
            raw::MaxAge::Number(n) => {
                format!("{n} is out of range: it must be from {low} to {high}{or_infinite}")
            }
        };
        self.report(key, age.span(), problem);
        Some(*range.start())
    }
}
