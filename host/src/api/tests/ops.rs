//! The operations endpoints of redrives, replays and their tasks, through the router.

use std::time::{Duration, Instant};

use super::*;
use crate::backend::{Delivery, NewMessage, Queues};
use crate::config::{BusId, QueueId};

const OPS_ROUTES: &str = r#"
[tables.orders]
key = "orderId"

[queues.jobs]
max_receive_count = 1
dlq = "jobs-dlq"

[queues.jobs-dlq]

[queues.audit]

[buses.orders]
archive = { retention = "7d" }

[buses.orders.rules.audit]
pattern = '{"source": ["shop"]}'
targets = [{ queue = "audit" }]
"#;

/// Queues by name; `OPS_ROUTES` are compiled the same way every time.
fn queue(name: &str) -> QueueId {
    let config = config::compile(OPS_ROUTES, Path::new("routes.toml")).unwrap();
    config.queue_id(name).unwrap()
}

/// The API on `OPS_ROUTES`, with `dead` messages on `jobs-dlq` that came from `jobs`; their ids.
async fn ops_api(dead: usize) -> (Api, Arc<EmbeddedStore>, Vec<String>) {
    let (app, store, dir) = embedded_app(OPS_ROUTES);
    assert_eq!(app.config.queue_id("jobs-dlq"), Some(queue("jobs-dlq")));
    let messages = (0..dead)
        .map(|i| NewMessage::new(format!("job {i}"), "queue:jobs"))
        .collect();
    let ids = store.send(queue("jobs-dlq"), messages).await.unwrap();
    let api = Api {
        router: router(app),
        _dir: dir,
    };
    (api, store, ids)
}

async fn ids_on(store: &EmbeddedStore, queue: QueueId) -> Vec<String> {
    let stored = store.peek(queue, 1000).await.unwrap();
    stored.into_iter().map(|m| m.message_id).collect()
}

#[tokio::test]
async fn a_redrive_of_named_messages_moves_only_those_and_skips_ids_not_on_the_dlq() {
    let (api, store, ids) = ops_api(3).await;
    let reply = api
        .post(
            "/admin/queues/jobs-dlq/redrive",
            json!({"messageIds": [ids[0], "no-such-message", ids[2], ids[0]]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["moved"], 2);
    assert_eq!(
        reply.body["skipped"],
        json!([{"messageId": "no-such-message", "reason": "not on the DLQ"}])
    );
    assert!(reply.body.get("taskHandle").is_none(), "{}", reply.body);
    assert_eq!(ids_on(&store, queue("jobs-dlq")).await, [ids[1].clone()]);
    let mut back = ids_on(&store, queue("jobs")).await;
    back.sort();
    let mut expected = vec![ids[0].clone(), ids[2].clone()];
    expected.sort();
    assert_eq!(back, expected);
}

#[tokio::test]
async fn named_messages_go_to_the_queue_named_by_to() {
    let (api, store, ids) = ops_api(2).await;
    let reply = api
        .post(
            "/admin/queues/jobs-dlq/redrive",
            json!({"messageIds": [ids[1]], "to": "audit"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["moved"], 1);
    assert_eq!(ids_on(&store, queue("audit")).await, [ids[1].clone()]);
    assert_eq!(ids_on(&store, queue("jobs-dlq")).await, [ids[0].clone()]);
}

#[tokio::test]
async fn an_empty_list_of_message_ids_is_a_bad_request_that_names_it() {
    let (api, store, ids) = ops_api(1).await;
    for body in [json!({"messageIds": []}), json!({"messageIds": "all"})] {
        let reply = api
            .post("/admin/queues/jobs-dlq/redrive", body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.error_code(), "invalid_body");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("messageIds"), "{body}: {message}");
    }
    assert_eq!(ids_on(&store, queue("jobs-dlq")).await, ids);
    assert_eq!(api.get("/admin/tasks").await.body, json!({"tasks": []}));
}

#[tokio::test]
async fn a_finished_redrive_is_a_task_with_its_counts_and_its_response() {
    let (api, _store, _) = ops_api(3).await;
    let reply = api.post("/admin/queues/jobs-dlq/redrive", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let id = reply.body["taskId"].as_str().unwrap().to_string();

    let task = api.get(&format!("/admin/tasks/{id}")).await;
    assert_eq!(task.status, StatusCode::OK);
    let task = task.body;
    assert_eq!(task["id"], id.as_str());
    assert_eq!(task["kind"], "redrive");
    assert_eq!(task["name"], "jobs-dlq");
    assert_eq!(task["state"], "succeeded");
    assert_eq!((&task["done"], &task["total"]), (&json!(3), &json!(3)));
    assert_eq!(task["error"], Value::Null);
    assert_eq!(
        task["result"], reply.body,
        "the result is the POST's response"
    );
    for time in ["startedAt", "finishedAt"] {
        let text = task[time].as_str().unwrap_or_default();
        let parsed =
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
        assert!(parsed.is_ok(), "{time}: {task}");
    }
    assert_eq!(api.get("/admin/tasks").await.body, json!({"tasks": [task]}));
}

#[tokio::test]
async fn an_unknown_task_is_not_found() {
    let (api, _store, _) = ops_api(0).await;
    let reply = api.get("/admin/tasks/no-such-task").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "not_found");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-task")
    );
}

#[tokio::test]
async fn a_running_redrive_shows_its_progress_in_the_tasks() {
    let (api, _store, _) = ops_api(3).await;
    // One message a second: the task is seen running between its messages.
    let redrive = api.post("/admin/queues/jobs-dlq/redrive", json!({"rate": 1}));
    let watch = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let tasks = api.get("/admin/tasks").await.body;
            let task = &tasks["tasks"][0];
            if task["state"] == "running" && task["done"] == 1 {
                return task.clone();
            }
            assert!(Instant::now() < deadline, "never seen running: {tasks}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (reply, running) = tokio::join!(redrive, watch);
    assert_eq!(running["kind"], "redrive");
    assert_eq!(running["total"], 3);
    assert_eq!(running["finishedAt"], Value::Null);
    assert_eq!(running["result"], Value::Null);
    assert_eq!(reply.body["moved"], 3);
    assert_eq!(running["id"], reply.body["taskId"]);
}

#[tokio::test]
async fn a_replay_is_a_task_and_tasks_list_the_most_recent_first() {
    let (api, store, _) = ops_api(1).await;
    let event = json!({"source": "shop", "detail-type": "OrderCreated", "detail": {}});
    let delivery = Delivery {
        archived: vec![(BusId(0), event.to_string()); 4],
        ..Delivery::default()
    };
    crate::backend::Handoff::deliver(&*store, delivery)
        .await
        .unwrap();
    let redriven = api.post("/admin/queues/jobs-dlq/redrive", json!({})).await;
    let replayed = api
        .post(
            "/admin/buses/orders/replay",
            json!({"from": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert_eq!(replayed.body["replayed"], 4);

    let tasks = api.get("/admin/tasks").await.body;
    let tasks = tasks["tasks"].as_array().unwrap();
    let ids: Vec<_> = tasks.iter().map(|t| &t["id"]).collect();
    assert_eq!(ids, [&replayed.body["taskId"], &redriven.body["taskId"]]);
    let replay = &tasks[0];
    assert_eq!(
        (&replay["kind"], &replay["name"], &replay["state"]),
        (&json!("replay"), &json!("orders"), &json!("succeeded"))
    );
    assert_eq!((&replay["done"], &replay["total"]), (&json!(4), &json!(4)));
    assert_eq!(replay["result"], replayed.body);
}

#[tokio::test]
async fn tasks_are_behind_the_admin_door_s_token() {
    let api = api_with(OPS_ROUTES, Some("s3cret"));
    for uri in ["/admin/tasks", "/admin/tasks/some-id"] {
        let reply = api.get(uri).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let authorized = api
        .send(
            Method::GET,
            "/admin/tasks",
            &[("authorization", "Bearer s3cret")],
            Body::empty(),
        )
        .await;
    assert_eq!(authorized.status, StatusCode::OK);
}
