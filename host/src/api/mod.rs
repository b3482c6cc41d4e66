//! The HTTP API (axum): each table of routes.toml under its own path, the stream admin endpoint,
//! and health checks. `router` builds everything from the config; tests drive it without a socket.

mod admin;
mod aws;
mod dynamo;
mod error;
mod integration;
mod items;
mod ops;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::trace::TraceLayer;

pub use aws::AccessKeys;
pub use error::ApiError;
pub(crate) use items::timestamp;

use crate::backend::{ChangeStream, Store};
use crate::config::Config;

/// What the API serves from: the config and the backend.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub stream: Arc<dyn ChangeStream>,
    /// The bearer token every request but the health checks must carry, when auth is on.
    pub token: Option<Secret>,
    /// The running pipeline, for the operations endpoints.
    pub runtime: Arc<crate::runtime::Runtime>,
    /// The access keys AWS's APIs accept; empty: any.
    pub aws_keys: Arc<aws::AccessKeys>,
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for a signature made with it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in time that does not depend on where the texts differ.
    fn matches(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

/// The whole HTTP surface of the host.
pub fn router(app: App) -> Router {
    let mut api = Router::new();
    for table in app.config.table_ids() {
        api = api
            .merge(items::routes(&app, table))
            .merge(admin::routes(&app, table));
    }
    let api = api
        .merge(integration::routes(&app))
        .merge(ops::routes(app.runtime.clone()))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed);
    let api = match app.token.clone() {
        Some(token) => api.layer(middleware::from_fn_with_state(token, require_token)),
        None => api,
    };
    Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route("/readyz", get(readyz))
        .with_state(app.store.clone())
        // AWS's APIs sign their requests with SigV4 and take no bearer token.
        .merge(aws::routes(&app))
        .merge(api)
        .layer(TraceLayer::new_for_http())
}

async fn readyz(State(store): State<Arc<dyn Store>>) -> Response {
    match store.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => ApiError::Unavailable(err.to_string()).into_response(),
    }
}

async fn require_token(State(token): State<Secret>, request: Request, next: Next) -> Response {
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match offered {
        Some(offered) if token.matches(offered.trim()) => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

async fn no_route(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.uri().path()
    ))
}

#[cfg(test)]
mod tests;
