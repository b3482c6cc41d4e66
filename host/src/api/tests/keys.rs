//! Tables keyed by a partition key and a sort key: `/{path}/{partition}/{sort}` addresses an
//! item, `/{path}/{partition}` lists the partition in sort-key order.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::api_with;

const ROUTES: &str = r#"
[tables.orders]
key = "id"
sort_key = "createdAt"
stream_view_type = "NEW_IMAGE"

[tables.readings]
key = "sensor"
sort_key = { name = "at", type = "N" }
"#;

#[tokio::test]
async fn post_fills_a_createdat_sort_key_and_the_item_is_addressed_by_both_keys() {
    let api = api_with(ROUTES, None);
    let created = api
        .post("/orders", json!({"id": "o-1", "Status": "CREATED"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let at = created.body["createdAt"].as_str().unwrap().to_string();
    assert_eq!(created.header("location"), format!("/orders/o-1/{at}"));
    assert_eq!(created.body["updatedAt"], json!(at));

    let read = api.get(&format!("/orders/o-1/{at}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["Status"], "CREATED");
    assert_eq!(
        api.get("/orders/o-1/2000-01-01T00:00:00.000Z").await.status,
        StatusCode::NOT_FOUND
    );

    // A PUT keeps both keys; changing one is refused.
    let uri = format!("/orders/o-1/{at}");
    let etag = [("content-type", "application/json"), ("if-match", "\"1\"")];
    let moved = api
        .send(
            Method::PUT,
            &uri,
            &etag,
            json!({"createdAt": "x"}).to_string(),
        )
        .await;
    assert_eq!(moved.status, StatusCode::BAD_REQUEST);
    assert_eq!(moved.error_code(), "key_mismatch");
    let put = api
        .send(
            Method::PUT,
            &uri,
            &etag,
            json!({"Status": "PAID"}).to_string(),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(
        (put.body["id"].as_str(), put.body["createdAt"].as_str()),
        (Some("o-1"), Some(at.as_str()))
    );

    // The stream record's Keys carry both attributes.
    let records = api.records("orders").await;
    assert_eq!(
        records[1]["dynamodb"]["Keys"],
        json!({"id": {"S": "o-1"}, "createdAt": {"S": at}})
    );
    let deleted = api.send(Method::DELETE, &uri, &[], "").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&uri).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_partition_lists_in_sort_key_order_page_by_page() {
    let api = api_with(ROUTES, None);
    for at in [10, -5, 2, 100] {
        let created = api
            .post("/readings", json!({"sensor": "s-1", "at": at}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    }
    api.post("/readings", json!({"sensor": "s-2", "at": 1}))
        .await;
    let first = api.get("/readings/s-1?limit=3").await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let ats: Vec<_> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["at"].clone())
        .collect();
    assert_eq!(ats, [json!(-5), json!(2), json!(10)]);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let rest = api
        .get(&format!("/readings/s-1?limit=3&cursor={cursor}"))
        .await;
    let ats: Vec<_> = rest.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["at"].clone())
        .collect();
    assert_eq!(ats, [json!(100)]);
    assert_eq!(rest.body["nextCursor"], json!(null));
    // A number sort key in a path is read as a number: 2.0 is 2.
    assert_eq!(api.get("/readings/s-1/2.0").await.status, StatusCode::OK);
    let word = api.get("/readings/s-1/two").await;
    assert_eq!(word.status, StatusCode::BAD_REQUEST);
    assert_eq!(word.error_code(), "invalid_key");
    // The whole table still lists.
    let all = api.get("/readings").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_missing_or_mistyped_sort_key_is_a_bad_request_that_names_it() {
    let api = api_with(ROUTES, None);
    let missing = api.post("/readings", json!({"sensor": "s-1"})).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error_code(), "invalid_key");
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with(": at"),
        "{:?}",
        missing.body
    );
    let mistyped = api
        .post("/readings", json!({"sensor": "s-1", "at": "soon"}))
        .await;
    assert_eq!(mistyped.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        mistyped.body["error"]["message"],
        "One or more parameter values were invalid: Type mismatch for key at expected: N actual: S"
    );
}

#[tokio::test]
async fn an_idempotent_create_with_a_generated_sort_key_replays_the_first_item() {
    let api = api_with(ROUTES, None);
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "k-1"),
    ];
    let body = json!({"id": "o-1"}).to_string();
    let first = api
        .send(Method::POST, "/orders", &headers, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    // The retry's generated createdAt would differ; the first item comes back, written once.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let retry = api.send(Method::POST, "/orders", &headers, body).await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.header("idempotent-replayed"), "true");
    assert_eq!(retry.body, first.body);
    assert_eq!(api.records("orders").await.len(), 1);
}
