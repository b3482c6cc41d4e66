//! Outgoing HTTP for enrichers (wasi:http): a request leaves the host only for an origin
//! listed in the plugin's `allowed_outbound_hosts`; any other fails in the guest with
//! "HTTP request denied", and the host logs it.

use std::future::Future;
use std::sync::Arc;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks, default_send_request};

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
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
                let port = port
                    .parse()
                    .map_err(|_| format!("`{entry}`: `{port}` is not a port"))?;
                (host, Some(port))
            }
            _ => (rest, None),
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

/// The wasi:http hooks of one enricher instance.
pub struct Outbound {
    pub plugin: Arc<str>,
    pub allowed: Arc<[Origin]>,
}

impl Outbound {
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
        Box::new(async move {
            if !allowed {
                return Err(Error::HttpRequestDenied);
            }
            let (response, io) = default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(entries: &[&str]) -> Outbound {
        let allowed: Vec<Origin> = entries.iter().map(|e| Origin::parse(e).unwrap()).collect();
        Outbound {
            plugin: "p".into(),
            allowed: allowed.into(),
        }
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
        assert!(outbound(&["*"]).allows(&"https://anything.example:9/".parse().unwrap()));
        assert!(
            !outbound(&[]).allows(&"https://api.example.com/".parse().unwrap()),
            "nothing is allowed by default"
        );
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
