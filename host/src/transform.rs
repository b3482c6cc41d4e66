//! Shaping what a target receives, as EventBridge does: `InputPath` (a JSONPath into the event)
//! and input templates whose `<name>` placeholders take values from the event (`input_paths`)
//! or, in pipes, `<$.json.path>` directly. Pure: no I/O.

use std::collections::BTreeMap;

use serde_json::Value;

/// The value at a JSONPath such as `$`, `$.detail.orderId` or `$.lines[0].sku`; `None` when
/// the event has nothing there.
pub fn select<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix('$')?;
    let mut value = event;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&next) = chars.peek() {
                    if next == '.' || next == '[' {
                        break;
                    }
                    name.push(next);
                    chars.next();
                }
                value = value.get(&name)?;
            }
            '[' => {
                let mut inside = String::new();
                for next in chars.by_ref() {
                    if next == ']' {
                        break;
                    }
                    inside.push(next);
                }
                let inside = inside.trim();
                value = match inside.parse::<usize>() {
                    Ok(index) => value.get(index)?,
                    Err(_) => value.get(inside.trim_matches(|q| q == '\'' || q == '"'))?,
                };
            }
            _ => return None,
        }
    }
    Some(value)
}

/// Fills a template: each `<name>` becomes its value. Inside a JSON string the value goes in
/// as text (a string without its quotes); elsewhere as JSON. Unknown names stay as written.
pub fn render(template: &str, mut lookup: impl FnMut(&str) -> Option<Value>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
        {
            let name = &rest[1..end];
            if !name.is_empty()
                && !name.contains(['<', '"', '\n'])
                && let Some(value) = lookup(name)
            {
                match (&value, in_string) {
                    (Value::String(s), true) => out.push_str(&escape(s)),
                    (_, true) => out.push_str(&escape(&value.to_string())),
                    (_, false) => out.push_str(&value.to_string()),
                }
                rest = &rest[end + 1..];
                continue;
            }
        }
        match c {
            '\\' if in_string => escaped = !escaped,
            '"' if !escaped => in_string = !in_string,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn escape(text: &str) -> String {
    let quoted = Value::String(text.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// EventBridge's input transformer: `paths` name values of the event for the template.
pub fn transform(
    event: &Value,
    paths: &BTreeMap<String, String>,
    template: &str,
    rule: &str,
) -> String {
    render(template, |name| match name {
        "aws.events.event" | "aws.events.event.json" => Some(event.clone()),
        "aws.events.rule-name" => Some(Value::String(rule.to_string())),
        _ => paths
            .get(name)
            .map(|path| select(event, path).cloned().unwrap_or(Value::Null)),
    })
}

/// A pipe's target input template: `<$.path>` placeholders read the event directly.
pub fn pipe_template(event: &Value, template: &str) -> String {
    render(template, |name| {
        name.starts_with('$')
            .then(|| select(event, name).cloned().unwrap_or(Value::Null))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_paths_select_members_and_elements() {
        let event =
            json!({"detail": {"orderId": "o-1", "lines": [{"sku": "a"}, {"sku": "b"}], "a.b": 1}});
        assert_eq!(select(&event, "$"), Some(&event));
        assert_eq!(select(&event, "$.detail.orderId"), Some(&json!("o-1")));
        assert_eq!(select(&event, "$.detail.lines[1].sku"), Some(&json!("b")));
        assert_eq!(select(&event, "$.detail['a.b']"), Some(&json!(1)));
        assert_eq!(select(&event, "$.detail.missing"), None);
        assert_eq!(select(&event, "detail"), None);
    }

    #[test]
    fn input_transformer_fills_strings_as_text_and_the_rest_as_json() {
        let event = json!({"detail": {"orderId": "o-\"1\"", "total": 42.5, "lines": [1, 2]}});
        let paths = BTreeMap::from([
            ("id".to_string(), "$.detail.orderId".to_string()),
            ("total".to_string(), "$.detail.total".to_string()),
            ("lines".to_string(), "$.detail.lines".to_string()),
            ("gone".to_string(), "$.detail.gone".to_string()),
        ]);
        let template = r#"{"order": "<id>", "total": <total>, "lines": <lines>, "gone": <gone>, "note": "total <total>", "rule": "<aws.events.rule-name>", "keep": "<unknown>"}"#;
        let out = transform(&event, &paths, template, "big-orders");
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!({"order": "o-\"1\"", "total": 42.5, "lines": [1, 2], "gone": null, "note": "total 42.5", "rule": "big-orders", "keep": "<unknown>"})
        );
        assert_eq!(
            transform(&event, &paths, "Order <id> costs <total>", "r"),
            "Order \"o-\\\"1\\\"\" costs 42.5"
        );
    }

    #[test]
    fn pipe_templates_read_json_paths_directly() {
        let record =
            json!({"dynamodb": {"NewImage": {"total": {"N": "42"}, "orderId": {"S": "o-1"}}}});
        let out = pipe_template(
            &record,
            r#"{"id": "<$.dynamodb.NewImage.orderId.S>", "total": "<$.dynamodb.NewImage.total.N>"}"#,
        );
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!({"id": "o-1", "total": "42"})
        );
    }
}
