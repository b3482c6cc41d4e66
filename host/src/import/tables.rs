//! DynamoDB tables (`AWS::DynamoDB::Table`, `AWS::Serverless::SimpleTable`) as `[tables.NAME]`.

use serde_json::Value;

use super::Importer;
use super::out::{Group, Item, Section};
use super::template::Resource;

/// A key attribute: `"id"` for a string key, `{ name, type }` otherwise.
fn key_item(name: &str, kind: &str) -> Item {
    if kind == "S" {
        Item::Str(name.to_string())
    } else {
        Item::Table(vec![
            ("name".into(), Item::Str(name.to_string())),
            ("type".into(), Item::Str(kind.to_string())),
        ])
    }
}

impl Importer<'_> {
    pub(super) fn table(&mut self, resource: &Resource) {
        let name = self.name(resource);
        let header = format!("tables.{name}");
        let mut section = Section::new(Group::Tables, name.clone(), header.clone())
            .comment(format!("from {} {}", resource.kind, resource.id));
        let keys = if resource.kind == "AWS::Serverless::SimpleTable" {
            self.drop_unread(resource, &["TableName", "PrimaryKey"]);
            let key = self.prop(resource, "PrimaryKey");
            let name = key
                .as_ref()
                .and_then(|k| k.get("Name"))
                .and_then(Value::as_str)
                .unwrap_or("id")
                .to_string();
            let kind = match key
                .as_ref()
                .and_then(|k| k.get("Type"))
                .and_then(Value::as_str)
            {
                Some("Number") => "N",
                Some("Binary") => "B",
                _ => "S",
            };
            self.note(
                resource,
                "a SimpleTable has no stream on AWS; Switchyard always keeps one",
            );
            vec![(name, kind.to_string())]
        } else {
            self.drop_unread(
                resource,
                &[
                    "TableName",
                    "KeySchema",
                    "AttributeDefinitions",
                    "StreamSpecification",
                ],
            );
            self.key_schema(resource)
        };
        let mut keys = keys.into_iter();
        let Some((hash, hash_kind)) = keys.next() else {
            return self.unmapped(resource, "no HASH key in its `KeySchema`");
        };
        section.set(
            "key",
            key_item(&hash, &self.key_kind(resource, &hash, &hash_kind)),
        );
        if let Some((range, range_kind)) = keys.next() {
            let kind = self.key_kind(resource, &range, &range_kind);
            section.set("sort_key", key_item(&range, &kind));
        }
        if resource.kind == "AWS::DynamoDB::Table" {
            let view = self.prop(resource, "StreamSpecification").and_then(|s| {
                s.get("StreamViewType")
                    .and_then(Value::as_str)
                    .map(String::from)
            });
            match view {
                Some(view) => section.set("stream_view_type", Item::Str(view)),
                None => self.note(
                    resource,
                    "no `StreamSpecification`: Switchyard always keeps a stream (NEW_AND_OLD_IMAGES by default)",
                ),
            }
        }
        self.push(section);
        self.became(resource, format!("[{header}]"));
    }

    /// `[(hash), (range)]` from `KeySchema`, typed by `AttributeDefinitions`.
    fn key_schema(&mut self, resource: &Resource) -> Vec<(String, String)> {
        let schema = self.prop(resource, "KeySchema");
        let definitions = self.prop(resource, "AttributeDefinitions");
        let kind_of = |name: &str| {
            definitions
                .as_ref()
                .and_then(Value::as_array)
                .and_then(|defs| {
                    defs.iter()
                        .find(|d| d.get("AttributeName").and_then(Value::as_str) == Some(name))
                })
                .and_then(|d| d.get("AttributeType").and_then(Value::as_str))
                .unwrap_or("S")
                .to_string()
        };
        let mut keys = Vec::new();
        for role in ["HASH", "RANGE"] {
            let found = schema
                .as_ref()
                .and_then(Value::as_array)
                .and_then(|schema| {
                    schema
                        .iter()
                        .find(|k| k.get("KeyType").and_then(Value::as_str) == Some(role))
                });
            if let Some(name) = found
                .and_then(|k| k.get("AttributeName"))
                .and_then(Value::as_str)
            {
                keys.push((name.to_string(), kind_of(name)));
            }
        }
        keys
    }

    /// `S` or `N`; a binary key is imported as a string one, and said so.
    fn key_kind(&mut self, resource: &Resource, name: &str, kind: &str) -> String {
        match kind {
            "S" | "N" => kind.to_string(),
            other => {
                self.note(
                    resource,
                    format!(
                        "key `{name}` is of type {other}, which Switchyard has not: imported as S"
                    ),
                );
                "S".into()
            }
        }
    }
}
