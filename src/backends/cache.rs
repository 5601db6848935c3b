//! A value loaded on demand and kept for a while: pipeline definitions change
//! rarely, and reading them on every tool call would spend a shared service's
//! request budget for nothing.

use std::future::Future;
use std::time::{Duration, Instant};

pub struct TtlCache<T> {
    ttl: Duration,
    slot: tokio::sync::Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> TtlCache<T> {
    pub fn new(ttl: Duration) -> TtlCache<T> {
        TtlCache {
            ttl,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached value while it is fresh, else what `load` returns (kept only
    /// when it succeeded). Concurrent callers wait for one load.
    pub async fn get_or_load<F, Fut, E>(&self, load: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = load().await?;
        *slot = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn fresh_values_are_reused_and_failures_are_not_kept() {
        let loads = AtomicUsize::new(0);
        let cache = TtlCache::new(Duration::from_secs(60));
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(7)
        };
        assert_eq!(cache.get_or_load(load).await, Ok(7));
        assert_eq!(cache.get_or_load(load).await, Ok(7));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let failing: TtlCache<u32> = TtlCache::new(Duration::from_secs(60));
        assert!(
            failing
                .get_or_load(|| async { Err::<u32, _>("down") })
                .await
                .is_err()
        );
        assert_eq!(
            failing.get_or_load(|| async { Ok::<_, &str>(3) }).await,
            Ok(3)
        );
        let stale = TtlCache::new(Duration::ZERO);
        stale.get_or_load(load).await.unwrap();
        stale.get_or_load(load).await.unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            3,
            "a stale value is loaded again"
        );
    }
}
