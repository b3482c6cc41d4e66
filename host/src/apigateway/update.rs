//! `UpdateExpression`: parsing its `SET`, `REMOVE`, `ADD` and `DELETE` sections and applying
//! them to an item's typed attributes, with DynamoDB's errors.

use std::cmp::Ordering;
use std::collections::HashSet;

use super::dynamodb::{DynamoError, invalid};
use super::expression::{Operand, Parser, Path, Placeholders, Step, Token, get};
use crate::value::{AttributeValue, Image, Kind, Number};

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
    add: Vec<(Path, AttributeValue)>,
    delete: Vec<(Path, AttributeValue)>,
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
    fn set_member(&mut self, section: &str) -> Result<AttributeValue, DynamoError> {
        let Some(Token::Placeholder(_)) = self.peek() else {
            return Err(self.syntax_error());
        };
        let Operand::Value(value) = self.operand()? else {
            return Err(self.syntax_error());
        };
        let kind = value.kind();
        if !(kind.is_set() || (section == "ADD" && kind == Kind::N)) {
            return Err(self.invalid(format!(
                "Incorrect operand type for operator or function; operator or function: operator: {section}, operand type: {}",
                kind.human()
            )));
        }
        Ok(value)
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
                    "ADD" => update.add.push((path, parser.set_member("ADD")?)),
                    _ => update.delete.push((path, parser.set_member("DELETE")?)),
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
            .chain(self.add.iter().chain(&self.delete).map(|(p, _)| p))
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
    pub fn apply(&self, item: &mut Image) -> Result<(), DynamoError> {
        let mut values = Vec::with_capacity(self.set.len());
        for (path, value) in &self.set {
            values.push((path, evaluate(value, item)?));
        }
        let mut root = AttributeValue::M(item.clone());
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
        for (path, value) in &self.add {
            let added = match (lookup(&root, path), value) {
                (None, value) => value.clone(),
                (Some(AttributeValue::N(a)), AttributeValue::N(b)) => sum(a, b, false)?,
                (Some(current), new) if current.kind() == new.kind() && new.kind().is_set() => {
                    let mut members = current.clone();
                    for member in set_members(new) {
                        if !contains(&members, member) {
                            set_members_mut(&mut members).push(member.clone());
                        }
                    }
                    members
                }
                _ => return Err(wrong_data_type()),
            };
            set_in(&mut root, path, added)?;
        }
        for (path, gone) in &self.delete {
            match lookup(&root, path).cloned() {
                None => {}
                Some(mut members) if members.kind() == gone.kind() => {
                    set_members_mut(&mut members).retain(|m| !contains(gone, m));
                    // DynamoDB has no empty sets: deleting the last member removes the attribute.
                    if set_members(&members).is_empty() {
                        remove_at(&mut root, path);
                    } else {
                        set_in(&mut root, path, members)?;
                    }
                }
                Some(_) => return Err(wrong_data_type()),
            }
        }
        if let AttributeValue::M(updated) = root {
            *item = updated;
        }
        Ok(())
    }
}

/// A set's members (empty for a value that is no set).
fn set_members(set: &AttributeValue) -> &[String] {
    match set {
        AttributeValue::SS(m) | AttributeValue::NS(m) | AttributeValue::BS(m) => m,
        _ => &[],
    }
}

fn set_members_mut(set: &mut AttributeValue) -> &mut Vec<String> {
    match set {
        AttributeValue::SS(m) | AttributeValue::NS(m) | AttributeValue::BS(m) => m,
        _ => unreachable!("only sets reach here: their kinds were checked"),
    }
}

/// Whether a set holds `member` (numbers by value).
fn contains(set: &AttributeValue, member: &String) -> bool {
    match set {
        AttributeValue::NS(numbers) => {
            let member = Number::parse(member).ok();
            numbers.iter().any(|n| Number::parse(n).ok() == member)
        }
        other => set_members(other).contains(member),
    }
}

/// `a + b` (or `a - b`), checked against DynamoDB's limits.
fn sum(a: &str, b: &str, minus: bool) -> Result<AttributeValue, DynamoError> {
    let number = |text: &str| Number::parse(text).map_err(invalid);
    let b = if minus {
        number(b)?.negated()
    } else {
        number(b)?
    };
    let total = number(a)?.add(&b).to_text();
    Number::canonical(&total)
        .map(AttributeValue::N)
        .map_err(invalid)
}

fn remove_at(root: &mut AttributeValue, path: &Path) {
    match parent_mut(root, path) {
        Some((AttributeValue::M(map), Step::Key(key))) => {
            map.remove(key);
        }
        Some((AttributeValue::L(items), Step::Index(n))) if *n < items.len() => {
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

fn evaluate(value: &SetValue, item: &Image) -> Result<AttributeValue, DynamoError> {
    let missing = || {
        invalid("The provided expression refers to an attribute that does not exist in the item")
    };
    match value {
        SetValue::Operand(Operand::Value(value)) => Ok(value.clone()),
        SetValue::Operand(Operand::Path(path)) => get(item, path).cloned().ok_or_else(missing),
        SetValue::Operand(Operand::Size(_)) => Err(invalid(
            "Invalid UpdateExpression: The function is not allowed in an update expression; function: size",
        )),
        SetValue::IfNotExists(path, fallback) => match get(item, path) {
            Some(found) => Ok(found.clone()),
            None => evaluate(fallback, item),
        },
        SetValue::ListAppend(a, b) => match (evaluate(a, item)?, evaluate(b, item)?) {
            (AttributeValue::L(mut a), AttributeValue::L(b)) => {
                a.extend(b);
                Ok(AttributeValue::L(a))
            }
            (AttributeValue::L(_), other) | (other, _) => {
                Err(operand_type("list_append", other.kind()))
            }
        },
        SetValue::Arithmetic(a, op, b) => match (evaluate(a, item)?, evaluate(b, item)?) {
            (AttributeValue::N(a), AttributeValue::N(b)) => sum(&a, &b, *op == '-'),
            (AttributeValue::N(_), other) | (other, _) => {
                Err(operand_type(&op.to_string(), other.kind()))
            }
        },
    }
}

/// The value holding the path's last step, and that step.
fn parent_mut<'v, 'p>(
    root: &'v mut AttributeValue,
    path: &'p Path,
) -> Option<(&'v mut AttributeValue, &'p Step)> {
    let (last, parents) = path.split_last()?;
    let mut value = root;
    for step in parents {
        value = match (value, step) {
            (AttributeValue::M(map), Step::Key(key)) => map.get_mut(key)?,
            (AttributeValue::L(items), Step::Index(n)) => items.get_mut(*n)?,
            _ => return None,
        };
    }
    Some((value, last))
}

fn set_in(
    root: &mut AttributeValue,
    path: &Path,
    value: AttributeValue,
) -> Result<(), DynamoError> {
    match parent_mut(root, path).ok_or_else(invalid_path)? {
        (AttributeValue::M(map), Step::Key(key)) => {
            map.insert(key.clone(), value);
        }
        (AttributeValue::L(items), Step::Index(n)) if *n < items.len() => items[*n] = value,
        (AttributeValue::L(items), Step::Index(_)) => items.push(value),
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn lookup<'v>(root: &'v AttributeValue, path: &Path) -> Option<&'v AttributeValue> {
    match root {
        AttributeValue::M(map) => get(map, path),
        _ => None,
    }
}
