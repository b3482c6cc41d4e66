//! A moto server (PyPI `moto[server]`) for tests of the AWS backend: installed into a
//! virtualenv under target/ on first use, started per test on a free port of 127.0.0.1, and
//! killed when the test ends. It runs through `moto_server.py` beside this file, which makes
//! each DynamoDB request atomic, as DynamoDB's are and moto's are not. Shared by the unit tests
//! (`host/src/backend/aws/tests.rs`) and the end-to-end tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The Python of a virtualenv under target/ that holds moto[server], installed on first use.
fn moto_python() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/moto-venv");
        if !venv.join("bin/moto_server").exists() {
            let install = format!(
                "python3 -m venv '{0}' && '{0}/bin/pip' install --quiet 'moto[server]==5.2.5'",
                venv.display()
            );
            let status = Command::new("sh")
                .args(["-c", &install])
                .status()
                .expect("sh runs");
            assert!(status.success(), "installing moto[server] failed");
        }
        venv.join("bin/python")
    })
}

/// The Python of the moto virtualenv, which has boto3 (moto depends on it): for tests that
/// call an AWS API with AWS's own client.
pub fn python() -> &'static Path {
    moto_python()
}

/// The AWS CLI (PyPI `awscli`), installed into the moto virtualenv on first use.
pub fn aws_cli() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let bin = moto_python().with_file_name("aws");
            if !bin.exists() {
                let status = Command::new(moto_python())
                    .args(["-m", "pip", "install", "--quiet", "awscli==1.46.3"])
                    .status()
                    .expect("pip runs");
                assert!(status.success(), "installing awscli failed");
            }
            bin
        })
        .clone()
}

/// A moto server of this test's own, on a free port of 127.0.0.1.
pub struct Moto {
    child: Child,
    pub url: String,
}

/// A free port of 127.0.0.1 that no other test of this process has been given: a port the
/// kernel hands out again once released would put two tests on one moto (one test's tables
/// showing in the other's, or its moto gone when the other's test ends).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/common/moto_server.py");
        let mut child = Command::new(moto_python())
            .arg(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server.py starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("moto_server.py exited before it listened on {port}: {status}");
            }
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
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
