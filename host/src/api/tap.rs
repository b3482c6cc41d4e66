//! `GET /admin/tap`: the lines passing one point of the running host, streamed as JSON lines
//! for as long as the reader reads (see [`crate::tap`]); `GET /admin/taps`: who taps what.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::pattern::Pattern;
use crate::runtime::Runtime;
use crate::tap::{self, Next, Subscription, TapError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TapQuery {
    /// `pipe/NAME/in`, `pipe/NAME/out`, `rule/BUS/RULE`, `queue/NAME` or `consumer/NAME`.
    point: Option<String>,
    /// An EventBridge event pattern the line's `data` must match.
    pattern: Option<String>,
    /// Ends the stream after this many lines.
    limit: Option<u64>,
    /// How many lines the host holds for this reader while it is behind.
    buffer: Option<usize>,
}

/// Streams `application/x-ndjson`: `{"point", "time", "data"}` per line that passes the point
/// (and matches the pattern); `{"dropped": N}` where N lines were lost because the reader fell
/// behind; last, once the limit is reached or the host stops, `{"end": "limit" | "stopping",
/// "lines": N, "dropped": N}`.
pub(super) async fn tap(
    State(ops): State<Arc<Runtime>>,
    params: Result<Query<TapQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) =
        params.map_err(|err| ApiError::bad_request("invalid_query", err.body_text()))?;
    let name = params.point.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            "`point` is required: `pipe/NAME/in`, `pipe/NAME/out`, `rule/BUS/RULE`, `queue/NAME` or `consumer/NAME`",
        )
    })?;
    let point = ops.tap.point(&name).map_err(|err| match err {
        TapError::Syntax(_) => ApiError::bad_request("invalid_point", err.to_string()),
        TapError::Unknown { .. } => ApiError::NotFound(err.to_string()),
    })?;
    let pattern = params
        .pattern
        .as_deref()
        .map(Pattern::compile)
        .transpose()
        .map_err(|err| {
            ApiError::bad_request(
                "invalid_pattern",
                format!("`pattern` is not an event pattern: {err}"),
            )
        })?;
    if params.limit == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`limit` must be a whole number from 1",
        ));
    }
    let buffer = params.buffer.unwrap_or(tap::BUFFER);
    if !(1..=tap::MAX_BUFFER).contains(&buffer) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!(
                "`buffer` must be a whole number from 1 to {}",
                tap::MAX_BUFFER
            ),
        ));
    }
    let reading = Reading {
        subscription: ops.tap.subscribe(point, pattern, buffer),
        lines: 0,
        limit: params.limit.unwrap_or(u64::MAX),
        ended: false,
    };
    let stream = futures::stream::unfold(reading, |mut reading| async move {
        let line = reading.next().await?;
        Some((Ok::<_, Infallible>(line), reading))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// One reader's stream.
struct Reading {
    subscription: Subscription,
    lines: u64,
    limit: u64,
    ended: bool,
}

impl Reading {
    async fn next(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        if self.lines >= self.limit {
            return Some(self.end("limit"));
        }
        match self.subscription.next().await {
            Next::Line(line) => {
                self.lines += 1;
                Some(Bytes::copy_from_slice(line.as_bytes()))
            }
            Next::Dropped(dropped) => Some(json_line(&json!({"dropped": dropped}))),
            Next::Stopping => Some(self.end("stopping")),
        }
    }

    fn end(&mut self, why: &str) -> Bytes {
        self.ended = true;
        json_line(&json!({
            "end": why,
            "lines": self.lines,
            "dropped": self.subscription.dropped(),
        }))
    }
}

fn json_line(value: &Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Every tap now: its point, whether a pattern narrows it, lines sent and dropped.
pub(super) async fn taps(State(ops): State<Arc<Runtime>>) -> Json<Value> {
    Json(json!({"taps": ops.tap.readers()}))
}
