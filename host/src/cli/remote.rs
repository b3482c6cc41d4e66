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
        /// Only these messages.
        only: Option<Vec<String>>,
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
        Action::Redrive { to, rate, only } => {
            let mut body = serde_json::json!({"to": to, "rate": rate});
            if let Some(ids) = only {
                body["messageIds"] = serde_json::json!(ids);
            }
            client.post(format!("{queue_url}/redrive")).json(&body)
        }
        Action::Replay { from, to } => client
            .post(format!("{base}/admin/buses/{queue}/replay"))
            .json(&serde_json::json!({"from": from, "to": to})),
    };
    let request = match token {
        Some(token) => request.bearer_auth(token.expose()),
        None => request,
    };
    // A redrive or a replay answers when it is done; meanwhile its task says how far it is.
    let watched = match &action {
        Action::Redrive { .. } => Some(("redrive", format!("redriving `{queue}`"))),
        Action::Replay { .. } => Some(("replay", format!("replaying `{queue}`"))),
        _ => None,
    };
    let response = match watched.filter(|_| super::progress::shown()) {
        None => request.send().await,
        Some((kind, what)) => {
            let bar = super::progress::spinner(what);
            let watch = Watch {
                client: &client,
                base,
                token,
                kind,
                name: queue,
            };
            let response = watch.while_sent(request, &bar).await;
            bar.finish_and_clear();
            response
        }
    }
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
        Action::Redrive { only, .. } => {
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
                return Err(if only.is_some() {
                    format!(
                        "nothing redriven: every message named was skipped ({})",
                        skipped.len()
                    )
                } else if skipped.is_empty() {
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

fn authorized(
    request: reqwest::RequestBuilder,
    token: Option<&crate::api::Secret>,
) -> reqwest::RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token.expose()),
        None => request,
    }
}

/// The host's task for a redrive or a replay of `name`, watched through `/admin/tasks`.
struct Watch<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    token: Option<&'a crate::api::Secret>,
    kind: &'static str,
    name: &'a str,
}

impl Watch<'_> {
    /// Sends `request`, drawing the task's progress on `bar` until the answer comes.
    async fn while_sent(
        &self,
        request: reqwest::RequestBuilder,
        bar: &indicatif::ProgressBar,
    ) -> reqwest::Result<reqwest::Response> {
        let sent = request.send();
        tokio::pin!(sent);
        let mut every = tokio::time::interval(std::time::Duration::from_millis(100));
        loop {
            tokio::select! {
                response = &mut sent => return response,
                _ = every.tick() => {
                    // Progress is a nicety: a host that does not answer it shows a spinner.
                    if let Some((done, total)) = self.progress().await {
                        if let Some(total) = total {
                            super::progress::counted(bar, total);
                        }
                        bar.set_position(done);
                    }
                }
            }
        }
    }

    /// `done` and `total` of the running task of this kind and name, if the host shows one.
    async fn progress(&self) -> Option<(u64, Option<u64>)> {
        let request = self.client.get(format!("{}/admin/tasks", self.base));
        let response = authorized(request, self.token).send().await.ok()?;
        let tasks: Value = response.error_for_status().ok()?.json().await.ok()?;
        let task = tasks["tasks"].as_array()?.iter().find(|task| {
            task["kind"] == self.kind && task["name"] == self.name && task["state"] == "running"
        })?;
        Some((task["done"].as_u64()?, task["total"].as_u64()))
    }
}
