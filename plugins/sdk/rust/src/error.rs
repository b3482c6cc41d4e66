use std::fmt;

/// Why a plugin could not do its work. The host names the plugin, and retries or dead-letters
/// as the route says: `Invalid` is not retried (the same input fails again), `Failed` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input is not what the plugin accepts.
    Invalid(String),
    /// Something failed that may work later, such as a service the plugin calls.
    Failed(String),
}

impl Error {
    pub fn invalid(reason: impl fmt::Display) -> Error {
        Error::Invalid(reason.to_string())
    }

    pub fn failed(reason: impl fmt::Display) -> Error {
        Error::Failed(reason.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(reason) | Error::Failed(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for Error {}

/// Input that does not parse is invalid: it will not parse the next time either.
impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Error {
        Error::Invalid(format!("not the JSON expected: {err}"))
    }
}
