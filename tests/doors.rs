//! The host's two doors, through the real binary: the order API and the operator surface
//! (`/admin/*`, `/metrics`) on their own listeners with their own tokens; tokens from the
//! environment or a file, long enough, never logged; no admin door beyond loopback without a
//! token unless routes.toml says so; requests calling the host by a foreign name refused; admin
//! calls that change something taking JSON only.

#![allow(clippy::unwrap_used)]

mod common;

use common::{DLQ_ROUTES, Host};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const API_TOKEN: &str = "order-api-token-0123456789abcdef";
const ADMIN_TOKEN: &str = "admin-door-token-0123456789abcdef";

/// The status of a request, with a bearer token (the whole `Authorization` value) if given.
async fn status(method: Method, url: &str, authorization: Option<&str>) -> StatusCode {
    let mut request = Host::client().request(method.clone(), url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if method == Method::POST {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap().status()
}

/// Calls one of SQS's operations on the host, as an SDK would.
async fn sqs(url: &str, operation: &str, input: Value) -> Value {
    common::aws_call(url, &format!("AmazonSQS.{operation}"), input).await
}

#[tokio::test]
async fn the_admin_door_listens_apart_and_opens_only_to_its_own_token() {
    let routes = format!(
        r#"
[host]
auth_token_env = "SY_TEST_API_TOKEN"

[host.admin]
listen = "127.0.0.1:0"
auth_token_env = "SY_TEST_ADMIN_TOKEN"
{DLQ_ROUTES}"#
    );
    let host = Host::start_env(
        &routes,
        &[],
        &[
            ("SY_TEST_API_TOKEN", API_TOKEN),
            ("SY_TEST_ADMIN_TOKEN", ADMIN_TOKEN),
            ("RUST_LOG", "debug"),
        ],
    );
    assert_ne!(host.admin_url, host.url, "two listeners");
    let (api, admin) = (host.url.as_str(), host.admin_url.as_str());
    let bearer = |token: &str| format!("Bearer {token}");
    let order_api_caller = bearer(API_TOKEN);
    let operator = bearer(ADMIN_TOKEN);

    // The order API takes its own token, with the scheme in any case, and not the admin one.
    let created = Host::client()
        .post(format!("{api}/orders"))
        .header("authorization", &order_api_caller)
        .json(&json!({"orderId": "o-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let orders = format!("{api}/orders");
    for (authorization, expected) in [
        (format!("bearer {API_TOKEN}"), StatusCode::OK),
        (format!("BEARER  {API_TOKEN}"), StatusCode::OK),
        (operator.clone(), StatusCode::UNAUTHORIZED),
        (format!("Basic {API_TOKEN}"), StatusCode::UNAUTHORIZED),
    ] {
        let got = status(Method::GET, &orders, Some(&authorization)).await;
        assert_eq!(got, expected, "{authorization}");
    }
    assert_eq!(
        status(Method::GET, &orders, None).await,
        StatusCode::UNAUTHORIZED
    );

    // An order API caller cannot redrive, replay or read dead letters: not on the order API's
    // listener, which does not serve them, nor on the admin door, which wants its own token.
    let operations = [
        (Method::GET, "/admin/queues"),
        (Method::GET, "/admin/queues/jobs-dlq/messages"),
        (Method::POST, "/admin/queues/jobs-dlq/redrive"),
        (Method::GET, "/admin/tables/orders/stream"),
        (Method::GET, "/metrics"),
    ];
    for (method, path) in &operations {
        for token in [&order_api_caller, &operator] {
            let got = status(method.clone(), &format!("{api}{path}"), Some(token)).await;
            assert_eq!(
                got,
                StatusCode::NOT_FOUND,
                "{method} {path} on the order API"
            );
        }
        let got = status(
            method.clone(),
            &format!("{admin}{path}"),
            Some(&order_api_caller),
        )
        .await;
        assert_eq!(
            got,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with the API's token"
        );
        let got = status(method.clone(), &format!("{admin}{path}"), None).await;
        assert_eq!(
            got,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with no token"
        );
        let got = status(method.clone(), &format!("{admin}{path}"), Some(&operator)).await;
        assert_eq!(got, StatusCode::OK, "{method} {path} with the admin token");
    }
    let lower = format!("bearer {ADMIN_TOKEN}");
    let got = status(Method::GET, &format!("{admin}/admin/queues"), Some(&lower)).await;
    assert_eq!(got, StatusCode::OK);
    // The admin door serves no orders, and AWS's APIs stay on the order API's door.
    let got = status(Method::GET, &format!("{admin}/orders"), Some(&operator)).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    sqs(api, "ListQueues", json!({})).await;

    for door in [api, admin] {
        for check in ["/healthz", "/readyz"] {
            let got = status(Method::GET, &format!("{door}{check}"), None).await;
            assert_eq!(got, StatusCode::OK, "{door}{check} needs no token");
        }
    }
    let logs = host.logs();
    assert!(logs.contains("DEBUG"), "the log is at debug level");
    for token in [API_TOKEN, ADMIN_TOKEN] {
        assert!(!logs.contains(token), "a token is in the log:\n{logs}");
    }
}

#[tokio::test]
async fn a_token_can_come_from_a_file_and_the_dlq_command_uses_the_admin_doors() {
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("admin.token");
    std::fs::write(&file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let routes = format!(
        "[host.admin]\nlisten = \"127.0.0.1:0\"\nauth_token_file = \"{}\"\n{DLQ_ROUTES}",
        file.display()
    );
    let host = Host::start(&routes);
    let queues = format!("{}/admin/queues", host.admin_url);
    let got = status(Method::GET, &queues, Some(&format!("Bearer {ADMIN_TOKEN}"))).await;
    assert_eq!(
        got,
        StatusCode::OK,
        "the file's newline is not part of the token"
    );
    assert_eq!(
        status(Method::GET, &queues, None).await,
        StatusCode::UNAUTHORIZED
    );
    // The order API has no token of its own here: it takes requests without one.
    let orders = format!("{}/orders", host.url);
    assert_eq!(status(Method::GET, &orders, None).await, StatusCode::OK);

    let routes = host.routes_path();
    let listed = common::run(&[
        "dlq",
        "list",
        "jobs-dlq",
        "--routes",
        routes.to_str().unwrap(),
        "--url",
        &host.admin_url,
    ]);
    assert!(
        listed.status.success(),
        "`dlq list` reads the admin token from the file: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
}

#[test]
fn a_short_token_is_refused_at_start_up_naming_its_key_and_line() {
    let (code, stderr) = Host::refused(
        "[host]\nauth_token_env = \"SY_TEST_SHORT_TOKEN\"\n",
        &[],
        &[("SY_TEST_SHORT_TOKEN", "s3cret")],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "routes.toml:2:18: host.auth_token_env: the token in `SY_TEST_SHORT_TOKEN` has 6 characters; \
             a token needs at least 16 (make one with `openssl rand -hex 32`)"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "the token is not shown: {stderr}"
    );
    let (code, stderr) = Host::refused(
        "[host.admin]\nauth_token_env = \"SY_TEST_UNSET_TOKEN\"\n",
        &[],
        &[],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "routes.toml:2:18: host.admin.auth_token_env: the environment variable `SY_TEST_UNSET_TOKEN` is not set"
        ),
        "{stderr}"
    );
}

#[test]
fn an_admin_door_beyond_loopback_needs_a_token_or_routes_toml_saying_so() {
    let problem = |address: &str| {
        format!(
            "the admin door (`/admin/*`, `/metrics`) would listen on `{address}`, beyond \
             loopback, with no token; give it one (`host.admin.auth_token_env` or \
             `host.admin.auth_token_file`), a loopback address (`host.admin.listen`), or \
             set `host.admin.allow_unauthenticated = true`"
        )
    };
    // `check` reads routes.toml without listening anywhere.
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.toml");
    let check = |text: &str| {
        std::fs::write(&routes, text).unwrap();
        common::run(&["check", "--routes", routes.to_str().unwrap()])
    };
    let checked = check("[host]\nlisten = \"0.0.0.0:8080\"\n");
    assert_eq!(checked.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&checked.stderr).trim(),
        format!(
            "{}:2:10: host.listen: {}",
            routes.display(),
            problem("0.0.0.0:8080")
        )
    );
    // `up` refuses before it listens. 192.0.2.1 (TEST-NET-1) is no address of this machine, so
    // a host that did not refuse could not listen beyond loopback either.
    let (code, stderr) = Host::refused(
        "[host.admin]\nlisten = \"192.0.2.1:0\"\n",
        &["--listen", "127.0.0.1:0"],
        &[],
    );
    assert_eq!(code, Some(1));
    let expected = format!(
        "routes.toml:2:10: host.admin.listen: {}",
        problem("192.0.2.1:0")
    );
    assert!(stderr.contains(&expected), "{stderr}");
    let (code, stderr) = Host::refused("", &["--listen", "192.0.2.1:0"], &[]);
    assert_eq!(code, Some(1));
    let expected = format!(
        "switchyard: `--listen 192.0.2.1:0`: {}",
        problem("192.0.2.1:0")
    );
    assert!(stderr.contains(&expected), "{stderr}");

    // Each of these is fine: `check` says so without listening.
    for fine in [
        "[host]\nlisten = \"0.0.0.0:0\"\n[host.admin]\nallow_unauthenticated = true\n",
        "[host]\nlisten = \"0.0.0.0:0\"\n[host.admin]\nlisten = \"127.0.0.1:9090\"\n",
        "[host]\nlisten = \"0.0.0.0:0\"\n[host.admin]\nauth_token_env = \"ADMIN_TOKEN\"\n",
        "[host]\nlisten = \"0.0.0.0:0\"\nauth_token_file = \"api.token\"\n",
    ] {
        let checked = check(fine);
        assert!(
            checked.status.success(),
            "{fine}: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}

#[tokio::test]
async fn a_request_calling_the_host_by_a_foreign_name_is_refused() {
    let routes = format!("[host]\nallowed_hosts = [\"orders.internal\"]\n{DLQ_ROUTES}");
    let host = Host::start(&routes);
    let port = host.url.rsplit(':').next().unwrap().to_string();
    let call = |path: &str, name: &str| {
        Host::client()
            .get(format!("{}{path}", host.url))
            .header("host", name.to_string())
            .send()
    };
    for name in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_string(),
        "orders.internal".to_string(),
        format!("orders.internal:{port}"),
    ] {
        for path in ["/orders", "/admin/queues"] {
            let got = call(path, &name).await.unwrap().status();
            assert_eq!(got, StatusCode::OK, "{path} as {name}");
        }
    }
    // A web page that had its own name resolve to 127.0.0.1 (DNS rebinding) gets nothing.
    let rebound = format!("attacker.example:{port}");
    for path in [
        "/orders",
        "/admin/queues",
        "/admin/queues/jobs-dlq/messages",
        "/metrics",
    ] {
        let response = call(path, &rebound).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unknown_host", "{body}");
    }
    let got = call("/healthz", &rebound).await.unwrap().status();
    assert_eq!(
        got,
        StatusCode::OK,
        "health checks answer whatever the name"
    );

    // AWS's SDKs and CLI call the host by the address in their endpoint URL.
    for name in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let response = Host::client()
            .post(format!("{}/", host.url))
            .header("host", name.clone())
            .header("x-amz-target", "AmazonSQS.GetQueueUrl")
            .header("content-type", "application/x-amz-json-1.0")
            .body(json!({"QueueName": "jobs"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["QueueUrl"], format!("http://{name}/000000000000/jobs"));
    }
}

#[tokio::test]
async fn admin_calls_that_change_something_take_json_only() {
    let host = Host::start(DLQ_ROUTES);
    let sent = sqs(
        &host.url,
        "SendMessage",
        json!({"QueueUrl": format!("{}/000000000000/jobs-dlq", host.url), "MessageBody": "job 1"}),
    )
    .await;
    let redrive = format!("{}/admin/queues/jobs-dlq/redrive", host.admin_url);
    // What a web page can send across sites without asking: a form, text, or no type at all.
    for (content_type, body) in [
        (Some("application/x-www-form-urlencoded"), "to=jobs"),
        (Some("text/plain"), r#"{"to": "jobs"}"#),
        (Some("multipart/form-data; boundary=x"), "--x--"),
        (None, ""),
    ] {
        let mut request = Host::client().post(&redrive).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
    let replay = Host::client()
        .post(format!("{}/admin/buses/orders/replay", host.admin_url))
        .header("content-type", "text/plain")
        .body(r#"{"from": "2026-01-01T00:00:00Z"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let waiting = host.get_json("/admin/queues/jobs-dlq/messages").await;
    assert_eq!(
        waiting["messages"][0]["messageId"], sent["MessageId"],
        "nothing was redriven: {waiting}"
    );
    let moved = Host::client()
        .post(&redrive)
        .json(&json!({"to": "jobs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(moved.json::<Value>().await.unwrap()["moved"], 1);
    // A JSON type with no body redrives with the defaults.
    let empty = Host::client()
        .post(&redrive)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
}
