//! DynamoDB's condition, key condition, filter and projection expressions, parsed with
//! DynamoDB's syntax errors (`Syntax error; token: "x", near: "a x"`) and evaluated on items
//! as DynamoDB holds them, typed.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::dynamodb::{DynamoError, invalid};
use crate::value::{AttributeValue, Image, Kind, bytes, compare};

/// `#name` and `:value` placeholders of one request, and which of them the expressions used.
pub(super) struct Placeholders<'a> {
    names: &'a HashMap<String, String>,
    values: &'a HashMap<String, AttributeValue>,
    used_names: RefCell<HashSet<String>>,
    used_values: RefCell<HashSet<String>>,
}

impl<'a> Placeholders<'a> {
    pub(super) fn new(
        names: &'a HashMap<String, String>,
        values: &'a HashMap<String, AttributeValue>,
    ) -> Self {
        let (used_names, used_values) = Default::default();
        Placeholders {
            names,
            values,
            used_names,
            used_values,
        }
    }

    /// DynamoDB refuses placeholders that no expression uses.
    pub(super) fn check_all_used(&self) -> Result<(), DynamoError> {
        let unused = |keys: Vec<&String>, used: &HashSet<String>| {
            let mut unused: Vec<&str> = keys
                .into_iter()
                .filter(|k| !used.contains(*k))
                .map(String::as_str)
                .collect();
            unused.sort_unstable();
            unused.join(", ")
        };
        let names = unused(self.names.keys().collect(), &self.used_names.borrow());
        let values = unused(self.values.keys().collect(), &self.used_values.borrow());
        for (what, keys) in [("Names", names), ("Values", values)] {
            if !keys.is_empty() {
                return Err(invalid(format!(
                    "Value provided in ExpressionAttribute{what} unused in expressions: keys: {{{keys}}}"
                )));
            }
        }
        Ok(())
    }
}

/// One step of a document path: `a`, `#a` (resolved), or `[0]`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

pub(super) type Path = Vec<Step>;

#[derive(Debug, Clone)]
pub(super) enum Operand {
    Path(Path),
    Value(AttributeValue),
    /// `size(path)`.
    Size(Path),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed `ConditionExpression`.
#[derive(Debug, Clone)]
pub struct Condition {
    root: Cond,
}

#[derive(Debug, Clone)]
enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Compare(Operand, Comparator, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(Path, bool),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    Type(Path, Operand),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Word(String),
    Name(String),
    Placeholder(String),
    Symbol(&'static str),
}

const SYMBOLS: [&str; 14] = [
    "<>", "<=", ">=", "=", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-",
];

pub(super) struct Parser<'a, 'p> {
    what: &'static str,
    src: &'a str,
    tokens: Vec<(Token, usize, usize)>,
    pub(super) pos: usize,
    placeholders: &'a Placeholders<'p>,
}

impl<'a, 'p> Parser<'a, 'p> {
    pub(super) fn new(
        what: &'static str,
        src: &'a str,
        placeholders: &'a Placeholders<'p>,
    ) -> Result<Self, DynamoError> {
        let mut parser = Parser {
            what,
            src,
            tokens: Vec::new(),
            pos: 0,
            placeholders,
        };
        if src.trim().is_empty() {
            return Err(parser.invalid("The expression can not be empty;"));
        }
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let mut at = 0;
        while let Some(c) = src[at..].chars().next() {
            if c.is_whitespace() {
                at += c.len_utf8();
                continue;
            }
            let len = |from: usize| {
                src[from..]
                    .find(|c: char| !word(c))
                    .unwrap_or(src.len() - from)
            };
            let token = if (c == '#' || c == ':') && src[at + 1..].starts_with(word) {
                let text = src[at..at + 1 + len(at + 1)].to_owned();
                if c == '#' {
                    Token::Name(text)
                } else {
                    Token::Placeholder(text)
                }
            } else if word(c) {
                Token::Word(src[at..at + len(at)].to_owned())
            } else if let Some(symbol) = SYMBOLS.iter().find(|s| src[at..].starts_with(**s)) {
                Token::Symbol(symbol)
            } else {
                let near_start = parser.tokens.last().map_or(at, |t| t.1);
                let near = &src[near_start..at + c.len_utf8()];
                return Err(
                    parser.invalid(format!("Syntax error; token: \"{c}\", near: \"{near}\""))
                );
            };
            let end = at + token_len(&token);
            parser.tokens.push((token, at, end));
            at = end;
        }
        Ok(parser)
    }

    pub(super) fn invalid(&self, detail: impl std::fmt::Display) -> DynamoError {
        invalid(format!("Invalid {}: {detail}", self.what))
    }

    pub(super) fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.0)
    }

    pub(super) fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    pub(super) fn eat(&mut self, symbol: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol);
        self.pos += usize::from(found);
        found
    }

    pub(super) fn expect(&mut self, symbol: &str) -> Result<(), DynamoError> {
        if self.eat(symbol) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// DynamoDB's syntax error at the current token: the token, and the text from the token
    /// before it to the token after it.
    pub(super) fn syntax_error(&self) -> DynamoError {
        let token = self.tokens.get(self.pos);
        let text = token.map_or("<EOF>", |t| &self.src[t.1..t.2]);
        let start = self
            .pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .or(token)
            .map_or(0, |t| t.1);
        let end = self
            .tokens
            .get(self.pos + 1)
            .or(token)
            .or(self.tokens.last())
            .map_or(0, |t| t.2);
        let near = &self.src[start..end.max(start)];
        self.invalid(format!("Syntax error; token: \"{text}\", near: \"{near}\""))
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos == self.tokens.len()
    }

    pub(super) fn path(&mut self) -> Result<Path, DynamoError> {
        let mut path = vec![self.element()?];
        loop {
            if self.eat(".") {
                path.push(self.element()?);
            } else if self.eat("[") {
                let index = match self.peek() {
                    Some(Token::Word(w)) => w.parse().ok(),
                    _ => None,
                };
                let Some(index) = index else {
                    return Err(self.syntax_error());
                };
                self.pos += 1;
                self.expect("]")?;
                path.push(Step::Index(index));
            } else {
                return Ok(path);
            }
        }
    }

    fn element(&mut self) -> Result<Step, DynamoError> {
        let step = match self.peek() {
            Some(Token::Word(w)) if w.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                Step::Key(w.clone())
            }
            Some(Token::Name(n)) => match self.placeholders.names.get(n) {
                Some(name) => {
                    self.placeholders.used_names.borrow_mut().insert(n.clone());
                    Step::Key(name.clone())
                }
                None => {
                    return Err(self.invalid(format!(
                        "An expression attribute name used in the document path is not defined; attribute name: {n}"
                    )));
                }
            },
            _ => return Err(self.syntax_error()),
        };
        self.pos += 1;
        Ok(step)
    }

    pub(super) fn operand(&mut self) -> Result<Operand, DynamoError> {
        if self.function().as_deref() == Some("size") {
            self.pos += 2;
            let path = self.path()?;
            self.expect(")")?;
            return Ok(Operand::Size(path));
        }
        match self.peek() {
            Some(Token::Placeholder(p)) => {
                let Some(value) = self.placeholders.values.get(p) else {
                    return Err(self.invalid(format!(
                        "An expression attribute value used in expression is not defined; attribute value: {p}"
                    )));
                };
                self.placeholders.used_values.borrow_mut().insert(p.clone());
                self.pos += 1;
                Ok(Operand::Value(value.clone()))
            }
            _ => Ok(Operand::Path(self.path()?)),
        }
    }

    /// A function call's name when the next tokens are `name (`.
    pub(super) fn function(&self) -> Option<String> {
        match (self.peek(), self.tokens.get(self.pos + 1).map(|t| &t.0)) {
            (Some(Token::Word(name)), Some(Token::Symbol("("))) => Some(name.clone()),
            _ => None,
        }
    }

    pub(super) fn unknown_function(&self, name: &str) -> DynamoError {
        const CONDITIONS: [&str; 6] = [
            "attribute_exists",
            "attribute_not_exists",
            "attribute_type",
            "begins_with",
            "contains",
            "size",
        ];
        if self.what == "UpdateExpression" && CONDITIONS.contains(&name) {
            return self.invalid(format!(
                "The function is not allowed in an update expression; function: {name}"
            ));
        }
        self.invalid(format!("Invalid function name; function: {name}"))
    }
}

fn token_len(token: &Token) -> usize {
    match token {
        Token::Word(t) | Token::Name(t) | Token::Placeholder(t) => t.len(),
        Token::Symbol(s) => s.len(),
    }
}

impl Condition {
    pub(super) fn parse(text: &str, placeholders: &Placeholders) -> Result<Condition, DynamoError> {
        let mut parser = Parser::new("ConditionExpression", text, placeholders)?;
        let root = parser.or()?;
        if !parser.at_end() {
            return Err(parser.syntax_error());
        }
        Ok(Condition { root })
    }

    /// Whether the condition holds for the item as stored now (`None`: there is no item).
    pub fn holds(&self, current: Option<&Image>) -> bool {
        self.root.holds(current)
    }

    /// The value a `KeyConditionExpression` sets the top-level attribute `name` equal to:
    /// `name = :v`, alone or ANDed with the sort key's condition.
    pub fn equality(&self, name: &str) -> Option<AttributeValue> {
        fn find(cond: &Cond, name: &str) -> Option<AttributeValue> {
            match cond {
                Cond::And(a, b) => find(a, name).or_else(|| find(b, name)),
                Cond::Compare(Operand::Path(path), Comparator::Eq, Operand::Value(v))
                | Cond::Compare(Operand::Value(v), Comparator::Eq, Operand::Path(path))
                    if path.as_slice() == [Step::Key(name.to_string())] =>
                {
                    Some(v.clone())
                }
                _ => None,
            }
        }
        find(&self.root, name)
    }
}

/// A `ProjectionExpression`: the document paths to keep of each item.
#[derive(Debug, Clone)]
pub struct Projection {
    paths: Vec<Path>,
}

impl Projection {
    pub(super) fn parse(
        text: &str,
        placeholders: &Placeholders,
    ) -> Result<Projection, DynamoError> {
        let mut parser = Parser::new("ProjectionExpression", text, placeholders)?;
        let mut paths = vec![parser.path()?];
        while parser.eat(",") {
            paths.push(parser.path()?);
        }
        if !parser.at_end() {
            return Err(parser.syntax_error());
        }
        Ok(Projection { paths })
    }

    /// The item with only the projected paths, nested as they were (list elements in the
    /// order of the projection, as DynamoDB gives them).
    pub fn apply(&self, item: &Image) -> Image {
        let mut out = Image::new();
        for path in &self.paths {
            let Some(value) = get(item, path) else {
                continue;
            };
            let Some((Step::Key(first), rest)) = path.split_first() else {
                continue;
            };
            if rest.is_empty() {
                out.insert(first.clone(), value.clone());
                continue;
            }
            let mut slot = out
                .entry(first.clone())
                .or_insert_with(|| container(&rest[0]));
            for (i, step) in rest.iter().enumerate() {
                let last = i + 1 == rest.len();
                let next = if last {
                    value.clone()
                } else {
                    container(&rest[i + 1])
                };
                slot = match (slot, step) {
                    (AttributeValue::M(map), Step::Key(key)) => {
                        map.entry(key.clone()).or_insert(next)
                    }
                    (AttributeValue::L(list), Step::Index(_)) => {
                        list.push(next);
                        list.last_mut().expect("pushed just above")
                    }
                    _ => break,
                };
            }
        }
        out
    }
}

/// An empty map or list, as a path step needs.
fn container(step: &Step) -> AttributeValue {
    match step {
        Step::Key(_) => AttributeValue::M(Image::new()),
        Step::Index(_) => AttributeValue::L(Vec::new()),
    }
}

impl Cond {
    fn holds(&self, current: Option<&Image>) -> bool {
        let empty = Image::new();
        let item = current.unwrap_or(&empty);
        let value = |operand: &Operand| -> Option<AttributeValue> {
            match operand {
                Operand::Path(path) => get(item, path).cloned(),
                Operand::Value(value) => Some(value.clone()),
                Operand::Size(path) => {
                    let size = get(item, path)?.size()?;
                    Some(AttributeValue::N(size.to_string()))
                }
            }
        };
        let order = |a: &Operand, b: &Operand| compare(&value(a)?, &value(b)?);
        match self {
            Cond::And(a, b) => a.holds(current) && b.holds(current),
            Cond::Or(a, b) => a.holds(current) || b.holds(current),
            Cond::Not(a) => !a.holds(current),
            Cond::Exists(path, exists) => get(item, path).is_some() == *exists,
            Cond::Compare(a, Comparator::Eq, b) => order(a, b) == Some(Ordering::Equal),
            Cond::Compare(a, Comparator::Ne, b) => order(a, b) != Some(Ordering::Equal),
            Cond::Compare(a, op, b) => match order(a, b) {
                Some(Ordering::Less) => matches!(op, Comparator::Lt | Comparator::Le),
                Some(Ordering::Equal) => matches!(op, Comparator::Le | Comparator::Ge),
                Some(Ordering::Greater) => matches!(op, Comparator::Gt | Comparator::Ge),
                None => false,
            },
            Cond::Between(v, low, high) => {
                order(v, low).is_some_and(Ordering::is_ge)
                    && order(v, high).is_some_and(Ordering::is_le)
            }
            Cond::In(v, list) => list.iter().any(|o| order(v, o) == Some(Ordering::Equal)),
            Cond::BeginsWith(a, b) => match (value(a), value(b)) {
                (Some(AttributeValue::S(a)), Some(AttributeValue::S(b))) => a.starts_with(&b),
                (Some(AttributeValue::B(a)), Some(AttributeValue::B(b))) => {
                    bytes(&a).starts_with(&bytes(&b))
                }
                _ => false,
            },
            Cond::Contains(a, b) => {
                use AttributeValue as A;
                match (value(a), value(b)) {
                    (Some(A::S(a)), Some(A::S(b))) => a.contains(&b),
                    (Some(A::SS(set)), Some(A::S(b))) | (Some(A::BS(set)), Some(A::B(b))) => {
                        set.contains(&b)
                    }
                    (Some(A::NS(set)), Some(b @ A::N(_))) => set
                        .iter()
                        .any(|n| compare(&A::N(n.clone()), &b) == Some(Ordering::Equal)),
                    (Some(A::L(items)), Some(b)) => items
                        .iter()
                        .any(|i| compare(i, &b) == Some(Ordering::Equal)),
                    _ => false,
                }
            }
            Cond::Type(path, kind) => match (get(item, path), value(kind)) {
                (Some(found), Some(AttributeValue::S(code))) => found.kind().code() == code,
                _ => false,
            },
        }
    }
}

impl Parser<'_, '_> {
    fn or(&mut self) -> Result<Cond, DynamoError> {
        let mut left = self.and()?;
        while self.peek_keyword("OR") {
            self.pos += 1;
            left = Cond::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, DynamoError> {
        let mut left = self.not()?;
        while self.peek_keyword("AND") {
            self.pos += 1;
            left = Cond::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond, DynamoError> {
        if self.peek_keyword("NOT") {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            self.expect(")")?;
            return Ok(inner);
        }
        if let Some(name) = self.function() {
            self.pos += 2;
            let condition = match name.as_str() {
                "size" => {
                    // `size(path)` is an operand: back up and read the comparison.
                    self.pos -= 2;
                    return self.comparison();
                }
                "attribute_exists" => Cond::Exists(self.path()?, true),
                "attribute_type" => {
                    let path = self.path()?;
                    self.expect(",")?;
                    let kind = self.operand()?;
                    if let Operand::Value(value) = &kind {
                        let known = matches!(value, AttributeValue::S(code) if Kind::from_code(code).is_some());
                        if !known {
                            return Err(self.invalid(format!(
                                "Invalid attribute type name found; type: {}, valid types: {{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }}",
                                match value {
                                    AttributeValue::S(code) => code.clone(),
                                    other => other.kind().code().to_string(),
                                }
                            )));
                        }
                    }
                    Cond::Type(path, kind)
                }
                "attribute_not_exists" => Cond::Exists(self.path()?, false),
                "begins_with" | "contains" => {
                    let subject = self.operand()?;
                    self.expect(",")?;
                    let operand = self.operand()?;
                    if name == "contains" {
                        Cond::Contains(subject, operand)
                    } else {
                        Cond::BeginsWith(subject, operand)
                    }
                }
                _ => return Err(self.unknown_function(&name)),
            };
            self.expect(")")?;
            return Ok(condition);
        }
        self.comparison()
    }

    /// `operand comparator operand`, `operand BETWEEN a AND b` or `operand IN (...)`.
    fn comparison(&mut self) -> Result<Cond, DynamoError> {
        let left = self.operand()?;
        if self.peek_keyword("BETWEEN") {
            self.pos += 1;
            let low = self.operand()?;
            if !self.peek_keyword("AND") {
                return Err(self.syntax_error());
            }
            self.pos += 1;
            return Ok(Cond::Between(left, low, self.operand()?));
        }
        if self.peek_keyword("IN") {
            self.pos += 1;
            self.expect("(")?;
            let mut list = vec![self.operand()?];
            while self.eat(",") {
                list.push(self.operand()?);
            }
            self.expect(")")?;
            return Ok(Cond::In(left, list));
        }
        let comparator = match self.peek() {
            Some(Token::Symbol("=")) => Comparator::Eq,
            Some(Token::Symbol("<>")) => Comparator::Ne,
            Some(Token::Symbol("<")) => Comparator::Lt,
            Some(Token::Symbol("<=")) => Comparator::Le,
            Some(Token::Symbol(">")) => Comparator::Gt,
            Some(Token::Symbol(">=")) => Comparator::Ge,
            _ => return Err(self.syntax_error()),
        };
        self.pos += 1;
        Ok(Cond::Compare(left, comparator, self.operand()?))
    }
}

pub(super) fn get<'v>(item: &'v Image, path: &Path) -> Option<&'v AttributeValue> {
    let (Step::Key(first), rest) = path.split_first()? else {
        return None;
    };
    rest.iter()
        .try_fold(item.get(first)?, |value, step| match (value, step) {
            (AttributeValue::M(map), Step::Key(key)) => map.get(key),
            (AttributeValue::L(items), Step::Index(n)) => items.get(*n),
            _ => None,
        })
}
