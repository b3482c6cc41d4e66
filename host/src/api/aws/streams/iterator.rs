//! Shard iterators. A client holds them and the host keeps nothing: each names its stream (by
//! ARN, first, as DynamoDB's do), its shard, the position after which it reads, and when it was
//! handed out, so that it expires after 15 minutes as DynamoDB's do.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::backend::ShardId;
use crate::record::SequenceNumber;

/// How long an iterator may be used after it is handed out.
pub(super) const LIFETIME_MS: i64 = 15 * 60 * 1000;

/// Between the stream's ARN and the rest; an ARN holds no `|`.
const SEPARATOR: &str = "|1|";

/// Where a reader of a shard is.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ShardIterator {
    pub stream_arn: String,
    pub shard: ShardId,
    /// Records after this one come next; from the oldest retained record when `None`.
    pub after: Option<SequenceNumber>,
    /// When it was handed out, in milliseconds since the epoch.
    pub issued_ms: i64,
}

impl ShardIterator {
    /// An iterator handed out now.
    pub(super) fn new(stream_arn: &str, shard: &ShardId, after: Option<SequenceNumber>) -> Self {
        ShardIterator {
            stream_arn: stream_arn.to_string(),
            shard: shard.clone(),
            after,
            issued_ms: now_ms(),
        }
    }

    pub(super) fn encode(&self) -> String {
        let after = self.after.as_ref().map_or("", SequenceNumber::as_str);
        let position = format!("{}\n{after}\n{}", self.shard.0, self.issued_ms);
        format!(
            "{}{SEPARATOR}{}",
            self.stream_arn,
            URL_SAFE_NO_PAD.encode(position)
        )
    }

    /// The iterator `text` encodes, or `None` when it is not one.
    pub(super) fn decode(text: &str) -> Option<ShardIterator> {
        let (stream_arn, position) = text.split_once(SEPARATOR)?;
        let position = String::from_utf8(URL_SAFE_NO_PAD.decode(position).ok()?).ok()?;
        let mut parts = position.split('\n');
        let (shard, after, issued) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || shard.is_empty() || stream_arn.is_empty() {
            return None;
        }
        let after = match after {
            "" => None,
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(SequenceNumber(digits.to_string()))
            }
            _ => return None,
        };
        Some(ShardIterator {
            stream_arn: stream_arn.to_string(),
            shard: ShardId(shard.to_string()),
            after,
            issued_ms: issued.parse().ok()?,
        })
    }

    /// Whether it was handed out more than 15 minutes before `now_ms`.
    pub(super) fn expired(&self, now_ms: i64) -> bool {
        now_ms - self.issued_ms > LIFETIME_MS
    }
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
