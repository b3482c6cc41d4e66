//! The peer: the same producer -> durable queue -> consumer-with-ack path through RabbitMQ, the
//! broker users most often put beside their database for this job. Persistent messages on a
//! durable queue, publisher confirms (at most 256 unconfirmed), consumer acks (prefetch 100).

use std::collections::VecDeque;
use std::time::Instant;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

const UNCONFIRMED: usize = 256;

/// Publishes `messages` orders and consumes them at once; returns (published/s, consumed/s),
/// both from the first publish.
pub async fn run(port: u16, messages: u64, queue: &str) -> anyhow::Result<(f64, f64)> {
    let uri = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    let producer = Connection::connect(&uri, ConnectionProperties::default()).await?;
    let consumer = Connection::connect(&uri, ConnectionProperties::default()).await?;
    let publish = producer.create_channel().await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    publish
        .queue_declare(queue, durable, FieldTable::default())
        .await?;
    publish
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let consume = consumer.create_channel().await?;
    consume.basic_qos(100, BasicQosOptions::default()).await?;
    let mut deliveries = consume
        .basic_consume(
            queue,
            "bench",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;

    let started = Instant::now();
    let consuming = tokio::spawn(async move {
        let mut consumed = 0u64;
        while consumed < messages {
            let Some(delivery) = deliveries.next().await else {
                break;
            };
            delivery?.ack(BasicAckOptions::default()).await?;
            consumed += 1;
        }
        anyhow::Ok(started.elapsed())
    });
    let mut pending = VecDeque::with_capacity(UNCONFIRMED);
    for n in 0..messages {
        let body = format!(
            r#"{{"orderId":"r-{n}","customerId":"c-1","total":250.5,"currency":"EUR","lines":[{{"sku":"SKU-1","qty":2}}]}}"#
        );
        let confirm = publish
            .basic_publish(
                "",
                queue,
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        pending.push_back(confirm);
        if pending.len() >= UNCONFIRMED
            && let Some(oldest) = pending.pop_front()
        {
            oldest.await?;
        }
    }
    for confirm in pending {
        confirm.await?;
    }
    let published = started.elapsed();
    let consumed = consuming.await??;
    let _ = producer.close(200, "done").await;
    let _ = consumer.close(200, "done").await;
    Ok((
        messages as f64 / published.as_secs_f64(),
        messages as f64 / consumed.as_secs_f64(),
    ))
}
