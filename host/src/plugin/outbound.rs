//! Outgoing HTTP for enrichers and consumers (wasi:http). A request leaves the host only for
//! an origin listed in the plugin's `allowed_outbound_hosts` (any other fails in the guest with
//! `http-request-denied`, and the host logs it); it waits no longer than the plugin's
//! [`OutboundLimits`] at each step (the plugin call's own timeout ends it in any case); and a
//! response body stops at [`MAX_RESPONSE_BODY`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks, default_send_request};

use crate::config::OutboundLimits;

/// The largest response body a plugin may read from one request: Lambda's 6 MB payload limit.
/// A response that declares a longer body fails, and a body that grows past it is cut off, both
/// with `http-response-body-size` carrying this limit.
pub const MAX_RESPONSE_BODY: u64 = 6 << 20;

/// One allowed origin, e.g. `https://api.example.com`, `http://127.0.0.1:8080`, or a bare host
/// (`api.example.com`, for http and https on their default ports). `*` allows any host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
}

impl Origin {
    pub fn parse(entry: &str) -> Result<Origin, String> {
        let entry = entry.trim().trim_end_matches('/');
        let (scheme, rest) = match entry.split_once("://") {
            Some((scheme, rest)) if scheme == "http" || scheme == "https" => {
                (Some(scheme.to_string()), rest)
            }
            Some((scheme, _)) => {
                return Err(format!(
                    "`{entry}`: only http and https are allowed, not `{scheme}`"
                ));
            }
            None => (None, entry),
        };
        if rest.contains('/') {
            return Err(format!(
                "`{entry}`: give an origin (scheme, host and port), not a path"
            ));
        }
        let not_a_port = |port: &str| format!("`{entry}`: `{port}` is not a port");
        // An IPv6 literal is written in brackets, and kept without them, as a request's host is.
        let (host, port) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((host, "")) => (host, None),
            Some((host, after)) => match after.strip_prefix(':') {
                Some(port) => (host, Some(port.parse().map_err(|_| not_a_port(port))?)),
                None => return Err(not_a_port(after)),
            },
            None => match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port.parse().map_err(|_| not_a_port(port))?)),
                None => (rest, None),
            },
        };
        if host.is_empty() {
            return Err(format!("`{entry}`: no host"));
        }
        Ok(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let default_port = |scheme: &str| if scheme == "https" { 443 } else { 80 };
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == scheme);
        let host_ok = self.host == "*" || self.host.eq_ignore_ascii_case(host);
        let port_ok = match self.port {
            Some(p) => p == port,
            None => {
                self.host == "*" || port == default_port(self.scheme.as_deref().unwrap_or(scheme))
            }
        };
        scheme_ok && host_ok && port_ok
    }
}

/// The wasi:http hooks of one enricher or consumer instance.
pub struct Outbound {
    plugin: Arc<str>,
    allowed: Arc<[Origin]>,
    limits: OutboundLimits,
}

impl Outbound {
    pub fn new(plugin: Arc<str>, allowed: Arc<[Origin]>, limits: OutboundLimits) -> Outbound {
        Outbound {
            plugin,
            allowed,
            limits,
        }
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or("https");
        let Some(host) = uri.host() else { return false };
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        self.allowed.iter().any(|origin| {
            origin.allows(
                scheme,
                host.trim_start_matches('[').trim_end_matches(']'),
                port,
            )
        })
    }
}

/// The guest's request options with every wait at most the plugin's limit: a guest may ask for
/// shorter waits, never longer ones.
fn capped(options: Option<RequestOptions>, limits: &OutboundLimits) -> RequestOptions {
    let options = options.unwrap_or_default();
    let wait = |asked: Option<Duration>, cap: Duration| Some(asked.map_or(cap, |a| a.min(cap)));
    RequestOptions {
        connect_timeout: wait(options.connect_timeout, limits.connect),
        first_byte_timeout: wait(options.first_byte_timeout, limits.first_byte),
        between_bytes_timeout: wait(options.between_bytes_timeout, limits.between_bytes),
    }
}

/// The body length a response declares, when it has a body (not the answer to a `HEAD`, nor a
/// 1xx, 204 or 304).
fn declared_length(response: &http::Response<impl Sized>, head: bool) -> Option<u64> {
    let status = response.status();
    let bodiless = head
        || status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED;
    if bodiless {
        return None;
    }
    response
        .headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A response body on its way to the guest.
struct Reading {
    body: WasiBody,
    /// Bytes handed on so far.
    read: u64,
    limit: u64,
    plugin: Arc<str>,
    uri: http::Uri,
}

/// The body of `reading`, cut off with `http-response-body-size` once it passes its limit.
fn bounded(reading: Reading) -> WasiBody {
    let frames = futures::stream::unfold(Some(reading), |reading| async move {
        let mut reading = reading?;
        match reading.body.frame().await.transpose() {
            Ok(None) => None,
            Err(err) => Some((Err(err), None)),
            Ok(Some(frame)) => {
                reading.read += frame.data_ref().map_or(0, Bytes::len) as u64;
                if reading.read > reading.limit {
                    tracing::warn!(plugin = &*reading.plugin, uri = %reading.uri, limit = reading.limit, "outgoing response cut off: its body went over the limit");
                    let cut_off = Error::HttpResponseBodySize(Some(reading.limit));
                    return Some((Err(cut_off), None));
                }
                Some((Ok(frame), Some(reading)))
            }
        }
    });
    StreamBody::new(frames).boxed_unsync()
}

type Sent = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        drop(fut);
        let allowed = self.allows(request.uri());
        if !allowed {
            tracing::warn!(plugin = &*self.plugin, uri = %request.uri(), "outgoing request denied: its origin is not in `allowed_outbound_hosts`");
        }
        let options = capped(options, &self.limits);
        // wasi-http bounds the TCP connect and the HTTP handshake, not the TLS handshake
        // between them: the whole wait for the response head is bounded here too.
        let head_wait = options.connect_timeout.unwrap_or_default()
            + options.first_byte_timeout.unwrap_or_default();
        let plugin = self.plugin.clone();
        let uri = request.uri().clone();
        let head = request.method() == http::Method::HEAD;
        Box::new(async move {
            if !allowed {
                return Err(Error::HttpRequestDenied);
            }
            let sent = default_send_request(request, Some(options));
            let (response, io) = tokio::time::timeout(head_wait, sent)
                .await
                .unwrap_or(Err(Error::ConnectionTimeout))?;
            if let Some(length) =
                declared_length(&response, head).filter(|&n| n > MAX_RESPONSE_BODY)
            {
                tracing::warn!(plugin = &*plugin, %uri, length, limit = MAX_RESPONSE_BODY, "outgoing response refused: the body it declares is over the limit");
                return Err(Error::HttpResponseBodySize(Some(MAX_RESPONSE_BODY)));
            }
            let response = response.map(|body| {
                bounded(Reading {
                    body: body.boxed_unsync(),
                    read: 0,
                    limit: MAX_RESPONSE_BODY,
                    plugin,
                    uri,
                })
            });
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(entries: &[&str]) -> Outbound {
        let allowed: Vec<Origin> = entries.iter().map(|e| Origin::parse(e).unwrap()).collect();
        Outbound::new("p".into(), allowed.into(), OutboundLimits::default())
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let out = outbound(&[
            "https://api.example.com",
            "http://127.0.0.1:8080",
            "crm.example.com",
        ]);
        let allows = |uri: &str| out.allows(&uri.parse().unwrap());
        assert!(allows("https://api.example.com/v1/x"));
        assert!(!allows("http://api.example.com/v1/x"), "the scheme counts");
        assert!(!allows("https://api.example.com:8443/"), "the port counts");
        assert!(allows("http://127.0.0.1:8080/tier?c=1"));
        assert!(!allows("http://127.0.0.1:8081/"));
        assert!(allows("http://crm.example.com/") && allows("https://CRM.example.com/"));
        assert!(!allows("https://evil.example.com/"));
        let ipv6 = outbound(&["http://[::1]:8080", "[fe80::1]"]);
        assert!(ipv6.allows(&"http://[::1]:8080/x".parse().unwrap()));
        assert!(ipv6.allows(&"https://[fe80::1]/".parse().unwrap()));
        assert!(!ipv6.allows(&"http://[::1]:8081/".parse().unwrap()));
        assert!(outbound(&["*"]).allows(&"https://anything.example:9/".parse().unwrap()));
        assert!(
            !outbound(&[]).allows(&"https://api.example.com/".parse().unwrap()),
            "nothing is allowed by default"
        );
    }

    #[test]
    fn a_guest_may_ask_for_shorter_waits_never_longer_ones() {
        let ms = Duration::from_millis;
        let limits = OutboundLimits {
            connect: ms(1000),
            first_byte: ms(2000),
            between_bytes: ms(3000),
        };
        let asked = RequestOptions {
            connect_timeout: Some(ms(50)),
            first_byte_timeout: Some(Duration::from_secs(600)),
            between_bytes_timeout: None,
        };
        assert_eq!(
            capped(Some(asked), &limits),
            RequestOptions {
                connect_timeout: Some(ms(50)),
                first_byte_timeout: Some(ms(2000)),
                between_bytes_timeout: Some(ms(3000)),
            }
        );
        assert_eq!(
            capped(None, &limits),
            RequestOptions {
                connect_timeout: Some(ms(1000)),
                first_byte_timeout: Some(ms(2000)),
                between_bytes_timeout: Some(ms(3000)),
            },
            "a guest that asks nothing gets the limits"
        );
    }

    /// How many bytes of a body of `len` bytes reach the guest under `limit`, or the error.
    async fn read(len: usize, limit: u64) -> Result<usize, Error> {
        let body = http_body_util::Full::new(Bytes::from(vec![b'x'; len]))
            .map_err(|never| match never {})
            .boxed_unsync();
        let body = bounded(Reading {
            body,
            read: 0,
            limit,
            plugin: "p".into(),
            uri: http::Uri::from_static("http://127.0.0.1/"),
        });
        Ok(body.collect().await?.to_bytes().len())
    }

    #[tokio::test]
    async fn a_response_body_is_cut_off_once_it_passes_the_limit() {
        assert_eq!(read(1024, 1024).await.ok(), Some(1024));
        assert!(matches!(
            read(1025, 1024).await,
            Err(Error::HttpResponseBodySize(Some(1024)))
        ));
    }

    #[test]
    fn entries_must_be_origins() {
        assert!(
            Origin::parse("ftp://x")
                .unwrap_err()
                .contains("only http and https")
        );
        assert!(
            Origin::parse("https://x/path")
                .unwrap_err()
                .contains("not a path")
        );
        assert!(
            Origin::parse("x:port")
                .unwrap_err()
                .contains("is not a port")
        );
    }
}
