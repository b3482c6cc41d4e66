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
use serde_json::{Value, json};

use super::dynamo::{Failure, Writer};
use super::{ApiError, App};
use crate::apigateway::{
    Context, DynamoError, Request, Template, format_request_time, parse_action,
};
use crate::backend::Store;
use crate::config::{Integration, KeySchema, TableId};

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
    let writer = Writer {
        table: route.table,
        key: &route.key,
        store: &route.store,
    };
    let answer = match parse_action(integration.action, &rendered) {
        Ok(operation) => writer.run(operation.action).await,
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
