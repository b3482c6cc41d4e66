//! CloudFormation's intrinsic functions, evaluated as CloudFormation would at deploy time, with
//! made-up but consistent physical names: a resource's name is its name property or else its
//! logical id, its ARN is built from that, the account is `000000000000`. The importer then
//! reads names back out of the ARNs, whichever way the template spelled them.

use serde_json::{Map, Value};

use super::template::{Resource, Template};

/// A value the importer cannot know, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved(pub String);

/// Where the template is deployed: the pseudo parameters.
#[derive(Debug, Clone)]
pub struct Stack {
    pub region: String,
    pub name: String,
}

pub const ACCOUNT: &str = "000000000000";
const PARTITION: &str = "aws";
/// A stream ARN ends in the stream's creation time; any will do.
const STREAM_LABEL: &str = "1970-01-01T00:00:00.000";

/// Deep enough for any real template; a reference cycle stops here instead of overflowing.
const MAX_DEPTH: usize = 64;

/// Evaluates intrinsic functions against one template.
#[derive(Debug)]
pub struct Resolver<'t> {
    pub template: &'t Template,
    pub stack: Stack,
}

type Resolved = Result<Option<Value>, Unresolved>;

impl<'t> Resolver<'t> {
    pub fn new(template: &'t Template, stack: Stack) -> Self {
        Resolver { template, stack }
    }

    /// `value` with every intrinsic function evaluated; `AWS::NoValue` becomes null.
    pub fn resolve(&self, value: &Value) -> Result<Value, Unresolved> {
        Ok(self.eval(value, 0)?.unwrap_or(Value::Null))
    }

    /// `value` evaluated to text: a string, or a number or boolean written as text.
    pub fn text(&self, value: &Value) -> Result<String, Unresolved> {
        match self.resolve(value)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(Unresolved(format!("{other} is not text"))),
        }
    }

    /// Whether the named condition holds.
    pub fn condition(&self, name: &str) -> Result<bool, Unresolved> {
        self.condition_at(name, 0)
    }

    fn condition_at(&self, name: &str, depth: usize) -> Result<bool, Unresolved> {
        let Some(body) = self.template.conditions.get(name) else {
            return Err(Unresolved(format!("no condition named `{name}`")));
        };
        truth(self.eval(body, depth + 1)?)
    }

    fn eval(&self, value: &Value, depth: usize) -> Resolved {
        if depth > MAX_DEPTH {
            return Err(Unresolved("the references go round in a cycle".into()));
        }
        let depth = depth + 1;
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.extend(self.eval(item, depth)?);
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("a map of length 1 has an entry");
                match key.as_str() {
                    "Ref" => self.reference(&self.plain_text(arg, depth)?, depth),
                    "Condition" => {
                        let name = self.plain_text(arg, depth)?;
                        Ok(Some(Value::Bool(self.condition_at(&name, depth)?)))
                    }
                    name if name.starts_with("Fn::") => self.function(&name[4..], arg, depth),
                    _ => self.object(map, depth),
                }
            }
            Value::Object(map) => self.object(map, depth),
            other => Ok(Some(other.clone())),
        }
    }

    fn object(&self, map: &Map<String, Value>, depth: usize) -> Resolved {
        let mut out = Map::new();
        for (key, value) in map {
            if let Some(value) = self.eval(value, depth)? {
                out.insert(key.clone(), value);
            }
        }
        Ok(Some(Value::Object(out)))
    }

    fn plain_text(&self, value: &Value, depth: usize) -> Result<String, Unresolved> {
        match self.eval(value, depth)? {
            Some(Value::String(s)) => Ok(s),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            other => Err(Unresolved(format!(
                "expected text, found {}",
                other.unwrap_or(Value::Null)
            ))),
        }
    }

    fn list(&self, value: &Value, depth: usize, function: &str) -> Result<Vec<Value>, Unresolved> {
        match self.eval(value, depth)? {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(Unresolved(format!("`Fn::{function}` takes a list"))),
        }
    }

    fn function(&self, name: &str, arg: &Value, depth: usize) -> Resolved {
        let args = |n: usize| -> Result<&Vec<Value>, Unresolved> {
            match arg {
                Value::Array(items) if items.len() == n => Ok(items),
                _ => Err(Unresolved(format!("`Fn::{name}` takes a list of {n}"))),
            }
        };
        let value = match name {
            "GetAtt" => {
                let (id, attribute) = match arg {
                    Value::String(text) => match text.split_once('.') {
                        Some((id, attribute)) => (id.to_string(), attribute.to_string()),
                        None => return Err(Unresolved(format!("`Fn::GetAtt` {text} has no `.`"))),
                    },
                    Value::Array(items) if items.len() == 2 => (
                        self.plain_text(&items[0], depth)?,
                        self.plain_text(&items[1], depth)?,
                    ),
                    _ => return Err(Unresolved("`Fn::GetAtt` takes `Name.Attribute`".into())),
                };
                Value::String(self.attribute(&id, &attribute, depth)?)
            }
            "Sub" => {
                let (text, vars) = match arg {
                    Value::String(text) => (text.clone(), Map::new()),
                    Value::Array(items) if items.len() == 2 => {
                        let text = self.plain_text(&items[0], depth)?;
                        match self.eval(&items[1], depth)? {
                            Some(Value::Object(vars)) => (text, vars),
                            _ => {
                                return Err(Unresolved(
                                    "`Fn::Sub`'s variables are not a map".into(),
                                ));
                            }
                        }
                    }
                    _ => return Err(Unresolved("`Fn::Sub` takes text, or text and a map".into())),
                };
                Value::String(self.substitute(&text, &vars, depth)?)
            }
            "Join" => {
                let [sep, items] = args(2)?.as_slice() else {
                    unreachable!("args(2) has two")
                };
                let sep = self.plain_text(sep, depth)?;
                let mut parts = Vec::new();
                for item in self.list(items, depth, name)? {
                    parts.push(self.plain_text(&item, depth)?);
                }
                Value::String(parts.join(&sep))
            }
            "Select" => {
                let [index, items] = args(2)?.as_slice() else {
                    unreachable!("args(2) has two")
                };
                let index = self.plain_text(index, depth)?;
                let index: usize = index.parse().map_err(|_| {
                    Unresolved(format!("`Fn::Select` index `{index}` is not a number"))
                })?;
                let items = self.list(items, depth, name)?;
                items.get(index).cloned().ok_or_else(|| {
                    Unresolved(format!("`Fn::Select` index {index} is past the list's end"))
                })?
            }
            "Split" => {
                let [sep, text] = args(2)?.as_slice() else {
                    unreachable!("args(2) has two")
                };
                let sep = self.plain_text(sep, depth)?;
                let text = self.plain_text(text, depth)?;
                Value::Array(text.split(sep.as_str()).map(Value::from).collect())
            }
            "FindInMap" => {
                let items = match arg {
                    Value::Array(items) if items.len() >= 3 => items,
                    _ => return Err(Unresolved("`Fn::FindInMap` takes a list of 3".into())),
                };
                let map = self.plain_text(&items[0], depth)?;
                let top = self.plain_text(&items[1], depth)?;
                let second = self.plain_text(&items[2], depth)?;
                let found = self
                    .template
                    .mappings
                    .get(&map)
                    .and_then(|m| m.get(&top)?.get(&second));
                match (found, items.get(3)) {
                    (Some(value), _) => value.clone(),
                    (None, Some(Value::Object(default)))
                        if default.contains_key("DefaultValue") =>
                    {
                        return self.eval(&default["DefaultValue"], depth);
                    }
                    _ => {
                        return Err(Unresolved(format!(
                            "no `{map}.{top}.{second}` in `Mappings`"
                        )));
                    }
                }
            }
            "If" => {
                let [condition, then, otherwise] = args(3)?.as_slice() else {
                    unreachable!("args(3) has three")
                };
                let condition = self.plain_text(condition, depth)?;
                let chosen = if self.condition_at(&condition, depth)? {
                    then
                } else {
                    otherwise
                };
                return self.eval(chosen, depth);
            }
            "Equals" => {
                let [a, b] = args(2)?.as_slice() else {
                    unreachable!("args(2) has two")
                };
                let (a, b) = (self.eval(a, depth)?, self.eval(b, depth)?);
                Value::Bool(loose(a) == loose(b))
            }
            "Not" => {
                let [a] = args(1)?.as_slice() else {
                    unreachable!("args(1) has one")
                };
                Value::Bool(!truth(self.eval(a, depth)?)?)
            }
            "And" | "Or" => {
                let items = self.list(arg, depth, name)?;
                let mut truths = Vec::new();
                for item in items {
                    truths.push(truth(Some(item))?);
                }
                let all = name == "And";
                Value::Bool(if all {
                    truths.iter().all(|t| *t)
                } else {
                    truths.iter().any(|t| *t)
                })
            }
            "Base64" => {
                use base64::Engine;
                let text = self.plain_text(arg, depth)?;
                Value::String(base64::engine::general_purpose::STANDARD.encode(text))
            }
            "GetAZs" => Value::Array(
                ["a", "b", "c"]
                    .iter()
                    .map(|zone| Value::String(format!("{}{zone}", self.stack.region)))
                    .collect(),
            ),
            "ToJsonString" => match self.eval(arg, depth)? {
                Some(Value::String(s)) => Value::String(s),
                Some(other) => Value::String(other.to_string()),
                None => Value::String("null".into()),
            },
            "ImportValue" => {
                let export = self
                    .plain_text(arg, depth)
                    .unwrap_or_else(|_| arg.to_string());
                return Err(Unresolved(format!(
                    "`Fn::ImportValue` of `{export}` is another stack's output"
                )));
            }
            other => {
                return Err(Unresolved(format!(
                    "`Fn::{other}` is not evaluated by the importer"
                )));
            }
        };
        Ok(Some(value))
    }

    /// `Fn::Sub`'s `${Name}`, `${Resource.Attribute}` and `${!Literal}`.
    fn substitute(
        &self,
        text: &str,
        vars: &Map<String, Value>,
        depth: usize,
    ) -> Result<String, Unresolved> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                let name = name.trim();
                let value = match vars.get(name) {
                    Some(value) => self.plain_text(value, depth)?,
                    None => match name.split_once('.') {
                        Some((id, attribute)) if self.template.resources.contains_key(id) => {
                            self.attribute(id, attribute, depth)?
                        }
                        _ => match self.reference(name, depth)? {
                            Some(Value::String(s)) => s,
                            Some(Value::Array(items)) => {
                                return Err(Unresolved(format!(
                                    "`${{{name}}}` is a list of {} (`Fn::Sub` takes text)",
                                    items.len()
                                )));
                            }
                            Some(other) => other.to_string(),
                            None => String::new(),
                        },
                    },
                };
                out.push_str(&value);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `Ref` of a parameter, a pseudo parameter or a resource.
    fn reference(&self, name: &str, depth: usize) -> Resolved {
        let text = |s: &str| Ok(Some(Value::String(s.to_string())));
        match name {
            "AWS::Region" => return text(&self.stack.region),
            "AWS::AccountId" => return text(ACCOUNT),
            "AWS::StackName" => return text(&self.stack.name),
            "AWS::Partition" => return text(PARTITION),
            "AWS::URLSuffix" => return text("amazonaws.com"),
            "AWS::StackId" => {
                let id = format!(
                    "arn:{PARTITION}:cloudformation:{}:{ACCOUNT}:stack/{}/00000000-0000-0000-0000-000000000000",
                    self.stack.region, self.stack.name
                );
                return text(&id);
            }
            "AWS::NotificationARNs" => return Ok(Some(Value::Array(Vec::new()))),
            "AWS::NoValue" => return Ok(None),
            _ => {}
        }
        if let Some(parameter) = self.template.parameters.get(name) {
            let Some(default) = parameter.get("Default") else {
                return Err(Unresolved(format!("parameter `{name}` has no `Default`")));
            };
            let kind = parameter
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("String");
            let is_list = kind.starts_with("List<") || kind == "CommaDelimitedList";
            return Ok(Some(match default {
                Value::String(s) if is_list => {
                    Value::Array(s.split(',').map(|part| Value::from(part.trim())).collect())
                }
                Value::Number(n) => Value::String(n.to_string()),
                other => other.clone(),
            }));
        }
        let Some(resource) = self.template.resources.get(name) else {
            return Err(Unresolved(format!(
                "`Ref` of `{name}`, which the template does not declare"
            )));
        };
        let physical = self.physical_name(resource, depth)?;
        let value = match resource.kind.as_str() {
            "AWS::SQS::Queue" => self.queue_url(&physical),
            _ => physical,
        };
        Ok(Some(Value::String(value)))
    }

    /// `Fn::GetAtt` of a resource.
    fn attribute(&self, id: &str, attribute: &str, depth: usize) -> Result<String, Unresolved> {
        let Some(resource) = self.template.resources.get(id) else {
            return Err(Unresolved(format!(
                "`Fn::GetAtt` of `{id}`, which the template does not declare"
            )));
        };
        let name = self.physical_name(resource, depth)?;
        let arn = |service: &str, rest: &str| {
            format!(
                "arn:{PARTITION}:{service}:{}:{ACCOUNT}:{rest}",
                self.stack.region
            )
        };
        let value = match (resource.kind.as_str(), attribute) {
            ("AWS::SQS::Queue", "Arn") => arn("sqs", &name),
            ("AWS::SQS::Queue", "QueueName") => name,
            ("AWS::SQS::Queue", "QueueUrl") => self.queue_url(&name),
            ("AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable", "Arn") => {
                arn("dynamodb", &format!("table/{name}"))
            }
            ("AWS::DynamoDB::Table", "StreamArn") => {
                arn("dynamodb", &format!("table/{name}/stream/{STREAM_LABEL}"))
            }
            ("AWS::Events::EventBus", "Arn") => arn("events", &format!("event-bus/{name}")),
            ("AWS::Events::EventBus", "Name") => name,
            ("AWS::Events::Rule", "Arn") => arn("events", &format!("rule/{name}")),
            ("AWS::Events::Archive", "Arn") => arn("events", &format!("archive/{name}")),
            ("AWS::Lambda::Function" | "AWS::Serverless::Function", "Arn") => {
                arn("lambda", &format!("function:{name}"))
            }
            ("AWS::Pipes::Pipe", "Arn") => arn("pipes", &format!("pipe/{name}")),
            ("AWS::IAM::Role", "Arn") => format!("arn:{PARTITION}:iam::{ACCOUNT}:role/{name}"),
            ("AWS::ApiGateway::RestApi" | "AWS::Serverless::Api", "RootResourceId") => {
                format!("{id}{ROOT_SUFFIX}")
            }
            (kind, attribute) => {
                return Err(Unresolved(format!(
                    "`Fn::GetAtt` {id}.{attribute}: the importer does not know this attribute of {kind}"
                )));
            }
        };
        Ok(value)
    }

    fn queue_url(&self, name: &str) -> String {
        format!(
            "https://sqs.{}.amazonaws.com/{ACCOUNT}/{name}",
            self.stack.region
        )
    }

    /// The resource's name as deployed: its name property, else its logical id.
    pub fn physical_name(&self, resource: &Resource, depth: usize) -> Result<String, Unresolved> {
        let property = match resource.kind.as_str() {
            "AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable" => "TableName",
            "AWS::SQS::Queue" => "QueueName",
            "AWS::Lambda::Function" | "AWS::Serverless::Function" => "FunctionName",
            "AWS::IAM::Role" => "RoleName",
            "AWS::Events::Archive" => "ArchiveName",
            "AWS::Events::EventBus" | "AWS::Events::Rule" | "AWS::Pipes::Pipe" => "Name",
            _ => return Ok(resource.id.clone()),
        };
        match resource.props.get(property) {
            Some(value) => self.plain_text(value, depth + 1),
            None => Ok(resource.id.clone()),
        }
    }
}

/// What `Fn::GetAtt Api.RootResourceId` gives after the API's logical id.
pub const ROOT_SUFFIX: &str = "#root";

/// Conditions compare as text: CloudFormation's `!Equals [!Ref Count, 1]` holds for "1".
fn loose(value: Option<Value>) -> Option<Value> {
    match value {
        Some(Value::Number(n)) => Some(Value::String(n.to_string())),
        Some(Value::Bool(b)) => Some(Value::String(b.to_string())),
        other => other,
    }
}

fn truth(value: Option<Value>) -> Result<bool, Unresolved> {
    match value {
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        other => Err(Unresolved(format!(
            "a condition gave {}, not true or false",
            other.unwrap_or(Value::Null)
        ))),
    }
}

/// A name out of an ARN, a queue URL or a plain name: `(service, name)`, where the service is
/// empty for a plain name. `arn:aws:dynamodb:r:a:table/T/stream/L` gives `("dynamodb", "T")`.
pub fn arn_name(text: &str) -> (String, String) {
    if let Some(rest) = text.strip_prefix("https://sqs.") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        return ("sqs".into(), name.to_string());
    }
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return (String::new(), text.to_string());
    }
    let service = parts[2].to_string();
    let resource = parts[5];
    let name = match service.as_str() {
        "dynamodb" => resource
            .strip_prefix("table/")
            .unwrap_or(resource)
            .split('/')
            .next(),
        "events" => resource.split_once('/').map(|(_, rest)| rest),
        "lambda" => resource
            .strip_prefix("function:")
            .map(|rest| rest.split(':').next().unwrap_or(rest)),
        _ => resource.rsplit(['/', ':']).next(),
    };
    (service, name.unwrap_or(resource).to_string())
}
