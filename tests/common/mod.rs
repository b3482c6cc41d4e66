//! Starts the real `switchyard` binary on a free port with a temporary data dir, and stops it
//! when the test ends.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod browser;
pub mod moto;
pub mod pipeline;
pub mod podman;
pub mod stall;

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard");

/// A table, and a queue `jobs` whose messages go to `jobs-dlq` after one receive.
pub const DLQ_ROUTES: &str = r#"
[tables.orders]
key = "orderId"

[queues.jobs]
max_receive_count = 1
dlq = "jobs-dlq"

[queues.jobs-dlq]
"#;

/// Builds the repository's Rust plugins once per test run (the default routes use them).
pub fn build_rust_plugins() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("sh")
            .arg("-c")
            .arg("rustup target add wasm32-wasip2 >/dev/null 2>&1; env -u CARGO_TARGET_DIR cargo build --release --quiet")
            .current_dir(repo().join("plugins/rust"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the Rust plugins build");
    });
}

/// A running host and the folder that holds its data, its log and (unless it runs the
/// repository's routes) its routes.toml.
pub struct Host {
    pub dir: tempfile::TempDir,
    pub url: String,
    /// The admin door's URL: `url`, unless routes.toml gives the admin door its own listener.
    pub admin_url: String,
    routes: PathBuf,
    child: Option<Child>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Shell commands run before the binary replaces the shell, e.g. `ulimit -f 2048`.
    shell: Option<String>,
}

impl Host {
    /// Writes `routes` to a temp dir and starts the host on it.
    pub fn start(routes: &str) -> Host {
        Host::start_with(routes, &[])
    }

    /// Starts the host with extra arguments for `switchyard up`, e.g. `--build`.
    pub fn start_with(routes: &str, args: &[&str]) -> Host {
        Host::start_env(routes, args, &[])
    }

    /// Starts the host with extra arguments and environment variables.
    pub fn start_env(routes: &str, args: &[&str], env: &[(&str, &str)]) -> Host {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("routes.toml");
        std::fs::write(&path, routes).expect("routes.toml is written");
        let mut host = Host::new(dir, path, args);
        host.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        host.launch();
        host
    }

    /// Starts the host through `sh`, which runs `shell` first (e.g. `ulimit -f 2048`) and then
    /// becomes the host.
    pub fn start_in_shell(routes: &str, shell: &str) -> Host {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("routes.toml");
        std::fs::write(&path, routes).expect("routes.toml is written");
        let mut host = Host::new(dir, path, &[]);
        host.shell = Some(shell.to_string());
        host.launch();
        host
    }

    /// Runs `switchyard up` on `routes` expecting it to refuse to start: its exit code and
    /// stderr. Panics if it starts serving instead.
    pub fn refused(routes: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("routes.toml");
        std::fs::write(&path, routes).expect("routes.toml is written");
        // Were it to start after all, it would listen on loopback only.
        let listen: &[&str] = match args.contains(&"--listen") {
            true => &[],
            false => &["--listen", "127.0.0.1:0"],
        };
        let mut child = Command::new(BINARY)
            .arg("up")
            .arg("--routes")
            .arg(&path)
            .args(listen)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the switchyard binary starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child
            .try_wait()
            .expect("the host can be waited for")
            .is_none()
        {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the host did not refuse to start within 30s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("its output");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("listening on"),
            "the host started serving"
        );
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Starts the host on the repository's own routes.toml (the order pipeline), with a
    /// temporary data dir.
    pub fn start_default() -> Host {
        build_rust_plugins();
        let dir = tempfile::tempdir().expect("a temp dir");
        Host::launch_new(dir, repo().join("routes.toml"), &[])
    }

    fn launch_new(dir: tempfile::TempDir, routes: PathBuf, args: &[&str]) -> Host {
        let mut host = Host::new(dir, routes, args);
        host.launch();
        host
    }

    fn new(dir: tempfile::TempDir, routes: PathBuf, args: &[&str]) -> Host {
        Host {
            dir,
            url: String::new(),
            admin_url: String::new(),
            routes,
            child: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            shell: None,
        }
    }

    /// The process id of the running host.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the host is running").id()
    }

    pub fn routes_path(&self) -> PathBuf {
        self.routes.clone()
    }

    /// Everything the host has logged so far (all its runs).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host.log")).unwrap_or_default()
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("host.log"))
            .expect("the host log opens");
        let mut command = match &self.shell {
            None => Command::new(BINARY),
            Some(shell) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("{shell}; exec \"$0\" \"$@\""))
                    .arg(BINARY);
                sh
            }
        };
        let mut child = command
            .arg("up")
            .arg("--routes")
            .arg(self.routes_path())
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(&self.args)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the switchyard binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        // A separate admin door says where it listens first; the order API's line comes last.
        let mut admin = None;
        let line = loop {
            let line = lines.next().and_then(Result::ok).unwrap_or_default();
            match line.strip_prefix("switchyard admin listening on ") {
                Some(url) => admin = Some(url.to_string()),
                None => break line,
            }
        };
        let url = line
            .strip_prefix("switchyard listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "the host did not start; it printed {line:?}; its log:\n{}",
                    std::fs::read_to_string(self.dir.path().join("host.log")).unwrap_or_default()
                )
            })
            .to_string();
        // Keep draining stdout so the host never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.admin_url = admin.unwrap_or_else(|| url.clone());
        self.url = url;
        self.child = Some(child);
    }

    /// Kills the host with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the host to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the host is running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM works");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("the host can be waited for") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the host did not stop within 30s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the host again on the same routes and data dir.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client")
    }

    /// The JSON body of `GET {path}` on the admin door, e.g. `/admin/pipes`.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = Host::client()
            .get(format!("{}{path}", self.admin_url))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// The text body of `GET {path}` on the admin door, e.g. `/metrics`.
    pub async fn get_text(&self, path: &str) -> String {
        let response = Host::client()
            .get(format!("{}{path}", self.admin_url))
            .send()
            .await
            .unwrap();
        response.text().await.unwrap()
    }

    /// Every change record of a table, oldest first, through the admin endpoint.
    pub async fn records(&self, table: &str) -> Vec<Value> {
        let client = Host::client();
        let mut all: Vec<Value> = Vec::new();
        loop {
            let mut url = format!("{}/admin/tables/{table}/stream?limit=1000", self.admin_url);
            if let Some(last) = all.last() {
                url.push_str(&format!(
                    "&after={}",
                    last["dynamodb"]["SequenceNumber"].as_str().unwrap()
                ));
            }
            let body: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
            let batch = body["Records"].as_array().cloned().unwrap_or_default();
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }

    /// Every item of a table, in key order.
    pub async fn items(&self, path: &str) -> Vec<Value> {
        let client = Host::client();
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}{path}?limit=1000", self.url);
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let body: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
            all.extend(body["items"].as_array().cloned().unwrap_or_default());
            match body["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return all,
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The key of a stream record, e.g. its `orderId`.
pub fn record_key(record: &Value, attribute: &str) -> String {
    record["dynamodb"]["Keys"][attribute]["S"]
        .as_str()
        .expect("a string key")
        .to_string()
}

/// The repository's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the repository")
        .to_path_buf()
}

/// Runs the binary to completion with `args`.
pub fn run(args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .args(args)
        .output()
        .expect("the switchyard binary runs")
}

/// One call of AWS's JSON protocol on a host at `url`, as an SDK makes it (`target` is
/// `Service.Operation`, e.g. `AmazonSQS.ListQueues`); the call must succeed.
pub async fn aws_call(url: &str, target: &str, input: Value) -> Value {
    let response = Host::client()
        .post(format!("{url}/"))
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.0")
        .body(input.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{target}: {}",
        response.status()
    );
    response.json().await.unwrap()
}
