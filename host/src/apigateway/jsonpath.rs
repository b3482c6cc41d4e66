//! The JSONPath subset that `$input.json` and `$input.path` take: `$`, `.name`, `['name']`,
//! `[n]`, and the wildcards `.*` and `[*]` (which select a list, as Jayway's JsonPath does).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
    Wildcard,
}

/// A parsed JSONPath expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonPath {
    segments: Vec<Segment>,
}

impl JsonPath {
    pub(super) fn parse(text: &str) -> Result<JsonPath, String> {
        let text = text.trim();
        let Some(mut rest) = text.strip_prefix('$') else {
            return Err("a JSONPath starts with `$`".into());
        };
        let mut segments = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(".*") {
                segments.push(Segment::Wildcard);
                rest = after;
            } else if let Some(after) = rest.strip_prefix('.') {
                let len = after.find(['.', '[']).unwrap_or(after.len());
                if len == 0 {
                    return Err(format!("empty name in `{text}`"));
                }
                segments.push(Segment::Key(after[..len].to_owned()));
                rest = &after[len..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let Some(close) = after.find(']') else {
                    return Err(format!("`[` is not closed in `{text}`"));
                };
                let inside = after[..close].trim();
                rest = &after[close + 1..];
                let quoted = inside
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                segments.push(match (quoted, inside) {
                    (Some(key), _) => Segment::Key(key.to_owned()),
                    (None, "*") => Segment::Wildcard,
                    (None, n) => Segment::Index(n.parse().map_err(|_| {
                        format!(
                            "`[{n}]` is not supported in `{text}` (only `[n]`, `['name']`, `[*]`)"
                        )
                    })?),
                });
            } else {
                return Err(format!("unexpected `{rest}` in `{text}`"));
            }
        }
        Ok(JsonPath { segments })
    }

    /// The selection, or `None` when the path leads nowhere. A path with a wildcard always
    /// selects a list (possibly empty).
    pub(super) fn select(&self, document: &Value) -> Option<Value> {
        let definite = !self.segments.contains(&Segment::Wildcard);
        let mut current = vec![document];
        for segment in &self.segments {
            current = current
                .into_iter()
                .flat_map(|value| -> Vec<&Value> {
                    match (segment, value) {
                        (Segment::Key(key), Value::Object(map)) => {
                            map.get(key).into_iter().collect()
                        }
                        (Segment::Index(n), Value::Array(items)) => {
                            items.get(*n).into_iter().collect()
                        }
                        (Segment::Wildcard, Value::Array(items)) => items.iter().collect(),
                        (Segment::Wildcard, Value::Object(map)) => map.values().collect(),
                        _ => Vec::new(),
                    }
                })
                .collect();
        }
        if definite {
            current.first().map(|v| (*v).clone())
        } else {
            Some(Value::Array(current.into_iter().cloned().collect()))
        }
    }
}
