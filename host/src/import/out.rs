//! The routes.toml the importer writes: sections in the order of the README's reference, each
//! with a comment naming the resource it came from, and templates kept readable as multi-line
//! literal strings.

use std::fmt::Write;

/// A value of routes.toml.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Str(String),
    /// Text that may span lines (a mapping template, a pattern): a multi-line literal string
    /// when it has a line break.
    Text(String),
    Int(i64),
    Bool(bool),
    /// An inline table, its keys in this order.
    Table(Vec<(String, Item)>),
    /// An array; one of inline tables is written one element a line.
    List(Vec<Item>),
}

/// Where a section sorts: the README's order of the kinds, then by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Host,
    Aws,
    Tables,
    Plugins,
    Pipes,
    Buses,
    Queues,
    Consumers,
}

#[derive(Debug, Clone)]
pub struct Section {
    pub group: Group,
    /// Sorts sections of a group; a section's sub-sections sort after it (`name`, `name.rules`).
    pub order: String,
    pub comments: Vec<String>,
    /// The dotted header without brackets, e.g. `tables.orders`.
    pub header: String,
    /// `[[header]]`, an element of an array of tables.
    pub array: bool,
    pub entries: Vec<(String, Item)>,
}

impl Section {
    pub fn new(group: Group, order: impl Into<String>, header: impl Into<String>) -> Self {
        Section {
            group,
            order: order.into(),
            comments: Vec::new(),
            header: header.into(),
            array: false,
            entries: Vec::new(),
        }
    }

    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comments.push(text.into());
        self
    }

    pub fn set(&mut self, key: &str, item: Item) {
        self.entries.push((key.to_string(), item));
    }
}

/// The sections, rendered as routes.toml text.
pub fn render(mut sections: Vec<Section>, preamble: &[String]) -> String {
    sections.sort_by(|a, b| (a.group, &a.order).cmp(&(b.group, &b.order)));
    let mut out = String::new();
    for line in preamble {
        let _ = writeln!(out, "# {line}");
    }
    for section in &sections {
        out.push('\n');
        for line in &section.comments {
            let _ = writeln!(out, "# {line}");
        }
        let (open, close) = if section.array {
            ("[[", "]]")
        } else {
            ("[", "]")
        };
        let _ = writeln!(out, "{open}{}{close}", section.header);
        for (key, item) in &section.entries {
            let _ = writeln!(out, "{} = {}", key_text(key), value(item, true));
        }
    }
    out
}

/// A key as TOML takes it: bare when it can be, quoted otherwise.
pub fn key_text(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare { key.to_string() } else { quoted(key) }
}

fn value(item: &Item, top: bool) -> String {
    match item {
        Item::Str(text) => quoted(text),
        Item::Text(text) => multi_line(text).unwrap_or_else(|| quoted(text)),
        Item::Int(n) => n.to_string(),
        Item::Bool(b) => b.to_string(),
        Item::Table(entries) => {
            if entries.is_empty() {
                return "{}".into();
            }
            let inner: Vec<String> = entries
                .iter()
                .map(|(key, item)| format!("{} = {}", key_text(key), value(item, false)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        Item::List(items) => {
            let tables = items.iter().any(|item| matches!(item, Item::Table(_)));
            let inner: Vec<String> = items.iter().map(|item| value(item, false)).collect();
            if tables && top {
                let lines: String = inner.iter().map(|line| format!("  {line},\n")).collect();
                format!("[\n{lines}]")
            } else {
                format!("[{}]", inner.join(", "))
            }
        }
    }
}

/// One-line text, as the toml crate quotes it (a literal string when it holds `"`).
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// `'''` text `'''` when the text has a line break and can be written so: no `'''` inside, no
/// `'` at its end (it would run into the closing quotes), no control character but tab and
/// line feed.
fn multi_line(text: &str) -> Option<String> {
    let fits = text.contains('\n')
        && !text.contains("'''")
        && !text.ends_with('\'')
        && !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
    // The line break right after the opening quotes is not part of the string.
    fits.then(|| format!("'''\n{text}'''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> toml::Table {
        toml::from_str(text).unwrap_or_else(|err| panic!("{err}\n{text}"))
    }

    #[test]
    fn sections_sort_by_kind_then_name_and_keep_their_comments() {
        let mut queue = Section::new(Group::Queues, "b", "queues.b").comment("from B");
        queue.set("delay", Item::Str("5s".into()));
        let table = Section::new(Group::Tables, "a", "tables.a").comment("from A");
        let text = render(vec![queue, table], &["imported".into()]);
        assert_eq!(
            text,
            "# imported\n\n# from A\n[tables.a]\n\n# from B\n[queues.b]\ndelay = \"5s\"\n"
        );
    }

    #[test]
    fn multi_line_text_is_a_literal_string_that_reads_back_as_written() {
        let templates = [
            "{\n  \"TableName\": \"orders\",\n  \"id\": \"$input.path('$.id')\"\n}",
            "ends with a quote\n'",
            "holds '''\nthree quotes",
            "one line with \"quotes\"",
            "\nstarts with a line break\n",
        ];
        for template in templates {
            let mut section = Section::new(Group::Tables, "t", "t");
            section.set("request_template", Item::Text(template.into()));
            let text = render(vec![section], &[]);
            assert_eq!(
                parsed(&text)["t"]["request_template"].as_str(),
                Some(template),
                "{text}"
            );
        }
        let first = multi_line(templates[0]).unwrap();
        assert!(first.starts_with("'''\n{"), "{first}");
    }

    #[test]
    fn arrays_of_inline_tables_take_a_line_each() {
        let mut section = Section::new(Group::Buses, "b", "buses.b.rules.r");
        let target = |queue: &str| Item::Table(vec![("queue".into(), Item::Str(queue.into()))]);
        section.set("targets", Item::List(vec![target("q1"), target("q2")]));
        let text = render(vec![section], &[]);
        assert!(
            text.contains("targets = [\n  { queue = \"q1\" },\n  { queue = \"q2\" },\n]\n"),
            "{text}"
        );
        let parsed = parsed(&text);
        let targets = parsed["buses"]["b"]["rules"]["r"]["targets"]
            .as_array()
            .unwrap();
        assert_eq!(targets.len(), 2);
    }

    #[test]
    fn keys_are_quoted_only_when_they_must_be() {
        assert_eq!(key_text("function_name"), "function_name");
        assert_eq!(key_text("tier.c-1"), "\"tier.c-1\"");
        assert_eq!(key_text("Filters"), "Filters");
    }
}
