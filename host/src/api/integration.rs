//! A table's API Gateway integrations: the request template turns the HTTP request into
//! DynamoDB's `PutItem`, `UpdateItem` or `DeleteItem`, which runs on the table as DynamoDB runs
//! it (PutItem overwrites unless its condition says otherwise), and the response template turns
//! DynamoDB's answer into the HTTP response. The write commits with its change record, as every
//! write does.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, RawPathParams};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::{Map, Value, json};

use super::{ApiError, App};
use crate::apigateway::{
    Action, Context, DynamoError, Request, ReturnValues, Template, format_request_time,
    parse_action, to_typed,
};
use crate::backend::{Item, Store, StoreError, Write};
use crate::config::{Integration, Key, KeySchema, TableId};

/// How often a conditional write is tried again when another write changed the item between
/// its read and its write.
const ATTEMPTS: usize = 5;

struct Route {
    table: TableId,
    key: KeySchema,
    integration: Integration,
    store: Arc<dyn Store>,
    max_body: usize,
}

/// Every table's integrations, by path.
pub(super) fn routes(app: &App) -> Router {
    let mut paths: BTreeMap<&str, MethodRouter> = BTreeMap::new();
    for id in app.config.table_ids() {
        let table = &app.config[id];
        for integration in &table.integrations {
            let route = Arc::new(Route {
                table: id,
                key: table.key.clone(),
                integration: integration.clone(),
                store: app.store.clone(),
                max_body: app.config.host.max_body,
            });
            let Ok(method) = Method::from_bytes(integration.method.as_bytes()) else {
                continue;
            };
            let Ok(filter) = MethodFilter::try_from(method) else {
                continue;
            };
            let handler = on(filter, move |params, uri, headers, body| {
                handle(route.clone(), params, uri, headers, body)
            });
            let entry = paths.remove(integration.path.as_str()).unwrap_or_default();
            paths.insert(&integration.path, entry.merge(handler));
        }
    }
    paths
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
}

async fn handle(
    route: Arc<Route>,
    params: RawPathParams,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let integration = &route.integration;
    let bytes = match super::items::read_limited(body, route.max_body).await {
        Ok(bytes) => bytes,
        Err(err) => return err.into_response(),
    };
    let body = String::from_utf8_lossy(&bytes);
    let path: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let querystring: Vec<(String, String)> = Query::try_from_uri(&uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    // HTTP/1 header names reach us in lower case; a template may ask for `Content-Type`, as
    // clients send it, so each header is there in both forms.
    let header: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .flat_map(|(name, value)| {
            [
                (title_case(name), value.to_string()),
                (name.to_string(), value.to_string()),
            ]
        })
        .collect();
    let context = context(integration, &uri, &headers);
    let request = Request {
        body: &body,
        path: &path,
        querystring: &querystring,
        header: &header,
        stage_variables: &[],
        context: &context,
    };
    let rendered = match integration.request.render(&request) {
        Ok(rendered) => rendered,
        Err(err) => {
            return ApiError::bad_request(
                "invalid_request",
                format!("the request template could not be applied: {err}"),
            )
            .into_response();
        }
    };
    let answer = match parse_action(integration.action, &rendered) {
        Ok(operation) => route.run(operation.action).await,
        Err(err) => Err(Failure::Dynamo(err)),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(Failure::Dynamo(err)) => return dynamo_error(&err),
        Err(Failure::Store(err)) => return ApiError::from(err).into_response(),
    };
    let answer = Value::Object(answer).to_string();
    let out = match &integration.response {
        None => answer,
        Some(template) => match respond(template, &request, &answer) {
            Ok(out) => out,
            Err(err) => {
                tracing::warn!(path = %integration.path, "response template failed: {err}");
                return ApiError::Unavailable(err).into_response();
            }
        },
    };
    let status = StatusCode::from_u16(integration.status).unwrap_or(StatusCode::OK);
    (status, [(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// `content-type` as `Content-Type`.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The response template applied to DynamoDB's answer, which is its `$input`.
fn respond(template: &Template, request: &Request, answer: &str) -> Result<String, String> {
    let request = Request {
        body: answer,
        ..*request
    };
    template.render(&request).map_err(|err| err.to_string())
}

/// `$context` of a request, as API Gateway fills it.
fn context(integration: &Integration, uri: &Uri, headers: &HeaderMap) -> Context {
    let now = time::OffsetDateTime::now_utc();
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    Context {
        account_id: "000000000000".into(),
        api_id: "switchyard".into(),
        domain_name: header(header::HOST),
        http_method: integration.method.clone(),
        path: uri.path().to_string(),
        protocol: "HTTP/1.1".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        request_time: format_request_time(now),
        request_time_epoch: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        resource_id: "switchyard".into(),
        resource_path: integration.path.clone(),
        stage: "local".into(),
        source_ip: header(header::HeaderName::from_static("x-forwarded-for")),
        user_agent: header(header::USER_AGENT),
    }
}

/// DynamoDB's error as API Gateway's client sees it when an integration response selects it:
/// 400 with DynamoDB's `__type` and message.
fn dynamo_error(err: &DynamoError) -> Response {
    let body = json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{}", err.type_name()),
        "message": err.message(),
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

enum Failure {
    Dynamo(DynamoError),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        Failure::Store(err)
    }
}

impl Route {
    /// Runs one DynamoDB write; the answer is DynamoDB's response body.
    async fn run(&self, action: Action) -> Result<Map<String, Value>, Failure> {
        for _ in 0..ATTEMPTS {
            match self.attempt(&action).await {
                // Another write moved the item between the read and the write: read again.
                Err(Failure::Store(
                    StoreError::Exists { .. }
                    | StoreError::NotFound { .. }
                    | StoreError::VersionMismatch { .. },
                )) => continue,
                done => return done,
            }
        }
        Err(Failure::Store(StoreError::Unavailable(
            "the item kept changing under a conditional write".into(),
        )))
    }

    async fn attempt(&self, action: &Action) -> Result<Map<String, Value>, Failure> {
        match action {
            Action::Put {
                item,
                condition,
                return_old,
            } => {
                let key = self.key_of(item)?;
                let old = match condition {
                    None => {
                        let item = Item::new(key, 1, item.clone());
                        let written = self.store.write(self.table, Write::Put { item }).await?;
                        match written {
                            crate::backend::Written::Put { old, .. } => old,
                            _ => None,
                        }
                    }
                    Some(condition) => {
                        let current = self.store.get(self.table, &key).await?;
                        if !condition.holds(current.as_ref().map(Item::body)) {
                            return Err(Failure::Dynamo(DynamoError::ConditionalCheckFailed));
                        }
                        self.store_over(current.as_ref(), key, item.clone()).await?;
                        current
                    }
                };
                Ok(attributes(
                    return_old.then_some(old).flatten().as_ref().map(Item::body),
                ))
            }
            Action::Update {
                key,
                update,
                condition,
                return_values,
            } => {
                let key_value = self.key_of(key)?;
                let current = self.store.get(self.table, &key_value).await?;
                let old = current.as_ref().map(Item::body);
                if condition.as_ref().is_some_and(|c| !c.holds(old)) {
                    return Err(Failure::Dynamo(DynamoError::ConditionalCheckFailed));
                }
                let mut new = old.cloned().unwrap_or_else(|| key.clone());
                update.apply(&mut new).map_err(Failure::Dynamo)?;
                if self.key.key_of(&new).ok().as_ref() != Some(&key_value) {
                    return Err(Failure::Dynamo(DynamoError::Validation(
                        "One or more parameter values were invalid: Cannot update attribute of the key; this attribute is part of the key".into(),
                    )));
                }
                self.store_over(current.as_ref(), key_value, new.clone())
                    .await?;
                Ok(match return_values {
                    ReturnValues::None => Map::new(),
                    ReturnValues::AllOld => attributes(old),
                    ReturnValues::AllNew => attributes(Some(&new)),
                    ReturnValues::UpdatedOld => attributes(Some(&changed(old, &new, true))),
                    ReturnValues::UpdatedNew => attributes(Some(&changed(old, &new, false))),
                })
            }
            Action::Delete {
                key,
                condition,
                return_old,
            } => {
                let key = self.key_of(key)?;
                let current = self.store.get(self.table, &key).await?;
                if condition
                    .as_ref()
                    .is_some_and(|c| !c.holds(current.as_ref().map(Item::body)))
                {
                    return Err(Failure::Dynamo(DynamoError::ConditionalCheckFailed));
                }
                // Deleting an item that is not there is no error, and writes no record.
                if let Some(current) = &current {
                    let delete = Write::Delete {
                        key,
                        expected_version: Some(current.version()),
                    };
                    self.store.write(self.table, delete).await?;
                }
                Ok(attributes(
                    return_old
                        .then_some(current)
                        .flatten()
                        .as_ref()
                        .map(Item::body),
                ))
            }
        }
    }

    /// Writes `body` in place of `current` (a create when there is none), so that a write
    /// between this one's read and its write fails it instead of being overwritten.
    async fn store_over(
        &self,
        current: Option<&Item>,
        key: Key,
        body: Map<String, Value>,
    ) -> Result<(), StoreError> {
        let write = match current {
            None => Write::Create {
                item: Item::new(key, 1, body),
                idempotency: None,
            },
            Some(current) => Write::Replace {
                item: Item::new(key, current.version() + 1, body),
                expected_version: current.version(),
            },
        };
        self.store.write(self.table, write).await.map(drop)
    }

    /// The key an item or a `Key` map holds, refused as DynamoDB refuses it.
    fn key_of(&self, item: &Map<String, Value>) -> Result<Key, Failure> {
        self.key
            .key_of(item)
            .map_err(|why| Failure::Dynamo(DynamoError::Validation(why)))
    }
}

/// `{"Attributes": ...}` in DynamoDB's typed JSON, or `{}`.
fn attributes(item: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut answer = Map::new();
    if let Some(item) = item {
        answer.insert("Attributes".into(), Value::Object(to_typed(item)));
    }
    answer
}

/// The attributes an update changed: their old values (`old_values`) or their new ones.
fn changed(
    old: Option<&Map<String, Value>>,
    new: &Map<String, Value>,
    old_values: bool,
) -> Map<String, Value> {
    let empty = Map::new();
    let old = old.unwrap_or(&empty);
    let (from, other) = if old_values { (old, new) } else { (new, old) };
    from.iter()
        .filter(|(name, value)| other.get(*name) != Some(value))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}
