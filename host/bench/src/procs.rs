//! The processes a benchmark starts: the real `switchyard` binary, a bare axum server, and
//! RabbitMQ. Each binds 127.0.0.1 only and is stopped when its handle drops, also on failure.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The repository's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository exists")
}

/// Builds the release `switchyard` binary and the Rust example plugins; returns the binary.
pub fn build() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "switchyard",
            "--bin",
            "switchyard",
        ])
        .current_dir(repo())
        .status()?;
    if !status.success() {
        bail!("building the switchyard binary failed");
    }
    let status = Command::new("sh")
        .args([
            "-c",
            "rustup target add wasm32-wasip2 >/dev/null 2>&1; env -u CARGO_TARGET_DIR cargo build --release --quiet",
        ])
        .current_dir(repo().join("plugins/rust"))
        .status()?;
    if !status.success() {
        bail!("building the Rust plugins failed");
    }
    Ok(repo().join("target/release/switchyard"))
}

/// A child process, killed when dropped.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident and peak resident memory, in MiB (`VmRSS`, `VmHWM`).
    pub fn memory(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 10 s.
    pub fn stop(mut self) {
        stop(&mut self.child);
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Spawns `command`, which prints `... listening on http://ADDR` as its first stdout line.
fn spawn_listening(mut command: Command) -> anyhow::Result<Process> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the server")?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().and_then(Result::ok).unwrap_or_default();
    let Some(addr) = line
        .rsplit("http://")
        .next()
        .and_then(|a| a.trim().parse().ok())
    else {
        let _ = child.kill();
        bail!("the server did not start; it printed {line:?}");
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Process { child, addr })
}

/// The real host on `routes`, with its data in `data_dir` and its log in `log`.
pub fn host(binary: &Path, routes: &Path, data_dir: &Path, log: &Path) -> anyhow::Result<Process> {
    let log = std::fs::File::create(log)?;
    let mut command = Command::new(binary);
    command
        .arg("up")
        .arg("--routes")
        .arg(routes)
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "info")
        .stderr(log);
    spawn_listening(command)
}

/// This benchmark binary again, serving the bare axum endpoint.
pub fn bare_axum() -> anyhow::Result<Process> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("serve-bare").stderr(Stdio::null());
    spawn_listening(command)
}

/// Serves POST /orders -> 201 with the body echoed back and nothing else: the HTTP limit.
pub async fn serve_bare() -> anyhow::Result<()> {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/orders",
        post(|body: bytes::Bytes| async move {
            (
                axum::http::StatusCode::CREATED,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("bare axum listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// Waits until GET /readyz answers 200; returns how long it took from `since`.
pub async fn ready(addr: SocketAddr, since: Instant) -> anyhow::Result<Duration> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if readyz(addr).await {
            return Ok(since.elapsed());
        }
        if Instant::now() > deadline {
            bail!("the host was not ready within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn readyz(addr: SocketAddr) -> bool {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let Ok((mut sender, conn)) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
    else {
        return false;
    };
    tokio::spawn(conn);
    let request = hyper::Request::get("/readyz")
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("a valid request");
    matches!(sender.send_request(request).await, Ok(r) if r.status() == 200)
}

/// GET `path` as JSON.
pub async fn get_json(addr: SocketAddr, path: &str) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_str(&get_text(addr, path).await?)?)
}

/// GET `path` as text.
pub async fn get_text(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let body = sender
        .send_request(request)
        .await?
        .into_body()
        .collect()
        .await?;
    Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
}

/// A free port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A RabbitMQ node of this benchmark's own: its own port, data dir and Erlang port mapper, on
/// 127.0.0.1, stopped when dropped.
pub struct Rabbit {
    server: Child,
    pub port: u16,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Rabbit {
    pub fn start() -> anyhow::Result<Rabbit> {
        let server = which("rabbitmq-server").context(
            "rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)",
        )?;
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("mnesia"))?;
        std::fs::create_dir_all(dir.path().join("log"))?;
        let (port, dist, epmd) = (free_port()?, free_port()?, free_port()?);
        let plugins = dir.path().join("enabled_plugins");
        std::fs::write(&plugins, "[].\n")?;
        let env: Vec<(String, String)> = [
            ("RABBITMQ_NODENAME", format!("bench{port}@localhost")),
            ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1".into()),
            ("RABBITMQ_NODE_PORT", port.to_string()),
            ("RABBITMQ_DIST_PORT", dist.to_string()),
            ("ERL_EPMD_PORT", epmd.to_string()),
            ("ERL_EPMD_ADDRESS", "127.0.0.1".into()),
            (
                "RABBITMQ_MNESIA_BASE",
                dir.path().join("mnesia").display().to_string(),
            ),
            (
                "RABBITMQ_LOG_BASE",
                dir.path().join("log").display().to_string(),
            ),
            (
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                plugins.display().to_string(),
            ),
            (
                "RABBITMQ_CONFIG_FILE",
                dir.path().join("rabbitmq").display().to_string(),
            ),
            ("HOME", dir.path().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let server = Command::new(server)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start rabbitmq-server")?;
        let mut rabbit = Rabbit {
            server,
            port,
            env,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || matches!(rabbit.server.try_wait(), Ok(Some(_))) {
                rabbit.stop();
                bail!("RabbitMQ did not start listening on 127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(rabbit)
    }

    pub fn version(&self) -> Option<String> {
        let out = Command::new(which("rabbitmqctl")?)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["-n", &format!("bench{}@localhost", self.port), "version"])
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|v| !v.is_empty())
    }

    fn stop(&mut self) {
        if let Some(ctl) = which("rabbitmqctl") {
            let _ = Command::new(ctl)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .args(["-n", &format!("bench{}@localhost", self.port), "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        stop(&mut self.server);
        // The node's own Erlang port mapper, on its own port.
        let epmd = self
            .env
            .iter()
            .find(|(k, _)| k == "ERL_EPMD_PORT")
            .map(|(_, v)| v.clone());
        if let (Some(epmd_bin), Some(port)) = (which("epmd"), epmd) {
            let _ = Command::new(epmd_bin)
                .env("ERL_EPMD_PORT", port)
                .arg("-kill")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A RabbitMQ or Erlang command. Debian's `/usr/sbin/rabbitmq-server` switches to the
/// `rabbitmq` user when run as root, which cannot use this benchmark's temp dir, so the scripts
/// behind it come first.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["/usr/lib/rabbitmq/bin".into()]
        .into_iter()
        .chain(std::env::split_paths(&path))
        .chain(["/usr/sbin".into(), "/usr/lib/erlang/bin".into()])
        .map(|dir: PathBuf| dir.join(name))
        .find(|p| p.is_file())
}
