//! Data pipeline definitions kept between catalogue loads. The catalogue is
//! loaded again every five minutes, and each definition is a POST (often a
//! long-running operation): asking for all of them each time would cost up to
//! 200 calls and 40 s a load for what rarely changes.
//!
//! Fabric's item listing carries no modification time or etag, only the
//! name, type and description, so a definition is kept while the listing
//! says the same of its item (a rename or a new description reads it again)
//! and for at most [`DEFINITION_TTL`]: an edit that changes neither shows
//! within half an hour. At most [`MAX_CACHED_DEFINITIONS`] items are held;
//! items gone from the workspace are dropped at each load.
//!
//! The cache also remembers when each item was last asked for, so a load cut
//! short by its deadline reads first what has waited longest: loads converge
//! instead of reading the same alphabetically first items every time.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::definition::ParsedDefinition;

/// Longest a definition is kept without being read again.
pub const DEFINITION_TTL: Duration = Duration::from_secs(30 * 60);
/// Most items whose definitions are kept.
pub const MAX_CACHED_DEFINITIONS: usize = 1_000;

struct Entry {
    /// What the listing said of the item when it was asked for.
    listing: u64,
    asked_at: Instant,
    /// Which ask this was, counted: orders asks made within one clock tick.
    ask: u64,
    /// The definition, when that ask read one.
    parsed: Option<ParsedDefinition>,
}

/// Item id (any case) → what was last read of its definition.
#[derive(Default)]
pub struct DefinitionCache {
    entries: Mutex<HashMap<String, Entry>>,
    asks: std::sync::atomic::AtomicU64,
}

impl DefinitionCache {
    /// The definition read for `item` within [`DEFINITION_TTL`], while the
    /// listing still says `listing` of it.
    pub fn fresh(&self, item: &str, listing: u64) -> Option<ParsedDefinition> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(&item.to_ascii_lowercase())?;
        (entry.listing == listing && entry.asked_at.elapsed() < DEFINITION_TTL)
            .then(|| entry.parsed.clone())
            .flatten()
    }

    /// When `item`'s definition was last asked for, as a count of asks that
    /// orders them (`None`: never, or forgotten).
    pub fn last_asked(&self, item: &str) -> Option<u64> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&item.to_ascii_lowercase())
            .map(|entry| entry.ask)
    }

    /// What asking for `item`'s definition gave: the definition, or `None`
    /// when it could not be read (remembered only as asked).
    pub fn store(&self, item: &str, listing: u64, parsed: Option<ParsedDefinition>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let key = item.to_ascii_lowercase();
        let ask = self.asks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !entries.contains_key(&key) && entries.len() >= MAX_CACHED_DEFINITIONS {
            entries.retain(|_, entry| entry.asked_at.elapsed() < DEFINITION_TTL);
            if entries.len() >= MAX_CACHED_DEFINITIONS
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.ask)
                    .map(|(id, _)| id.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            key,
            Entry {
                listing,
                asked_at: Instant::now(),
                ask,
                parsed,
            },
        );
    }

    /// Forgets every item but `present` (ids, any case).
    pub fn keep_only<'a>(&self, present: impl IntoIterator<Item = &'a str>) {
        let present: HashSet<String> = present.into_iter().map(str::to_ascii_lowercase).collect();
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|id, _| present.contains(id));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_listing_or_a_failed_read_is_not_served() {
        let cache = DefinitionCache::default();
        cache.store("A-1", 7, Some(ParsedDefinition::default()));
        assert!(cache.fresh("a-1", 7).is_some());
        assert!(cache.fresh("a-1", 8).is_none(), "the listing changed");
        cache.store("b-2", 7, None);
        assert!(cache.fresh("b-2", 7).is_none());
        assert!(cache.last_asked("b-2").is_some());
        assert!(cache.last_asked("c-3").is_none());
        cache.keep_only(["b-2"]);
        assert!(cache.last_asked("a-1").is_none());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_is_bounded_and_drops_the_longest_asked() {
        let cache = DefinitionCache::default();
        for n in 0..MAX_CACHED_DEFINITIONS + 50 {
            cache.store(&format!("item-{n}"), 1, Some(ParsedDefinition::default()));
        }
        assert_eq!(cache.len(), MAX_CACHED_DEFINITIONS);
        assert!(cache.last_asked("item-0").is_none());
        assert!(
            cache
                .fresh(&format!("item-{}", MAX_CACHED_DEFINITIONS + 49), 1)
                .is_some()
        );
    }
}
