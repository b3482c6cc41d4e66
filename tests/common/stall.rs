//! An AWS endpoint that never answers, on 127.0.0.1: a host on the AWS backend pointed at it
//! stays in its start-up (comparing AWS's resources with routes.toml) for as long as a test
//! needs, so that the test can signal it there.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Credentials for the AWS SDK, so that it asks the endpoint at once.
pub const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// `host.shutdown_grace` of [`Stall::routes`], in seconds.
pub const GRACE_SECONDS: u64 = 10;

/// Accepts connections and holds them open without a word; stops listening when dropped.
pub struct Stall {
    pub url: String,
    accepted: mpsc::Receiver<TcpStream>,
    held: Vec<TcpStream>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Stall {
    pub fn start() -> Stall {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, accepted) = mpsc::channel();
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream
                    && tx.send(stream).is_err()
                {
                    return;
                }
            }
        });
        Stall {
            url: format!("http://127.0.0.1:{port}"),
            accepted,
            held: Vec::new(),
            stop,
            port,
        }
    }

    /// Waits until a client has connected, and keeps the connection open.
    pub fn wait_for_a_client(&mut self, within: Duration) {
        let stream = self
            .accepted
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("nothing connected to {} within {within:?}", self.url));
        self.held.push(stream);
    }

    /// Whether a client has connected by now; keeps its connection open.
    pub fn has_a_client(&mut self) -> bool {
        self.held.extend(self.accepted.try_iter());
        !self.held.is_empty()
    }

    /// Routes on the AWS backend whose endpoint is this stall; they shut down within
    /// [`GRACE_SECONDS`].
    pub fn routes(&self) -> String {
        format!(
            "[host]\nbackend = \"aws\"\nshutdown_grace = \"{GRACE_SECONDS}s\"\n\n[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\n[tables.orders]\nkey = \"orderId\"\n",
            self.url
        )
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stop` and returns, closing the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
