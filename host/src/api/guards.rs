//! Checks every request passes before its route sees it: the name it calls the host by (so that
//! a web page cannot reach a local host through DNS rebinding), a path that decodes, and, on the
//! admin door, a JSON body for any call that changes something (so that a cross-site form or
//! `text/plain` POST cannot trigger one).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The names a door answers to: its own address, `localhost` when it listens on loopback or on
/// every interface, any address when it listens on every interface, and the configured names.
/// Ports are not compared: a proxy or a container's published port may differ from the
/// listener's, and DNS rebinding turns on the name alone.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    listen: IpAddr,
    names: Arc<[String]>,
}

impl KnownHosts {
    pub fn new(listen: SocketAddr, names: &[String]) -> KnownHosts {
        KnownHosts {
            listen: listen.ip(),
            names: names.into(),
        }
    }

    /// Whether a request's `Host` (name and optional port) calls this door by a known name.
    pub fn accepts(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        if self.names.contains(&name) {
            return true;
        }
        let everywhere = self.listen.is_unspecified();
        match name.parse::<IpAddr>() {
            Ok(ip) => everywhere || ip == self.listen,
            Err(_) => name == "localhost" && (everywhere || self.listen.is_loopback()),
        }
    }
}

/// The name part of a `Host` value, lower case, without a trailing dot or an IPv6 literal's
/// brackets; `None` when it is not `name[:port]`.
fn host_name(host: &str) -> Option<String> {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => {
            let (name, after) = rest.split_once(']')?;
            (
                name,
                after.strip_prefix(':').or(after.is_empty().then_some("")),
            )
        }
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, Some("")),
        },
    };
    let port_ok = port.is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    let name = name.trim_end_matches('.');
    (port_ok && !name.is_empty()).then(|| name.to_ascii_lowercase())
}

/// Refuses a request whose `Host` is not a name this door answers to. The health checks pass
/// whatever they are called by, and so does a request with no `Host` at all: every browser
/// sends one, and DNS rebinding needs a browser.
pub(super) async fn known_host(
    State(known): State<KnownHosts>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(request).await;
    }
    let host = match request.headers().get(header::HOST) {
        Some(value) => Some(value.to_str().unwrap_or("").to_string()),
        None => request.uri().authority().map(|a| a.as_str().to_string()),
    };
    match host {
        Some(host) if !known.accepts(&host) => ApiError::bad_request(
            "unknown_host",
            format!(
                "this host does not answer to `Host: {host}`; add the name to `host.allowed_hosts` in routes.toml to serve it"
            ),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// Refuses a path that is not valid percent-encoded UTF-8, in the API's JSON error shape.
pub(super) async fn decodable_path(request: Request, next: Next) -> Response {
    if decodes(request.uri().path()) {
        next.run(request).await
    } else {
        ApiError::bad_request(
            "invalid_path",
            "the path is not valid percent-encoded UTF-8: `%` must start an escape of two hex digits, and the escapes must make UTF-8",
        )
        .into_response()
    }
}

fn decodes(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => decoded.push(byte),
                None => return false,
            }
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).is_ok()
}

/// On the admin door, a call that changes something (anything but GET and HEAD) must send
/// JSON: a web page can send a form or `text/plain` across sites, but not JSON without the
/// host's consent (a CORS preflight, which the host never grants).
pub(super) async fn json_for_changes(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) || is_json(&request) {
        return next.run(request).await;
    }
    ApiError::UnsupportedMediaType(format!(
        "{} {} changes something, so it takes a JSON body: send `Content-Type: application/json`",
        request.method(),
        request.uri().path()
    ))
    .into_response()
}

fn is_json(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let media = value.to_str().unwrap_or("").split(';').next().unwrap_or("");
    let media = media.trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_door_answers_to_its_address_and_localhost_only() {
        let known = KnownHosts::new("127.0.0.1:8080".parse().unwrap(), &[]);
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:8080",
            "LOCALHOST",
            "localhost.",
        ] {
            assert!(known.accepts(host), "{host}");
        }
        for host in [
            "evil.example:8080",
            "127.0.0.2:8080",
            "[::1]:8080",
            "",
            ":8080",
            "localhost:x",
        ] {
            assert!(!known.accepts(host), "{host}");
        }
    }

    #[test]
    fn a_door_on_every_interface_answers_to_any_address_and_the_configured_names() {
        let known = KnownHosts::new(
            "0.0.0.0:8080".parse().unwrap(),
            &["orders.example.com".into()],
        );
        for host in [
            "10.1.2.3:9000",
            "[::1]:8080",
            "[fe80::1]",
            "localhost:9000",
            "Orders.Example.COM",
        ] {
            assert!(known.accepts(host), "{host}");
        }
        assert!(!known.accepts("attacker.example"));
    }

    #[test]
    fn a_path_decodes_when_every_escape_is_two_hex_digits_making_utf8() {
        assert!(decodes("/orders/o%2D1/%C3%A9"));
        for bad in ["/orders/%FF", "/orders/%zz", "/orders/%4", "/orders/%"] {
            assert!(!decodes(bad), "{bad}");
        }
    }
}
