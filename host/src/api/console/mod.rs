//! The operator console: one page, its script and style embedded in the binary, served on the
//! admin door at `/console`; and the endpoints only it needs: `/admin/graph` (the routes as a
//! picture), `/admin/stats` (the last minutes of figures) and `/admin/consumers`. The page
//! signs in with the admin door's token, which becomes a session cookie; everything it shows
//! or does goes through the admin API, with the same check.

mod graph;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, routing::post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::{SESSION_COOKIE, Secret, signed_in};
use crate::runtime::Runtime;

pub use graph::Graph;

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

/// What the console reads, behind the admin door's check.
pub(super) fn admin_routes(runtime: Arc<Runtime>) -> Router {
    Router::new()
        .route("/admin/graph", get(graph))
        .route("/admin/stats", get(stats))
        .route("/admin/consumers", get(consumers))
        .with_state(runtime)
}

/// The page and its sign-in, which check the token themselves.
pub(super) fn pages(token: Option<Secret>) -> Router {
    Router::new()
        .route("/console", get(page))
        .route(
            "/console/",
            get(|| async { Redirect::permanent("/console") }),
        )
        .route("/console/assets/{file}", get(asset))
        .route("/console/session", post(sign_in).delete(sign_out))
        .with_state(token)
}

async fn graph(State(runtime): State<Arc<Runtime>>) -> Json<Graph> {
    Json(Graph::of(&runtime.config))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Since {
    /// Milliseconds since the Unix epoch: only samples taken after it.
    since: Option<i64>,
}

async fn stats(
    State(runtime): State<Arc<Runtime>>,
    query: Result<Query<Since>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) =
        query.map_err(|err| ApiError::bad_request("invalid_query", err.body_text()))?;
    let samples = runtime.history.since(query.since.unwrap_or(i64::MIN));
    Ok(Json(json!({
        "intervalMs": crate::runtime::SAMPLE_INTERVAL.as_millis() as u64,
        "samples": samples,
        "pipes": runtime.pipes().await,
        "queues": runtime.queues().await.ok(),
        "consumers": runtime.consumers(),
    })))
}

async fn consumers(State(runtime): State<Arc<Runtime>>) -> Json<Value> {
    Json(json!({ "consumers": runtime.consumers() }))
}

/// The console; without the token's session, the same page answers 401 and asks for it.
async fn page(State(token): State<Option<Secret>>, request: Request) -> Response {
    let status = match &token {
        Some(token) if !signed_in(token, &request) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    };
    let mut response = (status, PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (body, media) = match file.as_str() {
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        _ => {
            return Err(ApiError::NotFound(format!(
                "no console asset `{file}`; there are `console.js` and `console.css`"
            )));
        }
    };
    Ok(([(header::CONTENT_TYPE, media)], body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// Takes the admin door's token and answers with a session cookie for the console.
async fn sign_in(
    State(token): State<Option<Secret>>,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(SignIn { token: offered }) =
        body.map_err(|err| ApiError::bad_request("invalid_body", err.body_text()))?;
    let Some(token) = token else {
        // The door has no token: the console needs no session.
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if !token.matches(offered.trim()) {
        return Err(ApiError::Unauthorized);
    }
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        token.session()
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn sign_out() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}
