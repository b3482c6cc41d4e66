//! The tests' file, `routes.test.toml`: read, and checked against the routes, with every
//! problem at its line.

use serde::Deserialize;
use serde_json::{Map, Value};
use toml::Spanned;

use super::{Case, Check, Expectation, Point};
use crate::config::{BusId, Config, Location, Problem, QueueId, TableId};
use crate::trace::Input;

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

/// Reads the tests, with every problem at its line.
pub(super) fn parse(config: &Config, text: &str, file: &str) -> Result<Vec<Case>, Vec<Problem>> {
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
        if let Some(outcomes) = &raw.outcomes {
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
            }
        }
        let outcomes = raw
            .outcomes
            .map(|outcomes| outcomes.into_iter().map(Spanned::into_inner).collect());
        let (given, checks): (Vec<&str>, Vec<Check>) = [
            ("keeps", raw.keeps.map(Check::Keeps)),
            ("matches", raw.matches.map(Check::Matches)),
            ("count", raw.count.map(Check::Count)),
            ("outcomes", outcomes.map(Check::Outcomes)),
            ("equals", raw.equals.map(Check::Equals)),
            ("contains", raw.contains.map(Check::Contains)),
            ("error", raw.error.map(Check::Error)),
        ]
        .into_iter()
        .filter_map(|(name, check)| Some((name, check?)))
        .unzip();
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
