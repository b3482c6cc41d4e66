//! The AWS backend's conformance suites against Switchyard's own AWS endpoints: the backend's
//! SDK clients point at a host that serves the DynamoDB, DynamoDB Streams, SQS and EventBridge
//! APIs over the embedded store, and the suites that run against moto run here unchanged. Its
//! resources are declared in routes.toml, so nothing is deployed.

use std::future::IntoFuture;

use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

use super::AwsStore;
use crate::backend::conformance;
use crate::config::StreamViewType;

/// What the AWS backend reads and writes for the conformance suites, under its `conformance-`
/// prefix: the suites' tables, queues and buses, the idempotency table and the lease table.
fn routes(view: &str) -> String {
    format!(
        r#"
[tables.conformance-orders]
key = "orderId"
stream_view_type = "{view}"

[tables.conformance-customers]
key = "customerId"
stream_view_type = "{view}"

[tables.conformance-ledger]
key = "account"
sort_key = {{ name = "seq", type = "N" }}
stream_view_type = "{view}"

[tables.conformance-switchyard-idempotency]
key = "pk"

[tables.conformance-switchyard-leases]
key = "{lease}"

[queues.conformance-jobs]
visibility_timeout = "1s"
max_receive_count = 2
dlq = "conformance-jobs-dlq"

[queues.conformance-jobs-dlq]
visibility_timeout = "1s"

[queues.conformance-plain]
visibility_timeout = "1s"

[queues."conformance-ordered.fifo"]
visibility_timeout = "1s"
fifo = true
content_based_deduplication = true

[queues.conformance-delayed]
visibility_timeout = "1s"
delay = "1s"

[buses.conformance-orders]
[buses.conformance-audit]
"#,
        lease = super::leases::KEY,
    )
}

/// A host serving AWS's APIs on 127.0.0.1, stopped when dropped.
struct Endpoint {
    url: String,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Endpoint {
    async fn start(view: &str) -> Endpoint {
        let (app, _, dir) = crate::api::tests::embedded_app(&routes(view));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let serve = axum::serve(listener, crate::api::router(app)).into_future();
        let server = tokio::spawn(async move {
            let _ = serve.await;
        });
        Endpoint {
            url,
            server,
            _dir: dir,
        }
    }

    /// The AWS backend, its SDK clients pointed at this host.
    fn store(&self, view: StreamViewType) -> AwsStore {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test", "test", None, None, "tests",
            )))
            .build();
        AwsStore::new(
            &sdk,
            &conformance::tables(view),
            &conformance::queues(),
            &conformance::buses(),
            "conformance-",
        )
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let endpoint = Endpoint::start("NEW_AND_OLD_IMAGES").await;
            let store = endpoint.store(StreamViewType::NewAndOldImages);
            conformance::$name(&store, &store).await;
        }
    )*};
}

// The store and stream suite, through the DynamoDB and DynamoDB Streams APIs.
conformance::store_cases!(conformance_tests);

#[tokio::test]
async fn keys_only_stream_records_carry_no_images() {
    let endpoint = Endpoint::start("KEYS_ONLY").await;
    let store = endpoint.store(StreamViewType::KeysOnly);
    conformance::stream_view_type_keys_only_carries_no_images(&store, &store).await;
}

// The queue suite, through the SQS API.
conformance::queue_cases!(conformance_tests);
conformance::sqs_only_cases!(conformance_tests);

#[tokio::test]
async fn a_shard_lease_is_held_by_one_holder_until_it_expires_or_is_released() {
    let endpoint = Endpoint::start("NEW_AND_OLD_IMAGES").await;
    let (one, two) = (
        endpoint.store(StreamViewType::NewAndOldImages),
        endpoint.store(StreamViewType::NewAndOldImages),
    );
    conformance::a_shard_lease_is_held_by_one_holder_until_it_expires_or_is_released(&one, &two)
        .await;
}

#[tokio::test]
async fn list_pages_through_items_in_key_order() {
    let endpoint = Endpoint::start("NEW_AND_OLD_IMAGES").await;
    let store = endpoint.store(StreamViewType::NewAndOldImages);
    conformance::list_pages_through_items_in_key_order(&store).await;
}
