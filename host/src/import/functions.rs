//! Lambda functions that consume SQS queues or enrich a pipe, as `[consumers.NAME]` and
//! `[plugins.NAME]`, each plugin with a project (`project.rs`) that runs the function unchanged.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::intrinsics::arn_name;
use super::out::{Group, Item, Section};
use super::project::Project;
use super::template::Resource;
use super::{Importer, duration, integer};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Runtime {
    Python,
    Node,
}

/// Where a function's code is.
#[derive(Debug)]
pub(super) enum Code {
    Dir(PathBuf),
    Inline(String),
}

/// What the importer reads of a Lambda function.
#[derive(Debug)]
pub(super) struct Function {
    pub(super) physical: String,
    pub(super) runtime: Runtime,
    /// `app` of `app.lambda_handler`, `src/index` of `src/index.handler`.
    pub(super) module: String,
    pub(super) export: String,
    pub(super) code: Code,
    pub(super) timeout: i64,
    pub(super) memory: i64,
    /// The environment Lambda gives the function: its own variables, then `Environment`'s.
    pub(super) env: Vec<(String, String)>,
}

/// The properties a function's mapping reads; the rest are named as dropped.
const FUNCTION_PROPS: [&str; 9] = [
    "FunctionName",
    "Environment",
    "Handler",
    "Runtime",
    "CodeUri",
    "InlineCode",
    "Code",
    "Timeout",
    "MemorySize",
];

/// An SQS event source of a function, from a SAM event or an event source mapping.
#[derive(Debug, Default)]
struct SqsSource {
    queue: String,
    batch_size: Option<i64>,
    window: Option<i64>,
    concurrency: Option<i64>,
    report_failures: bool,
}

impl Importer<'_> {
    /// A function's properties, SAM's `Globals.Function` under its own.
    fn function_props(&self, resource: &Resource) -> Map<String, Value> {
        let mut props = resource.props.clone();
        if resource.kind == "AWS::Serverless::Function" {
            for (key, value) in &self.r.template.function_globals {
                props.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        props
    }

    pub(super) fn serverless_function(&mut self, resource: &Resource) {
        let mut read = FUNCTION_PROPS.to_vec();
        read.push("Events");
        self.drop_unread(resource, &read);
        let events = resource
            .props
            .get("Events")
            .and_then(Value::as_object)
            .cloned();
        for (event, body) in events.unwrap_or_default() {
            let kind = body.get("Type").and_then(Value::as_str).unwrap_or("?");
            if kind != "SQS" {
                let why = match kind {
                    "Api" | "HttpApi" => "Lambda proxy integrations are not mapped",
                    _ => "only SQS events are mapped",
                };
                self.note(
                    resource,
                    format!("event `{event}` ({kind}) not mapped: {why}"),
                );
                continue;
            }
            let props = match self
                .r
                .resolve(body.get("Properties").unwrap_or(&Value::Null))
            {
                Ok(props) => props,
                Err(why) => {
                    self.note(resource, format!("event `{event}` not mapped: {}", why.0));
                    continue;
                }
            };
            if props.get("Enabled") == Some(&Value::Bool(false)) {
                self.note(
                    resource,
                    format!("event `{event}` not mapped: it is disabled"),
                );
                continue;
            }
            let Some(queue) = props.get("Queue").and_then(Value::as_str) else {
                self.note(resource, format!("event `{event}` not mapped: no `Queue`"));
                continue;
            };
            if props.get("FilterCriteria").is_some() {
                self.note(
                    resource,
                    format!(
                        "event `{event}`: dropped FilterCriteria (a consumer takes every message)"
                    ),
                );
            }
            let source = sqs_source(queue, &props);
            self.consumer(resource, resource, source);
        }
    }

    pub(super) fn event_source_mapping(&mut self, resource: &Resource) {
        self.drop_unread(
            resource,
            &[
                "FunctionName",
                "EventSourceArn",
                "BatchSize",
                "MaximumBatchingWindowInSeconds",
                "FunctionResponseTypes",
                "ScalingConfig",
                "Enabled",
            ],
        );
        let props = match self.r.resolve(&Value::Object(resource.props.clone())) {
            Ok(props) => props,
            Err(why) => return self.unmapped(resource, why.0),
        };
        let source = props
            .get("EventSourceArn")
            .and_then(Value::as_str)
            .unwrap_or("");
        if arn_name(source).0 != "sqs" {
            return self.unmapped(
                resource,
                format!("its source `{source}` is not an SQS queue"),
            );
        }
        if props.get("Enabled") == Some(&Value::Bool(false)) {
            return self.unmapped(resource, "it is disabled");
        }
        let function_name = props
            .get("FunctionName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kinds = ["AWS::Lambda::Function", "AWS::Serverless::Function"];
        let Some(function) = self.lookup(function_name, &kinds) else {
            return self.unmapped(
                resource,
                format!("its function `{function_name}` is not in the template"),
            );
        };
        self.consumer(resource, function, sqs_source(source, &props));
    }

    /// `[consumers.NAME]` for one SQS source of `function`, reported on `from`.
    fn consumer(&mut self, from: &Resource, function: &Resource, source: SqsSource) {
        let queue = self.refer(from, &source.queue, &["AWS::SQS::Queue"], "queue");
        let base = self.name(function);
        let taken = |name: &str| {
            self.sections
                .iter()
                .any(|s| s.header == format!("consumers.{name}"))
        };
        let name = if taken(&base) {
            format!("{base}-{queue}")
        } else {
            base
        };
        let queue_and_reports = Some((source.queue.as_str(), source.report_failures));
        let plugin = match self.plugin(function, "consumer", queue_and_reports, &name) {
            Ok(plugin) => plugin,
            Err(why) => return self.unmapped(from, why),
        };
        let header = format!("consumers.{name}");
        let mut section = Section::new(Group::Consumers, name.clone(), header.clone())
            .comment(format!("from {} {}", from.kind, from.id));
        section.set("queue", Item::Str(queue));
        section.set("handler", Item::Str(plugin));
        if let Some(size) = source.batch_size {
            section.set("batch_size", Item::Int(size));
        }
        if let Some(window) = source.window {
            section.set("batching_window", Item::Str(duration(window)));
        }
        if let Some(concurrency) = source.concurrency {
            section.set("concurrency", Item::Int(concurrency));
        }
        if !source.report_failures {
            self.note(
                from,
                "no ReportBatchItemFailures: a returned batchItemFailures is ignored, as Lambda ignores it",
            );
        }
        self.push(section);
        self.became(from, format!("[{header}]"));
    }

    /// The enricher plugin of a pipe's enrichment function: its name.
    pub(super) fn plugin_for(
        &mut self,
        function: &Resource,
        world: &'static str,
        queue: Option<&str>,
    ) -> Result<String, String> {
        let name = self.name(function);
        let name = if world == "enricher"
            && self
                .sections
                .iter()
                .any(|s| s.header == format!("plugins.{name}"))
        {
            format!("{name}-enricher")
        } else {
            name
        };
        self.plugin(function, world, queue.map(|q| (q, true)), &name)
    }

    /// `[plugins.NAME]` running `function` in `world`, and its project (one per function and
    /// world, shared by the plugins of several queues).
    fn plugin(
        &mut self,
        function: &Resource,
        world: &'static str,
        // The queue a consumer reads, and whether its event source reports batch item failures.
        queue: Option<(&str, bool)>,
        name: &str,
    ) -> Result<String, String> {
        let spec = self.function(function)?;
        let key = (function.id.clone(), world);
        let dir = match self.plugins.get(&key) {
            Some(dir) => dir.clone(),
            None => {
                let dir = format!("plugins/{name}");
                let files = self.project_files(function, &spec, world, name)?;
                self.projects.push(Project {
                    dir: dir.clone(),
                    files,
                });
                self.plugins.insert(key, dir.clone());
                self.became(function, format!("[plugins.{name}] (project {dir}/)"));
                dir
            }
        };
        let header = format!("plugins.{name}");
        let mut section = Section::new(Group::Plugins, name, header).comment(format!(
            "from {} {} (Lambda handler, unchanged)",
            function.kind, function.id
        ));
        section.set("world", Item::Str(world.into()));
        section.set("wasm", Item::Str(format!("{dir}/plugin.wasm")));
        section.set("build", Item::Str("sh build.sh".into()));
        section.set("workdir", Item::Str(dir));
        section.set("memory", Item::Str("256MiB".into()));
        section.set("timeout", Item::Str(duration(spec.timeout)));
        let mut config = vec![
            (
                "function_name".to_string(),
                Item::Str(spec.physical.clone()),
            ),
            ("region".to_string(), Item::Str(self.r.stack.region.clone())),
        ];
        if let Some((queue, reports)) = queue {
            config.push(("queue".into(), Item::Str(arn_name(queue).1)));
            if !reports {
                config.push(("report_batch_item_failures".into(), Item::Bool(false)));
            }
        }
        config.push(("timeout_ms".into(), Item::Int(spec.timeout * 1000)));
        config.push(("memory_mb".into(), Item::Int(spec.memory)));
        section.set("config", Item::Table(config));
        let env = spec
            .env
            .into_iter()
            .map(|(k, v)| (k, Item::Str(v)))
            .collect();
        section.set("env", Item::Table(env));
        self.push(section);
        Ok(name.to_string())
    }

    /// What the importer needs of a function, or why it cannot run as a plugin.
    fn function(&mut self, resource: &Resource) -> Result<Function, String> {
        let props = self.function_props(resource);
        let text = |key: &str| props.get(key).and_then(|v| self.r.text(v).ok());
        let runtime_name = text("Runtime").unwrap_or_default();
        let runtime = if runtime_name.starts_with("python3") {
            Runtime::Python
        } else if runtime_name.starts_with("nodejs") {
            Runtime::Node
        } else {
            return Err(format!(
                "its runtime `{runtime_name}` cannot run as a plugin: only Python 3 and Node.js handlers are imported"
            ));
        };
        let handler = text("Handler").ok_or("no `Handler`")?;
        let Some((module, export)) = handler.rsplit_once('.') else {
            return Err(format!("its handler `{handler}` is not `module.function`"));
        };
        let code = if let Some(inline) = text("InlineCode") {
            Code::Inline(inline)
        } else if let Some(zip) = props
            .get("Code")
            .and_then(|c| c.get("ZipFile"))
            .and_then(|z| self.r.text(z).ok())
        {
            Code::Inline(zip)
        } else if let Some(dir) = text("CodeUri").or_else(|| text("Code")) {
            Code::Dir(self.r.template.dir.join(dir))
        } else {
            return Err(
                "its code is not a local folder or inline code (S3 code is not imported)".into(),
            );
        };
        let physical = self
            .r
            .physical_name(resource, 0)
            .unwrap_or_else(|_| resource.id.clone());
        let memory = props.get("MemorySize").and_then(integer).unwrap_or(128);
        let region = self.r.stack.region.clone();
        let mut env = vec![
            ("AWS_REGION".to_string(), region.clone()),
            ("AWS_DEFAULT_REGION".to_string(), region),
            ("AWS_LAMBDA_FUNCTION_NAME".to_string(), physical.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_string(),
                memory.to_string(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_VERSION".to_string(),
                "$LATEST".to_string(),
            ),
        ];
        let variables = props
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_object);
        for (name, value) in variables.into_iter().flatten() {
            match self.r.text(value) {
                Ok(text) => env.push((name.clone(), text)),
                Err(why) => self.note(
                    resource,
                    format!("dropped Environment variable {name}: {}", why.0),
                ),
            }
        }
        Ok(Function {
            physical,
            runtime,
            module: module.to_string(),
            export: export.to_string(),
            code,
            timeout: props.get("Timeout").and_then(integer).unwrap_or(3),
            memory,
            env,
        })
    }
}

fn sqs_source(queue: &str, props: &Value) -> SqsSource {
    let responses = props.get("FunctionResponseTypes").and_then(Value::as_array);
    SqsSource {
        queue: queue.to_string(),
        batch_size: props.get("BatchSize").and_then(integer),
        window: props
            .get("MaximumBatchingWindowInSeconds")
            .and_then(integer),
        concurrency: props
            .get("ScalingConfig")
            .and_then(|c| c.get("MaximumConcurrency"))
            .and_then(integer),
        report_failures: responses.is_some_and(|r| {
            r.iter()
                .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
        }),
    }
}
