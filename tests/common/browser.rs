//! A real browser for the console's tests: Debian's headless Chromium driven through its
//! WebDriver (`chromedriver`, installed with apt-get when missing) on 127.0.0.1, with the few
//! W3C WebDriver calls the tests need. The driver and its browser stop when the `Browser` drops.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    url: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width` x `height`; `Err` says why not.
    pub async fn start(width: u32, height: u32) -> Result<Browser, String> {
        install()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("chromedriver does not start: {e}"))?;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut browser = Browser {
            driver,
            url: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            client: reqwest::Client::new(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = browser.client.get(format!("{}/status", browser.url)).send();
            if let Ok(Ok(reply)) = tokio::time::timeout(Duration::from_secs(2), ready).await
                && let Ok(status) = reply.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            if Instant::now() > deadline {
                return Err("chromedriver was not ready within 20s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless=new".to_string(),
            // Tests run as root in containers, where Chromium's sandbox cannot start.
            "--no-sandbox".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-gpu".to_string(),
            "--hide-scrollbars".to_string(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let created = browser
            .call(
                "POST",
                "/session",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium(), "args": args},
                }}}),
            )
            .await?;
        browser.session = created["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session: {created}"))?
            .to_string();
        Ok(browser)
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let url = match path.starts_with("/session/") || path == "/session" {
            true => format!("{}{path}", self.url),
            false => format!("{}/session/{}{path}", self.url, self.session),
        };
        let request = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url).json(&body),
        };
        let reply = tokio::time::timeout(Duration::from_secs(60), request.send())
            .await
            .map_err(|_| format!("{method} {path}: no answer from chromedriver in 60s"))?
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = reply.status();
        let body: Value = reply.json().await.map_err(|e| e.to_string())?;
        match status.is_success() {
            true => Ok(body["value"].clone()),
            false => Err(format!("{method} {path}: {status} {}", body["value"])),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}))
            .await
            .unwrap();
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page; its return value.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
        .unwrap_or_else(|e| panic!("the script failed: {e}\n{script}"))
    }

    /// Waits up to `seconds` for `script` to return something other than null, false or "".
    pub async fn until(&self, what: &str, seconds: u64, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let value = self.run(script, json!([])).await;
            if !(value.is_null() || value == false || value == "") {
                return value;
            }
            if Instant::now() > deadline {
                let text = self.run("return document.body.innerText", json!([])).await;
                panic!("{what}: not within {seconds}s; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await
            .unwrap_or_else(|e| panic!("no element `{css}`: {e}"));
        match found[ELEMENT].as_str() {
            Some(id) => id.to_string(),
            None => panic!("`{css}`: not an element reference: {found}"),
        }
    }

    /// Clicks the element `css` selects, as a user would (it must be visible).
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/click"), json!({}))
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Types `text` into the element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let png = self.call("GET", "/screenshot", json!({})).await.unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Ends the browser before its driver; a plain request, as Drop cannot await.
            use std::io::{Read, Write};
            let address = self.url.trim_start_matches("http://").to_string();
            if let Ok(mut stream) = std::net::TcpStream::connect(address) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = write!(
                    stream,
                    "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                    self.session
                );
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromium() -> &'static str {
    match std::path::Path::new("/usr/lib/chromium/chromium").exists() {
        true => "/usr/lib/chromium/chromium",
        false => "/usr/bin/chromium",
    }
}

/// Installs Debian's chromium and its driver with apt-get when missing.
fn install() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let present = || {
                Command::new("chromedriver")
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
                    && std::path::Path::new(chromium()).exists()
            };
            if present() {
                return Ok(());
            }
            let apt = "export DEBIAN_FRONTEND=noninteractive; \
                 apt-get install -y -q chromium chromium-driver || { apt-get update -q && apt-get install -y -q chromium chromium-driver; }";
            let installed = Command::new("sh")
                .args(["-c", apt])
                .stdin(Stdio::null())
                .output();
            match installed {
                _ if present() => Ok(()),
                Ok(output) => Err(format!(
                    "chromium and chromium-driver are not installed, and `apt-get install chromium chromium-driver` failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )),
                Err(err) => Err(format!(
                    "chromium is not installed, and apt-get cannot run: {err}"
                )),
            }
        })
        .clone()
}
