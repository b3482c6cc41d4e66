//! Admin endpoints for operators and tests: a table's change records as JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, App};
use crate::backend::ChangeStream;
use crate::config::{TableId, units};
use crate::record::SequenceNumber;

/// Longest long-poll a stream read may ask for, as SQS's `WaitTimeSeconds`.
const MAX_WAIT: Duration = Duration::from_secs(20);

struct StreamApi {
    table: TableId,
    stream: Arc<dyn ChangeStream>,
}

pub(super) fn routes(app: &App, table: TableId) -> Router {
    let path = format!("/admin/tables/{}/stream", app.config[table].name);
    let state = Arc::new(StreamApi {
        table,
        stream: app.stream.clone(),
    });
    Router::new()
        .route(&path, get(read_stream))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamParams {
    after: Option<String>,
    limit: Option<String>,
    wait: Option<String>,
    shard: Option<String>,
}

/// `GET /admin/tables/{table}/stream?after=SEQ&limit=N&wait=5s&shard=ID`: `{"Records": [...]}`.
async fn read_stream(
    State(api): State<Arc<StreamApi>>,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) =
        params.map_err(|err| ApiError::bad_request("invalid_query", err.body_text()))?;
    let bad = |message: String| ApiError::bad_request("invalid_query", message);
    let after = match params.after {
        None => None,
        Some(seq) if !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()) => {
            let seq = SequenceNumber(seq);
            if !api.stream.holds(&seq) {
                return Err(bad(format!(
                    "`after` is out of range: `{seq}` cannot be a sequence number of this stream"
                )));
            }
            Some(seq)
        }
        Some(_) => {
            return Err(bad(
                "`after` must be a sequence number (decimal digits)".into()
            ));
        }
    };
    let limit = match params.limit {
        None => 100,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad("`limit` must be a whole number from 1 to 1000".into()))?,
    };
    let wait = match params.wait {
        None => Duration::ZERO,
        Some(text) => units::parse_duration(&text)
            .ok()
            .filter(|w| *w <= MAX_WAIT)
            .ok_or_else(|| bad("`wait` must be a duration of at most 20s, like `5s`".into()))?,
    };
    let shards = api.stream.shards(api.table).await?;
    let shard = match params.shard {
        None => shards
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::NotFound("the stream has no shards".into()))?,
        Some(id) => shards
            .into_iter()
            .find(|s| s.id.0 == id)
            .ok_or_else(|| ApiError::NotFound(format!("no shard `{id}`")))?,
    };
    let records = api
        .stream
        .read(api.table, &shard.id, after.as_ref(), limit, wait)
        .await?;
    Ok(Json(json!({"Records": records})))
}
