//! The AWS backend against the same conformance suite as the embedded one, on a real moto
//! server (PyPI `moto[server]`) that each test starts on 127.0.0.1 and stops when it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

use super::AwsStore;
use crate::backend::conformance;
use crate::config::StreamViewType;

/// moto_server, installed into a virtualenv under target/ on first use.
fn moto_server() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/moto-venv");
        let server = venv.join("bin/moto_server");
        if !server.exists() {
            let install = format!(
                "python3 -m venv '{0}' && '{0}/bin/pip' install --quiet 'moto[server]'",
                venv.display()
            );
            let status = Command::new("sh")
                .args(["-c", &install])
                .status()
                .expect("sh runs");
            assert!(status.success(), "installing moto[server] failed");
        }
        server
    })
}

/// A moto server of this test's own, on a free port of 127.0.0.1.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start listening on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn store(&self, view: StreamViewType) -> AwsStore {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test", "test", None, None, "tests",
            )))
            .build();
        let store = AwsStore::new(&sdk, &conformance::tables(view), "conformance-");
        store.ensure_tables().await.expect("the tables are created");
        store
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let moto = Moto::start();
            let store = moto.store(StreamViewType::NewAndOldImages).await;
            conformance::$name(&store, &store).await;
        }
    )*};
}

// Every store and stream test but paging in key order: a DynamoDB Scan is not in key order.
conformance_tests!(
    create_then_get_returns_the_item,
    create_of_an_existing_key_fails_and_writes_no_record,
    replace_and_delete_check_the_version,
    every_write_appends_one_record_in_order,
    records_carry_old_and_new_images,
    idempotent_create_replays_the_first_result,
    a_stream_read_waits_for_the_next_commit,
    concurrent_writes_all_commit_with_increasing_sequence_numbers,
    tables_are_kept_apart,
);

#[tokio::test]
async fn keys_only_stream_records_carry_no_images() {
    let moto = Moto::start();
    let store = moto.store(StreamViewType::KeysOnly).await;
    conformance::stream_view_type_keys_only_carries_no_images(&store, &store).await;
}
