//! Commands that act on a running host through its admin API: `switchyard dlq` (dead-letter
//! queues) and `switchyard replay` (bus archives).

use std::process::ExitCode;

use serde_json::Value;

use crate::config::Config;

/// What to do with a dead-letter queue, or a bus's archive.
pub enum Action {
    List {
        limit: usize,
    },
    Show {
        id: String,
    },
    Redrive {
        to: Option<String>,
        rate: Option<f64>,
    },
    /// Replays a bus's archive (the target names the bus).
    Replay {
        from: String,
        to: Option<String>,
    },
}

/// The admin door's URL: `url`, or else the address routes.toml gives it (loopback for an
/// unspecified address).
pub(super) fn admin_url(config: &Config, url: Option<String>) -> String {
    url.unwrap_or_else(|| {
        let mut listen = config.host.admin_listen();
        if listen.ip().is_unspecified() {
            let loopback = match listen {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            };
            listen.set_ip(loopback);
        }
        format!("http://{listen}")
    })
}

/// The admin door's token, read as the host reads it; when it cannot be read, says why.
pub(super) fn admin_token(config: &Config) -> Result<Option<crate::api::Secret>, ExitCode> {
    match config.host.admin_auth() {
        None => Ok(None),
        Some(source) => crate::api::Secret::load(config, source)
            .map(Some)
            .map_err(|problem| {
                eprintln!("switchyard: {problem}");
                ExitCode::from(1)
            }),
    }
}

/// Runs `action` on `target` (a queue, or a bus for a replay).
pub fn run(config: &Config, url: Option<String>, queue: &str, action: Action) -> ExitCode {
    let base = admin_url(config, url);
    let token = match admin_token(config) {
        Ok(token) => token,
        Err(code) => return code,
    };
    let runtime = match super::async_runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(call(&base, token.as_ref(), queue, action)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("switchyard: {err}");
            ExitCode::from(1)
        }
    }
}

async fn call(
    base: &str,
    token: Option<&crate::api::Secret>,
    queue: &str,
    action: Action,
) -> Result<(), String> {
    let client = reqwest::Client::new();
    let queue_url = format!("{base}/admin/queues/{queue}");
    let request = match &action {
        Action::List { limit } => client.get(format!("{queue_url}/messages?limit={limit}")),
        Action::Show { id } => client.get(format!("{queue_url}/messages/{id}")),
        Action::Redrive { to, rate } => client
            .post(format!("{queue_url}/redrive"))
            .json(&serde_json::json!({"to": to, "rate": rate})),
        Action::Replay { from, to } => client
            .post(format!("{base}/admin/buses/{queue}/replay"))
            .json(&serde_json::json!({"from": from, "to": to})),
    };
    let request = match token {
        Some(token) => request.bearer_auth(token.expose()),
        None => request,
    };
    let response = request
        .send()
        .await
        .map_err(|err| format!("cannot reach the host at {base}: {err}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|err| format!("the host answered {status} with no JSON: {err}"))?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("unknown error");
        return Err(format!("the host answered {status}: {message}"));
    }
    match action {
        // One JSON object per message, oldest first, for people and scripts alike.
        Action::List { .. } => {
            for message in body["messages"].as_array().into_iter().flatten() {
                println!("{message}");
            }
        }
        Action::Show { .. } => println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        ),
        Action::Replay { .. } => println!(
            "replayed {} events as {}",
            body["replayed"], body["replayName"]
        ),
        Action::Redrive { .. } => {
            if let Some(task) = body["taskHandle"].as_str() {
                println!("the queue service is moving the messages: task {task}");
                return Ok(());
            }
            let moved = body["moved"].as_u64().unwrap_or(0);
            println!("moved {moved} messages");
            let skipped = body["skipped"].as_array().cloned().unwrap_or_default();
            for skipped in &skipped {
                println!(
                    "skipped {}: {}",
                    skipped["messageId"],
                    skipped["reason"].as_str().unwrap_or_default()
                );
            }
            // A redrive that moved nothing did not do what was asked: say so in the exit code.
            if moved == 0 {
                return Err(if skipped.is_empty() {
                    format!("nothing to redrive: `{queue}` has no messages")
                } else {
                    format!(
                        "nothing redriven: every message of `{queue}` was skipped ({})",
                        skipped.len()
                    )
                });
            }
        }
    }
    Ok(())
}
