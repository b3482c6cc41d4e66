//! The problem collector of routes.toml compilation, and the value checks every section shares.
//! Each check reports what is wrong with its line and key, and returns a default so that
//! compilation goes on and finds every other problem too.

use std::ops::{Range, RangeInclusive};
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::compile::Declared;
use super::raw::Text;
use super::units::{parse_duration, parse_size, show_duration};
use super::{Location, PatternText, Problem};

pub(super) struct Checker<'a> {
    pub text: &'a str,
    pub file: String,
    /// The folder of routes.toml, against which relative paths resolve.
    pub base: PathBuf,
    pub problems: Vec<Problem>,
}

impl Checker<'_> {
    pub fn report(
        &mut self,
        key: impl Into<String>,
        span: Range<usize>,
        message: impl Into<String>,
    ) {
        let Location { line, column } = self.position(span);
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            column,
            key: key.into(),
            message: message.into(),
        });
    }

    /// The line and column where `span` starts.
    pub fn position(&self, span: Range<usize>) -> Location {
        Location::of(self.text, span.start)
    }

    pub fn report_toml(&mut self, key: &str, fallback: Range<usize>, err: &toml::de::Error) {
        let span = err.span().unwrap_or(fallback);
        self.report(key, span, err.message().trim_end().to_string());
    }

    /// The position of the entry `text` names among `names`, or a problem listing the names.
    pub fn resolve(
        &mut self,
        key: &str,
        what: &str,
        names: &Declared,
        text: &Text,
    ) -> Option<usize> {
        if let Some(index) = names.index.get(text.get_ref()) {
            return Some(*index);
        }
        if names.unparsed.contains(text.get_ref()) {
            return None;
        }
        let mut known: Vec<&str> = names
            .index
            .keys()
            .chain(&names.unparsed)
            .map(String::as_str)
            .collect();
        known.sort_unstable();
        let known = if known.is_empty() {
            format!("no {what} is declared")
        } else {
            format!("declared: {}", list(&known))
        };
        self.report(
            key,
            text.span(),
            format!("no {what} named `{}` ({known})", text.get_ref()),
        );
        None
    }

    /// An event pattern, checked by the pattern compiler itself.
    pub fn pattern(&mut self, key: &str, text: &Text) -> Option<PatternText> {
        self.compile_pattern(key, text, String::new())
    }

    /// An event pattern held inside the value of `key`, at `place` (e.g. `Filters[0].Pattern`).
    pub fn pattern_in(&mut self, key: &str, text: &Text, place: &str) -> Option<PatternText> {
        self.compile_pattern(key, text, format!(" in `{place}`"))
    }

    fn compile_pattern(&mut self, key: &str, text: &Text, place: String) -> Option<PatternText> {
        match crate::pattern::Pattern::compile(text.get_ref()) {
            Ok(pattern) => Some(PatternText {
                text: text.get_ref().clone(),
                pattern,
            }),
            Err(err) => {
                self.report(
                    key,
                    text.span(),
                    format!("invalid event pattern{place}: {err}"),
                );
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub fn choice<T: Copy>(
        &mut self,
        key: &str,
        text: Option<&Text>,
        default: T,
        options: &[(&str, T)],
    ) -> T {
        let Some(text) = text else { return default };
        if let Some((_, value)) = options.iter().find(|(name, _)| name == text.get_ref()) {
            return *value;
        }
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        let message = format!(
            "unknown value `{}`, expected one of {}",
            text.get_ref(),
            list(&names)
        );
        self.report(key, text.span(), message);
        default
    }

    pub fn duration(
        &mut self,
        key: &str,
        text: Option<&Text>,
        default: Duration,
        range: RangeInclusive<Duration>,
    ) -> Duration {
        self.measured(key, text, default, range, parse_duration, show_duration)
    }

    pub fn size(
        &mut self,
        key: &str,
        text: Option<&Text>,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> u64 {
        let show = |n: u64| bytesize::ByteSize(n).display().iec().to_string();
        self.measured(key, text, default, range, parse_size, show)
    }

    /// A quantity written as text ("30s", "32MiB"), parsed and kept within `range`.
    fn measured<T: PartialOrd + Copy>(
        &mut self,
        key: &str,
        text: Option<&Text>,
        default: T,
        range: RangeInclusive<T>,
        parse: impl Fn(&str) -> Result<T, String>,
        show: impl Fn(T) -> String,
    ) -> T {
        let Some(text) = text else { return default };
        let problem = match parse(text.get_ref()) {
            Ok(value) if range.contains(&value) => return value,
            Ok(_) => format!(
                "`{}` is out of range: it must be from {} to {}",
                text.get_ref(),
                show(*range.start()),
                show(*range.end())
            ),
            Err(err) => err,
        };
        self.report(key, text.span(), problem);
        default
    }

    pub fn integer(
        &mut self,
        key: &str,
        value: Option<&Spanned<i64>>,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> i64 {
        let Some(value) = value else { return default };
        if range.contains(value.get_ref()) {
            return *value.get_ref();
        }
        let message = format!(
            "{} is out of range: it must be from {} to {}",
            value.get_ref(),
            range.start(),
            range.end()
        );
        self.report(key, value.span(), message);
        default
    }
}

pub(super) const NAME_RULE: &str =
    "a name has 1 to 80 characters: letters, digits, `-`, `_` and `.`";

pub(super) fn valid_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `a`, `b`, `c`: names as messages quote them.
pub(super) fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
