//! API Gateway methods that write to DynamoDB, as `[[tables.NAME.integrations]]`: from
//! `AWS::ApiGateway::Method` (its path from the chain of `AWS::ApiGateway::Resource`s), and from
//! the `x-amazon-apigateway-integration` of an OpenAPI body (`AWS::Serverless::Api`'s
//! `DefinitionBody`, `AWS::ApiGateway::RestApi`'s `Body`). Other integrations are reported.

use serde_json::{Map, Value};

use super::intrinsics::{ROOT_SUFFIX, Unresolved};
use super::out::{Group, Item, Section};
use super::template::Resource;
use super::{Importer, integer};

/// One method's integration, as either form writes it.
#[derive(Debug, Default)]
struct Integration {
    method: String,
    path: String,
    kind: String,
    uri: String,
    request_template: Option<String>,
    status: Option<i64>,
    response_template: Option<String>,
}

const OPENAPI_METHODS: [&str; 8] = [
    "get",
    "put",
    "post",
    "delete",
    "patch",
    "head",
    "options",
    "x-amazon-apigateway-any-method",
];

/// The `application/json` template of a `RequestTemplates`/`ResponseTemplates` map.
fn json_template(templates: Option<&Value>) -> Option<String> {
    templates?
        .get("application/json")?
        .as_str()
        .map(String::from)
}

/// The `TableName` a DynamoDB request template names.
fn table_name(template: &str) -> Option<String> {
    let at = template.find("\"TableName\"")? + "\"TableName\"".len();
    let rest = template[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

impl Importer<'_> {
    pub(super) fn method(&mut self, resource: &Resource) {
        self.drop_unread(
            resource,
            &["HttpMethod", "ResourceId", "RestApiId", "Integration"],
        );
        let method = match resource.props.get("HttpMethod").map(|m| self.r.text(m)) {
            Some(Ok(method)) => method.to_uppercase(),
            _ => return self.unmapped(resource, "no `HttpMethod`"),
        };
        let path = match self.api_path(resource) {
            Ok(path) => path,
            Err(why) => return self.unmapped(resource, why),
        };
        let Some(raw) = resource.props.get("Integration") else {
            return self.unmapped(resource, "no `Integration`");
        };
        let integration = match self.r.resolve(raw) {
            Ok(integration) => integration,
            Err(Unresolved(why)) => {
                return self.unmapped(resource, format!("its integration: {why}"));
            }
        };
        const READ: [&str; 4] = ["Type", "Uri", "RequestTemplates", "IntegrationResponses"];
        let unread: Vec<String> = integration
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key)
            .filter(|key| !READ.contains(&key.as_str()) && key.as_str() != "IntegrationHttpMethod")
            .map(|key| format!("Integration.{key}"))
            .collect();
        self.report(resource).dropped.extend(unread);
        let text = |key: &str| {
            integration
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let responses = integration
            .get("IntegrationResponses")
            .and_then(Value::as_array);
        let default = responses.and_then(|responses| {
            responses.iter().find(|r| {
                r.get("SelectionPattern")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            })
        });
        let integration = Integration {
            method,
            path,
            kind: text("Type").to_uppercase(),
            uri: text("Uri"),
            request_template: json_template(integration.get("RequestTemplates")),
            status: default.and_then(|r| r.get("StatusCode")).and_then(integer),
            response_template: default.and_then(|r| json_template(r.get("ResponseTemplates"))),
        };
        self.integration(resource, integration);
    }

    /// The path of a method: the `PathPart`s from its resource up to the API's root.
    fn api_path(&self, method: &Resource) -> Result<String, String> {
        let mut parts = Vec::new();
        let mut at = method.props.get("ResourceId").cloned();
        for _ in 0..64 {
            let Some(value) = at.take() else {
                return Err("no `ResourceId`".into());
            };
            let id = self
                .r
                .text(&value)
                .map_err(|Unresolved(why)| format!("its path: {why}"))?;
            if id.ends_with(ROOT_SUFFIX) {
                parts.reverse();
                return Ok(format!("/{}", parts.join("/")));
            }
            let resource = self
                .r
                .template
                .resources
                .get(&id)
                .filter(|r| r.kind == "AWS::ApiGateway::Resource")
                .ok_or_else(|| {
                    format!("its path: `{id}` is not an API Gateway resource of the template")
                })?;
            let part = resource
                .props
                .get("PathPart")
                .map(|part| self.r.text(part))
                .transpose()
                .map_err(|Unresolved(why)| format!("its path: {why}"))?
                .unwrap_or_default();
            parts.push(part);
            at = resource.props.get("ParentId").cloned();
        }
        Err("its path: the resources' parents go round in a cycle".into())
    }

    /// `AWS::ApiGateway::RestApi` and `AWS::Serverless::Api`: the methods of an OpenAPI body.
    pub(super) fn api(&mut self, resource: &Resource) {
        let body_key = if resource.kind == "AWS::Serverless::Api" {
            "DefinitionBody"
        } else {
            "Body"
        };
        self.drop_unread(resource, &[body_key, "Name"]);
        let Some(body) = resource.props.get(body_key) else {
            if resource.kind == "AWS::Serverless::Api" {
                return self.unmapped(
                    resource,
                    "no `DefinitionBody`: its routes come from functions' Api events (Lambda proxy), which are not mapped",
                );
            }
            return self.became(resource, "the root of its methods' paths");
        };
        let Some(paths) = body.get("paths").and_then(Value::as_object) else {
            return self.unmapped(
                resource,
                format!("its `{body_key}` has no OpenAPI `paths` the importer can read"),
            );
        };
        let mut found = false;
        for (path, operations) in paths {
            let Some(operations) = operations.as_object() else {
                continue;
            };
            for (method, operation) in operations {
                if !OPENAPI_METHODS.contains(&method.as_str()) {
                    continue;
                }
                let Some(raw) = operation.get("x-amazon-apigateway-integration") else {
                    continue;
                };
                found = true;
                let method = match method.as_str() {
                    "x-amazon-apigateway-any-method" => "ANY".to_string(),
                    other => other.to_uppercase(),
                };
                match self.r.resolve(raw) {
                    Ok(integration) => {
                        let integration = openapi_integration(&integration, method, path);
                        self.integration(resource, integration);
                    }
                    Err(Unresolved(why)) => {
                        self.note(resource, format!("{method} {path} not mapped: {why}"));
                    }
                }
            }
        }
        if !found {
            self.unmapped(
                resource,
                "no `x-amazon-apigateway-integration` in its OpenAPI body",
            );
        }
    }

    /// One integration: a DynamoDB write becomes a table's integration, anything else a note.
    fn integration(&mut self, resource: &Resource, integration: Integration) {
        let (method, path) = (integration.method.clone(), integration.path.clone());
        let route = format!("{method} {path}");
        let refuse = |importer: &mut Self, why: String| {
            if resource.kind == "AWS::ApiGateway::Method" {
                importer.unmapped(resource, format!("{route}: {why}"));
            } else {
                importer.note(resource, format!("{route} not mapped: {why}"));
            }
        };
        let action = integration
            .uri
            .split_once(":dynamodb:action/")
            .map(|(_, action)| action.to_string());
        let action = match (integration.kind.as_str(), action) {
            ("AWS", Some(action)) => action,
            ("AWS_PROXY", _) => {
                return refuse(self, "Lambda proxy integrations are not mapped".into());
            }
            ("HTTP" | "HTTP_PROXY", _) => {
                return refuse(self, "HTTP integrations are not mapped".into());
            }
            ("MOCK", _) => return refuse(self, "MOCK integrations are not mapped".into()),
            (kind, _) => {
                let uri = &integration.uri;
                return refuse(
                    self,
                    format!("a {kind} integration to `{uri}` is not a DynamoDB action"),
                );
            }
        };
        if !["PutItem", "UpdateItem", "DeleteItem"].contains(&action.as_str()) {
            return refuse(
                self,
                format!(
                    "DynamoDB `{action}` is not mapped: only PutItem, UpdateItem and DeleteItem are"
                ),
            );
        }
        let Some(request_template) = integration.request_template else {
            return refuse(self, "no `application/json` request template".into());
        };
        let Some(table) = table_name(&request_template) else {
            return refuse(self, "its request template names no `TableName`".into());
        };
        let table_kinds = ["AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"];
        let Some(table) = self.lookup(&table, &table_kinds).map(|t| self.name(t)) else {
            return refuse(
                self,
                format!(
                    "its request template names the table `{table}`, which is not in the template"
                ),
            );
        };
        let header = format!("tables.{table}.integrations");
        let mut section = Section::new(
            Group::Tables,
            format!("{table}\u{1}{path} {method}"),
            header.clone(),
        )
        .comment(format!("from {} {} ({route})", resource.kind, resource.id));
        section.array = true;
        section.set("method", Item::Str(method));
        section.set("path", Item::Str(path));
        section.set("action", Item::Str(action));
        section.set("request_template", Item::Text(request_template));
        if let Some(status) = integration.status {
            section.set("status", Item::Int(status));
        }
        if let Some(template) = integration.response_template {
            section.set("response_template", Item::Text(template));
        }
        self.push(section);
        self.became(resource, format!("[[{header}]] {route}"));
    }
}

/// An OpenAPI `x-amazon-apigateway-integration`, its default response the one keyed `default`.
fn openapi_integration(integration: &Value, method: String, path: &str) -> Integration {
    let text = |key: &str| {
        integration
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let empty = Map::new();
    let responses = integration
        .get("responses")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let default = responses.get("default");
    Integration {
        method,
        path: path.to_string(),
        kind: text("type").to_uppercase(),
        uri: text("uri"),
        request_template: json_template(integration.get("requestTemplates")),
        status: default.and_then(|r| r.get("statusCode")).and_then(integer),
        response_template: default.and_then(|r| json_template(r.get("responseTemplates"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_name_is_read_out_of_a_request_template() {
        let template = "{\n  \"TableName\" : \"orders-table\",\n  \"Item\": {}\n}";
        assert_eq!(table_name(template).as_deref(), Some("orders-table"));
        assert_eq!(table_name("{\"Item\": {}}"), None);
    }
}
