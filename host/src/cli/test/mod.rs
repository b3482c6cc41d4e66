//! `switchyard test`: the tests of a routes.toml, as `vector test` runs Vector's. A
//! `routes.test.toml` beside routes.toml declares `[[tests]]`, each an input (an item written to
//! a table, a stream record, an event on a bus, or messages on a queue) and expectations at
//! named points: a pipe, a bus, a queue, a consumer. The real plugins run; nothing listens on a
//! socket, and nothing is kept outside a temporary directory. Exits 0 when every expectation
//! holds, 1 when one does not (each shown as a diff), 2 when the tests cannot run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

mod compare;
mod file;

use serde_json::{Value, json};

use crate::config;
use crate::plugin::Outcome;
use crate::trace::{Input, Trace, Tracer};
use compare::{contains, diff, indent, pruned, same, sole};

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

/// The routes, their plugins loaded, and the tests, checked against them.
fn prepare(routes: &Path, tests: &Path) -> Result<(Tracer, Vec<Case>), String> {
    let config = config::load(routes).map_err(|err| err.to_string())?;
    let text = std::fs::read_to_string(tests).map_err(|err| {
        format!(
            "switchyard: cannot read the tests `{}`: {err}",
            tests.display()
        )
    })?;
    let cases = file::parse(&config, &text, &tests.display().to_string()).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        lines.join("\n")
    })?;
    let cache = tempfile::tempdir()
        .map_err(|err| format!("switchyard: cannot make a temporary directory: {err}"))?;
    let tracer = Tracer::new(Arc::new(config), cache.path())?;
    Ok((tracer, cases))
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
