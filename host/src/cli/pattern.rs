//! `switchyard pattern match`: Switchyard's `aws events test-event-pattern`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::pattern::Pattern;

/// One input line: the pattern and the event, each a JSON object or a string holding its text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    pattern: &'a RawValue,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// The verdict on one pair, as the one line of JSON written for it.
enum Verdict {
    Matches(bool),
    Invalid(String),
}

impl Verdict {
    fn line(&self) -> String {
        match self {
            Verdict::Matches(m) => format!("{{\"matches\": {m}}}"),
            Verdict::Invalid(message) => format!(
                "{{\"error\": {}}}",
                serde_json::Value::from(message.as_str())
            ),
        }
    }
}

/// Reads JSON Lines of `{"pattern", "event"}` from stdin and writes one verdict per line.
pub fn match_lines() -> ExitCode {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut last: Option<(String, Result<Pattern, String>)> = None;
    for line in stdin.lines() {
        let verdict = match line {
            Ok(line) => judge_line(&line, &mut last),
            Err(err) => Verdict::Invalid(format!("invalid line: {err}")),
        };
        if writeln!(stdout, "{}", verdict.line()).is_err() {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn judge_line(line: &str, last: &mut Option<(String, Result<Pattern, String>)>) -> Verdict {
    let line: Line<'_> = match serde_json::from_str(line) {
        Ok(line) => line,
        Err(err) => {
            return Verdict::Invalid(format!(
                "invalid line: {err}; expected {{\"pattern\": ..., \"event\": ...}}"
            ));
        }
    };
    let (pattern, event) = match (text_of(line.pattern), text_of(line.event)) {
        (Ok(pattern), Ok(event)) => (pattern, event),
        (Err(err), _) | (_, Err(err)) => return Verdict::Invalid(format!("invalid line: {err}")),
    };
    // Lines often test one pattern against many events: compile it once.
    if last.as_ref().is_none_or(|(text, _)| *text != pattern) {
        let compiled = Pattern::compile(&pattern).map_err(|err| err.to_string());
        *last = Some((pattern, compiled));
    }
    match last.as_ref().map(|(_, compiled)| compiled) {
        Some(Ok(compiled)) => judge(compiled, &event),
        Some(Err(err)) => Verdict::Invalid(format!("invalid pattern: {err}")),
        None => unreachable!("`last` was set just above"),
    }
}

/// A pattern or event given as a JSON object is its own text; given as a JSON string, the
/// string holds the text (which may then be anything, even invalid JSON).
fn text_of(raw: &RawValue) -> Result<String, String> {
    let raw = raw.get();
    if raw.starts_with('"') {
        serde_json::from_str::<String>(raw).map_err(|err| err.to_string())
    } else {
        Ok(raw.to_string())
    }
}

fn judge(pattern: &Pattern, event: &str) -> Verdict {
    match pattern.matches_json(event) {
        Ok(matches) => Verdict::Matches(matches),
        Err(err) => Verdict::Invalid(format!("invalid event: {err}")),
    }
}

/// `--pattern FILE --event FILE`: exits 0 on a match, 1 on none, 2 when either is invalid.
pub fn match_files(pattern: &Path, event: &Path) -> ExitCode {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read `{}`: {err}", path.display()))
    };
    let verdict = match (read(pattern), read(event)) {
        (Ok(pattern), Ok(event)) => match Pattern::compile(&pattern) {
            Ok(compiled) => judge(&compiled, &event),
            Err(err) => Verdict::Invalid(format!("invalid pattern: {err}")),
        },
        (Err(err), _) | (_, Err(err)) => Verdict::Invalid(err),
    };
    println!("{}", verdict.line());
    match verdict {
        Verdict::Matches(true) => ExitCode::SUCCESS,
        Verdict::Matches(false) => ExitCode::from(1),
        Verdict::Invalid(_) => ExitCode::from(2),
    }
}
