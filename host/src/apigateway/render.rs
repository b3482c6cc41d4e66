//! Rendering a parsed template against one request, with API Gateway's values for `$input`,
//! `$context`, `$stageVariables` and `$util`.

use std::cell::OnceCell;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::jsonpath::JsonPath;
use super::template::{Expr, Node, Reference, Root, Step, Template};
use super::util;

/// The request a template renders against. Parameters keep the order they arrived in.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The raw body; `$input.json` and `$input.path` parse it as JSON when first used.
    pub body: &'a str,
    pub path: &'a [(String, String)],
    pub querystring: &'a [(String, String)],
    pub header: &'a [(String, String)],
    pub stage_variables: &'a [(String, String)],
    pub context: &'a Context,
}

/// `$context`: what API Gateway knows of the request besides its parameters and body.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub account_id: String,
    pub api_id: String,
    pub domain_name: String,
    pub http_method: String,
    /// The request path with the stage, e.g. `/prod/orders`.
    pub path: String,
    pub protocol: String,
    pub request_id: String,
    /// As API Gateway writes it, `dd/MMM/yyyy:HH:mm:ss +0000`: see [`format_request_time`].
    pub request_time: String,
    /// Milliseconds since the Unix epoch.
    pub request_time_epoch: i64,
    pub resource_id: String,
    /// The resource as declared, e.g. `/orders/{id}`.
    pub resource_path: String,
    pub stage: String,
    pub source_ip: String,
    pub user_agent: String,
}

/// `$context.requestTime` of a moment: CLF format in UTC, e.g. `09/Apr/2015:12:34:56 +0000`.
pub fn format_request_time(at: time::OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        at.day(),
        MONTHS[usize::from(u8::from(at.month())) - 1],
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Why a template could not render this request (API Gateway answers such a request with an
/// error instead of calling the integration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error(
        "the request body is not JSON ({0}), so `$input.json` and `$input.path` cannot read it"
    )]
    BodyNotJson(String),
    #[error("`{function}` failed: {reason}")]
    Function { function: String, reason: String },
}

/// A value while rendering: a Java string, a value from JSON (the maps and lists API Gateway
/// builds from the body), or null.
#[derive(Debug, Clone)]
enum Val {
    Null,
    Text(String),
    Json(Value),
}

impl Template {
    /// Renders the template for one request.
    pub fn render(&self, request: &Request) -> Result<String, RenderError> {
        let mut renderer = Renderer {
            request,
            variables: HashMap::new(),
            body: OnceCell::new(),
        };
        let mut out = String::new();
        renderer.nodes(&self.nodes, &mut out)?;
        Ok(out)
    }
}

struct Renderer<'a, 'r> {
    request: &'r Request<'a>,
    variables: HashMap<String, Val>,
    body: OnceCell<Result<Option<Value>, RenderError>>,
}

impl Renderer<'_, '_> {
    fn nodes(&mut self, nodes: &[Node], out: &mut String) -> Result<(), RenderError> {
        for node in nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Reference(reference) => match self.reference(reference)? {
                    Val::Null if reference.quiet => {}
                    Val::Null => out.push_str(&reference.image),
                    value => out.push_str(&text_of(&value)),
                },
                Node::Set { name, value } => {
                    // Velocity leaves the variable as it was when the value is null.
                    let value = self.expression(value)?;
                    if !matches!(value, Val::Null) {
                        self.variables.insert(name.clone(), value);
                    }
                }
            }
        }
        Ok(())
    }

    fn expression(&mut self, expr: &Expr) -> Result<Val, RenderError> {
        Ok(match expr {
            Expr::Reference(reference) => self.reference(reference)?,
            Expr::Text(text) => Val::Text(text.clone()),
            Expr::Interpolated(nodes) => {
                let mut text = String::new();
                self.nodes(nodes, &mut text)?;
                Val::Text(text)
            }
            Expr::Number(n) => Val::Json(Value::Number(n.clone())),
            Expr::Bool(b) => Val::Json(Value::Bool(*b)),
        })
    }

    fn reference(&mut self, reference: &Reference) -> Result<Val, RenderError> {
        let steps = reference.steps.as_slice();
        let (value, rest) = match &reference.root {
            Root::Input => self.input(steps)?,
            Root::Context => (Val::Json(self.context()), steps),
            Root::StageVariables => (Val::Json(pairs(self.request.stage_variables)), steps),
            Root::Util => match steps.split_first() {
                Some((Step::Method(name, args), rest)) => {
                    let arg = match args.first() {
                        Some(arg) => self.expression(arg)?,
                        None => Val::Null,
                    };
                    (util_function(name, arg)?, rest)
                }
                _ => (Val::Null, steps),
            },
            Root::Variable(name) => (
                self.variables.get(name).cloned().unwrap_or(Val::Null),
                steps,
            ),
        };
        rest.iter()
            .try_fold(value, |value, step| self.step(value, step))
    }

    fn input<'s>(&mut self, steps: &'s [Step]) -> Result<(Val, &'s [Step]), RenderError> {
        let Some((first, rest)) = steps.split_first() else {
            return Ok((Val::Null, steps));
        };
        let value = match first {
            // API Gateway hands an empty body to templates as `{}`.
            Step::Property(_) if self.request.body.is_empty() => Val::Text("{}".into()),
            Step::Property(_) => Val::Text(self.request.body.to_owned()),
            Step::Method(name, args) if name == "params" => match args.first() {
                None => Val::Json(self.params()),
                Some(arg) => {
                    let name = text_of(&self.expression(arg)?);
                    let request = self.request;
                    let found = [request.path, request.querystring, request.header]
                        .into_iter()
                        .find_map(|params| params.iter().find(|(k, _)| *k == name));
                    Val::Text(found.map(|(_, v)| v.clone()).unwrap_or_default())
                }
            },
            Step::Method(name, args) => {
                let path = match args.first() {
                    Some(arg) => text_of(&self.expression(arg)?),
                    None => "$".to_owned(),
                };
                let path = JsonPath::parse(&path).map_err(|reason| RenderError::Function {
                    function: format!("$input.{name}"),
                    reason,
                })?;
                let selection = self.body()?.as_ref().and_then(|body| path.select(body));
                match (name.as_str(), selection) {
                    ("json", Some(value)) => Val::Text(value.to_string()),
                    // A path that selects nothing gives an empty string, as in API Gateway.
                    ("json", None) => Val::Text("\"\"".into()),
                    (_, Some(value)) => Val::Json(value),
                    (_, None) => Val::Text(String::new()),
                }
            }
            Step::Index(_) => Val::Null,
        };
        Ok((value, rest))
    }

    fn body(&self) -> Result<&Option<Value>, RenderError> {
        let body = self.request.body;
        let parsed = self.body.get_or_init(|| {
            if body.trim().is_empty() {
                return Ok(None);
            }
            serde_json::from_str(body)
                .map(Some)
                .map_err(|e| RenderError::BodyNotJson(e.to_string()))
        });
        parsed.as_ref().map_err(Clone::clone)
    }

    fn params(&self) -> Value {
        let request = self.request;
        let mut map = Map::new();
        map.insert("path".into(), pairs(request.path));
        map.insert("querystring".into(), pairs(request.querystring));
        map.insert("header".into(), pairs(request.header));
        Value::Object(map)
    }

    fn context(&self) -> Value {
        let c = self.request.context;
        let text = |s: &str| Value::String(s.to_owned());
        let mut identity = Map::new();
        identity.insert("sourceIp".into(), text(&c.source_ip));
        identity.insert("userAgent".into(), text(&c.user_agent));
        let mut map = Map::new();
        for (name, value) in [
            ("accountId", &c.account_id),
            ("apiId", &c.api_id),
            ("domainName", &c.domain_name),
            ("httpMethod", &c.http_method),
            ("path", &c.path),
            ("protocol", &c.protocol),
            ("requestId", &c.request_id),
            ("requestTime", &c.request_time),
            ("resourceId", &c.resource_id),
            ("resourcePath", &c.resource_path),
            ("stage", &c.stage),
        ] {
            map.insert(name.into(), text(value));
        }
        map.insert("requestTimeEpoch".into(), Value::from(c.request_time_epoch));
        map.insert("identity".into(), Value::Object(identity));
        Value::Object(map)
    }

    fn step(&mut self, value: Val, step: &Step) -> Result<Val, RenderError> {
        Ok(match step {
            Step::Property(name) => member(value, &Value::String(name.clone())),
            Step::Index(index) => {
                let index = match self.expression(index)? {
                    Val::Json(index) => index,
                    Val::Text(text) => Value::String(text),
                    Val::Null => return Ok(Val::Null),
                };
                member(value, &index)
            }
            Step::Method(name, args) => {
                let mut evaluated = Vec::with_capacity(args.len());
                for arg in args {
                    evaluated.push(self.expression(arg)?);
                }
                method(value, name, &evaluated)?
            }
        })
    }
}

fn pairs(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `map.key`, `map['key']`, `list[n]`: null when absent, as a Java `Map.get` would give.
fn member(value: Val, key: &Value) -> Val {
    let found = match (&value, key) {
        (Val::Json(Value::Object(map)), Value::String(key)) => map.get(key),
        (Val::Json(Value::Array(items)), Value::Number(n)) => {
            n.as_u64().and_then(|n| items.get(usize::try_from(n).ok()?))
        }
        _ => None,
    };
    found.map_or(Val::Null, |v| Val::Json(v.clone()))
}

fn method(value: Val, name: &str, args: &[Val]) -> Result<Val, RenderError> {
    let size = |n: usize| Val::Json(Value::from(n));
    Ok(match (name, &value) {
        (_, Val::Null) => Val::Null,
        ("get", _) => match args.first() {
            Some(Val::Json(key)) => member(value, key),
            Some(Val::Text(key)) => member(value, &Value::String(key.clone())),
            _ => Val::Null,
        },
        ("size", Val::Json(Value::Array(items))) => size(items.len()),
        ("size", Val::Json(Value::Object(map))) => size(map.len()),
        ("length", Val::Text(text)) | ("length", Val::Json(Value::String(text))) => {
            size(text.encode_utf16().count())
        }
        ("toString", value) => Val::Text(text_of(value)),
        ("replaceAll", Val::Text(text)) | ("replaceAll", Val::Json(Value::String(text))) => {
            let [pattern, replacement] = args else {
                return Ok(Val::Null);
            };
            let replaced = util::replace_all(text, &text_of(pattern), &text_of(replacement));
            Val::Text(replaced.map_err(|reason| RenderError::Function {
                function: ".replaceAll".into(),
                reason,
            })?)
        }
        _ => Val::Null,
    })
}

fn util_function(name: &str, arg: Val) -> Result<Val, RenderError> {
    if matches!(arg, Val::Null) {
        return Ok(Val::Null);
    }
    let text = text_of(&arg);
    let failed = |reason: String| RenderError::Function {
        function: format!("$util.{name}"),
        reason,
    };
    Ok(match name {
        "escapeJavaScript" => Val::Text(util::escape_javascript(&text)),
        "urlEncode" => Val::Text(util::url_encode(&text)),
        "urlDecode" => Val::Text(util::url_decode(&text).map_err(failed)?),
        "base64Encode" => Val::Text(util::base64_encode(&text)),
        "base64Decode" => Val::Text(util::base64_decode(&text).map_err(failed)?),
        "parseJson" => Val::Json(serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?),
        _ => Val::Null,
    })
}

/// How a value prints: strings as their text, lists as JSON, maps as Java prints them
/// (`{key=value, ...}`), which is what API Gateway writes for a map from `$input.path`.
fn text_of(value: &Val) -> String {
    match value {
        Val::Null => String::new(),
        Val::Text(text) => text.clone(),
        Val::Json(Value::Null) => String::new(),
        Val::Json(json) => {
            let mut out = String::new();
            java_text(json, &mut out);
            out
        }
    }
}

fn java_text(value: &Value, out: &mut String) {
    match value {
        Value::String(text) => out.push_str(text),
        Value::Object(map) => {
            out.push('{');
            for (i, (key, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                java_text(value, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}
