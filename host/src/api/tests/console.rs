//! The console's page, sign-in and endpoints, through the router.

use super::*;

const TOKEN: &str = "a-console-token-0123456789";

const PIPELINE: &str = r#"
[tables.orders]
key = "orderId"

[plugins.notify]
world = "consumer"
wasm = "notify.wasm"

[pipes.orders]
source = "orders"
target = { bus = "orders", detail_type = "OrderCreated", source = "switchyard.orders" }
dlq = "pipe-dlq"

[buses.orders]
archive = {}

[buses.orders.rules.all]
pattern = '{"source": ["switchyard.orders"]}'
targets = [{ queue = "notifications" }]

[queues.notifications]
dlq = "notifications-dlq"

[queues.notifications-dlq]
[queues.pipe-dlq]

[consumers.notify]
queue = "notifications"
handler = "notify"
"#;

fn session_cookie(reply: &Reply) -> String {
    let set = reply.header("set-cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn the_console_page_asks_for_the_admin_token_and_its_session_opens_the_admin_api() {
    let api = api_with(PIPELINE, Some(TOKEN));
    let page = api.get("/console").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.body.as_str().unwrap().contains("console.js"));
    assert_eq!(
        api.get("/admin/graph").await.status,
        StatusCode::UNAUTHORIZED
    );

    let wrong = api
        .post("/console/session", json!({"token": "not-the-token-at-all"}))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.header("set-cookie"), "");
    let right = api.post("/console/session", json!({"token": TOKEN})).await;
    assert_eq!(right.status, StatusCode::NO_CONTENT);
    let cookie = session_cookie(&right);
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");

    let with = |uri: &'static str| {
        let cookie = cookie.clone();
        let api = &api;
        async move {
            api.send(Method::GET, uri, &[("cookie", &cookie)], Body::empty())
                .await
        }
    };
    assert_eq!(with("/console").await.status, StatusCode::OK);
    assert_eq!(with("/admin/graph").await.status, StatusCode::OK);
    assert_eq!(with("/admin/queues").await.status, StatusCode::OK);
    let forged = api
        .send(
            Method::GET,
            "/admin/graph",
            &[("cookie", "switchyard_console=00ff")],
            Body::empty(),
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    // The session opens only the admin door: the order API still wants its bearer token.
    assert_eq!(with("/orders").await.status, StatusCode::UNAUTHORIZED);
    // A change still needs a JSON body, which a form on another site cannot send.
    let form = api
        .send(
            Method::POST,
            "/admin/queues/notifications-dlq/redrive",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            "rate=1",
        )
        .await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn the_console_serves_its_assets_and_names_the_ones_it_has() {
    let api = api_with(PIPELINE, None);
    let page = api.get("/console").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-security-policy")
            .contains("default-src 'self'")
    );
    let script = api.get("/console/assets/console.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.header("content-type").starts_with("text/javascript"));
    let missing = api.get("/console/assets/app.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body["error"]["message"],
        "no console asset `app.js`; there are `console.js` and `console.css`"
    );
    let session = api.post("/console/session", json!({"tokens": "x"})).await;
    assert_eq!(session.error_code(), "invalid_body");
}

#[tokio::test]
async fn the_graph_and_the_figures_come_from_the_running_config() {
    let api = api_with(PIPELINE, None);
    let graph = api.get("/admin/graph").await;
    assert_eq!(graph.status, StatusCode::OK);
    let ids: Vec<&str> = graph.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "table:orders",
            "pipe:orders",
            "bus:orders",
            "rule:orders/all",
            "queue:notifications",
            "queue:notifications-dlq",
            "queue:pipe-dlq",
            "consumer:notify",
        ]
    );
    assert_eq!(graph.body["nodes"][2]["archive"], true);

    let empty = api.get("/admin/stats").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["intervalMs"], 1000);
    assert_eq!(empty.body["samples"], json!([]));
    assert_eq!(
        api.get("/admin/stats?since=soon").await.error_code(),
        "invalid_query"
    );
}
