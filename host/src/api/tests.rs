//! The API's behaviour through the router, on a real embedded store in a temp dir.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::backend::embedded::EmbeddedStore;
use crate::config;

const ROUTES: &str = r#"
[host]
max_body = "4KiB"

[tables.orders]
key = "orderId"
schema = '{"type": "object", "properties": {"total": {"type": "number", "minimum": 0}}}'

[tables.customers]
key = "customerId"
path = "/crm/customers"
stream_view_type = "KEYS_ONLY"
"#;

struct Api {
    router: Router,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

fn api_with(routes: &str, token: Option<&str>) -> Api {
    let (mut app, _, dir) = embedded_app(routes);
    app.api_token = token.map(Secret::new);
    app.admin_token = token.map(Secret::new);
    Api {
        router: router(app),
        _dir: dir,
    }
}

/// An `App` on a real embedded store in a temp dir (kept while the dir lives), without auth.
pub(crate) fn embedded_app(routes: &str) -> (App, Arc<EmbeddedStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config =
        config::compile(routes, Path::new("routes.toml")).unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(EmbeddedStore::open_for(dir.path(), &config).unwrap());
    let config = Arc::new(config);
    let buses = Arc::new(crate::bus::Buses::new(&config));
    let runtime = Arc::new(crate::runtime::Runtime::new(
        config.clone(),
        store.clone(),
        vec![],
        vec![],
        buses,
        None,
    ));
    let app = App {
        config,
        store: store.clone(),
        stream: store.clone(),
        api_token: None,
        admin_token: None,
        runtime,
        aws_keys: Default::default(),
    };
    (app, store, dir)
}

fn api() -> Api {
    api_with(ROUTES, None)
}

impl Api {
    async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, uri: &str, body: Value) -> Reply {
        self.send(
            Method::POST,
            uri,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, &[], Body::empty()).await
    }

    async fn records(&self, table: &str) -> Vec<Value> {
        let reply = self.get(&format!("/admin/tables/{table}/stream")).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body["Records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn post_creates_an_item_with_a_server_assigned_key_and_version_1() {
    let api = api();
    let reply = api.post("/orders", json!({"total": 42.5})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let key = reply.body["orderId"]
        .as_str()
        .expect("a server-assigned orderId")
        .to_string();
    assert_eq!(reply.body["version"], 1);
    assert_eq!(reply.body["total"], 42.5);
    assert_eq!(reply.body["createdAt"], reply.body["updatedAt"]);
    assert!(reply.body["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(reply.header("location"), format!("/orders/{key}"));
    assert_eq!(reply.header("etag"), "\"1\"");

    let read = api.get(&format!("/orders/{key}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, reply.body);
    let records = api.records("orders").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["eventName"], "INSERT");
    assert_eq!(records[0]["dynamodb"]["Keys"]["orderId"]["S"], key.as_str());
    assert_eq!(records[0]["dynamodb"]["NewImage"]["total"]["N"], "42.5");
}

#[tokio::test]
async fn creating_an_existing_key_is_a_conflict_and_changes_nothing() {
    let api = api();
    assert_eq!(
        api.post("/orders", json!({"orderId": "o-1", "total": 1}))
            .await
            .status,
        StatusCode::CREATED
    );
    let again = api
        .post("/orders", json!({"orderId": "o-1", "total": 2}))
        .await;
    assert_eq!(
        (again.status, again.error_code()),
        (StatusCode::CONFLICT, "conflict")
    );
    assert_eq!(
        again.body["error"]["message"],
        "an item with key `o-1` already exists"
    );
    assert_eq!(api.get("/orders/o-1").await.body["total"], 1);
    assert_eq!(api.records("orders").await.len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response_and_writes_once() {
    let api = api();
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "req-1"),
    ];
    let first = api
        .send(Method::POST, "/orders", &headers, r#"{"total": 5}"#)
        .await;
    let retry = api
        .send(Method::POST, "/orders", &headers, r#"{ "total" : 5 }"#)
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(
        retry.body, first.body,
        "the retry returns the first response"
    );
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(retry.header("idempotent-replayed"), "true");
    assert_eq!(
        api.get("/orders").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(api.records("orders").await.len(), 1);

    let other_body = api
        .send(Method::POST, "/orders", &headers, r#"{"total": 6}"#)
        .await;
    assert_eq!(
        (other_body.status, other_body.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
    );
}

#[tokio::test]
async fn put_and_patch_need_the_current_version_in_if_match() {
    let api = api();
    api.post(
        "/orders",
        json!({"orderId": "o-1", "total": 1, "note": "x"}),
    )
    .await;
    let json_type = ("content-type", "application/json");

    let missing = api
        .send(Method::PUT, "/orders/o-1", &[json_type], r#"{"total": 2}"#)
        .await;
    assert_eq!(
        (missing.status, missing.error_code()),
        (StatusCode::PRECONDITION_REQUIRED, "precondition_required")
    );
    let stale = api
        .send(
            Method::PUT,
            "/orders/o-1",
            &[json_type, ("if-match", "\"7\"")],
            r#"{"total": 2}"#,
        )
        .await;
    assert_eq!(
        (stale.status, stale.error_code()),
        (StatusCode::PRECONDITION_FAILED, "precondition_failed")
    );

    let put = api
        .send(
            Method::PUT,
            "/orders/o-1",
            &[json_type, ("if-match", "\"1\"")],
            r#"{"total": 2}"#,
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["version"], 2);
    assert_eq!(put.body.get("note"), None, "PUT replaces the whole item");
    assert_eq!(put.header("etag"), "\"2\"");

    let patch_type = ("content-type", "application/merge-patch+json");
    let patch = api
        .send(
            Method::PATCH,
            "/orders/o-1",
            &[patch_type, ("if-match", "2")],
            r#"{"note": "y", "total": null}"#,
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{:?}", patch.body);
    assert_eq!(patch.body["version"], 3);
    assert_eq!(patch.body["note"], "y");
    assert_eq!(
        patch.body.get("total"),
        None,
        "null removes a member (RFC 7396)"
    );
    assert_eq!(
        patch.body["createdAt"], put.body["createdAt"],
        "createdAt is kept"
    );

    let rekey = api
        .send(
            Method::PATCH,
            "/orders/o-1",
            &[patch_type, ("if-match", "*")],
            r#"{"orderId": "o-2"}"#,
        )
        .await;
    assert_eq!(
        (rekey.status, rekey.error_code()),
        (StatusCode::BAD_REQUEST, "key_mismatch")
    );
    let nowhere = api
        .send(
            Method::PUT,
            "/orders/o-9",
            &[json_type, ("if-match", "1")],
            "{}",
        )
        .await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);

    let events: Vec<Value> = api
        .records("orders")
        .await
        .iter()
        .map(|r| r["eventName"].clone())
        .collect();
    assert_eq!(events, ["INSERT", "MODIFY", "MODIFY"]);
}

#[tokio::test]
async fn delete_removes_the_item_and_honours_if_match() {
    let api = api();
    api.post("/orders", json!({"orderId": "o-1"})).await;
    let stale = api
        .send(
            Method::DELETE,
            "/orders/o-1",
            &[("if-match", "\"2\"")],
            Body::empty(),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let deleted = api
        .send(
            Method::DELETE,
            "/orders/o-1",
            &[("if-match", "\"1\"")],
            Body::empty(),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("/orders/o-1").await.status, StatusCode::NOT_FOUND);
    let again = api
        .send(Method::DELETE, "/orders/o-1", &[], Body::empty())
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let records = api.records("orders").await;
    assert_eq!(records[1]["eventName"], "REMOVE");
    assert_eq!(records[1]["dynamodb"]["OldImage"]["orderId"]["S"], "o-1");
}

#[tokio::test]
async fn list_pages_through_items_with_a_cursor() {
    let api = api();
    for i in 0..5 {
        api.post("/orders", json!({"orderId": format!("o-{i}")}))
            .await;
    }
    let mut keys = Vec::new();
    let mut uri = "/orders?limit=2".to_string();
    loop {
        let page = api.get(&uri).await;
        assert_eq!(page.status, StatusCode::OK);
        keys.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["orderId"].as_str().unwrap().to_string()),
        );
        match page.body["nextCursor"].as_str() {
            Some(cursor) => uri = format!("/orders?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(keys, ["o-0", "o-1", "o-2", "o-3", "o-4"]);
    for bad in [
        "/orders?limit=0",
        "/orders?limit=1001",
        "/orders?limit=x",
        "/orders?cursor=%%%",
        "/orders?sort=asc",
    ] {
        let reply = api.get(bad).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (StatusCode::BAD_REQUEST, "invalid_query"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn writes_are_checked_against_the_table_schema() {
    let api = api();
    let reply = api
        .post("/orders", json!({"orderId": "o-1", "total": -3}))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "schema_violation")
    );
    assert_eq!(
        reply.body["error"]["message"],
        "/total: -3 is less than the minimum of 0"
    );
    assert_eq!(api.get("/orders/o-1").await.status, StatusCode::NOT_FOUND);
    assert!(api.records("orders").await.is_empty());
}

#[tokio::test]
async fn bad_requests_get_their_documented_status_and_change_nothing() {
    let api = api();
    let json_type = ("content-type", "application/json");
    let cases: Vec<(&str, Vec<(&str, &str)>, Vec<u8>, StatusCode, &str)> = vec![
        (
            "malformed",
            vec![json_type],
            b"{\"total\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "not an object",
            vec![json_type],
            b"[1, 2]".to_vec(),
            StatusCode::BAD_REQUEST,
            "not_an_object",
        ),
        (
            "invalid utf-8",
            vec![json_type],
            b"{\"a\": \"\xff\xfe\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "too deep",
            vec![json_type],
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "too large",
            vec![json_type],
            format!("{{\"pad\": \"{}\"}}", "x".repeat(5000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "no content type",
            vec![],
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "text",
            vec![("content-type", "text/plain")],
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "slash in key",
            vec![json_type],
            br#"{"orderId": "a/b"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            "dot-dot key",
            vec![json_type],
            br#"{"orderId": ".."}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            "numeric key",
            vec![json_type],
            br#"{"orderId": 7}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            "empty idempotency key",
            vec![json_type, ("idempotency-key", "")],
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
        ),
    ];
    for (name, headers, body, status, code) in cases {
        let reply = api.send(Method::POST, "/orders", &headers, body).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (status, code),
            "{name}: {:?}",
            reply.body
        );
        assert!(
            !reply.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{name}: a message says why"
        );
    }
    for uri in ["/orders/a%2Fb", "/orders/..", "/orders/a%20b"] {
        assert_eq!(api.get(uri).await.status, StatusCode::BAD_REQUEST, "{uri}");
    }
    assert!(
        api.get("/orders").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(api.records("orders").await.is_empty());
}

#[tokio::test]
async fn a_nested_document_within_the_size_limit_but_too_deep_is_malformed() {
    let api = api_with("[tables.orders]\nkey = \"orderId\"\n", None);
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(1000), "]".repeat(1000));
    let reply = api
        .send(
            Method::POST,
            "/orders",
            &[("content-type", "application/json")],
            deep,
        )
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{:?}",
        reply.body
    );
}

#[tokio::test]
async fn each_table_gets_its_own_path_and_stream() {
    let api = api();
    let reply = api
        .post(
            "/crm/customers",
            json!({"customerId": "c-1", "name": "Ada"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.header("location"), "/crm/customers/c-1");
    assert_eq!(api.get("/crm/customers/c-1").await.body["name"], "Ada");
    assert_eq!(api.get("/orders/c-1").await.status, StatusCode::NOT_FOUND);
    let records = api.records("customers").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["dynamodb"]["StreamViewType"], "KEYS_ONLY");
    assert_eq!(records[0]["dynamodb"].get("NewImage"), None);
    assert!(api.records("orders").await.is_empty());
}

#[tokio::test]
async fn the_stream_endpoint_reads_after_a_sequence_number() {
    let api = api();
    for i in 0..3 {
        api.post("/orders", json!({"orderId": format!("o-{i}")}))
            .await;
    }
    let all = api.records("orders").await;
    let after = all[0]["dynamodb"]["SequenceNumber"].as_str().unwrap();
    let rest = api
        .get(&format!(
            "/admin/tables/orders/stream?after={after}&limit=1"
        ))
        .await;
    let rest = rest.body["Records"].as_array().unwrap().clone();
    assert_eq!(rest, all[1..2].to_vec());
    for bad in ["after=abc", "limit=0", "wait=1h", "shard=nope"] {
        let reply = api.get(&format!("/admin/tables/orders/stream?{bad}")).await;
        assert!(reply.status.is_client_error(), "{bad}: {}", reply.status);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let api = api();
    let reply = api.get("/nowhere").await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let reply = api.send(Method::PUT, "/orders", &[], Body::empty()).await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

#[tokio::test]
async fn with_a_token_configured_the_api_needs_it_but_health_checks_do_not() {
    let api = api_with(ROUTES, Some("s3cret"));
    let reply = api.get("/orders").await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    assert_eq!(reply.header("www-authenticate"), "Bearer");
    let wrong = api
        .send(
            Method::GET,
            "/orders",
            &[("authorization", "Bearer nope")],
            Body::empty(),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = api
        .send(
            Method::GET,
            "/orders",
            &[("authorization", "Bearer s3cret")],
            Body::empty(),
        )
        .await;
    assert_eq!(right.status, StatusCode::OK);
    assert_eq!(api.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(api.get("/readyz").await.status, StatusCode::OK);
    assert_eq!(format!("{:?}", Secret::new("s3cret")), "Secret(\"***\")");
}

mod console;
mod integration;
mod keys;
mod ops;
