//! A SAM or CloudFormation template read into JSON values: YAML's short-form tags (`!Ref`,
//! `!Sub`, ...) become their long forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`), so the resolver
//! sees one shape whichever way the template was written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Why a template could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: cannot read the template: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not a valid template: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: not a valid template: {message}")]
    Shape { path: PathBuf, message: String },
}

/// One resource of the template.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub kind: String,
    pub props: Map<String, Value>,
    /// The name of the condition it depends on, if any.
    pub condition: Option<String>,
}

/// The parts of a template the importer reads.
#[derive(Debug, Default)]
pub struct Template {
    /// The folder the template is in: `CodeUri` is relative to it.
    pub dir: PathBuf,
    /// The file name without its extension: the stack name unless one is given.
    pub stem: String,
    pub parameters: Map<String, Value>,
    pub mappings: Map<String, Value>,
    pub conditions: Map<String, Value>,
    /// SAM's `Globals.Function`, applied to each `AWS::Serverless::Function`.
    pub function_globals: Map<String, Value>,
    /// By logical id.
    pub resources: BTreeMap<String, Resource>,
    pub outputs: Map<String, Value>,
}

impl Template {
    /// Reads a template in YAML or JSON (JSON is read as YAML, which it is, unless the file
    /// ends in `.json`, where JSON's own parser gives the better error).
    pub fn read(path: &Path) -> Result<Template, ReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let is_json = path.extension().is_some_and(|ext| ext == "json");
        let value = if is_json {
            serde_json::from_str(&text).map_err(|err| ReadError::Syntax {
                path: path.to_path_buf(),
                line: err.line(),
                column: err.column(),
                message: strip_location(&err.to_string()),
            })?
        } else {
            parse_yaml(&text).map_err(|err| match err.location() {
                Some(at) => ReadError::Syntax {
                    path: path.to_path_buf(),
                    line: at.line(),
                    column: at.column(),
                    message: strip_location(&err.to_string()),
                },
                None => ReadError::Shape {
                    path: path.to_path_buf(),
                    message: err.to_string(),
                },
            })?
        };
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "stack".into());
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Template::from_value(value, dir, stem).map_err(|message| ReadError::Shape {
            path: path.to_path_buf(),
            message,
        })
    }

    /// The template in `value`, or why it is not one.
    pub fn from_value(value: Value, dir: PathBuf, stem: String) -> Result<Template, String> {
        let Value::Object(mut top) = value else {
            return Err("the top level is not a mapping".into());
        };
        let mut section = |name: &str| match top.remove(name) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(format!("`{name}` is not a mapping")),
        };
        let parameters = section("Parameters")?;
        let mappings = section("Mappings")?;
        let conditions = section("Conditions")?;
        let outputs = section("Outputs")?;
        let globals = section("Globals")?;
        let raw = section("Resources")?;
        if raw.is_empty() {
            return Err("it has no `Resources`".into());
        }
        let mut resources = BTreeMap::new();
        for (id, resource) in raw {
            let Value::Object(mut resource) = resource else {
                return Err(format!("resource `{id}` is not a mapping"));
            };
            let Some(Value::String(kind)) = resource.remove("Type") else {
                return Err(format!("resource `{id}` has no `Type`"));
            };
            let props = match resource.remove("Properties") {
                Some(Value::Object(props)) => props,
                None | Some(Value::Null) => Map::new(),
                Some(_) => return Err(format!("the `Properties` of `{id}` are not a mapping")),
            };
            let condition = match resource.remove("Condition") {
                Some(Value::String(name)) => Some(name),
                _ => None,
            };
            let resource = Resource {
                id: id.clone(),
                kind,
                props,
                condition,
            };
            resources.insert(id, resource);
        }
        let function_globals = match globals.get("Function") {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        Ok(Template {
            dir,
            stem,
            parameters,
            mappings,
            conditions,
            function_globals,
            resources,
            outputs,
        })
    }
}

/// serde's messages end with ` at line L column C`, which the error already gives in front.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// YAML text as JSON, its tags in CloudFormation's long form.
pub fn parse_yaml(text: &str) -> Result<Value, serde_norway::Error> {
    let mut yaml: serde_norway::Value = serde_norway::from_str(text)?;
    yaml.apply_merge()?;
    Ok(to_json(yaml))
}

fn to_json(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Yaml;
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key_text(key), to_json(value)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let value = to_json(tagged.value);
            let long = match tag {
                "Ref" | "Condition" => tag.to_string(),
                _ => format!("Fn::{tag}"),
            };
            // `!GetAtt A.b` is the string form; the long form takes it too.
            Value::Object(Map::from_iter([(long, value)]))
        }
    }
}

/// A mapping key as text: YAML allows numbers (`200:` in OpenAPI responses) and booleans.
fn key_text(key: serde_norway::Value) -> String {
    match to_json(key) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_tags_become_their_long_forms() {
        let value = parse_yaml(
            "a: !Ref Name\n\
             b: !GetAtt Table.StreamArn\n\
             c: !Sub '${AWS::Region}-x'\n\
             d: !Join ['-', [a, !Ref B]]\n\
             e: !Sub\n  - '${X}'\n  - X: 1\n\
             f: !Equals [a, b]\n\
             g: !Condition IsProd\n",
        )
        .unwrap();
        assert_eq!(
            value,
            json!({
                "a": {"Ref": "Name"},
                "b": {"Fn::GetAtt": "Table.StreamArn"},
                "c": {"Fn::Sub": "${AWS::Region}-x"},
                "d": {"Fn::Join": ["-", ["a", {"Ref": "B"}]]},
                "e": {"Fn::Sub": ["${X}", {"X": 1}]},
                "f": {"Fn::Equals": ["a", "b"]},
                "g": {"Condition": "IsProd"},
            })
        );
    }

    #[test]
    fn numeric_keys_become_text() {
        let value = parse_yaml("responses:\n  200:\n    x: 1\n").unwrap();
        assert_eq!(value, json!({"responses": {"200": {"x": 1}}}));
    }

    #[test]
    fn a_yaml_error_gives_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, "Resources:\n  A:\n    Type: x\n   bad: [\n").unwrap();
        let err = Template::read(&path).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{}:4:", path.display())),
            "{text}"
        );
        assert!(matches!(err, ReadError::Syntax { line: 4, .. }), "{text}");
    }

    #[test]
    fn a_json_error_gives_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{\n  \"Resources\": {,}\n}\n").unwrap();
        let text = Template::read(&path).unwrap_err().to_string();
        assert!(
            text.starts_with(&format!("{}:2:17: not a valid template: ", path.display())),
            "{text}"
        );
        assert!(!text.contains(" at line "), "{text}");
    }

    #[test]
    fn a_template_without_resources_is_refused() {
        let err = Template::from_value(json!({"Parameters": {}}), PathBuf::new(), "t".into());
        assert_eq!(err.unwrap_err(), "it has no `Resources`");
    }
}
