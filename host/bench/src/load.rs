//! HTTP load on persistent HTTP/1.1 connections (hyper's client connection, no pool): closed loop
//! (each connection sends its next request when the last one answered) for a fixed duration,
//! or open loop at a fixed offered rate. Every response's status and latency is recorded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// What one load run saw.
#[derive(Debug, Default)]
pub struct LoadResult {
    pub created: u64,
    pub other_status: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latencies of the 201 responses, sorted.
    pub latencies: Vec<Duration>,
    /// When each request (by number) got its 201, by the wall clock the host logs with.
    pub answered: Vec<(u64, SystemTime)>,
}

impl LoadResult {
    /// 201 responses per second.
    pub fn rate(&self) -> f64 {
        self.created as f64 / self.elapsed.as_secs_f64()
    }
}

/// Makes the body of the n-th request.
pub type Body = Arc<dyn Fn(u64) -> Bytes + Send + Sync>;

/// An order with a unique id: `{prefix}-{n}`, for customer c-1 (gold), high value.
pub fn orders(prefix: &str) -> Body {
    let prefix = prefix.to_string();
    Arc::new(move |n| {
        Bytes::from(format!(
            r#"{{"orderId":"{prefix}-{n}","customerId":"c-1","total":250.5,"currency":"EUR","lines":[{{"sku":"SKU-1","qty":2}}]}}"#
        ))
    })
}

/// How much load to offer.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub connections: usize,
    /// Stop sending after this long...
    pub duration: Duration,
    /// ...or after this many requests.
    pub requests: u64,
    /// Requests a second in total (open loop); `None` sends back to back (closed loop).
    pub rate: Option<f64>,
}

impl Load {
    pub fn closed(connections: usize, duration: Duration) -> Load {
        Load {
            connections,
            duration,
            requests: u64::MAX,
            rate: None,
        }
    }
}

/// Offers `load` to POST /orders on `addr`.
pub async fn run(addr: SocketAddr, load: Load, body: Body) -> LoadResult {
    let Load {
        connections,
        duration,
        requests,
        rate,
    } = load;
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (counter, body) = (counter.clone(), body.clone());
            let every = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
            tokio::spawn(connection(addr, (deadline, requests), every, counter, body))
        })
        .collect();
    let mut total = LoadResult::default();
    for task in tasks {
        let part = task.await.unwrap_or_else(|_| LoadResult {
            errors: 1,
            ..LoadResult::default()
        });
        total.created += part.created;
        total.other_status += part.other_status;
        total.errors += part.errors;
        total.latencies.extend(part.latencies);
        total.answered.extend(part.answered);
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}

async fn connection(
    addr: SocketAddr,
    (deadline, requests): (Instant, u64),
    every: Option<Duration>,
    counter: Arc<AtomicU64>,
    body: Body,
) -> LoadResult {
    let mut result = LoadResult::default();
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        result.errors += 1;
        return result;
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        result.errors += 1;
        return result;
    };
    tokio::spawn(conn);
    let mut ticks = every.map(|every| {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    let host = addr.to_string();
    while Instant::now() < deadline {
        if let Some(ticks) = &mut ticks {
            ticks.tick().await;
        }
        let n = counter.fetch_add(1, Ordering::Relaxed);
        if n >= requests {
            break;
        }
        let request = Request::post("/orders")
            .header("host", &host)
            .header("content-type", "application/json")
            .body(Full::new(body(n)))
            .expect("a valid request");
        let sent = Instant::now();
        if sender.ready().await.is_err() {
            result.errors += 1;
            break;
        }
        match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let _ = response.into_body().collect().await;
                if status == hyper::StatusCode::CREATED {
                    result.created += 1;
                    result.latencies.push(sent.elapsed());
                    result.answered.push((n, SystemTime::now()));
                } else {
                    result.other_status += 1;
                }
            }
            Err(_) => {
                result.errors += 1;
                break;
            }
        }
    }
    result
}
