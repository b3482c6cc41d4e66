//! Switchyard's benchmark: the whole product, and in the same run this machine's limits (a bare
//! axum server, raw SQLite commits) and a peer (RabbitMQ), each figure the median of 3 runs and
//! printed as ratios. `cargo run --release -p bench -- all` takes a few minutes; the report
//! (Markdown, for BENCHMARKS.md) goes to stdout, progress to stderr. With `all`, the naive
//! pipeline's and RabbitMQ's runs alternate with the end-to-end runs they are compared with,
//! because this machine's speed drifts from minute to minute.

mod awsapi;
mod cpu;
mod load;
mod micro;
mod procs;
mod rabbit;
mod report;
mod storage;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::{Parser, ValueEnum};

use cpu::{Cpu, own_cpu_seconds};
use load::{Load, LoadResult};
use report::{Report, median, ms, quantile};

#[derive(Parser)]
#[command(about = "Switchyard's benchmarks, beside this machine's limits and RabbitMQ")]
struct Cli {
    /// What to measure.
    #[arg(value_enum, default_value = "all")]
    what: What,
    /// Runs per figure; the report gives their median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of load per ingest and end-to-end run.
    #[arg(long, default_value_t = 4)]
    seconds: u64,
    /// Messages in the queue for the memory figure.
    #[arg(long, default_value_t = 1_000_000)]
    backlog: u64,
    /// Measure this switchyard binary instead of building the workspace's, to compare builds (the
    /// example plugins are used as last built).
    #[arg(long)]
    binary: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum What {
    All,
    Ingest,
    EndToEnd,
    Peer,
    Micro,
    Memory,
    Startup,
    /// AWS's APIs on the host beside moto, with the AWS SDK for Rust (not part of `all`).
    AwsApi,
    /// Internal: serve the bare axum endpoint (the HTTP limit) in this process.
    #[value(hide = true)]
    ServeBare,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if cli.what == What::ServeBare {
        return runtime.block_on(procs::serve_bare());
    }
    let bench = Bench {
        binary: match cli.binary {
            Some(binary) => binary,
            None => procs::build()?,
        },
        runs: cli.runs.max(1),
        load_time: Duration::from_secs(cli.seconds.max(1)),
        backlog: cli.backlog,
        work: tempfile::tempdir()?,
    };
    let mut report = Report::default();
    let mut rabbitmq = None;
    let mut peer = Peer::default();
    let all = cli.what == What::All;
    if all || cli.what == What::Ingest {
        runtime.block_on(bench.ingest(&mut report))?;
    }
    if all || cli.what == What::EndToEnd {
        // With `all`, each RabbitMQ run follows the end-to-end run it is compared with.
        runtime.block_on(bench.end_to_end(&mut report, all.then_some(&mut peer)))?;
    }
    if cli.what == What::Peer {
        for run in 0..bench.runs {
            runtime.block_on(peer.run(run));
        }
    }
    if all || cli.what == What::Peer {
        rabbitmq = peer.report(&mut report);
    }
    if all || cli.what == What::Micro {
        eprintln!("plugins and patterns");
        micro::patterns(&mut report);
        micro::plugins(&mut report);
    }
    if all || cli.what == What::Memory {
        runtime.block_on(bench.memory(&mut report))?;
    }
    if all || cli.what == What::Startup {
        runtime.block_on(bench.startup(&mut report))?;
    }
    if cli.what == What::AwsApi {
        runtime.block_on(bench.aws_api(&mut report))?;
    }
    ratios(&mut report);
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    println!(
        "{}",
        report.markdown(&report::machine(rabbitmq.as_deref()), &command)
    );
    Ok(())
}

/// The ratios and goals of the issue, from whichever figures this run measured.
fn ratios(report: &mut Report) {
    for c in [16, 64, 256] {
        let goal = (c == 64).then_some(0.5);
        report.ratio(
            format!("ingest c={c}: host / bare axum"),
            &format!("ingest c={c}: host requests/s"),
            &format!("ingest c={c}: bare axum requests/s"),
            goal,
        );
    }
    report.ratio(
        "ingest c=64: host / SQLite at the host's group size",
        "ingest c=64: host requests/s",
        "storage limit: SQLite orders/s at the host's group size",
        None,
    );
    report.goal_below("ingest c=64: host p99", 20.0, "ms");
    report.ratio(
        "end to end: Switchyard / naive SQLite pipeline",
        "end to end, saturation: delivered events/s",
        NAIVE_RATE,
        Some(1.0),
    );
    if let (Some(http), Some(naive_cpu), Some(naive)) = (
        report.get(HTTP_CPU),
        report.get(NAIVE_CPU),
        report.get(NAIVE_RATE),
    ) {
        // A pipeline fed over HTTP that stores each order at least as cheaply as the naive one
        // pays at least the HTTP limit's CPU and the naive pipeline's per order: even with
        // every core busy and no wait, it could not move more orders than this.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let ceiling = cores * 1e6 / (http + naive_cpu);
        report.derived(
            "end to end: CPU ceiling of any HTTP-fed pipeline / naive SQLite pipeline",
            ceiling / naive,
        );
    }
    report.ratio(
        "end to end: Switchyard / RabbitMQ consumed",
        "end to end, saturation: delivered events/s",
        "RabbitMQ durable queue, confirms, acks: consumed/s",
        Some(2.0),
    );
    report.goal_below("end to end at 5000/s: p99 201 -> consumer", 50.0, "ms");
    report.goal_below("start-up to /readyz, warm plugin cache", 300.0, "ms");
    report.goal_below("RSS with the backlog waiting", 150.0, "MiB");
}

/// RabbitMQ's figures, gathered a run at a time.
#[derive(Default)]
struct Peer {
    /// The node, started for the first run and stopped with the report.
    rabbit: Option<procs::Rabbit>,
    published: Vec<f64>,
    consumed: Vec<f64>,
    /// The end-to-end rate measured just before each run, when runs alternate.
    paired: Vec<f64>,
    version: Option<String>,
    /// Why there is no figure, once a start or a run failed.
    skipped: Option<String>,
}

impl Peer {
    /// One RabbitMQ run, on the node the first run starts; every run has a queue of its own.
    /// After a failure, the peer is skipped.
    async fn run(&mut self, run: usize) {
        if self.skipped.is_some() {
            return;
        }
        eprintln!("peer: RabbitMQ, run {}", run + 1);
        let rabbit = match &mut self.rabbit {
            Some(rabbit) => rabbit,
            None => match procs::Rabbit::start() {
                Ok(rabbit) => self.rabbit.insert(rabbit),
                Err(err) => {
                    self.skipped = Some(format!("RabbitMQ skipped: {err:#}"));
                    return;
                }
            },
        };
        match rabbit::run(rabbit.port, 30_000, &format!("bench-{run}")).await {
            Ok((published, consumed)) => {
                self.published.push(published);
                self.consumed.push(consumed);
            }
            Err(err) => self.skipped = Some(format!("RabbitMQ run failed: {err:#}")),
        }
        if self.version.is_none() {
            self.version = rabbit.version();
        }
    }

    /// Adds the figures, or a note saying why there are none; returns RabbitMQ's version.
    fn report(mut self, report: &mut Report) -> Option<String> {
        drop(self.rabbit.take());
        if let Some(why) = self.skipped {
            report.note(why);
            return None;
        }
        if self.paired.len() == self.consumed.len() && !self.paired.is_empty() {
            let each: Vec<String> = self
                .paired
                .iter()
                .zip(&self.consumed)
                .map(|(ours, theirs)| format!("{:.2}", ours / theirs))
                .collect();
            report.note(format!(
                "Each RabbitMQ run followed an end-to-end run; their ratios, run by run: {}.",
                each.join(", ")
            ));
        }
        report.add(
            "Peer",
            "RabbitMQ durable queue, confirms, acks: published/s",
            "/s",
            self.published,
        );
        report.add(
            "Peer",
            "RabbitMQ durable queue, confirms, acks: consumed/s",
            "/s",
            self.consumed,
        );
        Some(self.version.unwrap_or_else(|| "(version unknown)".into()))
    }
}

struct Bench {
    binary: PathBuf,
    runs: usize,
    load_time: Duration,
    backlog: u64,
    work: tempfile::TempDir,
}

/// The routes of the ingest figure: the orders table, and nothing reading its stream.
const INGEST_ROUTES: &str = "[tables.orders]\nkey = \"orderId\"\n";

/// The routes of the memory figure: orders piped straight into a queue nobody consumes.
const BACKLOG_ROUTES: &str = r#"
[tables.orders]
key = "orderId"

[pipes.backlog]
source = "orders"
batch_size = 1000
target = { queue = "backlog" }

[queues.backlog]
retention = "14d"
"#;

impl Bench {
    fn routes(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let path = self.work.path().join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// A fresh folder for one run's data and log.
    fn run_dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.work.path().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn host(&self, routes: &Path, dir: &Path) -> anyhow::Result<procs::Process> {
        procs::host(
            &self.binary,
            routes,
            &dir.join("data"),
            &dir.join("host.log"),
        )
    }

    async fn ingest(&self, report: &mut Report) -> anyhow::Result<()> {
        eprintln!(
            "ingest: POST /orders, host and bare axum, {} s per run",
            self.load_time.as_secs()
        );
        let routes = self.routes("ingest.toml", INGEST_ROUTES)?;
        let mut group_sizes = Vec::new();
        let mut http_cpu = Vec::new();
        for c in [16usize, 64, 256] {
            let (mut host, mut bare) = (Vec::new(), Vec::new());
            for run in 0..self.runs {
                let dir = self.run_dir(&format!("ingest-{c}-{run}"))?;
                let process = self.host(&routes, &dir)?;
                procs::ready(process.addr, Instant::now()).await?;
                let result = load::run(
                    process.addr,
                    Load::closed(c, self.load_time),
                    load::orders(&format!("i{c}-{run}")),
                )
                .await;
                if c == 64 {
                    group_sizes.push(group_size(process.addr).await?);
                }
                process.stop();
                host.push(result);
                let process = procs::bare_axum()?;
                let cpu = Cpu::start(process.pid());
                let result = load::run(
                    process.addr,
                    Load::closed(c, self.load_time),
                    load::orders("bare"),
                )
                .await;
                if c == 64 {
                    http_cpu.push(cpu.micros_per(result.created));
                }
                bare.push(result);
                process.stop();
            }
            let failed: u64 = host
                .iter()
                .chain(&bare)
                .map(|r| r.other_status + r.errors)
                .sum();
            if failed > 0 {
                report.note(format!("ingest c={c}: {failed} responses were not 201"));
            }
            report.add(
                "Ingest",
                format!("ingest c={c}: host requests/s"),
                "/s",
                host.iter().map(LoadResult::rate).collect(),
            );
            for (q, label) in [(0.5, "p50"), (0.99, "p99"), (0.999, "p99.9")] {
                let values = host.iter().map(|r| ms(quantile(&r.latencies, q))).collect();
                report.add(
                    "Ingest",
                    format!("ingest c={c}: host {label}"),
                    "ms",
                    values,
                );
            }
            report.add(
                "Ingest",
                format!("ingest c={c}: bare axum requests/s"),
                "/s",
                bare.iter().map(LoadResult::rate).collect(),
            );
            let values = bare
                .iter()
                .map(|r| ms(quantile(&r.latencies, 0.99)))
                .collect();
            report.add(
                "Ingest",
                format!("ingest c={c}: bare axum p99"),
                "ms",
                values,
            );
        }
        report.add("Ingest", HTTP_CPU, "µs", http_cpu);
        let group = median(group_sizes.clone());
        report.add(
            "Ingest",
            "host group commit at c=64: writes per transaction",
            "",
            group_sizes,
        );
        let dir = self.run_dir("storage")?;
        let limit: Vec<f64> = (0..self.runs)
            .map(|_| {
                storage::group_commits(
                    &dir,
                    group.round().max(1.0) as usize,
                    Duration::from_secs(3),
                )
            })
            .collect::<Result<_, _>>()?;
        report.add(
            "Ingest",
            "storage limit: SQLite orders/s at the host's group size",
            "/s",
            limit,
        );
        Ok(())
    }

    /// The default routes end to end, and the naive SQLite pipeline; with `peer`, a RabbitMQ run
    /// after each run, so that the machine's drift from minute to minute stays out of the ratios.
    async fn end_to_end(
        &self,
        report: &mut Report,
        mut peer: Option<&mut Peer>,
    ) -> anyhow::Result<()> {
        eprintln!("end to end: the default routes, POST to consumer plugin");
        let routes = procs::repo().join("routes.toml");
        let rates = [1000.0, 5000.0, 10000.0];
        let mut delivered: HashMap<String, Vec<f64>> = HashMap::new();
        let mut p50: HashMap<String, Vec<f64>> = HashMap::new();
        let mut p99: HashMap<String, Vec<f64>> = HashMap::new();
        let mut naive = Vec::new();
        let (mut e2e_cpu, mut naive_cpu) = (Vec::new(), Vec::new());
        for run in 0..self.runs {
            let dir = self.run_dir(&format!("e2e-{run}"))?;
            let process = self.host(&routes, &dir)?;
            procs::ready(process.addr, Instant::now()).await?;
            let phases = rates
                .iter()
                .map(|r| (format!("{r}/s"), Some(*r)))
                .chain([("saturation".to_string(), None)]);
            for (phase, rate) in phases {
                let prefix = format!("e{run}-{}", phase.replace('/', ""));
                let load = Load {
                    connections: 64,
                    duration: self.load_time,
                    requests: u64::MAX,
                    rate,
                };
                let log = dir.join("host.log");
                let mark = mark(process.addr, &log).await?;
                let started = SystemTime::now();
                let cpu = Cpu::start(process.pid());
                let result = load::run(process.addr, load, load::orders(&prefix)).await;
                // The client's share ends with the load: reading the log below is not its work.
                let client = cpu.client_seconds();
                let seen = wait_handled(process.addr, &log, &mark, &prefix, result.created).await?;
                if rate.is_none() {
                    e2e_cpu.push((client + cpu.server_seconds()) * 1e6 / seen.len() as f64);
                }
                let sent: HashMap<u64, SystemTime> = result.answered.iter().copied().collect();
                let mut latencies: Vec<Duration> = seen
                    .iter()
                    .filter_map(|(n, at)| at.duration_since(*sent.get(n)?).ok())
                    .collect();
                latencies.sort_unstable();
                let last = seen.values().max().copied().unwrap_or(started);
                let span = last
                    .duration_since(started)
                    .unwrap_or_default()
                    .as_secs_f64();
                delivered
                    .entry(phase.clone())
                    .or_default()
                    .push(seen.len() as f64 / span);
                p50.entry(phase.clone())
                    .or_default()
                    .push(ms(quantile(&latencies, 0.5)));
                p99.entry(phase)
                    .or_default()
                    .push(ms(quantile(&latencies, 0.99)));
            }
            process.stop();
            let _ = std::fs::remove_dir_all(&dir);
            let dir = self.run_dir(&format!("naive-{run}"))?;
            // The naive pipeline runs in this process's own threads.
            let before = own_cpu_seconds();
            naive.push(storage::naive_pipeline(&dir, NAIVE_EVENTS)?);
            naive_cpu.push((own_cpu_seconds() - before) * 1e6 / NAIVE_EVENTS as f64);
            let _ = std::fs::remove_dir_all(&dir);
            if let Some(peer) = peer.as_deref_mut() {
                peer.paired
                    .extend(delivered.get("saturation").and_then(|d| d.last()));
                peer.run(run).await;
            }
        }
        for phase in rates
            .iter()
            .map(|r| format!("{r}/s"))
            .chain(["saturation".into()])
        {
            let name = if phase == "saturation" {
                "end to end, saturation".to_string()
            } else {
                format!("end to end at {phase}")
            };
            report.add(
                "End to end",
                format!("{name}: delivered events/s"),
                "/s",
                delivered.remove(&phase).unwrap_or_default(),
            );
            report.add(
                "End to end",
                format!("{name}: p50 201 -> consumer"),
                "ms",
                p50.remove(&phase).unwrap_or_default(),
            );
            report.add(
                "End to end",
                format!("{name}: p99 201 -> consumer"),
                "ms",
                p99.remove(&phase).unwrap_or_default(),
            );
        }
        report.add("End to end", E2E_CPU, "µs", e2e_cpu);
        report.add("End to end", NAIVE_RATE, "/s", naive);
        report.add("End to end", NAIVE_CPU, "µs", naive_cpu);
        Ok(())
    }

    async fn memory(&self, report: &mut Report) -> anyhow::Result<()> {
        eprintln!(
            "memory: at rest, and with {} messages waiting",
            self.backlog
        );
        let default = procs::repo().join("routes.toml");
        let backlog = self.routes("backlog.toml", BACKLOG_ROUTES)?;
        let (mut rest, mut waiting, mut peak) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..self.runs {
            let dir = self.run_dir(&format!("rest-{run}"))?;
            let process = self.host(&default, &dir)?;
            procs::ready(process.addr, Instant::now()).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            rest.push(process.memory().0);
            process.stop();

            let dir = self.run_dir(&format!("backlog-{run}"))?;
            let process = self.host(&backlog, &dir)?;
            procs::ready(process.addr, Instant::now()).await?;
            let load = Load {
                requests: self.backlog,
                duration: Duration::from_secs(600),
                ..Load::closed(64, Duration::ZERO)
            };
            let sent = load::run(process.addr, load, load::orders(&format!("m{run}"))).await;
            wait_depth(process.addr, sent.created).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (rss, hwm) = process.memory();
            waiting.push(rss);
            peak.push(hwm);
            process.stop();
            // A backlog takes gigabytes of disk; three of them need not wait for the end.
            let _ = std::fs::remove_dir_all(&dir);
        }
        report.add("Memory", "RSS at rest, default routes", "MiB", rest);
        report.add("Memory", "RSS with the backlog waiting", "MiB", waiting);
        report.add("Memory", "peak RSS while the backlog was sent", "MiB", peak);
        Ok(())
    }

    async fn startup(&self, report: &mut Report) -> anyhow::Result<()> {
        eprintln!("start-up: process start to /readyz 200, default routes");
        let routes = procs::repo().join("routes.toml");
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        for run in 0..self.runs {
            let dir = self.run_dir(&format!("startup-{run}"))?;
            for times in [&mut cold, &mut warm] {
                let started = Instant::now();
                let process = self.host(&routes, &dir)?;
                times.push(ms(procs::ready(process.addr, started).await?));
                process.stop();
            }
        }
        report.add(
            "Start-up",
            "start-up to /readyz, cold plugin cache",
            "ms",
            cold,
        );
        report.add(
            "Start-up",
            "start-up to /readyz, warm plugin cache",
            "ms",
            warm,
        );
        Ok(())
    }
}

/// Events the naive pipeline moves per run.
const NAIVE_EVENTS: u64 = 100_000;
const NAIVE_RATE: &str = "naive SQLite outbox -> queue -> delete: events/s";
const NAIVE_CPU: &str = "naive SQLite pipeline: CPU per event";
const HTTP_CPU: &str = "bare axum at c=64: CPU per request, server and client";
const E2E_CPU: &str = "end to end, saturation: CPU per order, host and client";

/// Writes per transaction of the embedded store so far, from `/metrics`.
async fn group_size(addr: SocketAddr) -> anyhow::Result<f64> {
    Ok(metric(addr, "switchyard_store_grouped_writes_total").await?
        / metric(addr, "switchyard_store_transactions_total").await?)
}

/// One sample of the host's `/metrics`.
async fn metric(addr: SocketAddr, name: &str) -> anyhow::Result<f64> {
    let text = procs::get_text(addr, "/metrics").await?;
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .with_context(|| format!("/metrics has no {name}"))
}

/// Where one end-to-end phase starts: the consumer's count so far, and the log's length.
struct Mark {
    handled: f64,
    log_len: u64,
}

async fn mark(addr: SocketAddr, log: &Path) -> anyhow::Result<Mark> {
    Ok(Mark {
        handled: metric(addr, HANDLED).await?,
        log_len: std::fs::metadata(log).map_or(0, |m| m.len()),
    })
}

const HANDLED: &str = "switchyard_consumer_messages_succeeded_total";

/// Waits (at most 120 s) until the consumer has handled `count` more messages than at `mark`,
/// asking `/metrics`, which costs the host next to nothing; then reads, once, the log written
/// since `mark` for when the consumer plugin logged each order whose id starts with `prefix`.
/// (Reading the whole log over and over while the host works would take CPU from it.)
async fn wait_handled(
    addr: SocketAddr,
    log: &Path,
    mark: &Mark,
    prefix: &str,
    count: u64,
) -> anyhow::Result<HashMap<u64, SystemTime>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let handled = metric(addr, HANDLED).await? - mark.handled;
        if handled >= count as f64 {
            break;
        }
        if Instant::now() > deadline {
            anyhow::bail!("only {handled} of {count} orders reached the consumer within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut file = std::fs::File::open(log)?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(mark.log_len))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text)?;
    let needle = format!("orderId=\"{prefix}-");
    let mut seen = HashMap::new();
    for line in text.lines().filter(|l| l.contains("order handled")) {
        let Some(start) = line.find(&needle) else {
            continue;
        };
        let rest = &line[start + needle.len()..];
        let Some(n) = rest.split('"').next().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let Some(at) = line.split_whitespace().next().and_then(timestamp) else {
            continue;
        };
        seen.entry(n).or_insert(at);
    }
    anyhow::ensure!(
        seen.len() as u64 >= count,
        "the consumer handled {count} orders but logged {}",
        seen.len()
    );
    Ok(seen)
}

fn timestamp(text: &str) -> Option<SystemTime> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = at.unix_timestamp_nanos();
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).ok()?))
}

/// Waits (at most 300 s) until the backlog queue holds `count` visible messages.
async fn wait_depth(addr: SocketAddr, count: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let queues = procs::get_json(addr, "/admin/queues").await?;
        let visible = queues["queues"][0]["visible"].as_u64().unwrap_or(0);
        if visible >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("the backlog queue reached only {visible} of {count} messages");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
