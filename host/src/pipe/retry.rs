//! What a pipe does after a batch failed, as a pure function of its retry policy: try again
//! after a backoff, or bisect the batch down to the records that fail.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::RetryPolicy;
use crate::record::StreamRecord;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two tries, and between two tries of a pipe stopped at a record.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The next step for a batch whose attempt number `attempt` (0 for the first try) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try the whole batch again after this wait.
    Retry(Duration),
    /// Stop retrying: split the batch to find the records that fail, and dead-letter those.
    Bisect,
}

/// The step after a failed attempt. A batch is retried while the policy allows: fewer than
/// `attempts` retries so far and its oldest record younger than `max_age`. An error retrying
/// cannot help (a plugin called the input invalid) is bisected at once.
pub fn after_failure(
    policy: RetryPolicy,
    attempt: u32,
    oldest_age: Duration,
    retryable: bool,
) -> Next {
    let too_old = policy.max_age.is_some_and(|max| oldest_age > max);
    let spent = policy.attempts.is_some_and(|max| attempt >= max);
    if too_old || spent || !retryable {
        Next::Bisect
    } else {
        Next::Retry(backoff(attempt))
    }
}

/// 100 ms, doubling with each attempt, at most [`MAX_BACKOFF`].
pub fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(MAX_BACKOFF)
}

/// How old the batch's oldest record is, by its `ApproximateCreationDateTime`.
pub fn oldest_age(records: &[StreamRecord]) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let oldest = records
        .iter()
        .map(|r| r.dynamodb.approximate_creation_date_time)
        .min()
        .unwrap_or(now);
    Duration::from_secs((now - oldest).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn policy(attempts: Option<u32>, max_age: Option<Duration>) -> RetryPolicy {
        RetryPolicy { attempts, max_age }
    }

    #[test]
    fn a_batch_is_retried_with_doubling_backoff_until_its_attempts_are_spent() {
        let three = policy(Some(3), None);
        let steps: Vec<Next> = (0..4)
            .map(|attempt| after_failure(three, attempt, Duration::ZERO, true))
            .collect();
        assert_eq!(
            steps,
            [
                Next::Retry(Duration::from_millis(100)),
                Next::Retry(Duration::from_millis(200)),
                Next::Retry(Duration::from_millis(400)),
                Next::Bisect,
            ]
        );
        assert_eq!(
            after_failure(policy(Some(0), None), 0, Duration::ZERO, true),
            Next::Bisect,
            "no retries: bisect after the first try"
        );
    }

    #[test]
    fn the_backoff_stops_growing_at_thirty_seconds() {
        assert_eq!(backoff(8), Duration::from_millis(25_600));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn endless_attempts_retry_until_the_oldest_record_passes_max_age() {
        let hour = Duration::from_secs(3600);
        let endless = policy(None, Some(hour));
        assert_eq!(
            after_failure(endless, 1000, hour, true),
            Next::Retry(MAX_BACKOFF)
        );
        assert_eq!(
            after_failure(endless, 1000, hour + Duration::from_secs(1), true),
            Next::Bisect
        );
        assert_eq!(
            after_failure(policy(None, None), 1_000_000, Duration::MAX, true),
            Next::Retry(MAX_BACKOFF),
            "with neither limit, retries never end"
        );
    }

    #[test]
    fn an_input_a_plugin_calls_invalid_is_bisected_without_retries() {
        assert_eq!(
            after_failure(policy(None, None), 0, Duration::ZERO, false),
            Next::Bisect
        );
    }
}
