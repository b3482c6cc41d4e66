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

#[cfg(test)]
mod tests {
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::api::{Secret, router, tests::embedded_app};

    async fn get(router: &axum::Router, uri: &str, token: &str) -> Response {
        let request = Request::get(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(request).await.unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_tap_streams_the_lines_its_pattern_matches_to_its_limit_behind_the_admin_token() {
        let (mut app, _store, _dir) = embedded_app("[queues.jobs]\n");
        app.admin_token = Some(Secret::new("s3cret".to_string()));
        let tap = app.runtime.tap.clone();
        let router = router(app);
        let pattern = r#"{"body":{"total":[{"numeric":[">",100]}]}}"#;
        let uri = format!(
            "/admin/tap?point=queue/jobs&limit=2&pattern={}",
            pattern.replace('"', "%22").replace('>', "%3E")
        );
        let refused = get(&router, &uri, "wrong").await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(!tap.listening(tap.point("queue/jobs").unwrap()));

        let response = get(&router, &uri, "s3cret").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/x-ndjson",
            "JSON lines"
        );
        let point = tap.point("queue/jobs").unwrap();
        assert!(tap.listening(point), "listening once the answer starts");
        let bodies = [r#"{"total": 5}"#, r#"{"total": 500}"#, r#"{"total": 600}"#];
        tap.show(point, bodies, |body| {
            crate::tap::json(&json!({"body": body}))
        });
        let lines: Vec<Value> = text(response)
            .await
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let data: Vec<&Value> = lines[..2].iter().map(|l| &l["data"]["body"]).collect();
        assert_eq!(data, [r#"{"total": 500}"#, r#"{"total": 600}"#]);
        assert_eq!(lines[2], json!({"end": "limit", "lines": 2, "dropped": 0}));
        assert_eq!(lines.len(), 3);
        assert!(!tap.listening(point), "a finished tap stops listening");
    }

    #[tokio::test]
    async fn a_tap_of_an_unknown_point_or_with_a_bad_pattern_says_what_is_wrong() {
        let (app, _store, _dir) = embedded_app("[queues.jobs]\n");
        let router = router(app);
        let error = |response: Response| async move {
            let status = response.status();
            let body: Value = serde_json::from_str(&text(response).await).unwrap();
            (
                status,
                body["error"]["message"].as_str().unwrap().to_string(),
            )
        };
        assert_eq!(
            error(get(&router, "/admin/tap?point=queue/nope", "").await).await,
            (
                StatusCode::NOT_FOUND,
                "this host has no queue `nope`; its tap points are: `queue/jobs`".into()
            )
        );
        assert_eq!(
            error(get(&router, "/admin/tap?point=queue/jobs&pattern=%5B%5D", "").await).await,
            (
                StatusCode::BAD_REQUEST,
                "`pattern` is not an event pattern: an event pattern must be a JSON object, not an array".into()
            )
        );
        let (status, message) = error(get(&router, "/admin/tap", "").await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.starts_with("`point` is required"), "{message}");
        let (status, _) =
            error(get(&router, "/admin/tap?point=queue/jobs&buffer=0", "").await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
