//! A short-lived copy of a read whose answer is the same for every caller.
//!
//! The gateway holds no business state: this is only the last answer of a public read, kept
//! for a bounded time so that every screen does not ask the backend for the same thing.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// The last answer of a read that every signed-in caller gets alike, served for `ttl` after
/// the call that fetched it started: what a caller sees is at most `ttl` older than a read of
/// its own would be. Only answers are kept (a failed read is retried by the next caller), and
/// no caller waits for another's fetch: callers that miss at the same moment each fetch (a
/// handful, for the length of one call). A `ttl` of zero keeps nothing.
pub struct SharedRead<T> {
    ttl: Duration,
    last: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> SharedRead<T> {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, last: Mutex::new(None) }
    }

    /// The kept answer if it is fresh, else what `fetch` answers (kept if it is an answer).
    pub async fn get<E, Fut>(&self, fetch: impl FnOnce() -> Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some((at, value)) = self.last.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let started = Instant::now();
        let value = fetch().await?;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        // A slow fetch never replaces the answer of one that started after it.
        if !self.ttl.is_zero() && last.as_ref().is_none_or(|(at, _)| *at < started) {
            *last = Some((started, value.clone()));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn read(cache: &SharedRead<u32>, calls: &AtomicU32, answer: Result<u32, ()>) -> Result<u32, ()> {
        cache
            .get(|| async {
                calls.fetch_add(1, Ordering::Relaxed);
                answer
            })
            .await
    }

    #[tokio::test]
    async fn answers_are_kept_for_the_ttl_and_failures_are_not() {
        let (cache, calls) = (SharedRead::new(Duration::from_millis(200)), AtomicU32::new(0));
        assert_eq!(read(&cache, &calls, Err(())).await, Err(()));
        assert_eq!(read(&cache, &calls, Ok(1)).await, Ok(1));
        assert_eq!(read(&cache, &calls, Ok(2)).await, Ok(1), "kept");
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(read(&cache, &calls, Ok(3)).await, Ok(3), "fetched again once stale");
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_zero_ttl_keeps_nothing() {
        let (cache, calls) = (SharedRead::new(Duration::ZERO), AtomicU32::new(0));
        assert_eq!(read(&cache, &calls, Ok(1)).await, Ok(1));
        assert_eq!(read(&cache, &calls, Ok(2)).await, Ok(2));
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }
}
