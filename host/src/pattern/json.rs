//! A small JSON parser for pattern text. It keeps what serde_json would lose and the pattern
//! language needs: number spellings as written, and members in order with duplicates.

/// A JSON value as written in a pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text exactly as written, e.g. `3.018e2`.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Deepest nesting a pattern may have.
const MAX_DEPTH: usize = 64;

/// Parses the first JSON value of the text; errors say what was expected and where (line and
/// column, from 1). Whatever follows that value is not read, as event-ruler's JsonRuleCompiler
/// reads one object and closes its parser.
pub fn parse(text: &str) -> Result<Json, String> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    parser.whitespace();
    parser.value(0)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("invalid JSON at line {line}, column {column}: {what}")
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Json::Number),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of text")),
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.pos += 1;
        let mut members = Vec::new();
        self.whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.whitespace();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a member name in double quotes"));
            }
            let key = self.string()?;
            self.whitespace();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected `:` after a member name"));
            }
            self.pos += 1;
            self.whitespace();
            members.push((key, self.value(depth + 1)?));
            self.whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.pos += 1;
        let mut items = Vec::new();
        self.whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.whitespace();
            items.push(self.value(depth + 1)?);
            self.whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn number(&mut self) -> Result<String, String> {
        let end = super::event::number_end(self.bytes, self.pos)
            .ok_or_else(|| self.error("invalid number"))?;
        let text = self.text[self.pos..end].to_string();
        self.pos = end;
        Ok(text)
    }

    fn string(&mut self) -> Result<String, String> {
        match super::event::string_at(self.text, self.pos) {
            Ok((text, end)) => {
                self.pos = end;
                Ok(text.into_owned())
            }
            Err(at) => {
                self.pos = at;
                Err(self.error("invalid string"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_spelling_and_members_their_order_and_duplicates() {
        let json = parse(r#"{"b": [3.0, 1e2, -0], "a": "x\n\u00e9", "b": true}"#).unwrap();
        let Json::Object(members) = json else {
            panic!("an object")
        };
        assert_eq!(members[0].0, "b");
        assert_eq!(
            members[0].1,
            Json::Array(vec![
                Json::Number("3.0".into()),
                Json::Number("1e2".into()),
                Json::Number("-0".into())
            ])
        );
        assert_eq!(members[1].1, Json::String("x\né".into()));
        assert_eq!(members[2], ("b".to_string(), Json::Bool(true)));
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            parse("{\"a\": [1,]}").unwrap_err(),
            "invalid JSON at line 1, column 10: expected a value"
        );
        assert_eq!(
            parse("{\n \"a\" 1}").unwrap_err(),
            "invalid JSON at line 2, column 6: expected `:` after a member name"
        );
        assert_eq!(parse("{} x"), Ok(Json::Object(Vec::new())));
        assert!(parse("[01]").is_err());
        assert!(parse("\"a\u{1}\"").is_err());
    }
}
