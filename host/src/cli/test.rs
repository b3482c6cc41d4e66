//! `switchyard test`: the tests of a routes.toml, as `vector test` runs Vector's. A
//! `routes.test.toml` beside routes.toml declares `[[tests]]`, each an input (an item written to
//! a table, a stream record, an event on a bus, or messages on a queue) and expectations at
//! named points: a pipe, a bus, a queue, a consumer. The real plugins run; nothing listens on a
//! socket, and nothing is kept outside a temporary directory. Exits 0 when every expectation
//! holds, 1 when one does not (each shown as a diff), 2 when the tests cannot run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use toml::Spanned;

use crate::config::{self, BusId, Config, Location, Problem, QueueId, TableId};
use crate::plugin::Outcome;
use crate::trace::{Input, Trace, Tracer};

pub fn run(routes: &Path, tests: Option<&Path>) -> ExitCode {
    let tests = tests.map_or_else(|| beside(routes), Path::to_path_buf);
    match prepare(routes, &tests) {
        Ok((tracer, cases)) => report(&tracer, &tests, cases),
        Err(problem) => {
            eprintln!("{problem}");
            ExitCode::from(2)
        }
    }
}

/// `routes.test.toml` for `routes.toml`: the tests of a routes file sit beside it.
fn beside(routes: &Path) -> PathBuf {
    let stem = routes.file_stem().unwrap_or_default().to_string_lossy();
    routes.with_file_name(format!("{stem}.test.toml"))
}

/// One test, its names resolved.
struct Case {
    name: String,
    line: usize,
    input: Input,
    expect: Vec<Expectation>,
}

/// A point of the routes and what must hold there.
struct Expectation {
    line: usize,
    point: Point,
    checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq)]
enum Point {
    Pipe(String),
    Bus(String),
    Queue(String),
    Consumer(String),
}

enum Check {
    Keeps(bool),
    Matches(Vec<String>),
    Count(usize),
    Outcomes(Vec<String>),
    Equals(Value),
    Contains(Value),
    Error(String),
}

// The file, as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tests: Vec<Spanned<RawTest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    name: String,
    insert: Option<Spanned<TableItem>>,
    modify: Option<Spanned<TableChange>>,
    remove: Option<Spanned<TableOld>>,
    record: Option<Spanned<TableRecord>>,
    event: Option<Spanned<BusEvent>>,
    messages: Option<Spanned<QueueMessages>>,
    #[serde(default)]
    expect: Vec<Spanned<RawExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableItem {
    table: Spanned<String>,
    item: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableChange {
    table: Spanned<String>,
    old: Map<String, Value>,
    new: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableOld {
    table: Spanned<String>,
    old: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableRecord {
    table: Spanned<String>,
    record: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BusEvent {
    bus: Spanned<String>,
    event: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueMessages {
    queue: Spanned<String>,
    messages: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    pipe: Option<Spanned<String>>,
    bus: Option<Spanned<String>>,
    queue: Option<Spanned<String>>,
    consumer: Option<Spanned<String>>,
    keeps: Option<bool>,
    matches: Option<Vec<String>>,
    count: Option<usize>,
    outcomes: Option<Vec<Spanned<String>>>,
    equals: Option<Value>,
    contains: Option<Value>,
    error: Option<String>,
}

/// The routes, their plugins loaded, and the tests, checked against them.
fn prepare(routes: &Path, tests: &Path) -> Result<(Tracer, Vec<Case>), String> {
    let config = config::load(routes).map_err(|err| err.to_string())?;
    let text = std::fs::read_to_string(tests).map_err(|err| {
        format!(
            "switchyard: cannot read the tests `{}`: {err}",
            tests.display()
        )
    })?;
    let cases = parse(&config, &text, &tests.display().to_string()).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        lines.join("\n")
    })?;
    let cache = tempfile::tempdir()
        .map_err(|err| format!("switchyard: cannot make a temporary directory: {err}"))?;
    let tracer = Tracer::new(Arc::new(config), cache.path())?;
    Ok((tracer, cases))
}

/// Reads the tests, with every problem at its line.
fn parse(config: &Config, text: &str, file: &str) -> Result<Vec<Case>, Vec<Problem>> {
    let mut parser = Parser {
        config,
        text,
        file,
        problems: Vec::new(),
    };
    let raw: File = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(err) => {
            let offset = err.span().map_or(0, |span| span.start);
            parser.problem(offset, "", err.message().trim_end());
            return Err(parser.problems);
        }
    };
    if raw.tests.is_empty() {
        parser.problem(0, "tests", "no `[[tests]]` in the file");
    }
    let cases: Vec<Case> = raw
        .tests
        .into_iter()
        .enumerate()
        .filter_map(|(n, test)| parser.case(n, test))
        .collect();
    if parser.problems.is_empty() {
        Ok(cases)
    } else {
        Err(parser.problems)
    }
}

struct Parser<'a> {
    config: &'a Config,
    text: &'a str,
    file: &'a str,
    problems: Vec<Problem>,
}

impl Parser<'_> {
    fn problem(&mut self, offset: usize, key: &str, message: impl Into<String>) {
        let Location { line, column } = Location::of(self.text, offset);
        self.problems.push(Problem {
            file: self.file.to_string(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        });
    }

    fn line(&self, offset: usize) -> usize {
        Location::of(self.text, offset).line
    }

    /// The name, if routes.toml declares it among `names`; a problem otherwise.
    fn resolve(
        &mut self,
        key: &str,
        section: &str,
        name: &Spanned<String>,
        names: &[&str],
    ) -> Option<String> {
        if names.contains(&name.get_ref().as_str()) {
            return Some(name.get_ref().clone());
        }
        self.problem(
            name.span().start,
            key,
            format!(
                "no {section} named `{}` in routes.toml (declared: {})",
                name.get_ref(),
                quoted(names)
            ),
        );
        None
    }

    fn case(&mut self, n: usize, test: Spanned<RawTest>) -> Option<Case> {
        let start = test.span().start;
        let test = test.into_inner();
        let key = format!("tests[{n}]");
        let input = self.input(&key, start, &test);
        let expect: Vec<Expectation> = test
            .expect
            .into_iter()
            .enumerate()
            .filter_map(|(m, raw)| self.expectation(&format!("{key}.expect[{m}]"), raw))
            .collect();
        Some(Case {
            name: test.name,
            line: self.line(start),
            input: input?,
            expect,
        })
    }

    fn input(&mut self, key: &str, start: usize, test: &RawTest) -> Option<Input> {
        let given = [
            test.insert.is_some(),
            test.modify.is_some(),
            test.remove.is_some(),
            test.record.is_some(),
            test.event.is_some(),
            test.messages.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            self.problem(
                start,
                key,
                "give exactly one input: `insert`, `modify`, `remove`, `record`, `event` or `messages`",
            );
            return None;
        }
        let config = self.config;
        let tables: Vec<&str> = config.tables.iter().map(|t| t.name.as_str()).collect();
        let table = |parser: &mut Self, name: &Spanned<String>, what: &str| {
            let name = parser.resolve(&format!("{key}.{what}.table"), "table", name, &tables)?;
            config
                .tables
                .iter()
                .position(|t| t.name == name)
                .map(TableId)
        };
        if let Some(insert) = &test.insert {
            let table = table(self, &insert.get_ref().table, "insert")?;
            let item = insert.get_ref().item.clone();
            return Some(Input::Insert { table, item });
        }
        if let Some(modify) = &test.modify {
            let change = modify.get_ref();
            let table = table(self, &change.table, "modify")?;
            let (old, new) = (change.old.clone(), change.new.clone());
            return Some(Input::Modify { table, old, new });
        }
        if let Some(remove) = &test.remove {
            let table = table(self, &remove.get_ref().table, "remove")?;
            let old = remove.get_ref().old.clone();
            return Some(Input::Remove { table, old });
        }
        if let Some(record) = &test.record {
            let table = table(self, &record.get_ref().table, "record")?;
            let record = record.get_ref().record.clone();
            return Some(Input::Record { table, record });
        }
        if let Some(event) = &test.event {
            let buses: Vec<&str> = config.buses.iter().map(|b| b.name.as_str()).collect();
            let event = event.get_ref();
            let name = self.resolve(&format!("{key}.event.bus"), "bus", &event.bus, &buses)?;
            let bus = BusId(config.buses.iter().position(|b| b.name == name)?);
            return Some(Input::Event {
                bus,
                event: event.event.clone(),
            });
        }
        let sent = test.messages.as_ref()?.get_ref();
        let queues: Vec<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
        let name = self.resolve(
            &format!("{key}.messages.queue"),
            "queue",
            &sent.queue,
            &queues,
        )?;
        let queue = QueueId(config.queues.iter().position(|q| q.name == name)?);
        Some(Input::Messages {
            queue,
            messages: sent.messages.clone(),
        })
    }

    fn expectation(&mut self, key: &str, raw: Spanned<RawExpect>) -> Option<Expectation> {
        let start = raw.span().start;
        let line = self.line(start);
        let raw = raw.into_inner();
        let config = self.config;
        let points = [
            (
                &raw.pipe,
                "pipe",
                config
                    .pipes
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>(),
            ),
            (
                &raw.bus,
                "bus",
                config.buses.iter().map(|b| b.name.as_str()).collect(),
            ),
            (
                &raw.queue,
                "queue",
                config.queues.iter().map(|q| q.name.as_str()).collect(),
            ),
            (
                &raw.consumer,
                "consumer",
                config.consumers.iter().map(|c| c.name.as_str()).collect(),
            ),
        ];
        let named: Vec<_> = points.iter().filter(|(name, ..)| name.is_some()).collect();
        let [(Some(name), section, names)] = named.as_slice() else {
            self.problem(
                start,
                key,
                "name exactly one point: `pipe`, `bus`, `queue` or `consumer`",
            );
            return None;
        };
        let name = self.resolve(&format!("{key}.{section}"), section, name, names)?;
        let point = match *section {
            "pipe" => Point::Pipe(name),
            "bus" => Point::Bus(name),
            "queue" => Point::Queue(name),
            _ => Point::Consumer(name),
        };
        // Which checks each point takes.
        let allowed: &[&str] = match point {
            Point::Pipe(_) => &["keeps", "equals", "contains", "error"],
            Point::Bus(_) => &["matches", "equals", "contains"],
            Point::Queue(_) => &["count", "equals", "contains"],
            Point::Consumer(_) => &["outcomes", "equals", "contains", "error"],
        };
        let mut checks = Vec::new();
        let mut given = Vec::new();
        if let Some(keeps) = raw.keeps {
            given.push("keeps");
            checks.push(Check::Keeps(keeps));
        }
        if let Some(matches) = raw.matches {
            given.push("matches");
            checks.push(Check::Matches(matches));
        }
        if let Some(count) = raw.count {
            given.push("count");
            checks.push(Check::Count(count));
        }
        if let Some(outcomes) = raw.outcomes {
            given.push("outcomes");
            let mut kinds = Vec::new();
            for outcome in outcomes {
                if !["ok", "retry", "dead-letter"].contains(&outcome.get_ref().as_str()) {
                    self.problem(
                        outcome.span().start,
                        &format!("{key}.outcomes"),
                        format!(
                            "`{}` is not an outcome: use \"ok\", \"retry\" or \"dead-letter\"",
                            outcome.get_ref()
                        ),
                    );
                }
                kinds.push(outcome.into_inner());
            }
            checks.push(Check::Outcomes(kinds));
        }
        if let Some(value) = raw.equals {
            given.push("equals");
            checks.push(Check::Equals(value));
        }
        if let Some(value) = raw.contains {
            given.push("contains");
            checks.push(Check::Contains(value));
        }
        if let Some(text) = raw.error {
            given.push("error");
            checks.push(Check::Error(text));
        }
        let refused: Vec<&str> = given
            .iter()
            .copied()
            .filter(|g| !allowed.contains(g))
            .collect();
        if !refused.is_empty() {
            self.problem(
                start,
                key,
                format!(
                    "a {section} takes {}, not {}",
                    quoted(allowed),
                    quoted(&refused)
                ),
            );
            return None;
        }
        if checks.is_empty() {
            self.problem(
                start,
                key,
                format!("nothing to check: give one of {}", quoted(allowed)),
            );
            return None;
        }
        Some(Expectation {
            line,
            point,
            checks,
        })
    }
}

fn quoted(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// Runs every test and prints what failed; exit 1 when anything did.
fn report(tracer: &Tracer, file: &Path, cases: Vec<Case>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("switchyard: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let file = file.display();
    println!("running {} tests of {file}", cases.len());
    let (mut passed, mut failed) = (0, 0);
    for case in cases {
        let failures = runtime.block_on(run_case(tracer, &case));
        match failures {
            Ok(failures) if failures.is_empty() => {
                passed += 1;
                println!("test {} ... ok", case.name);
            }
            Ok(failures) => {
                failed += 1;
                println!("test {} ... FAILED", case.name);
                for failure in failures {
                    println!("{}", indent(&format!("{file}:{failure}"), "  "));
                }
            }
            Err(err) => {
                failed += 1;
                println!("test {} ... FAILED", case.name);
                println!("  {file}:{}: the input cannot be run: {err}", case.line);
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn run_case(tracer: &Tracer, case: &Case) -> Result<Vec<String>, String> {
    let scratch = tempfile::tempdir().map_err(|err| format!("no temporary directory: {err}"))?;
    let trace = tracer.trace(case.input.clone(), scratch.path()).await?;
    let mut failures = Vec::new();
    for expectation in &case.expect {
        for check in &expectation.checks {
            if let Some(failure) = verdict(&trace, &expectation.point, check) {
                failures.push(format!("{}: {failure}", expectation.line));
            }
        }
    }
    Ok(failures)
}

/// What is wrong at a point, if anything.
fn verdict(trace: &Trace, point: &Point, check: &Check) -> Option<String> {
    let (what, actual) = match actual(trace, point) {
        Err(err) => {
            return match check {
                Check::Error(part) if err.contains(part.as_str()) => None,
                Check::Error(part) => Some(format!(
                    "{point} failed with an error other than expected\n{}",
                    diff(&json!(part), &json!(err))
                )),
                _ => Some(format!("{point} failed: {err}")),
            };
        }
        Ok(found) => found,
    };
    let differs = |label: &str, expected: Value, actual: Value| {
        Some(format!("{point}, {label}:\n{}", diff(&expected, &actual)))
    };
    match check {
        Check::Error(part) => differs(
            "error",
            json!(part),
            json!(format!("no error; {what}: {actual}")),
        ),
        Check::Keeps(keeps) => {
            let Point::Pipe(name) = point else {
                unreachable!("checked when parsed")
            };
            let kept = trace
                .pipes
                .get(name)
                .is_some_and(|seen| seen.as_ref().is_ok_and(|s| s.kept));
            (kept != *keeps)
                .then(|| format!("{point}, keeps:\n{}", diff(&json!(keeps), &json!(kept))))?;
            None
        }
        Check::Matches(rules) => {
            let mut expected = rules.clone();
            expected.sort();
            let mut matched: Vec<String> = actual
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            matched.sort();
            matched.dedup();
            if matched == expected {
                return None;
            }
            differs("rules matched", json!(expected), json!(matched))
        }
        Check::Count(count) => {
            let n = actual.as_array().map_or(0, Vec::len);
            if n == *count {
                return None;
            }
            differs(&format!("count of {what}"), json!(count), json!(n))
        }
        Check::Outcomes(kinds) => {
            let outcomes: Vec<Value> = actual
                .as_array()
                .map(|a| a.iter().map(|o| o["outcome"].clone()).collect())
                .unwrap_or_default();
            if outcomes == kinds.iter().map(|k| json!(k)).collect::<Vec<_>>() {
                return None;
            }
            differs("outcomes", json!(kinds), Value::Array(outcomes))
        }
        Check::Equals(expected) => {
            let actual = sole(expected, actual);
            if same(&actual, expected) {
                return None;
            }
            differs(&format!("{what} (equals)"), expected.clone(), actual)
        }
        Check::Contains(expected) => {
            let actual = sole(expected, actual);
            if contains(&actual, expected) {
                return None;
            }
            // Only what the expectation names, so that the diff shows what differs.
            let shown = pruned(&actual, expected);
            differs(&format!("{what} (contains)"), expected.clone(), shown)
        }
    }
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Point::Pipe(name) => write!(f, "pipe `{name}`"),
            Point::Bus(name) => write!(f, "bus `{name}`"),
            Point::Queue(name) => write!(f, "queue `{name}`"),
            Point::Consumer(name) => write!(f, "consumer `{name}`"),
        }
    }
}

/// The value at a point, and what it is: the events a pipe delivered, the rules of a bus that
/// matched, the bodies a queue received (JSON where they are JSON), a consumer's outcomes. A
/// point the input never reached has none.
fn actual(trace: &Trace, point: &Point) -> Result<(&'static str, Value), String> {
    let value = match point {
        Point::Pipe(name) => match trace.pipes.get(name) {
            None => ("the events delivered", json!([])),
            Some(Err(err)) => return Err(err.clone()),
            Some(Ok(seen)) => ("the events delivered", json!(seen.events)),
        },
        Point::Bus(name) => (
            "the rules matched",
            json!(trace.rules.get(name).cloned().unwrap_or_default()),
        ),
        Point::Queue(name) => {
            let bodies = trace
                .queues
                .get(name)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let bodies: Vec<Value> = bodies
                .iter()
                .map(|body| serde_json::from_str(body).unwrap_or_else(|_| json!(body)))
                .collect();
            ("the bodies received", Value::Array(bodies))
        }
        Point::Consumer(name) => match trace.consumers.get(name) {
            None => ("the outcomes", json!([])),
            Some(Err(err)) => return Err(err.clone()),
            Some(Ok(outcomes)) => {
                let outcomes = outcomes.iter().map(|(id, outcome)| {
                    let mut answer = json!({"messageId": id});
                    match outcome {
                        Outcome::Ok => answer["outcome"] = json!("ok"),
                        Outcome::Retry(after) => {
                            answer["outcome"] = json!("retry");
                            answer["afterSeconds"] = json!(after);
                        }
                        Outcome::DeadLetter(reason) => {
                            answer["outcome"] = json!("dead-letter");
                            answer["reason"] = json!(reason);
                        }
                    }
                    answer
                });
                ("the outcomes", Value::Array(outcomes.collect()))
            }
        },
    };
    Ok(value)
}

/// An expectation that is not a list is about the one value at the point, when there is one.
fn sole(expected: &Value, actual: Value) -> Value {
    match actual {
        Value::Array(mut values) if !expected.is_array() && values.len() == 1 => values.remove(0),
        actual => actual,
    }
}

/// Equal as JSON, with numbers equal by value (TOML's `1` is JSON's `1.0`).
fn same(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && b.iter().all(|(k, b)| a.get(k).is_some_and(|a| same(a, b)))
        }
        (a, b) => a == b,
    }
}

/// `expected` is found in `actual`: every member of an object (others may be there too), every
/// element of a list in order (the lists as long), every other value equal.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| contains(a, b))
        }
        (Value::Object(a), Value::Object(b)) => b
            .iter()
            .all(|(k, b)| a.get(k).is_some_and(|a| contains(a, b))),
        (a, b) => same(a, b),
    }
}

/// `actual` cut down to the members `expected` names, wherever both are objects.
fn pruned(actual: &Value, expected: &Value) -> Value {
    match (actual, expected) {
        (Value::Object(a), Value::Object(b)) => Value::Object(
            b.iter()
                .filter_map(|(k, b)| Some((k.clone(), pruned(a.get(k)?, b))))
                .collect(),
        ),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            Value::Array(a.iter().zip(b).map(|(a, b)| pruned(a, b)).collect())
        }
        (a, _) => a.clone(),
    }
}

/// Expected and actual, line by line: `-` what was expected, `+` what was there.
fn diff(expected: &Value, actual: &Value) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    let (expected, actual) = (pretty(expected), pretty(actual));
    let mut out = String::from("--- expected\n+++ actual\n");
    for change in similar::TextDiff::from_lines(&expected, &actual).iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        out.push(sign);
        out.push_str(change.value());
        if change.missing_newline() {
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|line| format!("{by}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
