//! The move to layout 4: items, change records' images and idempotent responses were kept as
//! plain JSON and are kept as DynamoDB JSON since. Every value is carried over as the HTTP API
//! would have typed it then; a number DynamoDB cannot hold (the plain JSON of older layouts
//! took any double) is kept as the string of its text rather than lost.

use rusqlite::{Connection, params};
use serde_json::{Map, Value};

use crate::value::{AttributeValue, Image, Number};

/// Rewrites every stored JSON object of the older layouts in DynamoDB JSON, in one transaction.
pub(super) fn upgrade(conn: &Connection) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    rewrite(&tx, "items", "body", "tbl, key")?;
    rewrite(&tx, "stream", "old_image", "seq")?;
    rewrite(&tx, "stream", "new_image", "seq")?;
    rewrite(&tx, "idempotency", "response", "tbl, key")?;
    tx.commit()
}

/// Rewrites one column of one table, row by row (`key` names the row).
fn rewrite(conn: &Connection, table: &str, column: &str, key: &str) -> rusqlite::Result<()> {
    let select = format!("SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL");
    let update = match key {
        "seq" => format!("UPDATE {table} SET {column} = ?2 WHERE seq = ?1"),
        _ => format!("UPDATE {table} SET {column} = ?3 WHERE tbl = ?1 AND key = ?2"),
    };
    let mut rows = Vec::new();
    {
        let mut statement = conn.prepare(&select)?;
        let mut cursor = statement.query([])?;
        while let Some(row) = cursor.next()? {
            let text: String = row.get(if key == "seq" { 1 } else { 2 })?;
            let keys: Vec<rusqlite::types::Value> = match key {
                "seq" => vec![row.get(0)?],
                _ => vec![row.get(0)?, row.get(1)?],
            };
            rows.push((keys, typed_text(&text)));
        }
    }
    let mut statement = conn.prepare(&update)?;
    for (keys, text) in rows {
        match keys.as_slice() {
            [seq] => statement.execute(params![seq, text])?,
            [tbl, key] => statement.execute(params![tbl, key, text])?,
            _ => unreachable!("one or two key columns, as selected"),
        };
    }
    Ok(())
}

/// A plain JSON object's text as its image's text; text that is no object is left as it was.
fn typed_text(plain: &str) -> String {
    match serde_json::from_str::<Map<String, Value>>(plain) {
        Ok(object) => {
            let image: Image = object.iter().map(|(k, v)| (k.clone(), typed(v))).collect();
            serde_json::to_string(&image).unwrap_or_else(|_| plain.to_string())
        }
        Err(_) => plain.to_string(),
    }
}

fn typed(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => {
            let text = n.to_string();
            Number::canonical(&text).map_or(AttributeValue::S(text), AttributeValue::N)
        }
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(typed).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), typed(v))).collect())
        }
    }
}
