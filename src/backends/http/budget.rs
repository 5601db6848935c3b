//! ARM's request budget: when its remaining-request headers run low, every
//! request of this client waits a little, so one busy session does not use up
//! the subscription's budget for everyone else.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

use crate::support::sync::lock;

/// ARM's remaining-request headers below this make the client pause a little.
const LOW_BUDGET: u64 = 25;
const LOW_BUDGET_PAUSE: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(super) struct RequestBudget {
    /// Set when ARM reports the request budget nearly spent.
    pause_until: Mutex<Option<Instant>>,
}

impl RequestBudget {
    /// Waits out a pause set by an earlier answer, if one is still running.
    pub(super) async fn wait(&self) {
        let until = *lock(&self.pause_until);
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
    }

    /// Reads an answer's `x-ms-ratelimit-remaining-*` headers.
    pub(super) fn note(&self, headers: &HeaderMap) {
        let lowest = headers
            .iter()
            .filter(|(name, _)| name.as_str().starts_with("x-ms-ratelimit-remaining-"))
            .filter_map(|(name, value)| {
                let remaining = value.to_str().ok()?.trim().parse::<u64>().ok()?;
                Some((remaining, name.as_str().to_string()))
            })
            .min();
        if let Some((remaining, header)) = lowest
            && remaining < LOW_BUDGET
        {
            tracing::warn!("ARM request budget low ({header}: {remaining}); slowing down");
            *lock(&self.pause_until) = Some(Instant::now() + LOW_BUDGET_PAUSE);
        }
    }
}
