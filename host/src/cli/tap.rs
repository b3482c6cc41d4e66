//! `switchyard tap`: prints the lines passing one point of a running host as they come, one
//! JSON object per line on stdout, until `--limit` lines, Ctrl-C, or the host goes away. What
//! the tap lost by reading too slowly is said on stderr; the events themselves go on.

use std::io::Write;
use std::process::ExitCode;

use serde_json::Value;

use crate::api::Secret;
use crate::config::Config;

/// What to tap.
pub struct Options {
    pub point: String,
    pub pattern: Option<String>,
    pub limit: Option<u64>,
    pub buffer: Option<usize>,
}

/// How a tap ended, when it ended well.
enum Ended {
    Limit,
    Interrupted,
    /// Stdout was closed (`| head`, say).
    Closed,
}

pub fn run(config: &Config, url: Option<String>, options: Options) -> ExitCode {
    let base = super::remote::admin_url(config, url);
    let token = match super::remote::admin_token(config) {
        Ok(token) => token,
        Err(code) => return code,
    };
    let runtime = match super::async_runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let mut dropped = 0;
    let result = runtime.block_on(tap(&base, token.as_ref(), &options, &mut dropped));
    if dropped > 0 {
        eprintln!(
            "switchyard: {dropped} tap lines dropped in all: the tap read too slowly (the events themselves went on)"
        );
    }
    match result {
        Ok(Ended::Limit | Ended::Interrupted | Ended::Closed) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("switchyard: {err}");
            ExitCode::from(1)
        }
    }
}

async fn tap(
    base: &str,
    token: Option<&Secret>,
    options: &Options,
    dropped: &mut u64,
) -> Result<Ended, String> {
    // Caught from here on: a Ctrl-C ends the tap cleanly rather than killing it mid-line.
    let mut interrupt = Interrupt::listen().map_err(|err| format!("cannot catch Ctrl-C: {err}"))?;
    let mut params = vec![("point", options.point.clone())];
    if let Some(pattern) = &options.pattern {
        params.push(("pattern", pattern.clone()));
    }
    if let Some(limit) = options.limit {
        params.push(("limit", limit.to_string()));
    }
    if let Some(buffer) = options.buffer {
        params.push(("buffer", buffer.to_string()));
    }
    let url = reqwest::Url::parse_with_params(&format!("{base}/admin/tap"), &params)
        .map_err(|err| format!("`{base}` is not a URL: {err}"))?;
    let request = reqwest::Client::new().get(url);
    let request = match token {
        Some(token) => request.bearer_auth(token.expose()),
        None => request,
    };
    let mut response = tokio::select! {
        response = request.send() => {
            response.map_err(|err| format!("cannot reach the host at {base}: {err}"))?
        }
        () = interrupt.received() => return Ok(Ended::Interrupted),
    };
    let status = response.status();
    if !status.is_success() {
        let body: Value = response.json().await.unwrap_or_default();
        let message = body["error"]["message"].as_str().unwrap_or("unknown error");
        return Err(format!("the host answered {status}: {message}"));
    }
    eprintln!("switchyard: tapping `{}`; Ctrl-C to stop", options.point);
    let limit = options.limit.unwrap_or(u64::MAX);
    let mut printed = 0u64;
    let mut pending: Vec<u8> = Vec::new();
    let mut stdout = std::io::stdout().lock();
    loop {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            () = interrupt.received() => return Ok(Ended::Interrupted),
        };
        let chunk = match chunk {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Err("the host ended the tap without saying why".into()),
            Err(err) => return Err(format!("lost the host at {base}: {err}")),
        };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Ok(value) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if value.get("point").is_some() {
                if stdout
                    .write_all(&line)
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return Ok(Ended::Closed);
                }
                printed += 1;
                if printed >= limit {
                    return Ok(Ended::Limit);
                }
            } else if let Some(why) = value.get("end").and_then(Value::as_str) {
                *dropped = value["dropped"].as_u64().unwrap_or(*dropped);
                return match why {
                    "limit" => Ok(Ended::Limit),
                    "stopping" => Err("the host is stopping; the tap ended".into()),
                    other => Err(format!("the host ended the tap: {other}")),
                };
            } else if let Some(lost) = value.get("dropped").and_then(Value::as_u64) {
                *dropped += lost;
                eprintln!("switchyard: {lost} tap lines dropped here: the tap fell behind");
            }
        }
    }
}

/// Ctrl-C (SIGINT), caught from the moment it is made.
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn listen() -> std::io::Result<Interrupt> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Interrupt {
                signal: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Interrupt {})
    }

    async fn received(&mut self) {
        #[cfg(unix)]
        {
            self.signal.recv().await;
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
