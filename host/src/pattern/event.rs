//! Events as the matcher sees them. The JSON text is read once, in one pass, into the leaf
//! values at the paths some pattern names; every other member is checked to be JSON and skipped.
//! Arrays are transparent (an array's elements are values of its path), and each leaf keeps the
//! array elements it sits in, so that matches can be kept within one element (AWS's "array
//! consistency").

use std::borrow::Cow;
use std::collections::HashSet;

/// A path some pattern names, numbered from 0.
pub(super) type FieldId = u32;
type NodeId = u32;

/// The field names of a rule set's patterns, as a tree of their steps (the parts between dots,
/// since event-ruler joins the keys of nested objects with "." into one name: `{"a.b": 1}` and
/// `{"a": {"b": 1}}` both give field `a.b`).
#[derive(Debug, Clone)]
pub(super) struct Trie {
    nodes: Vec<Node>,
    fields: u32,
    /// The steps of the field names as `String.split("\\.")` gives them (trailing empty steps
    /// dropped): an event key that is none of these, nor made of these and dots, is not read
    /// (GenericMachine.isFieldStepUsed).
    steps: HashSet<Box<str>>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// Sorted by name for binary search.
    children: Vec<(Box<str>, NodeId)>,
    field: Option<FieldId>,
}

impl Trie {
    pub fn new() -> Trie {
        Trie {
            nodes: vec![Node::default()],
            fields: 0,
            steps: HashSet::new(),
        }
    }

    /// The field named `name` (steps joined with "."), added if new.
    pub fn field(&mut self, name: &str) -> FieldId {
        for step in java_split(name) {
            if !self.steps.contains(step) {
                self.steps.insert(step.into());
            }
        }
        let mut node = 0usize;
        for name in name.split('.') {
            let children = &self.nodes[node].children;
            node = match children.binary_search_by(|(n, _)| n.as_ref().cmp(name)) {
                Ok(i) => children[i].1 as usize,
                Err(i) => {
                    let id = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[node]
                        .children
                        .insert(i, (name.into(), id as NodeId));
                    id
                }
            };
        }
        *self.nodes[node].field.get_or_insert_with(|| {
            self.fields += 1;
            self.fields - 1
        })
    }

    pub fn field_count(&self) -> usize {
        self.fields as usize
    }

    fn child(&self, node: NodeId, name: &str) -> Option<NodeId> {
        let children = &self.nodes[node as usize].children;
        children
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| children[i].1)
    }

    /// Where the event member `key` under `node` leads, if some field name goes on that way
    /// and event-ruler reads the member at all.
    fn member(&self, node: NodeId, key: &str) -> Option<NodeId> {
        if !key.is_empty() && !key.contains('.') {
            // A nonempty step of a field name is always one of `steps`.
            return self.child(node, key);
        }
        let mut node = node;
        for step in key.split('.') {
            node = self.child(node, step)?;
        }
        self.step_used(key).then_some(node)
    }

    /// GenericMachine.isFieldStepUsed: the key is a step, or all its dotted parts are.
    fn step_used(&self, key: &str) -> bool {
        self.steps.contains(key)
            || (key.contains('.') && java_split(key).all(|step| self.steps.contains(step)))
    }
}

/// Java's `text.split("\\.")`: the parts between dots, without trailing empty ones (all of
/// them empty: none at all), except that "" splits into [""].
fn java_split(text: &str) -> impl Iterator<Item = &str> {
    let kept = if text.is_empty() {
        1
    } else {
        text.split('.')
            .enumerate()
            .filter(|(_, part)| !part.is_empty())
            .last()
            .map_or(0, |(i, _)| i + 1)
    };
    text.split('.').take(kept)
}

/// A leaf value of an event. Numbers keep their text as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Num(&'a str),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone)]
pub(super) struct Leaf<'a> {
    pub value: Value<'a>,
    /// The (array, element) pairs this leaf sits in, outermost first: `trails[start..start + len]`.
    trail: (u32, u32),
}

/// An event read against a rule set: the leaves at the paths its patterns name.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    leaves: Vec<Leaf<'a>>,
    /// Per field, its leaves: `leaves[start..end]`.
    fields: Vec<(u32, u32)>,
    trails: Vec<(u32, u32)>,
}

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventError(pub String);

impl<'a> Event<'a> {
    pub(super) fn leaves(&self, field: FieldId) -> &[Leaf<'a>] {
        let (start, end) = self.fields[field as usize];
        &self.leaves[start as usize..end as usize]
    }

    pub(super) fn trail(&self, leaf: &Leaf<'_>) -> &[(u32, u32)] {
        let (start, len) = leaf.trail;
        &self.trails[start as usize..(start + len) as usize]
    }

    /// Reads `text`, which must be a JSON object, keeping the leaves at the trie's paths.
    pub(super) fn read(text: &'a str, trie: &Trie) -> Result<Event<'a>, EventError> {
        let mut reader = Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            trie,
            found: Vec::new(),
            trails: Vec::new(),
            stack: Vec::new(),
            arrays: 0,
        };
        reader.whitespace();
        if reader.bytes.get(reader.pos) != Some(&b'{') {
            return Err(EventError("an event must be a JSON object".into()));
        }
        // What follows the object is not read, as event-ruler's Event constructor reads one
        // object and closes its parser.
        reader.value(Some(0), 0)?;

        // Group the leaves by field (a counting sort keeps each field's leaves in event order).
        let mut fields = vec![(0u32, 0u32); trie.field_count()];
        for (field, _) in &reader.found {
            fields[*field as usize].1 += 1;
        }
        let mut next = 0;
        for range in &mut fields {
            let count = range.1;
            *range = (next, next);
            next += count;
        }
        let mut slots: Vec<Option<Leaf<'a>>> = vec![None; reader.found.len()];
        for (field, leaf) in reader.found {
            let range = &mut fields[field as usize];
            slots[range.1 as usize] = Some(leaf);
            range.1 += 1;
        }
        let leaves = slots.into_iter().flatten().collect();
        Ok(Event {
            leaves,
            fields,
            trails: reader.trails,
        })
    }
}

/// Deepest nesting an event may have.
const MAX_DEPTH: usize = 256;

struct Reader<'t, 'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    trie: &'t Trie,
    found: Vec<(FieldId, Leaf<'a>)>,
    trails: Vec<(u32, u32)>,
    /// The (array, element) pairs of the arrays the reader is in.
    stack: Vec<(u32, u32)>,
    arrays: u32,
}

impl<'a> Reader<'_, 'a> {
    fn error(&self, what: &str) -> EventError {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        EventError(format!(
            "invalid JSON at line {line}, column {column}: {what}"
        ))
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn record(&mut self, node: Option<NodeId>, value: Value<'a>) {
        let Some(field) = node.and_then(|n| self.trie.nodes[n as usize].field) else {
            return;
        };
        let trail = if self.stack.is_empty() {
            (0, 0)
        } else {
            let start = self.trails.len() as u32;
            self.trails.extend_from_slice(&self.stack);
            (start, self.stack.len() as u32)
        };
        self.found.push((field, Leaf { value, trail }));
    }

    /// Reads one value; `node` is its place in the trie, `None` when no pattern looks inside.
    fn value(&mut self, node: Option<NodeId>, depth: usize) -> Result<(), EventError> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(node, depth),
            Some(b'[') => self.array(node, depth),
            Some(b'"') => {
                let (text, end) = string_at(self.text, self.pos).map_err(|at| {
                    self.pos = at;
                    self.error("invalid string")
                })?;
                self.pos = end;
                self.record(node, Value::Str(text));
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let end =
                    number_end(self.bytes, self.pos).ok_or_else(|| self.error("invalid number"))?;
                let text = &self.text[self.pos..end];
                self.pos = end;
                self.record(node, Value::Num(text));
                Ok(())
            }
            Some(b't') => self.literal("true", node, Value::Bool(true)),
            Some(b'f') => self.literal("false", node, Value::Bool(false)),
            Some(b'n') => self.literal("null", node, Value::Null),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of text")),
        }
    }

    fn literal(
        &mut self,
        word: &str,
        node: Option<NodeId>,
        value: Value<'a>,
    ) -> Result<(), EventError> {
        if !self.bytes[self.pos..].starts_with(word.as_bytes()) {
            return Err(self.error("expected a value"));
        }
        self.pos += word.len();
        self.record(node, value);
        Ok(())
    }

    fn object(&mut self, node: Option<NodeId>, depth: usize) -> Result<(), EventError> {
        self.pos += 1;
        self.whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.whitespace();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a member name in double quotes"));
            }
            let (name, end) = string_at(self.text, self.pos).map_err(|at| {
                self.pos = at;
                self.error("invalid string")
            })?;
            self.pos = end;
            let child = node.and_then(|n| self.trie.member(n, &name));
            self.whitespace();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected `:` after a member name"));
            }
            self.pos += 1;
            self.whitespace();
            self.value(child, depth + 1)?;
            self.whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, node: Option<NodeId>, depth: usize) -> Result<(), EventError> {
        self.pos += 1;
        let array = self.arrays;
        self.arrays += 1;
        self.whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(());
        }
        let mut element = 0;
        loop {
            self.whitespace();
            if node.is_some() {
                self.stack.push((array, element));
            }
            let read = self.value(node, depth + 1);
            if node.is_some() {
                self.stack.pop();
            }
            read?;
            element += 1;
            self.whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }
}

/// The end of the JSON number starting at `start`, if one is there.
pub(super) fn number_end(bytes: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let from = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match bytes.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(i)?,
        _ => return None,
    };
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        i = digits(i)?;
    }
    Some(i)
}

/// The JSON string starting at the quote at `start`, unescaped, and the position after it; or
/// the position of the problem.
pub(super) fn string_at(text: &str, start: usize) -> Result<(Cow<'_, str>, usize), usize> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    // Fast path: no escapes, borrow the text.
    loop {
        match bytes.get(i) {
            Some(b'"') => return Ok((Cow::Borrowed(&text[start + 1..i]), i + 1)),
            Some(b'\\') => break,
            Some(b) if *b < 0x20 => return Err(i),
            Some(_) => i += 1,
            None => return Err(i),
        }
    }
    let mut out = String::with_capacity(i - start + 16);
    out.push_str(&text[start + 1..i]);
    loop {
        match bytes.get(i) {
            Some(b'"') => return Ok((Cow::Owned(out), i + 1)),
            Some(b'\\') => {
                let escaped = match bytes.get(i + 1) {
                    Some(b'"') => '"',
                    Some(b'\\') => '\\',
                    Some(b'/') => '/',
                    Some(b'b') => '\u{8}',
                    Some(b'f') => '\u{c}',
                    Some(b'n') => '\n',
                    Some(b'r') => '\r',
                    Some(b't') => '\t',
                    Some(b'u') => {
                        let (c, end) = unicode_escape(text, i).ok_or(i)?;
                        out.push(c);
                        i = end;
                        continue;
                    }
                    _ => return Err(i),
                };
                out.push(escaped);
                i += 2;
            }
            Some(b) if *b < 0x20 => return Err(i),
            Some(_) => {
                let run = bytes[i..]
                    .iter()
                    .position(|b| *b == b'"' || *b == b'\\' || *b < 0x20)
                    .map_or(bytes.len(), |n| i + n);
                out.push_str(&text[i..run]);
                i = run;
            }
            None => return Err(i),
        }
    }
}

/// `\uXXXX` at `at` (a surrogate pair counts as one), and the position after it.
fn unicode_escape(text: &str, at: usize) -> Option<(char, usize)> {
    let hex = |from: usize| {
        text.get(from..from + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let first = hex(at + 2)?;
    if (0xD800..0xDC00).contains(&first) {
        if text.get(at + 6..at + 8) != Some("\\u") {
            return None;
        }
        let second = hex(at + 8)?;
        if !(0xDC00..0xE000).contains(&second) {
            return None;
        }
        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
        return char::from_u32(code).map(|c| (c, at + 12));
    }
    char::from_u32(first).map(|c| (c, at + 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(paths: &[&[&str]]) -> Trie {
        let mut trie = Trie::new();
        for path in paths {
            trie.field(&path.join("."));
        }
        trie
    }

    #[test]
    fn only_the_named_paths_are_kept_with_their_array_elements() {
        let trie = trie(&[&["detail", "state"], &["items", "sku"]]);
        let text = r#"{"detail": {"state": "running", "other": [1, {"x": "y"}]},
                       "items": [{"sku": "a"}, {"sku": "b\u00e9", "qty": 2}], "skip": "me"}"#;
        let event = Event::read(text, &trie).unwrap();
        let state = event.leaves(0);
        assert_eq!(state.len(), 1);
        assert_eq!(state[0].value, Value::Str("running".into()));
        assert!(event.trail(&state[0]).is_empty());
        let skus = event.leaves(1);
        assert_eq!(
            skus.iter().map(|l| l.value.clone()).collect::<Vec<_>>(),
            [Value::Str("a".into()), Value::Str("bé".into())]
        );
        assert_eq!(event.trail(&skus[0]).len(), 1);
        assert_ne!(event.trail(&skus[0]), event.trail(&skus[1]));
    }

    #[test]
    fn numbers_keep_their_text_and_literals_are_leaves() {
        let trie = trie(&[&["a"], &["b"], &["c"]]);
        let event = Event::read(r#"{"a": 3.0e2, "b": [true, null], "c": -0}"#, &trie).unwrap();
        assert_eq!(event.leaves(0)[0].value, Value::Num("3.0e2"));
        assert_eq!(
            event
                .leaves(1)
                .iter()
                .map(|l| l.value.clone())
                .collect::<Vec<_>>(),
            [Value::Bool(true), Value::Null]
        );
        assert_eq!(event.leaves(2)[0].value, Value::Num("-0"));
    }

    #[test]
    fn invalid_json_is_refused_even_where_nothing_is_read() {
        let trie = trie(&[&["a"]]);
        for bad in [
            r#"{"a": 1,}"#,
            r#"{"skip": [1 2]}"#,
            r#"{"skip": "\x"}"#,
            "[1]",
            r#"{"a": 01}"#,
            "",
        ] {
            assert!(Event::read(bad, &trie).is_err(), "{bad}");
        }
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(300), "]".repeat(300));
        assert!(
            Event::read(&deep, &trie)
                .unwrap_err()
                .0
                .contains("nested deeper")
        );
    }

    #[test]
    fn escapes_and_surrogate_pairs_are_decoded() {
        assert_eq!(
            string_at(r#""a\"b\\c\/\n\u0041\ud83d\ude00""#, 0)
                .unwrap()
                .0,
            "a\"b\\c/\nA😀"
        );
        assert!(
            string_at(r#""\ud83d""#, 0).is_err(),
            "a lone surrogate is refused"
        );
    }
}
