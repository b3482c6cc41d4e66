//! The operator console in a real browser: headless Chromium, driven through its WebDriver,
//! against the real binary. The page signs in with the admin token, draws the routes, follows
//! orders in its live figures, shows a consumer that is stuck, redrives a dead letter and
//! replays the archive; the screenshots it takes are the README's.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::pipeline::*;
use common::{Host, repo};
use serde_json::{Value, json};

const TOKEN: &str = "console-test-token-0123456789abcdef";

/// The order pipeline, an archive on its bus, a token on the admin door, and no consumer on
/// the notifications DLQ, so that dead letters wait there for the operator.
fn console_routes() -> String {
    let routes = routes("high-value", "");
    let cut = routes.find("[consumers.queue-dead-letters]").unwrap();
    format!(
        "{}\n[buses.orders]\narchive = {{}}\n\n[host.admin]\nauth_token_env = \"CONSOLE_TOKEN\"\n",
        &routes[..cut]
    )
}

async fn browser() -> Option<Browser> {
    match Browser::start(1440, 1240).await {
        Ok(browser) => Some(browser),
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: the console tests need Chromium: {why}"
            );
            None
        }
    }
}

async fn admin(host: &Host, path: &str) -> Value {
    let reply = Host::client()
        .get(format!("{}{path}", host.admin_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{path}: {}", reply.status());
    reply.json().await.unwrap()
}

async fn wait_admin(host: &Host, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = admin(host, path).await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within 60s: {value}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn save(name: &str, png: &[u8]) {
    let dir = repo().join("tests/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// A node's figure the page keeps in `data-total`: records read, events matched, messages
/// visible or received.
fn total(id: &str) -> String {
    format!(
        "const n = document.querySelector('#graph .node[data-id=\"{id}\"]'); return n ? Number(n.dataset.total || 0) : null;"
    )
}

#[tokio::test]
async fn the_console_shows_the_routes_live_and_redrives_and_replays_from_the_page() {
    build_test_plugins();
    let Some(browser) = browser().await else {
        return;
    };
    let mut host = Host::start_env(&console_routes(), &[], &[("CONSOLE_TOKEN", TOKEN)]);
    let client = Host::client();

    // Signed out, the page asks for the admin door's token.
    browser.goto(&format!("{}/console", host.admin_url)).await;
    browser
        .until(
            "the sign-in form",
            20,
            "return !document.querySelector('#sign-in').hidden",
        )
        .await;
    browser.type_into("#token", TOKEN).await;
    browser.click("#sign-in-form button[type=submit]").await;

    // The graph is the running config's: every node of /admin/graph, drawn.
    let graph = admin(&host, "/admin/graph").await;
    let expected: Vec<String> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        expected,
        [
            "table:orders",
            "pipe:orders",
            "bus:orders",
            "rule:orders/new-orders",
            "queue:notifications",
            "queue:notifications-dlq",
            "queue:pipe-dlq",
            "consumer:notify",
            "consumer:pipe-dead-letters",
        ]
    );
    let drawn = browser
        .until(
            "the graph",
            20,
            "const ids = [...document.querySelectorAll('#graph .node')].map(n => n.dataset.id); return ids.length ? ids : null;",
        )
        .await;
    let mut drawn: Vec<String> = serde_json::from_value(drawn).unwrap();
    let mut sorted = expected.clone();
    drawn.sort();
    sorted.sort();
    assert_eq!(drawn, sorted);
    let edges = browser
        .run(
            "return document.querySelectorAll('#graph path.edge.flow').length + '/' + document.querySelectorAll('#graph path.edge.dlq').length",
            json!([]),
        )
        .await;
    assert_eq!(edges, "6/2", "flow and DLQ edges: {graph}");

    // Orders posted move the live figures, without a reload.
    browser
        .until("the first figures", 20, &total("pipe:orders"))
        .await;
    assert_eq!(browser.run(&total("pipe:orders"), json!([])).await, 0);
    for i in 0..8 {
        post(
            &client,
            &host,
            json!({"orderId": format!("o-{i}"), "customerId": "c-1", "total": 500}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    browser
        .until(
            "8 records read by the pipe",
            30,
            &format!("return ({})() >= 8", fn_of(&total("pipe:orders"))),
        )
        .await;
    browser
        .until(
            "8 messages received by the consumer",
            30,
            &format!("return ({})() >= 8", fn_of(&total("consumer:notify"))),
        )
        .await;
    browser
        .until(
            "a sparkline of the pipe's rate",
            20,
            "const p = document.querySelector('#stages tr[data-id=\"pipe:orders\"] polyline'); return p && p.getAttribute('points').split(' ').length > 3;",
        )
        .await;
    save("console-overview.png", &browser.screenshot().await);

    // A consumer whose batches fail is shown as stuck, with why.
    post(
        &client,
        &host,
        json!({"orderId": "o-batch", "customerId": "c-1", "total": 500, "fail": "batch"}),
    )
    .await;
    let stuck = browser
        .until(
            "the consumer shown as stuck",
            30,
            "const n = document.querySelector('#graph .node[data-id=\"consumer:notify\"]'); return n.dataset.state === 'stuck' && n.querySelector('.figure').textContent;",
        )
        .await;
    assert!(stuck.as_str().unwrap().starts_with("stuck: "), "{stuck}");
    let reason = browser
        .run(
            "return document.querySelector('#stages tr[data-id=\"consumer:notify\"] td.state-stuck').textContent",
            json!([]),
        )
        .await;
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("every message of the last batch failed"),
        "{reason}"
    );
    save("console-stuck.png", &browser.screenshot().await);

    // A dead letter, redriven from the page.
    post(
        &client,
        &host,
        json!({"orderId": "o-dead", "customerId": "c-2", "total": 700, "fail": "dead-letter"}),
    )
    .await;
    let dlq = wait_admin(
        &host,
        "/admin/queues/notifications-dlq/messages",
        "the order dead-lettered",
        |v| {
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["body"].as_str().unwrap().contains("o-dead"))
        },
    )
    .await;
    let dead = dlq["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"].as_str().unwrap().contains("o-dead"))
        .unwrap();
    let id = dead["messageId"].as_str().unwrap().to_string();
    browser.click(".tab[data-view=dead-letters]").await;
    browser
        .run(
            "const s = document.querySelector('#dlq-select'); s.value = 'notifications-dlq'; s.dispatchEvent(new Event('change'));",
            json!([]),
        )
        .await;
    let row = format!("#dlq-messages tr[data-message-id=\"{id}\"]");
    let error = browser
        .until(
            "the dead letter listed with its error",
            20,
            &format!("const r = document.querySelector('{row}'); return r && r.querySelector('td.error').textContent;"),
        )
        .await;
    assert_eq!(error, "order o-dead asked to be dead-lettered");
    save("console-dead-letters.png", &browser.screenshot().await);
    let received_before = consumer_received(&host).await;
    browser.click(&format!("{row} input[type=checkbox]")).await;
    browser.click("#redrive-selected").await;
    let done = browser
        .until(
            "the redrive's result",
            30,
            "const p = document.querySelector('#redrive-progress'); return p.classList.contains('done') || p.classList.contains('failed') ? p.querySelector('.text').textContent : null;",
        )
        .await;
    assert_eq!(done, "moved 1", "the page says what the redrive did");
    // The message went back to its queue, and its consumer had it again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer_received(&host).await <= received_before {
        assert!(
            Instant::now() < deadline,
            "the redriven message never reached its consumer"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The archive, replayed from the page: every order the bus took, once more.
    browser.click(".tab[data-view=replay]").await;
    browser.click("#replay-form button[type=submit]").await;
    let replayed = browser
        .until(
            "the replay's result",
            30,
            "const p = document.querySelector('#replay-progress'); return p.classList.contains('done') || p.classList.contains('failed') ? p.querySelector('.text').textContent : null;",
        )
        .await;
    let replayed = replayed.as_str().unwrap();
    assert!(replayed.starts_with("replayed "), "{replayed}");
    let count: u64 = replayed.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(count >= 10, "the 10 orders the bus took: {replayed}");

    drop(browser);
    host.terminate();
}

fn fn_of(body: &str) -> String {
    format!("() => {{ {body} }}")
}

async fn consumer_received(host: &Host) -> u64 {
    let consumers = admin(host, "/admin/consumers").await;
    consumers["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "notify")
        .unwrap()["received"]
        .as_u64()
        .unwrap()
}
