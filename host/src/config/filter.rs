//! A pipe's `filter`: event patterns, and EventBridge Pipes' `FilterCriteria`
//! (`{"Filters": [{"Pattern": "..."}]}`) as JSON text or a TOML table, so that a filter can be
//! pasted from a CloudFormation template or the AWS console. Every pattern is OR'ed.

use std::ops::Range;

use serde_json::Value;
use toml::Spanned;

use super::PatternText;
use super::checker::Checker;
use super::raw::{self, FilterEntry};

impl Checker<'_> {
    /// Every pattern of a pipe's `filter`, in the order written; `key` is `pipes.NAME.filter`.
    pub(super) fn filter(
        &mut self,
        key: &str,
        filter: Option<Spanned<raw::Filter>>,
    ) -> Vec<PatternText> {
        let Some(filter) = filter else {
            return Vec::new();
        };
        let span = filter.span();
        let entries = match filter.into_inner() {
            raw::Filter::One(entry) => vec![Spanned::new(span, entry)],
            raw::Filter::List(entries) => entries,
        };
        let mut patterns = Vec::new();
        for entry in entries {
            let span = entry.span();
            match entry.into_inner() {
                FilterEntry::Text(text) => match criteria_json(&text) {
                    Some(criteria) => self.criteria_json(key, span, criteria, &mut patterns),
                    None => patterns.extend(self.pattern(key, &Spanned::new(span, text))),
                },
                FilterEntry::Criteria(criteria) => {
                    self.criteria_table(key, span, criteria, &mut patterns);
                }
            }
        }
        patterns
    }

    fn criteria_json(
        &mut self,
        key: &str,
        span: Range<usize>,
        criteria: serde_json::Map<String, Value>,
        patterns: &mut Vec<PatternText>,
    ) {
        let mut problems = Vec::new();
        for field in criteria.keys().filter(|k| *k != "Filters") {
            problems.push(format!("unknown field `{field}`, expected `Filters`"));
        }
        match criteria.get("Filters") {
            Some(Value::Array(filters)) => {
                for (i, filter) in filters.iter().enumerate() {
                    let Value::Object(filter) = filter else {
                        problems.push(format!("`Filters[{i}]` must be an object with `Pattern`"));
                        continue;
                    };
                    for field in filter.keys().filter(|k| *k != "Pattern") {
                        problems.push(format!(
                            "unknown field `{field}` in `Filters[{i}]`, expected `Pattern`"
                        ));
                    }
                    match filter.get("Pattern") {
                        Some(Value::String(text)) => {
                            let text = Spanned::new(span.clone(), text.clone());
                            patterns.extend(self.pattern_in(key, &text, &format!("Filters[{i}].Pattern")));
                        }
                        Some(_) => problems.push(format!(
                            "`Filters[{i}].Pattern` must be a string holding the pattern's JSON text"
                        )),
                        None => problems.push(format!("`Filters[{i}]` has no `Pattern`")),
                    }
                }
            }
            _ => problems.push(r#"`Filters` must be a list like `[{"Pattern": "..."}]`"#.into()),
        }
        for problem in problems {
            self.report(
                key,
                span.clone(),
                format!("invalid `FilterCriteria`: {problem}"),
            );
        }
    }

    fn criteria_table(
        &mut self,
        key: &str,
        span: Range<usize>,
        criteria: raw::FilterCriteria,
        patterns: &mut Vec<PatternText>,
    ) {
        let Some(filters) = criteria.filters else {
            self.report(key, span, "invalid `FilterCriteria`: it has no `Filters`");
            return;
        };
        for (i, filter) in filters.into_inner().into_iter().enumerate() {
            let span = filter.span();
            match &filter.get_ref().pattern {
                None => self.report(
                    key,
                    span,
                    format!("invalid `FilterCriteria`: `Filters[{i}]` has no `Pattern`"),
                ),
                Some(text) => {
                    patterns.extend(self.pattern_in(key, text, &format!("Filters[{i}].Pattern")));
                }
            }
        }
    }
}

/// The members of `text` when it is a `FilterCriteria`: a JSON object with a `Filters` member.
/// No pattern a pipe can use looks like that, as no DynamoDB stream record has a top-level
/// `Filters` field.
fn criteria_json(text: &str) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(members)) if members.contains_key("Filters") => Some(members),
        _ => None,
    }
}
