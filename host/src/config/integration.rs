//! A table's `integrations`: API Gateway methods with an AWS integration to DynamoDB, as a SAM
//! template declares them (method, resource path, action, request and response templates).
//! A template is parsed here, so that a construct outside the supported subset is refused by
//! `check` at its line in routes.toml.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use super::checker::Checker;
use super::compile::RESERVED_PATHS;
use super::raw::{self, Text};
use super::{Integration, TableConfig};
use crate::apigateway::{ActionKind, Template};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const ACTIONS: [(&str, ActionKind); 3] = [
    ("PutItem", ActionKind::PutItem),
    ("UpdateItem", ActionKind::UpdateItem),
    ("DeleteItem", ActionKind::DeleteItem),
];

/// Each integration's path key, method, path and place, to report clashes between tables.
pub(super) type PathSpans = Vec<(String, String, String, Range<usize>)>;

impl Checker<'_> {
    /// The integrations of table `key` (e.g. `tables.orders`); each path's place goes to
    /// `spans` for [`Checker::integration_routes`].
    pub(super) fn integrations(
        &mut self,
        key: &str,
        raws: &[Spanned<raw::Integration>],
        spans: &mut PathSpans,
    ) -> Vec<Integration> {
        let mut integrations = Vec::new();
        for (i, raw) in raws.iter().enumerate() {
            let key = format!("{key}.integrations[{i}]");
            let raw = raw.get_ref();
            let method = raw.method.get_ref().to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                self.report(
                    format!("{key}.method"),
                    raw.method.span(),
                    format!(
                        "unknown HTTP method `{}`; expected one of {}",
                        raw.method.get_ref(),
                        super::checker::list(&METHODS)
                    ),
                );
            }
            self.resource_path(&format!("{key}.path"), &raw.path);
            let action = match ACTIONS
                .iter()
                .find(|(name, _)| name == raw.action.get_ref())
            {
                Some((_, action)) => *action,
                None => {
                    self.report(
                        format!("{key}.action"),
                        raw.action.span(),
                        format!(
                            "unknown action `{}`; a DynamoDB integration here is one of `PutItem`, `UpdateItem`, `DeleteItem`",
                            raw.action.get_ref()
                        ),
                    );
                    ActionKind::PutItem
                }
            };
            let status = match &raw.status {
                None => 200,
                Some(status) if (100..=599).contains(status.get_ref()) => *status.get_ref() as u16,
                Some(status) => {
                    self.report(
                        format!("{key}.status"),
                        status.span(),
                        format!("`{}` is not an HTTP status (100 to 599)", status.get_ref()),
                    );
                    200
                }
            };
            let request = self.template(&format!("{key}.request_template"), &raw.request_template);
            // `None`: refused; `Some(None)`: not given.
            let response = match &raw.response_template {
                None => Some(None),
                Some(text) => self
                    .template(&format!("{key}.response_template"), text)
                    .map(Some),
            };
            spans.push((
                format!("{key}.path"),
                method.clone(),
                raw.path.get_ref().clone(),
                raw.path.span(),
            ));
            let (Some(request), Some(response)) = (request, response) else {
                continue;
            };
            integrations.push(Integration {
                method,
                path: raw.path.get_ref().clone(),
                action,
                request,
                status,
                response,
            });
        }
        integrations
    }

    /// A resource path: `/` and segments of letters, digits, `-`, `_`, `.`, or a `{param}`.
    fn resource_path(&mut self, key: &str, path: &Text) {
        let p = path.get_ref();
        let segment_ok = |s: &str| {
            let name = s
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .unwrap_or(s);
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        let ok = p.starts_with('/') && p.len() > 1 && p[1..].split('/').all(segment_ok);
        if !ok {
            self.report(
                key.to_string(),
                path.span(),
                format!("invalid path `{p}`: it must start with `/`, and each segment be letters, digits, `-`, `_`, `.`, or a `{{parameter}}`"),
            );
        }
    }

    /// A mapping template, or a problem at the place in routes.toml of the construct it refuses.
    fn template(&mut self, key: &str, text: &Text) -> Option<Arc<Template>> {
        match Template::parse(text.get_ref()) {
            Ok(template) => Some(Arc::new(template)),
            Err(err) => {
                let at = self.template_offset(text.span(), err.line, err.column);
                self.report(key.to_string(), at..at, err.message);
                None
            }
        }
    }

    /// The byte of routes.toml where line `line`, column `column` of a string's value lies:
    /// exact for literal strings (`'...'`, `'''...'''`), near for basic ones with escapes.
    fn template_offset(&self, span: Range<usize>, line: usize, column: usize) -> usize {
        let raw = &self.text[span.clone()];
        let multi = raw.starts_with("'''") || raw.starts_with("\"\"\"");
        let mut at = span.start + if multi { 3 } else { 1 };
        // A newline right after the opening delimiter is not part of the value.
        if multi {
            if self.text[at..].starts_with("\r\n") {
                at += 2;
            } else if self.text[at..].starts_with('\n') {
                at += 1;
            }
        }
        for _ in 1..line {
            at = self.text[at..].find('\n').map_or(at, |i| at + i + 1);
        }
        let columns: usize = self.text[at..]
            .chars()
            .take(column.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        (at + columns).min(span.end)
    }

    /// Integration routes must not overlap each other or a table's own paths.
    pub(super) fn integration_routes(&mut self, tables: &[TableConfig], spans: &PathSpans) {
        let shape = |path: &str| -> String {
            path.split('/')
                .map(|s| if s.starts_with('{') { "{}" } else { s })
                .collect::<Vec<_>>()
                .join("/")
        };
        let mut seen: HashMap<String, String> = HashMap::new();
        for (key, method, path, span) in spans {
            if let Some(reserved) = RESERVED_PATHS
                .iter()
                .find(|r| path == *r || path.starts_with(&format!("{r}/")))
            {
                self.report(
                    key.clone(),
                    span.clone(),
                    format!("path `{path}` is reserved by the host (`{reserved}`)"),
                );
                continue;
            }
            if let Some(table) = tables
                .iter()
                .find(|t| *path == t.path || path.starts_with(&format!("{}/", t.path)))
            {
                self.report(
                    key.clone(),
                    span.clone(),
                    format!("path `{path}` is served by table `{}` (its `path` is `{}`); give the integration or the table another path", table.name, table.path),
                );
                continue;
            }
            if let Some(other) = seen.insert(format!("{method} {}", shape(path)), path.clone()) {
                self.report(
                    key.clone(),
                    span.clone(),
                    format!("`{method} {path}` is declared already (as `{method} {other}`)"),
                );
            }
        }
        // Paths of one shape must name their parameters alike, or the router cannot tell them
        // apart.
        let mut by_shape: HashMap<String, &str> = HashMap::new();
        for (key, _, path, span) in spans {
            match by_shape.insert(shape(path), path) {
                Some(other) if other != path => self.report(
                    key.clone(),
                    span.clone(),
                    format!("path `{path}` differs from `{other}` only in its parameter names; use the same names"),
                ),
                _ => {}
            }
        }
    }
}
