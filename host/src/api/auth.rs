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

/// Lets a request through when it carries `Authorization: Bearer <token>` (the scheme in any
/// case, as RFC 9110 has it) with this door's token.
pub(super) async fn require_token(
    State(token): State<Secret>,
    request: Request,
    next: Next,
) -> Response {
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match offered {
        Some(offered) if token.matches(offered) => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}
