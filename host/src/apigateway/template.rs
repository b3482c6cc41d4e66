//! Parsing a mapping template into nodes: literal text, references (`$x.y('z')`) and `#set`.
//! Everything outside the subset is refused here, with its line and column, so that a template
//! that parses renders as API Gateway would render it.

use super::jsonpath::JsonPath;

/// Why a mapping template was refused: the place (1-based) and the construct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A parsed API Gateway mapping template (the subset of Velocity that DynamoDB integrations use).
#[derive(Debug, Clone)]
pub struct Template {
    pub(super) nodes: Vec<Node>,
}

impl Template {
    /// Parses a mapping template; refuses constructs outside the subset with their line, column
    /// and name, e.g. ``line 3, column 1: `#foreach` is not supported``.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parser = Parser {
            src: text,
            pos: 0,
            end: text.len(),
        };
        let nodes = parser.nodes()?;
        Ok(Template { nodes })
    }
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Reference(Reference),
    Set { name: String, value: Expr },
}

#[derive(Debug, Clone)]
pub(super) struct Reference {
    pub quiet: bool,
    pub root: Root,
    pub steps: Vec<Step>,
    /// The reference as written: Velocity renders it so when its value is null.
    pub image: String,
}

#[derive(Debug, Clone)]
pub(super) enum Root {
    Input,
    Context,
    StageVariables,
    Util,
    Variable(String),
}

#[derive(Debug, Clone)]
pub(super) enum Step {
    Property(String),
    Method(String, Vec<Expr>),
    Index(Expr),
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Reference(Reference),
    Text(String),
    /// A double-quoted string with references in it: Velocity interpolates those.
    Interpolated(Vec<Node>),
    Number(serde_json::Number),
    Bool(bool),
}

/// Directives of Velocity that the subset refuses (`#set` is the one it keeps).
const REFUSED_DIRECTIVES: &[&str] = &[
    "if", "elseif", "else", "end", "foreach", "macro", "include", "parse", "define", "break",
    "stop", "evaluate",
];

/// `$context` members, by the names API Gateway documents; `identity` holds the second list.
pub(super) const CONTEXT_FIELDS: &[&str] = &[
    "accountId",
    "apiId",
    "domainName",
    "httpMethod",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "resourceId",
    "resourcePath",
    "stage",
];
pub(super) const IDENTITY_FIELDS: &[&str] = &["sourceIp", "userAgent"];

const UTIL_FUNCTIONS: &[&str] = &[
    "escapeJavaScript",
    "urlEncode",
    "urlDecode",
    "base64Encode",
    "base64Decode",
    "parseJson",
];

/// Java methods callable on values (strings, maps, lists), with their argument counts.
const VALUE_METHODS: &[(&str, usize)] = &[
    ("get", 1),
    ("size", 0),
    ("length", 0),
    ("toString", 0),
    ("replaceAll", 2),
];

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..self.end].chars().next()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.src[self.pos..self.end].chars().nth(offset)
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..self.end]
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.bump();
        }
    }

    fn error_at(&self, at: usize, message: impl Into<String>) -> TemplateError {
        let before = &self.src[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        TemplateError {
            line,
            column,
            message: message.into(),
        }
    }

    fn nodes(&mut self) -> Result<Vec<Node>, TemplateError> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            let at = self.pos;
            match c {
                '$' => match self.reference()? {
                    Some(reference) => {
                        flush(&mut text, &mut nodes);
                        nodes.push(Node::Reference(reference));
                    }
                    None => text.push_str(&self.src[at..self.pos]),
                },
                '#' => {
                    if let Some(node) = self.directive(&mut text)? {
                        flush(&mut text, &mut nodes);
                        nodes.push(node);
                    } else if self.pos == at {
                        self.bump();
                        text.push('#');
                    }
                }
                '\\' if matches!(self.peek_at(1), Some('$' | '#')) => {
                    return Err(self.error_at(at, "escaping `$` or `#` with `\\` is not supported"));
                }
                _ => {
                    self.bump();
                    text.push(c);
                }
            }
        }
        flush(&mut text, &mut nodes);
        Ok(nodes)
    }

    fn identifier(&mut self) -> Option<String> {
        if !matches!(self.peek(), Some(c) if c.is_ascii_alphabetic()) {
            return None;
        }
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            self.bump();
        }
        Some(self.src[start..self.pos].to_owned())
    }

    /// A reference at `$`; `None` (with the position past what was read) when the `$` is text.
    fn reference(&mut self) -> Result<Option<Reference>, TemplateError> {
        let start = self.pos;
        self.bump();
        let quiet = self.eat('!');
        let formal = self.eat('{');
        let Some(name) = self.identifier() else {
            return Ok(None);
        };
        let root = match name.as_str() {
            "input" => Root::Input,
            "context" => Root::Context,
            "stageVariables" => Root::StageVariables,
            "util" => Root::Util,
            _ => Root::Variable(name),
        };
        let mut steps = Vec::new();
        loop {
            let step_at = self.pos;
            if self.peek() == Some('.')
                && matches!(self.peek_at(1), Some(c) if c.is_ascii_alphabetic())
            {
                self.bump();
                let name = self.identifier().unwrap_or_default();
                if self.peek() == Some('(') {
                    let args = self.arguments()?;
                    steps.push((step_at, Step::Method(name, args)));
                } else {
                    steps.push((step_at, Step::Property(name)));
                }
            } else if self.eat('[') {
                self.skip_spaces();
                let index = self.expression()?;
                self.skip_spaces();
                if !self.eat(']') {
                    return Err(self.error_at(self.pos, "expected `]`"));
                }
                steps.push((step_at, Step::Index(index)));
            } else {
                break;
            }
        }
        if formal && !self.eat('}') {
            return Err(self.error_at(start, "`${` is not closed by `}`"));
        }
        self.check(start, &root, &steps)?;
        let image = self.src[start..self.pos].to_owned();
        let steps = steps.into_iter().map(|(_, step)| step).collect();
        Ok(Some(Reference {
            quiet,
            root,
            steps,
            image,
        }))
    }

    fn arguments(&mut self) -> Result<Vec<Expr>, TemplateError> {
        self.bump();
        let mut args = Vec::new();
        self.skip_spaces();
        if self.eat(')') {
            return Ok(args);
        }
        loop {
            self.skip_spaces();
            args.push(self.expression()?);
            self.skip_spaces();
            if self.eat(')') {
                return Ok(args);
            }
            if !self.eat(',') {
                return Err(self.error_at(self.pos, "expected `,` or `)` after an argument"));
            }
        }
    }

    fn expression(&mut self) -> Result<Expr, TemplateError> {
        let at = self.pos;
        match self.peek() {
            Some(quote @ ('\'' | '"')) => {
                self.bump();
                let Some(len) = self.rest().find(quote) else {
                    return Err(self.error_at(at, "string literal is not closed"));
                };
                let (start, close) = (self.pos, self.pos + len);
                self.pos = close + 1;
                let raw = &self.src[start..close];
                if quote == '"' && (raw.contains('$') || raw.contains('#')) {
                    let mut inner = Parser {
                        src: self.src,
                        pos: start,
                        end: close,
                    };
                    return Ok(Expr::Interpolated(inner.nodes()?));
                }
                Ok(Expr::Text(raw.to_owned()))
            }
            Some('$') => match self.reference()? {
                Some(reference) => Ok(Expr::Reference(reference)),
                None => Err(self.error_at(at, "expected a reference after `$`")),
            },
            Some(c) if c.is_ascii_digit() || c == '-' => {
                self.bump();
                while matches!(self.peek(), Some(c) if c.is_ascii_digit() || c == '.') {
                    self.bump();
                }
                let text = &self.src[at..self.pos];
                text.parse()
                    .map(Expr::Number)
                    .map_err(|_| self.error_at(at, format!("`{text}` is not a number")))
            }
            Some('[' | '{') => Err(self.error_at(
                at,
                "list and map literals (`[...]`, `{...}`) are not supported",
            )),
            _ if self.rest().starts_with("true") => {
                self.pos += 4;
                Ok(Expr::Bool(true))
            }
            _ if self.rest().starts_with("false") => {
                self.pos += 5;
                Ok(Expr::Bool(false))
            }
            Some(c) => Err(self.error_at(at, format!("unexpected `{c}` in an expression"))),
            None => Err(self.error_at(at, "the template ends inside an expression")),
        }
    }

    /// A directive or comment at `#`. `None` with the position unchanged means the `#` is text.
    fn directive(&mut self, text: &mut String) -> Result<Option<Node>, TemplateError> {
        let start = self.pos;
        if self.rest().starts_with("##") {
            let len = self.rest().find('\n').map_or(self.rest().len(), |n| n + 1);
            self.pos += len;
            return Ok(None);
        }
        if self.rest().starts_with("#*") {
            let Some(len) = self.rest().find("*#") else {
                return Err(self.error_at(start, "the comment `#*` is not closed by `*#`"));
            };
            self.pos += len + 2;
            return Ok(None);
        }
        self.bump();
        let formal = self.eat('{');
        let name = match self.identifier() {
            Some(name) if formal && !self.eat('}') => {
                return Err(self.error_at(start, format!("`#{{{name}` is not closed by `}}`")));
            }
            Some(name) => name,
            None => {
                self.pos = start;
                return Ok(None);
            }
        };
        if REFUSED_DIRECTIVES.contains(&name.as_str()) {
            return Err(self.error_at(start, format!("`#{name}` is not supported")));
        }
        if name != "set" {
            self.pos = start;
            return Ok(None);
        }
        // Velocity's `#set` takes the spaces before it and the line break after it.
        text.truncate(text.trim_end_matches([' ', '\t']).len());
        self.skip_spaces();
        if !self.eat('(') {
            return Err(self.error_at(self.pos, "expected `(` after `#set`"));
        }
        self.skip_spaces();
        let target_at = self.pos;
        let target = match self.reference()? {
            Some(Reference {
                root: Root::Variable(name),
                steps,
                ..
            }) if steps.is_empty() => name,
            _ => {
                return Err(self.error_at(target_at, "`#set` assigns only to a plain `$name`"));
            }
        };
        self.skip_spaces();
        if !self.eat('=') {
            return Err(self.error_at(self.pos, "expected `=` in `#set`"));
        }
        self.skip_spaces();
        let value = self.expression()?;
        self.skip_spaces();
        if !self.eat(')') {
            return Err(self.error_at(self.pos, "expected `)` to close `#set`"));
        }
        if !self.eat('\n') && self.rest().starts_with("\r\n") {
            self.pos += 2;
        }
        Ok(Some(Node::Set {
            name: target,
            value,
        }))
    }

    /// Refuses members of `$input`, `$context` and `$util` that API Gateway does not have, or
    /// that the subset leaves out, and methods the renderer does not know.
    fn check(
        &self,
        start: usize,
        root: &Root,
        steps: &[(usize, Step)],
    ) -> Result<(), TemplateError> {
        let mut rest = steps;
        match root {
            Root::Input => {
                let Some(((at, first), tail)) = steps.split_first() else {
                    return Err(self.error_at(start, "`$input` alone is not supported"));
                };
                let arity = match first {
                    Step::Property(name) if name == "body" => None,
                    Step::Method(name, args) if name == "json" || name == "path" => {
                        self.check_json_path(*at, name, args)?;
                        Some((name, 1..=1))
                    }
                    Step::Method(name, _) if name == "params" => Some((name, 0..=1)),
                    Step::Property(name) | Step::Method(name, _) => {
                        return Err(self.error_at(*at, format!("`$input.{name}` is not supported")));
                    }
                    Step::Index(_) => {
                        return Err(self.error_at(*at, "`$input[...]` is not supported"));
                    }
                };
                if let (Some((name, range)), Step::Method(_, args)) = (arity, first)
                    && !range.contains(&args.len())
                {
                    if range.start() == range.end() {
                        return Err(self.arity_error(*at, &format!("$input.{name}"), *range.end()));
                    }
                    let message = format!(
                        "`$input.{name}(...)` takes at most {} argument",
                        range.end()
                    );
                    return Err(self.error_at(*at, message));
                }
                rest = tail;
            }
            Root::Context => {
                let mut fields = steps.iter().map_while(|(at, step)| match step {
                    Step::Property(name) => Some((*at, name.as_str())),
                    _ => None,
                });
                match (fields.next(), fields.next()) {
                    (Some((_, "identity")), Some((at, field))) => {
                        if !IDENTITY_FIELDS.contains(&field) {
                            let message = format!("`$context.identity.{field}` is not supported");
                            return Err(self.error_at(at, message));
                        }
                        rest = &steps[2..];
                    }
                    (Some((at, field)), _) if !CONTEXT_FIELDS.contains(&field) => {
                        return Err(
                            self.error_at(at, format!("`$context.{field}` is not supported"))
                        );
                    }
                    (Some(_), _) => rest = &steps[1..],
                    (None, _) => return Err(self.error_at(start, "`$context` needs a member")),
                }
            }
            Root::Util => match steps.split_first() {
                Some(((at, Step::Method(name, args)), tail))
                    if UTIL_FUNCTIONS.contains(&name.as_str()) =>
                {
                    if args.len() != 1 {
                        return Err(self.arity_error(*at, &format!("$util.{name}"), 1));
                    }
                    rest = tail;
                }
                Some(((at, Step::Method(name, _) | Step::Property(name)), _)) => {
                    return Err(self.error_at(*at, format!("`$util.{name}` is not supported")));
                }
                _ => return Err(self.error_at(start, "`$util` needs a function")),
            },
            Root::StageVariables | Root::Variable(_) => {}
        }
        for (at, step) in rest {
            if let Step::Method(name, args) = step {
                match VALUE_METHODS.iter().find(|(known, _)| known == name) {
                    Some((_, arity)) if *arity != args.len() => {
                        return Err(self.arity_error(*at, &format!(".{name}"), *arity));
                    }
                    Some(_) => {}
                    None => return Err(self.error_at(*at, format!("`.{name}()` is not supported"))),
                }
            }
        }
        Ok(())
    }

    fn check_json_path(&self, at: usize, name: &str, args: &[Expr]) -> Result<(), TemplateError> {
        if let [Expr::Text(path)] = args {
            JsonPath::parse(path)
                .map_err(|e| self.error_at(at, format!("`$input.{name}('{path}')`: {e}")))?;
        }
        Ok(())
    }

    fn arity_error(&self, at: usize, what: &str, arity: usize) -> TemplateError {
        let noun = if arity == 1 { "argument" } else { "arguments" };
        self.error_at(at, format!("`{what}(...)` takes {arity} {noun}"))
    }
}

fn flush(text: &mut String, nodes: &mut Vec<Node>) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    }
}
