//! The HTTP API (axum), behind two doors: the order API (each table of routes.toml under its own
//! path, API Gateway integrations, AWS's APIs) and the operator surface (`/admin/*`,
//! `/metrics`, the console at `/console`), each with its own token, on one listener or two; health checks on both.
//! `router` builds everything from the config; tests drive it without a socket.

mod admin;
mod auth;
mod aws;
mod console;
mod dynamo;
mod error;
mod guards;
mod integration;
mod items;
mod ops;
mod tap;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::trace::TraceLayer;

pub use auth::Secret;
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
    /// The bearer token the order API's requests must carry, when it has one.
    pub api_token: Option<Secret>,
    /// The bearer token the admin door's requests must carry, when it has one.
    pub admin_token: Option<Secret>,
    /// The running pipeline, for the operations endpoints.
    pub runtime: Arc<crate::runtime::Runtime>,
    /// The access keys AWS's APIs accept; empty: any.
    pub aws_keys: Arc<aws::AccessKeys>,
}

/// The routes one listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The order API: tables, API Gateway integrations, AWS's APIs.
    OrderApi,
    /// The operator surface: `/admin/*` and `/metrics`.
    Admin,
    /// Both, on one listener: the default, when `[host.admin]` has no `listen` of its own.
    Both,
}

/// The whole HTTP surface of the host on one listener.
pub fn router(app: App) -> Router {
    door(app, Door::Both)
}

/// What one listener serves: its door's routes, and the health checks, which take no token.
pub fn door(app: App, door: Door) -> Router {
    let host = &app.config.host;
    let listen = match door {
        Door::Admin => host.admin_listen(),
        Door::OrderApi | Door::Both => host.listen,
    };
    let known = guards::KnownHosts::new(listen, &host.allowed_hosts);
    let mut router = Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route("/readyz", get(readyz))
        .with_state(app.store.clone());
    if door != Door::Admin {
        router = router.merge(order_api(&app));
    }
    if door != Door::OrderApi {
        router = router.merge(operator_surface(&app));
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(known, guards::known_host))
        .layer(middleware::from_fn(guards::decodable_path))
        .layer(TraceLayer::new_for_http())
}

fn order_api(app: &App) -> Router {
    let mut api = Router::new();
    for table in app.config.table_ids() {
        api = api.merge(items::routes(app, table));
    }
    let api = with_token(api.merge(integration::routes(app)), &app.api_token);
    // AWS's APIs sign their requests with SigV4 and take no bearer token.
    api.merge(aws::routes(app))
        .layer(middleware::from_fn(traced))
}

/// A request that comes with a trace context (`traceparent`, or X-Ray's `X-Amzn-Trace-Id`)
/// runs in a span of the caller's trace, so the write it makes joins that trace.
async fn traced(request: Request, next: middleware::Next) -> Response {
    let span = {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let path = match request.extensions().get::<axum::extract::MatchedPath>() {
            Some(matched) => matched.as_str(),
            None => request.uri().path(),
        };
        crate::telemetry::request_span(
            request.method().as_str(),
            path,
            header("traceparent"),
            header("x-amzn-trace-id"),
        )
    };
    match span {
        Some(span) => tracing::Instrument::instrument(next.run(request), span).await,
        None => next.run(request).await,
    }
}

fn operator_surface(app: &App) -> Router {
    let mut admin = ops::routes(app.runtime.clone());
    for table in app.config.table_ids() {
        admin = admin.merge(admin::routes(app, table));
    }
    let admin = admin.merge(console::admin_routes(app.runtime.clone()));
    let admin = admin.layer(middleware::from_fn(guards::json_for_changes));
    let admin = match &app.admin_token {
        Some(token) => admin.layer(middleware::from_fn_with_state(
            token.clone(),
            auth::require_admin,
        )),
        None => admin,
    };
    // The console's page signs in by itself; what it shows comes from the routes above.
    admin.merge(console::pages(app.admin_token.clone()))
}

fn with_token(routes: Router, token: &Option<Secret>) -> Router {
    match token {
        Some(token) => routes.layer(middleware::from_fn_with_state(
            token.clone(),
            auth::require_token,
        )),
        None => routes,
    }
}

async fn readyz(State(store): State<Arc<dyn Store>>) -> Response {
    match store.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => ApiError::Unavailable(err.to_string()).into_response(),
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
pub(crate) mod tests;
