//! The `[host]` section: the backend and data dir, and the two doors (the order API, and the
//! operator surface under `[host.admin]`): where each listens, its token, the names a request
//! may call the host by, and what a listener accepts of connections.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::checker::{Checker, secs};
use super::raw::{self, Text};
use super::{
    AdminDoor, Backend, ConnectionLimits, HostConfig, TokenFrom, TokenSource, TracesConfig,
};

const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 8080);

impl Checker<'_> {
    pub(super) fn host(&mut self, raw: raw::Host) -> HostConfig {
        let listen = self
            .address("host.listen", raw.listen.as_ref())
            .unwrap_or(SocketAddr::from(DEFAULT_LISTEN));
        let backend = self.choice(
            "host.backend",
            raw.backend.as_ref(),
            Backend::Embedded,
            &[("embedded", Backend::Embedded), ("aws", Backend::Aws)],
        );
        let data_dir = raw.data_dir.as_ref().map_or_else(
            || self.base.join(".switchyard"),
            |d| self.base.join(d.get_ref()),
        );
        let max_body = self.size(
            "host.max_body",
            raw.max_body.as_ref(),
            256 * 1024,
            1024..=64 * 1024 * 1024,
        );
        let auth = self.token("host", raw.auth_token_env, raw.auth_token_file);
        let admin = self.admin(raw.admin.unwrap_or_default(), listen);
        let mut aws_access_keys = BTreeMap::new();
        for (id, env) in raw.aws_access_keys {
            self.env_name("host.aws_access_keys", &env);
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                self.report(
                    "host.aws_access_keys",
                    env.span(),
                    format!("`{id}` is not an access key id: letters and digits only"),
                );
            }
            aws_access_keys.insert(id, env.into_inner());
        }
        let shutdown_grace = self.duration(
            "host.shutdown_grace",
            raw.shutdown_grace.as_ref(),
            secs(10),
            secs(0)..=secs(600),
        );
        let allowed_hosts = raw
            .allowed_hosts
            .iter()
            .filter_map(|name| self.host_name(name))
            .collect();
        let defaults = ConnectionLimits::default();
        let connections = ConnectionLimits {
            max_connections: self.integer(
                "host.max_connections",
                raw.max_connections.as_ref(),
                defaults.max_connections as i64,
                1..=1_000_000,
            ) as usize,
            header_timeout: self.duration(
                "host.header_timeout",
                raw.header_timeout.as_ref(),
                defaults.header_timeout,
                Duration::from_millis(100)..=secs(600),
            ),
            idle_timeout: self.duration(
                "host.idle_timeout",
                raw.idle_timeout.as_ref(),
                defaults.idle_timeout,
                Duration::from_millis(100)..=secs(3600),
            ),
        };
        let traces = raw
            .traces
            .map(|traces| self.traces(traces))
            .unwrap_or_default();
        let host = HostConfig {
            listen,
            backend,
            data_dir,
            max_body: max_body as usize,
            auth,
            admin: admin.door,
            allowed_hosts,
            connections,
            shutdown_grace,
            aws_access_keys,
            traces,
        };
        // Only an address routes.toml writes can be beyond loopback: point at it.
        if let Some(problem) = host.exposed_admin() {
            let (key, written) = match (host.admin.listen, admin.listen) {
                (Some(_), Some(text)) => ("host.admin.listen", Some(text)),
                _ => ("host.listen", raw.listen),
            };
            self.report(key, written.map_or(0..0, |w| w.span()), problem);
        }
        host
    }

    fn traces(&mut self, raw: raw::Traces) -> TracesConfig {
        let defaults = TracesConfig::default();
        let otlp_endpoint = raw.otlp_endpoint.and_then(|url| {
            let text = url.get_ref();
            let parsed = text.parse::<http::Uri>().ok();
            let valid = parsed.as_ref().is_some_and(|uri| {
                uri.scheme_str() == Some("http") && uri.host().is_some_and(|h| !h.is_empty())
            });
            if !valid {
                self.report(
                    "host.traces.otlp_endpoint",
                    url.span(),
                    format!(
                        "`{text}` is not an http:// URL of an OTLP/HTTP collector, e.g. `http://127.0.0.1:4318` (https is not supported)"
                    ),
                );
                return None;
            }
            Some(url.into_inner())
        });
        let service_name = match raw.service_name {
            Some(name) if name.get_ref().trim().is_empty() => {
                self.report("host.traces.service_name", name.span(), "must not be empty");
                defaults.service_name
            }
            Some(name) => name.into_inner(),
            None => defaults.service_name,
        };
        let sample_ratio = match raw.sample_ratio {
            Some(ratio) if !(0.0..=1.0).contains(ratio.get_ref()) => {
                self.report(
                    "host.traces.sample_ratio",
                    ratio.span(),
                    format!("`{}` is not a ratio from 0 to 1", ratio.get_ref()),
                );
                defaults.sample_ratio
            }
            Some(ratio) => *ratio.get_ref(),
            None => defaults.sample_ratio,
        };
        TracesConfig {
            otlp_endpoint,
            service_name,
            sample_ratio,
        }
    }

    fn admin(&mut self, raw: raw::Admin, api: SocketAddr) -> Admin {
        let listen = self.address("host.admin.listen", raw.listen.as_ref());
        if let (Some(address), Some(text)) = (listen, &raw.listen)
            && address == api
            && address.port() != 0
        {
            self.report(
                "host.admin.listen",
                text.span(),
                format!(
                    "`{address}` is `host.listen` already; leave `host.admin.listen` out to serve both doors on one listener"
                ),
            );
        }
        let auth = self.token("host.admin", raw.auth_token_env, raw.auth_token_file);
        Admin {
            door: AdminDoor {
                listen: listen.filter(|a| *a != api || a.port() == 0),
                auth,
                allow_unauthenticated: raw.allow_unauthenticated.is_some_and(|a| *a.get_ref()),
            },
            listen: raw.listen,
        }
    }

    fn address(&mut self, key: &str, text: Option<&Text>) -> Option<SocketAddr> {
        let text = text?;
        let parsed = text.get_ref().parse().ok();
        if parsed.is_none() {
            self.report(
                key,
                text.span(),
                format!(
                    "invalid address `{}`, expected HOST:PORT like `127.0.0.1:8080`",
                    text.get_ref()
                ),
            );
        }
        parsed
    }

    /// A door's token: from an environment variable or a file, not both.
    fn token(
        &mut self,
        section: &str,
        env: Option<Text>,
        file: Option<Text>,
    ) -> Option<TokenSource> {
        if let (Some(_), Some(file)) = (&env, &file) {
            self.report(
                format!("{section}.auth_token_file"),
                file.span(),
                format!(
                    "`{section}.auth_token_env` names this door's token already; give one of the two"
                ),
            );
        }
        if let Some(env) = env {
            let key = format!("{section}.auth_token_env");
            self.env_name(&key, &env);
            return Some(TokenSource {
                at: self.position(env.span()),
                from: TokenFrom::Env(env.into_inner()),
                key,
            });
        }
        let file = file?;
        let key = format!("{section}.auth_token_file");
        if file.get_ref().trim().is_empty() {
            self.report(&key, file.span(), "a file name cannot be empty");
        }
        Some(TokenSource {
            at: self.position(file.span()),
            from: TokenFrom::File(self.base.join(file.get_ref())),
            key,
        })
    }

    /// A name a request's `Host` may carry: a DNS name or an IP address, without a port.
    fn host_name(&mut self, text: &Text) -> Option<String> {
        let name = text.get_ref().trim_end_matches('.').to_ascii_lowercase();
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        let dns = !name.is_empty()
            && name.len() <= 253
            && name
                .split('.')
                .all(|label| !label.is_empty() && label.len() <= 63)
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if dns || bare.parse::<IpAddr>().is_ok() {
            return Some(bare.to_string());
        }
        self.report(
            "host.allowed_hosts",
            text.span(),
            format!(
                "`{}` is not a host name: give the name alone, without scheme or port, like `orders.example.com`",
                text.get_ref()
            ),
        );
        None
    }

    /// Reports `name` unless it can be an environment variable's name.
    pub(super) fn env_name(&mut self, key: &str, name: &Text) {
        let ok = !name.get_ref().is_empty()
            && name
                .get_ref()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.report(
                key,
                name.span(),
                format!("`{}` is not an environment variable name", name.get_ref()),
            );
        }
    }
}

/// The admin door as compiled, with its `listen` as written, to point at.
struct Admin {
    door: AdminDoor,
    listen: Option<Text>,
}
