//! The `[host]` section: the two doors, their tokens, the names requests may call the host by,
//! the connection limits, and the export of traces.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{compile_text, problems};
use crate::config::{ConnectionLimits, Location, TokenFrom, TokenSource, TracesConfig};

#[test]
fn by_default_both_doors_share_the_loopback_listener_without_tokens() {
    let config = compile_text("").unwrap();
    let host = &config.host;
    assert_eq!(host.admin_listen(), host.listen);
    assert_eq!((host.auth.as_ref(), host.admin_auth()), (None, None));
    assert!(host.allowed_hosts.is_empty());
    assert_eq!(
        host.connections,
        ConnectionLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    );
}

#[test]
fn the_admin_door_takes_its_own_listener_and_token_or_else_the_order_apis() {
    let text = "[host]\nauth_token_env = \"API_TOKEN\"\nallowed_hosts = [\"Orders.Example.com.\", \"[::1]\"]\nmax_connections = 64\nheader_timeout = \"2s\"\nidle_timeout = \"30s\"\n\n[host.admin]\nlisten = \"127.0.0.1:9090\"\nauth_token_file = \"admin.token\"\n";
    let config = crate::config::compile(text, Path::new("/srv/routes.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let host = &config.host;
    assert_eq!(host.admin_listen().to_string(), "127.0.0.1:9090");
    assert_eq!(
        host.auth,
        Some(TokenSource {
            from: TokenFrom::Env("API_TOKEN".into()),
            key: "host.auth_token_env".into(),
            at: Location {
                line: 2,
                column: 18
            },
        })
    );
    assert_eq!(
        host.admin_auth().map(|t| &t.from),
        Some(&TokenFrom::File(PathBuf::from("/srv/admin.token")))
    );
    assert_eq!(host.allowed_hosts, ["orders.example.com", "::1"]);
    assert_eq!(host.connections.max_connections, 64);
    assert_eq!(host.connections.header_timeout, Duration::from_secs(2));
    assert_eq!(host.connections.idle_timeout, Duration::from_secs(30));

    let borrowed = compile_text("[host]\nauth_token_file = \"api.token\"\n").unwrap();
    assert_eq!(
        borrowed.host.admin_auth().map(|t| t.key.as_str()),
        Some("host.auth_token_file"),
        "without a token of its own, the admin door takes the order API's"
    );
}

#[test]
fn door_problems_name_their_key_and_line() {
    let text = r#"[host]
listen = "0.0.0.0:8080"
auth_token_env = "API TOKEN"
auth_token_file = "api.token"
allowed_hosts = ["http://orders.example.com", "orders.example.com:443"]
max_connections = 0
header_timeout = "10ms"

[host.admin]
listen = "0.0.0.0:8080"
auth_token_file = ""
"#;
    assert_eq!(
        problems(text),
        [
            "routes.toml:3:18: host.auth_token_env: `API TOKEN` is not an environment variable name",
            "routes.toml:4:19: host.auth_token_file: `host.auth_token_env` names this door's token already; give one of the two",
            "routes.toml:5:18: host.allowed_hosts: `http://orders.example.com` is not a host name: give the name alone, without scheme or port, like `orders.example.com`",
            "routes.toml:5:47: host.allowed_hosts: `orders.example.com:443` is not a host name: give the name alone, without scheme or port, like `orders.example.com`",
            "routes.toml:6:19: host.max_connections: 0 is out of range: it must be from 1 to 1000000",
            "routes.toml:7:18: host.header_timeout: `10ms` is out of range: it must be from 100ms to 10m",
            "routes.toml:10:10: host.admin.listen: `0.0.0.0:8080` is `host.listen` already; leave `host.admin.listen` out to serve both doors on one listener",
            "routes.toml:11:19: host.admin.auth_token_file: a file name cannot be empty",
        ]
    );
}

#[test]
fn an_admin_door_beyond_loopback_needs_a_token_or_an_explicit_yes() {
    let exposed = |at: &str, address: &str| {
        format!(
            "routes.toml:{at}: the admin door (`/admin/*`, `/metrics`) would listen on `{address}`, beyond loopback, with no token; give it one (`host.admin.auth_token_env` or `host.admin.auth_token_file`), a loopback address (`host.admin.listen`), or set `host.admin.allow_unauthenticated = true`"
        )
    };
    assert_eq!(
        problems("[host]\nlisten = \"0.0.0.0:8080\"\n"),
        [exposed("2:10: host.listen", "0.0.0.0:8080")]
    );
    assert_eq!(
        problems(
            "[host]\nauth_token_env = \"API\"\n[host.admin]\nlisten = \"[::]:9090\"\nauth_token_env = \"\"\n"
        ),
        ["routes.toml:5:18: host.admin.auth_token_env: `` is not an environment variable name"],
        "an admin token, even a badly named one, is a token: the name is the problem"
    );
    assert_eq!(
        problems("[host.admin]\nlisten = \"10.0.0.5:9090\"\n"),
        [exposed("2:10: host.admin.listen", "10.0.0.5:9090")]
    );
    for fine in [
        "[host]\nlisten = \"0.0.0.0:8080\"\n[host.admin]\nallow_unauthenticated = true\n",
        "[host]\nlisten = \"0.0.0.0:8080\"\n[host.admin]\nlisten = \"[::1]:9090\"\n",
        "[host]\nlisten = \"0.0.0.0:8080\"\nauth_token_env = \"API\"\n",
        "[host.admin]\nlisten = \"0.0.0.0:9090\"\nauth_token_file = \"admin.token\"\n",
    ] {
        compile_text(fine).unwrap_or_else(|p| panic!("{fine}: {}", p.join("\n")));
    }
}

#[test]
fn traces_take_an_otlp_http_endpoint_a_service_name_and_a_sample_ratio() {
    let config = compile_text(
        r#"
[host.traces]
otlp_endpoint = "http://127.0.0.1:4318"
service_name = "orders"
sample_ratio = 0.25
"#,
    )
    .unwrap();
    assert_eq!(
        config.host.traces,
        TracesConfig {
            otlp_endpoint: Some("http://127.0.0.1:4318".into()),
            service_name: "orders".into(),
            sample_ratio: 0.25,
        }
    );
    let none = compile_text("").unwrap();
    assert_eq!(none.host.traces, TracesConfig::default());
    assert_eq!(
        none.host.traces.otlp_endpoint, None,
        "no endpoint, no exporter"
    );
}

#[test]
fn a_traces_endpoint_that_is_not_an_http_url_is_refused_at_its_line() {
    assert_eq!(
        problems(
            r#"
[host.traces]
otlp_endpoint = "127.0.0.1:4318"
sample_ratio = 2.0
"#
        ),
        [
            "routes.toml:3:17: host.traces.otlp_endpoint: `127.0.0.1:4318` is not an http:// URL of an OTLP/HTTP collector, e.g. `http://127.0.0.1:4318` (https is not supported)",
            "routes.toml:4:16: host.traces.sample_ratio: `2` is not a ratio from 0 to 1",
        ]
    );
    assert_eq!(
        problems("[host.traces]\notlp_endpoint = \"https://collector:4318\"\n"),
        [
            "routes.toml:2:17: host.traces.otlp_endpoint: `https://collector:4318` is not an http:// URL of an OTLP/HTTP collector, e.g. `http://127.0.0.1:4318` (https is not supported)"
        ]
    );
}
