//! The batching window of pipes and consumers, as Lambda's and Pipes' `MaximumBatchingWindow`:
//! once a batch has its first items, keep gathering until it is full or the window is over.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// Fills `batch` up to `max` items, for at most `window` from now. `more(batch, room, wait)`
/// reads up to `room` further items, waiting up to `wait` for them; an empty or failed read
/// ends the batch (a failed read is read again, and reported, by the caller's next read).
pub async fn fill<T, E, Read>(
    mut batch: Vec<T>,
    max: usize,
    window: Duration,
    mut more: impl FnMut(&[T], usize, Duration) -> Read,
) -> Vec<T>
where
    Read: Future<Output = Result<Vec<T>, E>>,
{
    let until = Instant::now() + window;
    while batch.len() < max && Instant::now() < until {
        let wait = until.saturating_duration_since(Instant::now());
        match more(&batch, max - batch.len(), wait).await {
            Ok(read) if !read.is_empty() => batch.extend(read),
            _ => break,
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that yields one item per read, `every` apart.
    async fn one_every(
        every: Duration,
        next: &std::cell::Cell<u32>,
        room: usize,
        wait: Duration,
    ) -> Result<Vec<u32>, ()> {
        assert!(room > 0);
        if wait < every {
            tokio::time::sleep(wait).await;
            return Ok(Vec::new());
        }
        tokio::time::sleep(every).await;
        next.set(next.get() + 1);
        Ok(vec![next.get()])
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_fills_until_it_is_full() {
        let next = std::cell::Cell::new(1);
        let batch = fill(vec![1], 3, Duration::from_secs(60), |_, room, wait| {
            one_every(Duration::from_secs(1), &next, room, wait)
        })
        .await;
        assert_eq!(batch, [1, 2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_goes_when_its_window_is_over() {
        let started = Instant::now();
        let next = std::cell::Cell::new(1);
        let batch = fill(
            vec![1],
            100,
            Duration::from_millis(2500),
            |_, room, wait| one_every(Duration::from_secs(1), &next, room, wait),
        )
        .await;
        assert_eq!(batch, [1, 2, 3], "two more came within 2.5 s");
        assert_eq!(started.elapsed(), Duration::from_millis(2500));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_window_a_batch_goes_as_it_is() {
        let batch = fill(vec![1], 10, Duration::ZERO, |_, _, _| async {
            unreachable!("no read without a window");
            #[allow(unreachable_code)]
            Ok::<Vec<u32>, ()>(Vec::new())
        })
        .await;
        assert_eq!(batch, [1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_read_ends_the_batch() {
        let batch = fill(vec![1], 10, Duration::from_secs(5), |_, _, _| async {
            Err::<Vec<u32>, _>("down")
        })
        .await;
        assert_eq!(batch, [1]);
    }
}
