//! API Gateway integrations: a mapping template makes DynamoDB's request from the HTTP request,
//! and the write runs as DynamoDB runs it (PutItem overwrites unless its condition says
//! otherwise; UpdateItem upserts; DeleteItem of a missing item is no error).

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::api_with;

const ROUTES: &str = r##"
[tables.orders]
key = "id"
sort_key = "createdAt"
stream_view_type = "NEW_AND_OLD_IMAGES"

[[tables.orders.integrations]]
method = "POST"
path = "/createId"
action = "PutItem"
request_template = '''
{
  "TableName": "orders",
  "Item": {
    "id": {"S": "$input.path('$.id')"},
    "createdAt": {"S": "2026-01-01"},
    "Status": {"S": "$input.path('$.Status')"},
    "total": {"N": "$input.json('$.total')"}
  }
}
'''
# `$input` of a response template is DynamoDB's answer: `{}` for a PutItem.
response_template = '''{"answer": $input.json('$'), "request": "$context.requestId", "type": "$input.params('Content-Type')"}'''

[[tables.orders.integrations]]
method = "POST"
path = "/orders-once/{id}"
action = "PutItem"
status = 201
request_template = '''
{"TableName": "orders",
 "Item": {"id": {"S": "$input.params('id')"}, "createdAt": {"S": "2026-01-01"}},
 "ConditionExpression": "attribute_not_exists(id)"}
'''

[[tables.orders.integrations]]
method = "PUT"
path = "/orders-status/{id}"
action = "UpdateItem"
request_template = '''
{"TableName": "orders",
 "Key": {"id": {"S": "$input.params('id')"}, "createdAt": {"S": "2026-01-01"}},
 "UpdateExpression": "SET #s = :s ADD visits :one",
 "ExpressionAttributeNames": {"#s": "Status"},
 "ExpressionAttributeValues": {":s": {"S": "$input.path('$.Status')"}, ":one": {"N": "1"}},
 "ReturnValues": "ALL_NEW"}
'''

[[tables.orders.integrations]]
method = "DELETE"
path = "/orders-status/{id}"
action = "DeleteItem"
request_template = '''
{"TableName": "orders",
 "Key": {"id": {"S": "$input.params('id')"}, "createdAt": {"S": "2026-01-01"}},
 "ReturnValues": "ALL_OLD"}
'''
"##;

#[tokio::test]
async fn a_put_item_integration_overwrites_and_answers_with_its_response_template() {
    let api = api_with(ROUTES, None);
    let first = api
        .post(
            "/createId",
            json!({"id": "o-1", "Status": "CREATED", "total": 12.5}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["answer"], json!({}));
    assert_eq!(
        first.body["type"], "application/json",
        "a header as clients write its name"
    );
    assert!(
        first.body["request"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    let second = api
        .post(
            "/createId",
            json!({"id": "o-1", "Status": "PAID", "total": 12.5}),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert_ne!(
        second.body["request"], first.body["request"],
        "each request has its id"
    );

    // The item is exactly the template's: no attributes added.
    let item = api.get("/orders/o-1/2026-01-01").await;
    assert_eq!(
        item.body,
        json!({"id": "o-1", "createdAt": "2026-01-01", "Status": "PAID", "total": 12.5})
    );
    let records = api.records("orders").await;
    let events: Vec<_> = records.iter().map(|r| r["eventName"].clone()).collect();
    assert_eq!(events, [json!("INSERT"), json!("MODIFY")]);
    assert_eq!(
        records[1]["dynamodb"]["OldImage"]["Status"],
        json!({"S": "CREATED"})
    );
}

#[tokio::test]
async fn a_conditional_put_is_refused_as_dynamodb_refuses_it_and_writes_nothing() {
    let api = api_with(ROUTES, None);
    let created = api.post("/orders-once/o-1", json!({})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body, json!({}), "DynamoDB's answer passes through");
    let again = api.post("/orders-once/o-1", json!({})).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        again.body,
        json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "message": "The conditional request failed"
        })
    );
    assert_eq!(api.records("orders").await.len(), 1);
}

#[tokio::test]
async fn update_item_upserts_and_delete_item_returns_the_old_item() {
    let api = api_with(ROUTES, None);
    let json = [("content-type", "application/json")];
    let update = |status: &'static str| {
        api.send(
            Method::PUT,
            "/orders-status/o-1",
            &json,
            json!({"Status": status}).to_string(),
        )
    };
    let first = update("NEW").await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let second = update("SHIPPED").await;
    assert_eq!(
        second.body["Attributes"],
        json!({
            "id": {"S": "o-1"},
            "createdAt": {"S": "2026-01-01"},
            "Status": {"S": "SHIPPED"},
            "visits": {"N": "2"}
        })
    );
    let deleted = api
        .send(Method::DELETE, "/orders-status/o-1", &[], "")
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(
        deleted.body["Attributes"]["Status"],
        json!({"S": "SHIPPED"})
    );
    // Deleting what is not there is no error, and leaves no record.
    let again = api
        .send(Method::DELETE, "/orders-status/o-1", &[], "")
        .await;
    assert_eq!((again.status, again.body), (StatusCode::OK, json!({})));
    let events: Vec<_> = api
        .records("orders")
        .await
        .iter()
        .map(|r| r["eventName"].clone())
        .collect();
    assert_eq!(events, [json!("INSERT"), json!("MODIFY"), json!("REMOVE")]);
}

#[tokio::test]
async fn a_request_without_the_key_is_a_validation_exception() {
    let api = api_with(ROUTES, None);
    let reply = api
        .post("/createId", json!({"Status": "CREATED", "total": 1}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body["__type"],
        "com.amazonaws.dynamodb.v20120810#ValidationException"
    );
    assert!(
        reply.body["message"].as_str().unwrap().ends_with("Key: id"),
        "{:?}",
        reply.body
    );
    assert!(api.records("orders").await.is_empty());
}
