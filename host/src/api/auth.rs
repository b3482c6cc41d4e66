//! Bearer tokens: each door's token, read once at start-up from the environment or a file,
//! kept out of `Debug` output and logs, and compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::config::{Config, Problem, TokenFrom, TokenSource};

/// The shortest bearer token a door takes: shorter ones are guessed too easily.
pub const MIN_TOKEN_CHARS: usize = 16;

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        Secret(value.into())
    }

    /// Reads a door's token from where routes.toml says, and checks that it is long enough and
    /// can travel in a header; a problem names the key and its line, never the token.
    pub fn load(config: &Config, source: &TokenSource) -> Result<Secret, Problem> {
        let problem = |message: String| Problem {
            file: config.path.display().to_string(),
            line: source.at.line,
            column: source.at.column,
            key: source.key.clone(),
            message,
        };
        let (token, origin) = match &source.from {
            TokenFrom::Env(name) => match std::env::var(name) {
                Ok(token) if !token.is_empty() => (token, format!("`{name}`")),
                _ => {
                    return Err(problem(format!(
                        "the environment variable `{name}` is not set"
                    )));
                }
            },
            TokenFrom::File(path) => match std::fs::read_to_string(path) {
                // A file usually ends with a newline, which is not part of the token.
                Ok(text) => (text.trim().to_string(), format!("`{}`", path.display())),
                Err(err) => {
                    return Err(problem(format!(
                        "cannot read the token file `{}`: {err}",
                        path.display()
                    )));
                }
            },
        };
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(problem(format!(
                "the token in {origin} holds a space or a character a header cannot carry; use printable ASCII"
            )));
        }
        let chars = token.chars().count();
        if chars < MIN_TOKEN_CHARS {
            return Err(problem(format!(
                "the token in {origin} has {chars} characters; a token needs at least {MIN_TOKEN_CHARS} (make one with `openssl rand -hex 32`)"
            )));
        }
        Ok(Secret::new(token))
    }

    /// The secret itself, for a signature made with it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in time that depends neither on where the texts differ nor on their lengths:
    /// the digests of both are compared, every byte of them.
    pub(super) fn matches(&self, offered: &str) -> bool {
        let (a, b) = (
            Sha256::digest(self.0.as_bytes()),
            Sha256::digest(offered.as_bytes()),
        );
        a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

/// The cookie the console's sign-in sets on the admin door.
pub(super) const SESSION_COOKIE: &str = "switchyard_console";

/// Lets a request through when it carries `Authorization: Bearer <token>` (the scheme in any
/// case, as RFC 9110 has it) with this door's token.
pub(super) async fn require_token(
    State(token): State<Secret>,
    request: Request,
    next: Next,
) -> Response {
    match bearer(&request).is_some_and(|offered| token.matches(offered)) {
        true => next.run(request).await,
        false => ApiError::Unauthorized.into_response(),
    }
}

/// The admin door's check: the bearer token, or the console's session cookie. The cookie is
/// `SameSite=Strict`, and every change the admin door takes needs a JSON body, which a form
/// on another site cannot send, so the cookie cannot be ridden from elsewhere.
pub(super) async fn require_admin(
    State(token): State<Secret>,
    request: Request,
    next: Next,
) -> Response {
    match signed_in(&token, &request) {
        true => next.run(request).await,
        false => ApiError::Unauthorized.into_response(),
    }
}

/// Whether the request carries the door's token or a console session made with it.
pub(super) fn signed_in(token: &Secret, request: &Request) -> bool {
    if bearer(request).is_some_and(|offered| token.matches(offered)) {
        return true;
    }
    let session = Secret::new(token.session());
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == SESSION_COOKIE && session.matches(value))
}

fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

impl Secret {
    /// The console session made with this token: a MAC of a fixed text under the token, so
    /// the cookie is not the token, lasts across restarts, and ends when the token changes.
    pub(super) fn session(&self) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"switchyard console session");
        let digest = mac.finalize().into_bytes();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}
