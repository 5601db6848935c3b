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

/// Counters for groups' epochs; groups share one by hash, which only
/// forgets a memo early, never keeps a stale one.
const GROUP_EPOCHS: usize = 4096;

#[derive(Debug)]
pub(crate) struct Index {
    buckets: MixMap<BucketKey, Vec<usize>>,
    /// Distinct non-wildcard second tokens per group.
    fanout: MixMap<GroupKey, u32>,
    /// Per (length, first token) group, a count of changes to its templates
    /// (added, removed, generalised): a line's candidates all come from its
    /// group, so a memo of where it matched holds until its group changes.
    group_epochs: Box<[u64]>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            buckets: MixMap::default(),
            fanout: MixMap::default(),
            group_epochs: vec![0; GROUP_EPOCHS].into_boxed_slice(),
        }
    }
}

impl GroupKey {
    fn counter(self) -> usize {
        let h =
            (self.first ^ u64::from(self.len).rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 52) as usize % GROUP_EPOCHS
    }
}

impl From<BucketKey> for GroupKey {
    fn from(key: BucketKey) -> Self {
        GroupKey {
            len: key.len,
            first: key.first,
        }
    }
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

    /// The counter of the group `line`'s candidates come from.
    pub fn group_counter(line: &PreparedLine) -> usize {
        GroupKey::from(Self::keys(line).0).counter()
    }

    /// The epoch kept by a group counter.
    pub fn epoch_at(&self, counter: usize) -> u64 {
        self.group_epochs.get(counter).copied().unwrap_or_default()
    }

    /// A template in bucket `key` was added, removed or changed.
    pub fn touch(&mut self, key: BucketKey) {
        if let Some(epoch) = self.group_epochs.get_mut(GroupKey::from(key).counter()) {
            *epoch = epoch.wrapping_add(1);
        }
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
        self.touch(key);
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
        self.touch(key);
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
