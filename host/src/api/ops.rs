//! Operations endpoints: pipes, buses, queues and their dead letters, and the tasks of redrives
//! and replays, under `/admin`, and `/metrics` in Prometheus text format.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::config::QueueId;
use crate::runtime::Runtime;

type Ops = State<Arc<Runtime>>;

pub(super) fn routes(runtime: Arc<Runtime>) -> Router {
    Router::new()
        .route("/admin/pipes", get(pipes))
        .route("/admin/buses", get(buses))
        .route("/admin/queues", get(queues))
        .route("/admin/queues/{queue}/messages", get(messages))
        .route("/admin/queues/{queue}/messages/{id}", get(message))
        .route("/admin/queues/{queue}/redrive", post(redrive))
        .route("/admin/buses/{bus}/replay", post(replay))
        .route("/admin/tap", get(super::tap::tap))
        .route("/admin/taps", get(super::tap::taps))
        .route("/admin/tasks", get(tasks))
        .route("/admin/tasks/{id}", get(task))
        .route("/metrics", get(metrics))
        .with_state(runtime)
}

async fn pipes(State(ops): Ops) -> Json<Value> {
    Json(json!({"pipes": ops.pipes().await}))
}

async fn buses(State(ops): Ops) -> Json<Value> {
    Json(json!({"buses": ops.buses()}))
}

async fn queues(State(ops): Ops) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"queues": ops.queues().await?})))
}

fn queue(ops: &Runtime, name: &str) -> Result<QueueId, ApiError> {
    ops.config
        .queue_id(name)
        .ok_or_else(|| ApiError::NotFound(format!("no queue named `{name}`")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    limit: Option<usize>,
}

/// The messages of a queue, oldest first, without receiving them (a DLQ's dead letters, say).
async fn messages(
    State(ops): Ops,
    Path(name): Path<String>,
    params: Result<Query<Limit>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) =
        params.map_err(|err| ApiError::bad_request("invalid_query", err.body_text()))?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`limit` must be a whole number from 1 to 1000",
        ));
    }
    let queue = queue(&ops, &name)?;
    Ok(Json(
        json!({"messages": ops.queues.peek(queue, limit).await?}),
    ))
}

async fn message(
    State(ops): Ops,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let queue = queue(&ops, &name)?;
    let found = ops.queues.find(queue, &id).await?;
    found
        .map(|m| Json(json!(m)))
        .ok_or_else(|| ApiError::NotFound(format!("no message `{id}` on queue `{name}`")))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RedriveRequest {
    /// Where to move the messages; by default each goes back to the queue it came from.
    to: Option<String>,
    /// At most this many messages per second.
    rate: Option<f64>,
    /// Only these messages of the DLQ, one by one; by default all of them.
    #[serde(rename = "messageIds")]
    message_ids: Option<Vec<String>>,
}

/// The rates a redrive may ask for, in messages per second: SQS's move tasks take up to 500.
const REDRIVE_RATES: std::ops::RangeInclusive<f64> = 0.01..=500.0;

async fn redrive(
    State(ops): Ops,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // The admin door lets only JSON through; no body at all means the defaults.
    let request = match body.iter().all(u8::is_ascii_whitespace) {
        true => RedriveRequest::default(),
        false => {
            Json::<RedriveRequest>::from_bytes(&body)
                .map_err(|err| ApiError::bad_request("invalid_body", err.body_text()))?
                .0
        }
    };
    let dlq = queue(&ops, &name)?;
    let to = request
        .to
        .as_deref()
        .map(|to| queue(&ops, to))
        .transpose()?;
    if to == Some(dlq) {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!(
                "`to` names `{name}`, the queue being redriven; name another queue, or leave `to` out to send each message back where it came from"
            ),
        ));
    }
    if request.rate.is_some_and(|r| !REDRIVE_RATES.contains(&r)) {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!(
                "`rate` must be from {} to {} messages per second",
                REDRIVE_RATES.start(),
                REDRIVE_RATES.end()
            ),
        ));
    }
    if request.message_ids.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::bad_request(
            "invalid_body",
            "`messageIds` is empty; name at least one message, or leave `messageIds` out to redrive them all",
        ));
    }
    let only = request.message_ids.as_deref();
    Ok(Json(json!(ops.redrive(dlq, to, request.rate, only).await?)))
}

/// Redrives and replays, running and recently finished, the most recent first.
async fn tasks(State(ops): Ops) -> Json<Value> {
    Json(json!({"tasks": ops.tasks.list()}))
}

async fn task(State(ops): Ops, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let task = ops.tasks.get(&id);
    task.map(|t| Json(json!(t)))
        .ok_or_else(|| ApiError::NotFound(format!("no task `{id}`")))
}

async fn metrics(State(ops): Ops) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ops.metrics().await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    /// RFC 3339 times: events archived from `from` up to `to` replay.
    from: String,
    to: Option<String>,
}

async fn replay(
    State(ops): Ops,
    Path(name): Path<String>,
    body: Result<Json<ReplayRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) =
        body.map_err(|err| ApiError::bad_request("invalid_body", err.body_text()))?;
    let bus = ops
        .config
        .buses
        .iter()
        .position(|b| b.name == name)
        .map(crate::config::BusId);
    let bus = bus.ok_or_else(|| ApiError::NotFound(format!("no bus named `{name}`")))?;
    if ops.config[bus].archive.is_none() {
        return Err(ApiError::Conflict(format!(
            "bus `{name}` has no archive to replay"
        )));
    }
    let time = |text: &str, field: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_body",
                    format!("`{field}` must be an RFC 3339 time, like 2026-11-24T10:00:00Z"),
                )
            })
    };
    let from = time(&request.from, "from")?;
    let to = match request.to.as_deref() {
        Some(to) => time(to, "to")?,
        None => i64::MAX,
    };
    Ok(Json(json!(ops.replay(bus, from, to).await?)))
}
