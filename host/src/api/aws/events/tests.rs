//! The EventBridge operations on a real embedded store, called as the dispatcher calls them.

use std::sync::Arc;

use serde_json::{Value, json};

use super::call;
use crate::api::App;
use crate::backend::embedded::EmbeddedStore;
use crate::config::BusId;

const ROUTES: &str = r#"
[aws]
region = "eu-west-1"

[buses.default.rules.all]
pattern = '{"source": ["shop"]}'
targets = [{ queue = "everything" }]

[buses.orders]
archive = {}

[buses.orders.rules.big]
pattern = '{"detail": {"total": [{"numeric": [">", 100]}]}}'
targets = [
  { queue = "big", input_transformer = { input_paths = { id = "$.detail.orderId" }, input_template = '{"big": "<id>"}' }, retry = { attempts = 3, max_age = "1h" }, dlq = "failed" },
  { queue = "audit.fifo", input_path = "$.detail" },
]

[buses.orders.rules.bigger]
pattern = '{"detail": {"total": [{"numeric": [">", 1000]}]}}'
targets = [{ bus = "default" }]

[queues.everything]
[queues.big]
[queues.failed]
[queues."audit.fifo"]
fifo = true
"#;

struct Host {
    app: App,
    store: Arc<EmbeddedStore>,
    _dir: tempfile::TempDir,
}

fn host() -> Host {
    let (app, store, dir) = crate::api::tests::embedded_app(ROUTES);
    Host {
        app,
        store,
        _dir: dir,
    }
}

impl Host {
    async fn call(&self, operation: &str, input: Value) -> Value {
        call(&self.app, operation, input)
            .await
            .unwrap_or_else(|err| panic!("{operation}: {err:?}"))
    }

    /// The error's `__type` and message.
    async fn refused(&self, operation: &str, input: Value) -> (String, String) {
        let err = call(&self.app, operation, input).await.unwrap_err();
        (err.kind, err.message)
    }

    async fn bodies(&self, queue: &str) -> Vec<String> {
        use crate::backend::Queues;
        let queue = self.app.config.queue_id(queue).unwrap();
        let stored = self.store.peek(queue, 100).await.unwrap();
        stored.into_iter().map(|m| m.body).collect()
    }
}

fn entry(bus: &str, detail: Value) -> Value {
    json!({"EventBusName": bus, "Source": "shop", "DetailType": "OrderCreated", "Detail": detail.to_string()})
}

#[tokio::test]
async fn put_events_routes_each_event_through_its_bus_rules_and_archives_it() {
    let host = host();
    let put = host
        .call(
            "PutEvents",
            json!({"Entries": [
                entry("orders", json!({"orderId": "o-1", "total": 500})),
                entry("arn:aws:events:eu-west-1:000000000000:event-bus/orders", json!({"orderId": "o-2", "total": 5000})),
            ]}),
        )
        .await;
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    assert_eq!(
        host.bodies("big").await,
        [r#"{"big": "o-1"}"#, r#"{"big": "o-2"}"#]
    );
    assert_eq!(
        host.bodies("audit.fifo").await,
        [
            r#"{"orderId":"o-1","total":500}"#,
            r#"{"orderId":"o-2","total":5000}"#
        ]
    );
    // `bigger` sends o-2 on to the default bus, whose rule `all` takes it.
    let everything = host.bodies("everything").await;
    assert_eq!(everything.len(), 1);
    let event: Value = serde_json::from_str(&everything[0]).unwrap();
    assert_eq!(event["id"], put["Entries"][1]["EventId"]);
    assert_eq!(
        (
            &event["version"],
            &event["account"],
            &event["region"],
            &event["source"],
            &event["detail-type"],
            &event["resources"]
        ),
        (
            &json!("0"),
            &json!("000000000000"),
            &json!("eu-west-1"),
            &json!("shop"),
            &json!("OrderCreated"),
            &json!([])
        )
    );
    use crate::backend::Archives;
    let archived = host
        .store
        .archived(BusId(1), 0, i64::MAX, 0, 10)
        .await
        .unwrap();
    assert_eq!(archived.len(), 2, "both events are in `orders`' archive");
    let counted = &host.app.runtime.buses.matched[1];
    assert_eq!((counted[0].get(), counted[1].get()), (2, 1));
}

#[tokio::test]
async fn put_events_answers_each_refused_entry_and_delivers_the_others() {
    let host = host();
    let put = host
        .call(
            "PutEvents",
            json!({"Entries": [
                {"Source": "shop", "Detail": "{}"},
                {"Source": "shop", "DetailType": "x", "Detail": "{not json"},
                {"Source": "shop", "DetailType": "x", "Detail": "[1]"},
                {"Source": "shop", "DetailType": "x", "Detail": "{}", "EventBusName": "nope"},
                {"Source": "aws.s3", "DetailType": "x", "Detail": "{}"},
                {"Source": "shop", "DetailType": "x", "Detail": "{}", "Time": "soon"},
                {"Source": "shop", "DetailType": "x", "Detail": "{}", "Time": 1767225600, "Resources": ["r-1"]},
            ]}),
        )
        .await;
    assert_eq!(put["FailedEntryCount"], 6, "{put}");
    let codes: Vec<&str> = put["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ErrorCode"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "InvalidArgument",
            "MalformedDetail",
            "MalformedDetail",
            "ResourceNotFoundException",
            "NotAuthorizedForSourceException",
            "InvalidArgument",
            "ok"
        ]
    );
    assert_eq!(
        put["Entries"][0]["ErrorMessage"],
        "Parameter DetailType is not valid. Reason: DetailType is a required argument."
    );
    assert_eq!(put["Entries"][1]["ErrorMessage"], "Detail is malformed.");
    assert_eq!(
        put["Entries"][3]["ErrorMessage"],
        "Event bus nope does not exist. Switchyard's buses are those routes.toml declares (`default`, `orders`); declare `[buses.nope]` there"
    );
    let delivered = host.bodies("everything").await;
    let event: Value = serde_json::from_str(&delivered[0]).unwrap();
    assert_eq!(
        (&event["time"], &event["resources"]),
        (&json!("2026-01-01T00:00:00Z"), &json!(["r-1"]))
    );
}

#[tokio::test]
async fn put_events_refuses_a_call_beyond_its_limits() {
    let host = host();
    let eleven: Vec<Value> = (0..11).map(|_| entry("orders", json!({}))).collect();
    let (kind, message) = host.refused("PutEvents", json!({"Entries": eleven})).await;
    assert_eq!(kind, "ValidationException");
    assert!(
        message.contains("between 1 and 10, and it has 11"),
        "{message}"
    );
    let big = entry("orders", json!({"text": "x".repeat(256 * 1024)}));
    assert_eq!(
        host.refused("PutEvents", json!({"Entries": [big]})).await,
        (
            "ValidationException".into(),
            "Total size of the entries in the request is over the limit.".into()
        )
    );
    assert!(host.bodies("big").await.is_empty());
}

#[tokio::test]
async fn test_event_pattern_answers_with_switchyard_s_matcher() {
    let host = host();
    let event = json!({"id": "1", "account": "1", "source": "shop", "time": "2026-01-01T00:00:00Z", "region": "eu-west-1", "detail-type": "x", "detail": {"total": 142.5}}).to_string();
    let test = |pattern: &str| json!({"EventPattern": pattern, "Event": event});
    assert_eq!(
        host.call(
            "TestEventPattern",
            test(r#"{"detail": {"total": [{"numeric": [">", 100]}]}}"#)
        )
        .await,
        json!({"Result": true})
    );
    assert_eq!(
        host.call("TestEventPattern", test(r#"{"source": ["other"]}"#))
            .await,
        json!({"Result": false})
    );
    assert_eq!(
        host.refused("TestEventPattern", test(r#"{"detail": {"total": [{"numeric": [">", "a"]}]}}"#)).await,
        (
            "InvalidEventPatternException".into(),
            "Event pattern is not valid. Reason: at `detail.total[0].numeric`: the value of \">\" must be a number, not a string".into()
        )
    );
    let (kind, message) = host
        .refused(
            "TestEventPattern",
            json!({"EventPattern": r#"{"source": ["shop"]}"#, "Event": r#"{"source": "shop"}"#}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "Parameter Event is not valid. Reason: Provided Event is missing required field id."
    );
}

#[tokio::test]
async fn buses_and_rules_read_as_routes_toml_declares_them() {
    let host = host();
    assert_eq!(
        host.call("ListEventBuses", json!({"NamePrefix": "ord"}))
            .await,
        json!({"EventBuses": [{"Name": "orders", "Arn": "arn:aws:events:eu-west-1:000000000000:event-bus/orders"}]})
    );
    let first = host.call("ListEventBuses", json!({"Limit": 1})).await;
    assert_eq!(
        (
            first["EventBuses"][0]["Name"].as_str(),
            first["NextToken"].as_str()
        ),
        (Some("default"), Some("1"))
    );
    let second = host
        .call("ListEventBuses", json!({"Limit": 1, "NextToken": "1"}))
        .await;
    assert_eq!(
        (
            second["EventBuses"][0]["Name"].as_str(),
            second.get("NextToken")
        ),
        (Some("orders"), None)
    );
    assert_eq!(
        host.call("DescribeEventBus", json!({})).await["Arn"],
        "arn:aws:events:eu-west-1:000000000000:event-bus/default"
    );
    assert_eq!(
        host.refused("DescribeEventBus", json!({"Name": "nope"}))
            .await
            .0,
        "ResourceNotFoundException"
    );
    assert_eq!(
        host.call("DescribeRule", json!({"Name": "all"})).await,
        json!({"Name": "all", "Arn": "arn:aws:events:eu-west-1:000000000000:rule/all", "EventPattern": r#"{"source": ["shop"]}"#, "State": "ENABLED", "EventBusName": "default"})
    );
    let rules = host
        .call(
            "ListRules",
            json!({"EventBusName": "orders", "NamePrefix": "bigg"}),
        )
        .await;
    assert_eq!(
        rules["Rules"][0]["Arn"],
        "arn:aws:events:eu-west-1:000000000000:rule/orders/bigger"
    );
    assert_eq!(rules["Rules"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        host.refused(
            "DescribeRule",
            json!({"Name": "nope", "EventBusName": "orders"})
        )
        .await
        .1,
        "Rule nope does not exist on EventBus orders. Switchyard's rules are those routes.toml declares (`big`, `bigger`); declare `[buses.orders.rules.nope]` there"
    );
    assert_eq!(
        host.call(
            "ListTargetsByRule",
            json!({"Rule": "big", "EventBusName": "orders"})
        )
        .await,
        json!({"Targets": [
            {
                "Id": "target-1",
                "Arn": "arn:aws:sqs:eu-west-1:000000000000:big",
                "InputTransformer": {"InputPathsMap": {"id": "$.detail.orderId"}, "InputTemplate": r#"{"big": "<id>"}"#},
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": "arn:aws:sqs:eu-west-1:000000000000:failed"},
            },
            {
                "Id": "target-2",
                "Arn": "arn:aws:sqs:eu-west-1:000000000000:audit.fifo",
                "InputPath": "$.detail",
                "SqsParameters": {"MessageGroupId": "orders/big"},
                "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
            },
        ]})
    );
    assert_eq!(
        host.call(
            "ListTargetsByRule",
            json!({"Rule": "bigger", "EventBusName": "orders"})
        )
        .await["Targets"][0]["Arn"],
        "arn:aws:events:eu-west-1:000000000000:event-bus/default"
    );
}

#[tokio::test]
async fn what_routes_toml_declares_can_be_created_again_and_nothing_else() {
    let host = host();
    assert_eq!(
        host.call("CreateEventBus", json!({"Name": "orders"})).await,
        json!({"EventBusArn": "arn:aws:events:eu-west-1:000000000000:event-bus/orders"})
    );
    let (kind, message) = host
        .refused("CreateEventBus", json!({"Name": "payments"}))
        .await;
    assert_eq!(kind, "OperationDisabledException");
    assert!(
        message.starts_with("bus `payments` is not declared in routes.toml"),
        "{message}"
    );
    assert_eq!(
        host.refused(
            "CreateEventBus",
            json!({"Name": "orders", "Description": "d"})
        )
        .await
        .1,
        "bus `orders` is declared in routes.toml, which has no `Description`; send only `Name`"
    );

    let rule = json!({"Name": "bigger", "EventBusName": "orders", "EventPattern": r#"{"detail":{"total":[{"numeric":[">",1000]}]}}"#, "State": "ENABLED"});
    assert_eq!(
        host.call("PutRule", rule).await,
        json!({"RuleArn": "arn:aws:events:eu-west-1:000000000000:rule/orders/bigger"})
    );
    let (kind, message) = host
        .refused("PutRule", json!({"Name": "bigger", "EventBusName": "orders", "EventPattern": r#"{"source": ["x"]}"#}))
        .await;
    assert_eq!(kind, "ManagedRuleException");
    assert!(message.contains("has the pattern"), "{message}");
    assert_eq!(
        host.refused("PutRule", json!({"Name": "new", "EventPattern": "{"}))
            .await
            .0,
        "InvalidEventPatternException"
    );
    assert_eq!(
        host.refused("PutRule", json!({"Name": "new", "EventPattern": r#"{"source": ["x"]}"#})).await,
        (
            "ManagedRuleException".into(),
            "rule `new` is not declared in routes.toml: Switchyard's rules are managed by routes.toml; declare `[buses.default.rules.new]` there and restart the host".into()
        )
    );

    let put = host
        .call(
            "PutTargets",
            json!({"Rule": "big", "EventBusName": "orders", "Targets": [
                {"Id": "target-2", "Arn": "arn:aws:sqs:eu-west-1:000000000000:audit.fifo", "InputPath": "$.detail", "SqsParameters": {"MessageGroupId": "orders/big"}},
                {"Id": "target-1", "Arn": "arn:aws:sqs:eu-west-1:000000000000:big"},
                {"Id": "mine", "Arn": "arn:aws:sqs:eu-west-1:000000000000:big"},
            ]}),
        )
        .await;
    assert_eq!(put["FailedEntryCount"], 2, "{put}");
    assert_eq!(put["FailedEntries"][0]["TargetId"], "target-1");
    assert_eq!(put["FailedEntries"][0]["ErrorCode"], "ManagedRuleException");
    assert_eq!(
        put["FailedEntries"][1]["ErrorMessage"],
        "rule `big` on bus `orders` has the targets `target-1`, `target-2` in routes.toml, not `mine`; declare the target in its `targets` there and restart the host"
    );
    assert_eq!(
        host.refused(
            "PutTargets",
            json!({"Rule": "nope", "Targets": [{"Id": "a", "Arn": "b"}]})
        )
        .await
        .0,
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn an_operation_eventbridge_has_and_switchyard_does_not_is_unknown() {
    let host = host();
    assert_eq!(
        host.refused("DeleteRule", json!({"Name": "all"})).await.0,
        "UnknownOperationException"
    );
}
