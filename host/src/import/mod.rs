//! `switchyard import`: a SAM or CloudFormation template of the outbox chain read into a
//! routes.toml, with a consumer or enricher plugin project for each Lambda function the chain
//! calls, and one line on stderr for each resource saying what became of it.

mod apis;
mod buses;
mod functions;
mod intrinsics;
mod out;
mod pipes;
mod project;
mod tables;
mod template;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use intrinsics::{Resolver, Stack, Unresolved, arn_name};
use out::{Group, Item, Section};
pub use template::ReadError;
use template::{Resource, Template};

/// Where the imported stack is taken to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::StackName`; by default the template's file stem.
    pub stack_name: Option<String>,
    /// The folder the routes.toml goes to: plugin projects go under its `plugins/`.
    pub out_dir: PathBuf,
}

/// What an import gives: the routes.toml text, the plugin projects, and the report.
#[derive(Debug)]
pub struct Import {
    pub routes: String,
    pub projects: Vec<project::Project>,
    /// One line per resource (and per output): what it became, or why nothing.
    pub report: Vec<String>,
}

/// Tells a progress display which resource the import converts: `(converted so far, of how
/// many, its logical id)`; once more with all converted and no id when the last is done.
pub type Converting<'a> = &'a dyn Fn(usize, usize, &str);

/// Runs `switchyard import`: exit 0 when written, 1 when the output cannot be written, 2 when
/// the template cannot be read.
pub fn run(
    template: &Path,
    out: Option<&Path>,
    force: bool,
    options: Options,
    converting: Converting<'_>,
) -> ExitCode {
    if let Some(out) = out
        && out.exists()
        && !force
    {
        eprintln!(
            "switchyard: `{}` exists; use --force to replace it",
            out.display()
        );
        return ExitCode::from(1);
    }
    let import = match import_with(template, options.clone(), converting) {
        Ok(import) => import,
        Err(err) => {
            eprintln!("switchyard: {err}");
            return ExitCode::from(2);
        }
    };
    for line in &import.report {
        eprintln!("{line}");
    }
    if let Err(err) = project::write_projects(&import.projects, &options.out_dir, force) {
        eprintln!("switchyard: {err}");
        return ExitCode::from(1);
    }
    match out {
        Some(out) => {
            if let Err(err) = std::fs::write(out, &import.routes) {
                eprintln!("switchyard: cannot write `{}`: {err}", out.display());
                return ExitCode::from(1);
            }
        }
        None => print!("{}", import.routes),
    }
    ExitCode::SUCCESS
}

/// Reads the template at `path` and maps it.
pub fn import(path: &Path, options: Options) -> Result<Import, ReadError> {
    import_with(path, options, &|_, _, _| {})
}

/// [`import`], telling `converting` each resource as it converts it.
pub fn import_with(
    path: &Path,
    options: Options,
    converting: Converting<'_>,
) -> Result<Import, ReadError> {
    let template = Template::read(path)?;
    Ok(map(&template, options, converting))
}

/// Maps a template that has been read.
fn map(template: &Template, options: Options, converting: Converting<'_>) -> Import {
    let stack = Stack {
        region: options.region.clone(),
        name: options
            .stack_name
            .clone()
            .unwrap_or_else(|| template.stem.clone()),
    };
    let mut importer = Importer::new(Resolver::new(template, stack), options);
    let total = template.resources.len();
    for (done, (id, resource)) in template.resources.iter().enumerate() {
        converting(done, total, id);
        importer.resource(resource);
    }
    converting(total, total, "");
    importer.finish()
}

/// What became of one resource.
#[derive(Debug, Default)]
struct Report {
    kind: String,
    /// The routes.toml sections it became.
    became: Vec<String>,
    /// Why it became nothing, when it did.
    unmapped: Option<String>,
    dropped: BTreeSet<String>,
    notes: Vec<String>,
}

/// The state of one import: the sections written so far and what became of each resource.
struct Importer<'t> {
    r: Resolver<'t>,
    options: Options,
    sections: Vec<Section>,
    reports: BTreeMap<String, Report>,
    projects: Vec<project::Project>,
    /// The routes.toml name of each resource, by logical id.
    names: BTreeMap<String, String>,
    /// Buses that have their `[buses.NAME]` section.
    buses: BTreeSet<String>,
    /// Plugins already made, by (function id, world): their name.
    plugins: BTreeMap<(String, &'static str), String>,
}

/// The kinds whose resources share one namespace of routes.toml names.
fn family(kind: &str) -> &'static str {
    match kind {
        "AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable" => "tables",
        "AWS::SQS::Queue" => "queues",
        "AWS::Events::EventBus" => "buses",
        "AWS::Pipes::Pipe" => "pipes",
        "AWS::Lambda::Function" | "AWS::Serverless::Function" => "functions",
        "AWS::Events::Rule" => "rules",
        _ => "other",
    }
}

impl<'t> Importer<'t> {
    fn new(r: Resolver<'t>, options: Options) -> Self {
        let mut names = BTreeMap::new();
        let mut taken: BTreeSet<(&str, String)> = BTreeSet::new();
        for resource in r.template.resources.values() {
            let physical = r
                .physical_name(resource, 0)
                .unwrap_or_else(|_| resource.id.clone());
            let base = kebab(&physical);
            let family = family(&resource.kind);
            let mut name = base.clone();
            let mut n = 2;
            while !taken.insert((family, name.clone())) {
                name = format!("{base}-{n}");
                n += 1;
            }
            names.insert(resource.id.clone(), name);
        }
        Importer {
            r,
            options,
            sections: Vec::new(),
            reports: BTreeMap::new(),
            projects: Vec::new(),
            names,
            buses: BTreeSet::new(),
            plugins: BTreeMap::new(),
        }
    }

    fn resource(&mut self, resource: &Resource) {
        self.report(resource);
        if let Some(condition) = &resource.condition {
            match self.r.condition(condition) {
                Ok(true) => {}
                Ok(false) => {
                    return self
                        .unmapped(resource, format!("its condition `{condition}` is false"));
                }
                Err(Unresolved(why)) => self.note(
                    resource,
                    format!("imported although its condition `{condition}` is unknown: {why}"),
                ),
            }
        }
        match resource.kind.as_str() {
            "AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable" => self.table(resource),
            "AWS::ApiGateway::Method" => self.method(resource),
            "AWS::ApiGateway::RestApi" | "AWS::Serverless::Api" => self.api(resource),
            "AWS::ApiGateway::Resource" => {
                let part = resource.props.get("PathPart").and_then(|p| p.as_str());
                let why = format!(
                    "a path part (`{}`) of its methods' paths",
                    part.unwrap_or("?")
                );
                self.became(resource, why);
            }
            "AWS::Pipes::Pipe" => self.pipe(resource),
            "AWS::Events::EventBus" => self.event_bus(resource),
            "AWS::Events::Rule" => self.rule(resource),
            "AWS::Events::Archive" => self.archive(resource),
            "AWS::SQS::Queue" => self.queue(resource),
            "AWS::Serverless::Function" => self.serverless_function(resource),
            "AWS::Lambda::EventSourceMapping" => self.event_source_mapping(resource),
            // Mapped when an event source mapping or a pipe uses it; said so at the end.
            "AWS::Lambda::Function" => {}
            kind => {
                let why = unmapped_reason(kind);
                self.unmapped(resource, why.to_string());
            }
        }
    }

    /// Starts the report of a resource.
    fn report(&mut self, resource: &Resource) -> &mut Report {
        self.reports
            .entry(resource.id.clone())
            .or_insert_with(|| Report {
                kind: resource.kind.clone(),
                ..Report::default()
            })
    }

    fn became(&mut self, resource: &Resource, what: impl Into<String>) {
        self.report(resource).became.push(what.into());
    }

    fn unmapped(&mut self, resource: &Resource, why: impl Into<String>) {
        self.report(resource).unmapped = Some(why.into());
    }

    fn note(&mut self, resource: &Resource, note: impl Into<String>) {
        self.report(resource).notes.push(note.into());
    }

    /// Names the properties of `resource` that the mapping does not read.
    fn drop_unread(&mut self, resource: &Resource, read: &[&str]) {
        let dropped: Vec<String> = resource
            .props
            .keys()
            .filter(|key| !read.contains(&key.as_str()))
            .cloned()
            .collect();
        self.report(resource).dropped.extend(dropped);
    }

    /// The routes.toml name of a resource.
    fn name(&self, resource: &Resource) -> String {
        self.names
            .get(&resource.id)
            .cloned()
            .unwrap_or_else(|| kebab(&resource.id))
    }

    /// The resource of one of `kinds` that an ARN, URL or name points at.
    fn lookup(&self, text: &str, kinds: &[&str]) -> Option<&'t Resource> {
        let (_, name) = arn_name(text);
        let template: &'t Template = self.r.template;
        template.resources.values().find(|resource| {
            kinds.contains(&resource.kind.as_str())
                && self.r.physical_name(resource, 0).ok().as_deref() == Some(name.as_str())
        })
    }

    /// The routes.toml name for what `text` points at: a resource of the template, or else a
    /// name made from the ARN, with a note on `from` that the template does not declare it.
    fn refer(&mut self, from: &Resource, text: &str, kinds: &[&str], what: &str) -> String {
        match self.lookup(text, kinds) {
            Some(resource) => self.name(resource),
            None => {
                let (_, name) = arn_name(text);
                let named = kebab(&name);
                if !(what == "bus" && name == "default") {
                    self.note(
                        from,
                        format!(
                            "the {what} `{name}` is not in the template: add [{what}s.{named}]"
                        ),
                    );
                }
                named
            }
        }
    }

    /// A property evaluated, or a note saying why it could not be.
    fn prop(&mut self, resource: &Resource, key: &str) -> Option<serde_json::Value> {
        let value = resource.props.get(key)?;
        match self.r.resolve(value) {
            Ok(serde_json::Value::Null) => None,
            Ok(value) => Some(value),
            Err(Unresolved(why)) => {
                self.note(resource, format!("`{key}` left out: {why}"));
                None
            }
        }
    }

    fn push(&mut self, section: Section) {
        self.sections.push(section);
    }

    fn finish(mut self) -> Import {
        // Functions no consumer or pipe made a plugin of.
        let template: &'t Template = self.r.template;
        for resource in template.resources.values() {
            let function = matches!(
                resource.kind.as_str(),
                "AWS::Lambda::Function" | "AWS::Serverless::Function"
            );
            let report = self.report(resource);
            if function && report.became.is_empty() && report.unmapped.is_none() {
                report.unmapped = Some(
                    "no SQS event source or pipe enrichment calls it (API, schedule and other triggers are not mapped)"
                        .into(),
                );
            }
        }
        let mut host = Section::new(Group::Host, "", "host");
        host.set("backend", Item::Str("embedded".into()));
        host.set("data_dir", Item::Str(".switchyard".into()));
        self.push(host);
        let mut aws =
            Section::new(Group::Aws, "", "aws").comment("Read only with backend = \"aws\".");
        aws.set("region", Item::Str(self.r.stack.region.clone()));
        self.push(aws);

        let mut report = Vec::new();
        for (id, r) in &self.reports {
            let mut parts = Vec::new();
            match &r.unmapped {
                Some(why) => parts.push(format!("not mapped: {why}")),
                None => parts.push(format!("-> {}", r.became.join(", "))),
            }
            if !r.dropped.is_empty() && r.unmapped.is_none() {
                let dropped: Vec<&str> = r.dropped.iter().map(String::as_str).collect();
                parts.push(format!("dropped {}", dropped.join(", ")));
            }
            parts.extend(r.notes.iter().cloned());
            report.push(format!("{id} ({}): {}", r.kind, parts.join("; ")));
        }
        for name in self.r.template.outputs.keys() {
            report.push(format!(
                "Outputs.{name} (Output): not mapped: a stack has no outputs in Switchyard"
            ));
        }
        let template_name = self.r.template.stem.clone();
        let preamble = vec![
            format!("Imported by `switchyard import` from the template `{template_name}`."),
            "`switchyard check` validates it; `switchyard up --build` builds the plugins and runs it."
                .to_string(),
        ];
        Import {
            routes: out::render(self.sections, &preamble),
            projects: self.projects,
            report,
        }
    }
}

/// Why a resource of a kind the importer does not map became nothing.
fn unmapped_reason(kind: &str) -> &'static str {
    match kind {
        k if k.starts_with("AWS::IAM::") => {
            "IAM has no counterpart: Switchyard's routes and plugins need no permissions"
        }
        k if k.starts_with("AWS::Logs::") => "the host logs to stderr",
        "AWS::ApiGateway::Deployment" | "AWS::ApiGateway::Stage" => {
            "Switchyard serves its API at once, with no deployments or stages"
        }
        "AWS::ApiGateway::UsagePlan"
        | "AWS::ApiGateway::ApiKey"
        | "AWS::ApiGateway::UsagePlanKey" => {
            "throttling, usage plans and API keys are not mapped (see `host.auth_token_env`)"
        }
        "AWS::ApiGateway::Account" => "API Gateway's account settings have no counterpart",
        "AWS::Lambda::Permission" => "invoke permissions have no counterpart",
        "AWS::SQS::QueuePolicy" => {
            "queue policies have no counterpart (`switchyard deploy` writes its own)"
        }
        k if k.starts_with("AWS::XRay::") => "tracing is not mapped",
        _ => "no counterpart in Switchyard",
    }
}

/// A name as routes.toml names are written: lowercase words joined by `-`, so `OrdersTable`
/// and `orders_table` both become `orders-table`.
pub fn kebab(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
                let boundary = prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower);
                if boundary && !out.is_empty() && !out.ends_with('-') {
                    out.push('-');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    out.truncate(80);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "resource".into()
    } else {
        out
    }
}

/// Seconds as routes.toml writes a duration: in the largest unit that divides them.
pub fn duration(seconds: i64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds != 0 && seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

/// A JSON number or numeric text as an integer.
pub fn integer(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An event pattern as JSON text: as written when it is text, else the map serialized.
pub fn pattern_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
