//! `UpdateExpression`: parsing its `SET`, `REMOVE`, `ADD` and `DELETE` sections and applying
//! them to an item held as plain JSON, with DynamoDB's errors.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::dynamodb::{DynamoError, Kind, invalid};
use super::expression::{
    Operand, Parser, Path, Placeholders, Step, Token, decimal, get, number_value,
};

#[derive(Debug, Clone)]
enum SetValue {
    Operand(Operand),
    IfNotExists(Path, Box<SetValue>),
    ListAppend(Box<SetValue>, Box<SetValue>),
    Arithmetic(Box<SetValue>, char, Box<SetValue>),
}

/// A parsed `UpdateExpression`: its `SET`, `REMOVE`, `ADD` and `DELETE` actions.
#[derive(Debug, Clone, Default)]
pub struct Update {
    set: Vec<(Path, SetValue)>,
    remove: Vec<Path>,
    add: Vec<(Path, Kind, Value)>,
    delete: Vec<(Path, Kind, Value)>,
}

impl Parser<'_, '_> {
    fn set_value(&mut self) -> Result<SetValue, DynamoError> {
        let left = self.set_operand()?;
        for op in ['+', '-'] {
            if self.eat(if op == '+' { "+" } else { "-" }) {
                return Ok(SetValue::Arithmetic(
                    Box::new(left),
                    op,
                    Box::new(self.set_operand()?),
                ));
            }
        }
        Ok(left)
    }

    fn set_operand(&mut self) -> Result<SetValue, DynamoError> {
        let Some(name) = self.function() else {
            return Ok(SetValue::Operand(self.operand()?));
        };
        self.pos += 2;
        let value = match name.as_str() {
            "if_not_exists" => {
                let path = self.path()?;
                self.expect(",")?;
                SetValue::IfNotExists(path, Box::new(self.set_operand()?))
            }
            "list_append" => {
                let first = self.set_operand()?;
                self.expect(",")?;
                SetValue::ListAppend(Box::new(first), Box::new(self.set_operand()?))
            }
            _ => return Err(self.unknown_function(&name)),
        };
        self.expect(")")?;
        Ok(value)
    }

    /// The `:value` of an `ADD` or `DELETE` action, which must be a number or a set (`ADD`)
    /// or a set (`DELETE`).
    fn set_member(&mut self, section: &str) -> Result<(Kind, Value), DynamoError> {
        let Some(Token::Placeholder(_)) = self.peek() else {
            return Err(self.syntax_error());
        };
        let Operand::Value(kind, value) = self.operand()? else {
            return Err(self.syntax_error());
        };
        if !(kind.is_set() || (section == "ADD" && kind == Kind::N)) {
            return Err(self.invalid(format!(
                "Incorrect operand type for operator or function; operator or function: operator: {section}, operand type: {}",
                kind.human()
            )));
        }
        Ok((kind, value))
    }
}

impl Update {
    pub(super) fn parse(text: &str, placeholders: &Placeholders) -> Result<Update, DynamoError> {
        let mut parser = Parser::new("UpdateExpression", text, placeholders)?;
        let mut update = Update::default();
        let mut seen = HashSet::new();
        while !parser.at_end() {
            let section = match parser.peek() {
                Some(Token::Word(w)) => w.to_ascii_uppercase(),
                _ => return Err(parser.syntax_error()),
            };
            if !["SET", "REMOVE", "ADD", "DELETE"].contains(&section.as_str()) {
                return Err(parser.syntax_error());
            }
            if !seen.insert(section.clone()) {
                return Err(parser.invalid(format!(
                    "The \"{section}\" section can only be used once in an update expression;"
                )));
            }
            parser.pos += 1;
            loop {
                let path = parser.path()?;
                match section.as_str() {
                    "SET" => {
                        parser.expect("=")?;
                        update.set.push((path, parser.set_value()?));
                    }
                    "REMOVE" => update.remove.push(path),
                    "ADD" => {
                        let (kind, value) = parser.set_member("ADD")?;
                        update.add.push((path, kind, value));
                    }
                    _ => {
                        let (kind, value) = parser.set_member("DELETE")?;
                        update.delete.push((path, kind, value));
                    }
                }
                if !parser.eat(",") {
                    break;
                }
            }
        }
        update
            .check_overlaps()
            .map_err(|detail| parser.invalid(detail))?;
        Ok(update)
    }

    fn check_overlaps(&self) -> Result<(), String> {
        let paths: Vec<&Path> = (self.set.iter().map(|(p, _)| p))
            .chain(&self.remove)
            .chain(self.add.iter().chain(&self.delete).map(|(p, _, _)| p))
            .collect();
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[i + 1..] {
                if a.starts_with(b) || b.starts_with(a) {
                    return Err(format!(
                        "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [{}], path two: [{}]",
                        show(a),
                        show(b)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Applies the update to `item` (empty for an item that does not exist yet). Values are
    /// read from the item as it was before any action, as DynamoDB does.
    pub fn apply(&self, item: &mut Map<String, Value>) -> Result<(), DynamoError> {
        let mut values = Vec::with_capacity(self.set.len());
        for (path, value) in &self.set {
            values.push((path, evaluate(value, item)?.1));
        }
        let mut root = Value::Object(item.clone());
        for (path, value) in values {
            set_in(&mut root, path, value)?;
        }
        let mut removals: Vec<&Path> = self.remove.iter().collect();
        // Later list positions first, so that each index names the element it named before.
        removals.sort_by(|a, b| match (a.last(), b.last()) {
            (Some(Step::Index(x)), Some(Step::Index(y))) => y.cmp(x),
            _ => Ordering::Equal,
        });
        for path in removals {
            remove_at(&mut root, path);
        }
        for (path, kind, value) in &self.add {
            let added = match (lookup(&root, path).cloned(), value) {
                (None, value) => value.clone(),
                (Some(Value::Number(a)), Value::Number(b)) if *kind == Kind::N => {
                    number_value(&decimal(&a).add(&decimal(b)))
                }
                (Some(Value::Array(mut members)), Value::Array(new)) if kind.is_set() => {
                    for member in new {
                        if !members.contains(member) {
                            members.push(member.clone());
                        }
                    }
                    Value::Array(members)
                }
                _ => return Err(wrong_data_type()),
            };
            set_in(&mut root, path, added)?;
        }
        for (path, _, gone) in &self.delete {
            let gone = gone.as_array().map(Vec::as_slice).unwrap_or_default();
            match lookup(&root, path).cloned() {
                None => {}
                Some(Value::Array(mut members)) => {
                    members.retain(|m| !gone.contains(m));
                    // DynamoDB has no empty sets: deleting the last member removes the attribute.
                    if members.is_empty() {
                        remove_at(&mut root, path);
                    } else {
                        set_in(&mut root, path, Value::Array(members))?;
                    }
                }
                Some(_) => return Err(wrong_data_type()),
            }
        }
        if let Value::Object(updated) = root {
            *item = updated;
        }
        Ok(())
    }
}

fn remove_at(root: &mut Value, path: &Path) {
    match parent_mut(root, path) {
        Some((Value::Object(map), Step::Key(key))) => {
            map.remove(key);
        }
        Some((Value::Array(items), Step::Index(n))) if *n < items.len() => {
            items.remove(*n);
        }
        _ => {}
    }
}

fn show(path: &Path) -> String {
    let steps: Vec<String> = path
        .iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(n) => format!("[{n}]"),
        })
        .collect();
    steps.join(", ")
}

fn invalid_path() -> DynamoError {
    invalid("The document path provided in the update expression is invalid for update")
}

fn wrong_data_type() -> DynamoError {
    invalid("An operand in the update expression has an incorrect data type")
}

fn operand_type(function: &str, kind: Kind) -> DynamoError {
    invalid(format!(
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: {function}, operand type: {}",
        kind.code()
    ))
}

fn evaluate(value: &SetValue, item: &Map<String, Value>) -> Result<(Kind, Value), DynamoError> {
    let missing = || {
        invalid("The provided expression refers to an attribute that does not exist in the item")
    };
    match value {
        SetValue::Operand(Operand::Value(kind, value)) => Ok((*kind, value.clone())),
        SetValue::Operand(Operand::Path(path)) => {
            let found = get(item, path).ok_or_else(missing)?;
            Ok((Kind::of_plain(found), found.clone()))
        }
        SetValue::IfNotExists(path, fallback) => match get(item, path) {
            Some(found) => Ok((Kind::of_plain(found), found.clone())),
            None => evaluate(fallback, item),
        },
        SetValue::ListAppend(a, b) => match (evaluate(a, item)?, evaluate(b, item)?) {
            ((Kind::L, Value::Array(mut a)), (Kind::L, Value::Array(b))) => {
                a.extend(b);
                Ok((Kind::L, Value::Array(a)))
            }
            ((Kind::L, _), (kind, _)) | ((kind, _), _) => Err(operand_type("list_append", kind)),
        },
        SetValue::Arithmetic(a, op, b) => match (evaluate(a, item)?, evaluate(b, item)?) {
            ((Kind::N, Value::Number(a)), (Kind::N, Value::Number(b))) => {
                let b = if *op == '-' {
                    decimal(&b).negated()
                } else {
                    decimal(&b)
                };
                Ok((Kind::N, number_value(&decimal(&a).add(&b))))
            }
            ((Kind::N, _), (kind, _)) | ((kind, _), _) => Err(operand_type(&op.to_string(), kind)),
        },
    }
}

/// The value holding the path's last step, and that step.
fn parent_mut<'v, 'p>(root: &'v mut Value, path: &'p Path) -> Option<(&'v mut Value, &'p Step)> {
    let (last, parents) = path.split_last()?;
    let mut value = root;
    for step in parents {
        value = match (value, step) {
            (Value::Object(map), Step::Key(key)) => map.get_mut(key)?,
            (Value::Array(items), Step::Index(n)) => items.get_mut(*n)?,
            _ => return None,
        };
    }
    Some((value, last))
}

fn set_in(root: &mut Value, path: &Path, value: Value) -> Result<(), DynamoError> {
    match parent_mut(root, path).ok_or_else(invalid_path)? {
        (Value::Object(map), Step::Key(key)) => {
            map.insert(key.clone(), value);
        }
        (Value::Array(items), Step::Index(n)) if *n < items.len() => items[*n] = value,
        (Value::Array(items), Step::Index(_)) => items.push(value),
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn lookup<'v>(root: &'v Value, path: &Path) -> Option<&'v Value> {
    get(root.as_object()?, path)
}
