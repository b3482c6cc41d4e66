//! AWS's APIs on the host beside moto, with the AWS SDK for Rust: DynamoDB PutItem, and SQS
//! send, receive and delete, the same calls at the same concurrency against each in one run.
//! moto runs from the virtualenv the test suite installs (`target/moto-venv`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use futures::future::join_all;

use crate::Bench;
use crate::procs;
use crate::report::Report;

/// Calls per figure and run, and how many run at once.
const CALLS: usize = 2_000;
const CONCURRENCY: usize = 16;

const ROUTES: &str = "[tables.items]\nkey = \"id\"\n\n[queues.work]\n";

/// moto's server, killed when dropped.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto(port: u16) -> anyhow::Result<Moto> {
    let server: PathBuf = procs::repo().join("target/moto-venv/bin/moto_server");
    if !server.exists() {
        bail!(
            "no moto at {} (the test suite installs it: `cargo test --test aws`)",
            server.display()
        );
    }
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start moto")?;
    let moto = Moto(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("moto did not listen on {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(moto)
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .load()
        .await
}

/// Calls per second of `CALLS` calls of `call`, `CONCURRENCY` at a time.
async fn rate<F, Fut>(call: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let started = Instant::now();
    let mut done = 0;
    for wave in 0..CALLS / CONCURRENCY {
        let results = join_all((0..CONCURRENCY).map(|i| call(wave * CONCURRENCY + i))).await;
        for result in results {
            done += result?;
        }
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// The three rates (PutItem, SendMessage, ReceiveMessage + DeleteMessageBatch) at one endpoint,
/// whose table `items` and queue `work` exist.
async fn rates(endpoint: &str) -> anyhow::Result<[f64; 3]> {
    let sdk = sdk(endpoint).await;
    let (ddb, sqs) = (
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
    );
    let url = sqs.get_queue_url().queue_name("work").send().await?;
    let url = url.queue_url().context("a queue URL")?.to_string();
    let put = rate(|i| {
        let ddb = ddb.clone();
        async move {
            ddb.put_item()
                .table_name("items")
                .item("id", AttributeValue::S(format!("item-{i}")))
                .item("total", AttributeValue::N(i.to_string()))
                .send()
                .await?;
            Ok(1)
        }
    })
    .await?;
    let send = rate(|i| {
        let (sqs, url) = (sqs.clone(), url.clone());
        async move {
            sqs.send_message()
                .queue_url(url)
                .message_body(format!("message {i}"))
                .send()
                .await?;
            Ok(1)
        }
    })
    .await?;
    // Each call receives up to ten and deletes what it received, until the queue is empty.
    let receive = rate(|_| {
        let (sqs, url) = (sqs.clone(), url.clone());
        async move {
            let received = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .send()
                .await?;
            let messages = received.messages();
            if messages.is_empty() {
                return Ok(0);
            }
            let entries = messages
                .iter()
                .enumerate()
                .map(|(n, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            sqs.delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await?;
            Ok(messages.len())
        }
    })
    .await?;
    Ok([put, send, receive])
}

/// Creates moto's table and queue, as routes.toml declares the host's.
async fn create_in_moto(endpoint: &str) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let sdk = sdk(endpoint).await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .create_table()
        .table_name("items")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .send()
        .await?;
    aws_sdk_sqs::Client::new(&sdk)
        .create_queue()
        .queue_name("work")
        .send()
        .await?;
    Ok(())
}

const NAMES: [&str; 3] = [
    "DynamoDB PutItem: calls/s",
    "SQS SendMessage: calls/s",
    "SQS ReceiveMessage + DeleteMessageBatch: messages/s",
];

impl Bench {
    pub async fn aws_api(&self, report: &mut Report) -> anyhow::Result<()> {
        eprintln!(
            "AWS APIs: the AWS SDK for Rust against the host and moto, {CALLS} calls at {CONCURRENCY}"
        );
        let mut host_runs: [Vec<f64>; 3] = Default::default();
        let mut moto_runs: [Vec<f64>; 3] = Default::default();
        for run in 0..self.runs {
            let dir = self.run_dir(&format!("aws-api-{run}"))?;
            let routes = dir.join("routes.toml");
            std::fs::write(&routes, ROUTES)?;
            let host = self.host(&routes, &dir)?;
            let on_host = rates(&format!("http://{}", host.addr)).await?;
            host.stop();
            let port = procs::free_port()?;
            let moto = moto(port)?;
            let endpoint = format!("http://127.0.0.1:{port}");
            create_in_moto(&endpoint).await?;
            let on_moto = rates(&endpoint).await?;
            drop(moto);
            for i in 0..3 {
                host_runs[i].push(on_host[i]);
                moto_runs[i].push(on_moto[i]);
            }
        }
        for (i, name) in NAMES.iter().enumerate() {
            let (host, moto) = (format!("host {name}"), format!("moto {name}"));
            report.add("AWS APIs", host.clone(), "", host_runs[i].clone());
            report.add("AWS APIs", moto.clone(), "", moto_runs[i].clone());
            report.ratio(format!("{name}: host / moto"), &host, &moto, None);
        }
        Ok(())
    }
}
