//! Candidate lookup: which templates a line is compared with.
//!
//! Templates are bucketed by token count and their first two (masked)
//! tokens after any leading `<*>`s — a two-level prefix tree flattened into
//! one hash map. Log
//! statements rarely change length or their opening words, and exact prefix
//! buckets keep messages such as `"GET ..."` / `"POST ..."` apart while
//! keeping the per-line work to a handful of comparisons.
//!
//! The second token is sometimes a variable that masking misses (a bare user
//! or table name). To stop such values from creating one bucket each without
//! bound, a (length, first token) group may hold at most
//! [`MAX_SECOND_TOKENS`] distinct second tokens; templates for further values
//! go to the group's wildcard bucket, which every line of the group also
//! searches. Lines whose second token is masked use that same bucket.

use super::super::hash::MixMap;
use super::line::PreparedLine;
use super::token::WILDCARD_HASH;

/// Fan-out cap for the second prefix token, per (length, first token).
pub(crate) const MAX_SECOND_TOKENS: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BucketKey {
    len: u32,
    first: u64,
    second: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKey {
    len: u32,
    first: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    buckets: MixMap<BucketKey, Vec<usize>>,
    /// Distinct non-wildcard second tokens per group.
    fanout: MixMap<GroupKey, u32>,
}

impl Index {
    /// The line's own bucket and its group's wildcard bucket.
    fn keys(line: &PreparedLine) -> (BucketKey, BucketKey) {
        let len = u32::try_from(line.tokens.len()).unwrap_or(u32::MAX);
        // Leading fully masked tokens (timestamps, ids, an IP) say nothing
        // about the message; key on the first words after them.
        let skip = line
            .tokens
            .iter()
            .take_while(|t| t.hash == WILDCARD_HASH)
            .count();
        let skip = skip.min(line.tokens.len().saturating_sub(1));
        let first = line.tokens.get(skip).map_or(0, |t| t.hash);
        let second = line.tokens.get(skip + 1).map_or(WILDCARD_HASH, |t| t.hash);
        let exact = BucketKey { len, first, second };
        (
            exact,
            BucketKey {
                second: WILDCARD_HASH,
                ..exact
            },
        )
    }

    /// Slots to compare `line` with: its exact bucket, then the wildcard one.
    pub fn candidates<'a>(&'a self, line: &PreparedLine) -> impl Iterator<Item = usize> + 'a {
        let (exact, wild) = Self::keys(line);
        let a = self
            .buckets
            .get(&exact)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let b = if wild == exact {
            &[][..]
        } else {
            self.buckets
                .get(&wild)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        a.iter().chain(b).copied()
    }

    /// Bucket for a new template built from `line`.
    pub fn key_for_new(&self, line: &PreparedLine) -> BucketKey {
        let (exact, wild) = Self::keys(line);
        let group = GroupKey {
            len: exact.len,
            first: exact.first,
        };
        let full = self
            .fanout
            .get(&group)
            .is_some_and(|&n| n >= MAX_SECOND_TOKENS);
        if exact == wild || self.buckets.contains_key(&exact) || !full {
            exact
        } else {
            wild
        }
    }

    pub fn insert(&mut self, key: BucketKey, slot: usize) {
        let list = self.buckets.entry(key).or_default();
        if list.is_empty() && key.second != WILDCARD_HASH {
            *self
                .fanout
                .entry(GroupKey {
                    len: key.len,
                    first: key.first,
                })
                .or_default() += 1;
        }
        list.push(slot);
    }

    pub fn remove(&mut self, key: BucketKey, slot: usize) {
        let Some(list) = self.buckets.get_mut(&key) else {
            return;
        };
        list.retain(|&s| s != slot);
        if !list.is_empty() {
            return;
        }
        self.buckets.remove(&key);
        if key.second == WILDCARD_HASH {
            return;
        }
        let group = GroupKey {
            len: key.len,
            first: key.first,
        };
        if let Some(n) = self.fanout.get_mut(&group) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.fanout.remove(&group);
            }
        }
    }

    /// Number of buckets (for tests: memory stays bounded).
    #[cfg(test)]
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }
}
