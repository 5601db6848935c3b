//! Which template to drop when the miner is full.
//!
//! Policy: LFU with dynamic aging (LFU-DA). Each template's priority is
//! `age + count`, refreshed whenever it is hit; eviction removes the lowest
//! priority and raises `age` to it. So a template seen thousands of times
//! survives a flood of one-off lines, yet one that stops occurring is
//! eventually overtaken by newer templates as `age` climbs. Ties go to the
//! template hit least recently. Pure LRU would let a burst of unique junk
//! lines flush the few templates that matter; pure LFU would never forget.
//!
//! The heap is lazy: hits only bump the cluster's `priority` field (cheap on
//! the hot path); stale heap entries are re-queued when they surface.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    priority: u64,
    last_tick: u64,
    id: u64,
    slot: usize,
}

/// What the evictor needs to know about a live cluster.
pub(crate) trait Candidate {
    fn id(&self) -> u64;
    fn priority(&self) -> u64;
    fn last_tick(&self) -> u64;
}

#[derive(Debug, Default)]
pub(crate) struct Evictor {
    heap: BinaryHeap<Reverse<Entry>>,
    age: u64,
}

impl Evictor {
    /// Priority a template should have after `count` hits.
    pub fn priority_for(&self, count: u64) -> u64 {
        self.age.saturating_add(count)
    }

    /// Registers a newly created cluster (exactly one heap entry per cluster).
    pub fn track(&mut self, slot: usize, c: &impl Candidate) {
        self.heap.push(Reverse(Entry {
            priority: c.priority(),
            last_tick: c.last_tick(),
            id: c.id(),
            slot,
        }));
    }

    /// Drops the entries of clusters that are gone (merged into another)
    /// once they outnumber the live ones: only eviction pops entries, and a
    /// miner that merges more than it evicts would otherwise keep one per
    /// merged-away template forever. `is_live(slot, id)`.
    pub fn compact(&mut self, live: usize, is_live: impl Fn(usize, u64) -> bool) {
        if self.heap.len() > live.saturating_mul(2).saturating_add(64) {
            self.heap.retain(|Reverse(e)| is_live(e.slot, e.id));
        }
    }

    /// Entries held (for tests: memory stays bounded).
    #[cfg(test)]
    pub fn entries(&self) -> usize {
        self.heap.len()
    }

    /// Picks the slot to evict. `lookup(slot)` returns the live cluster in
    /// that slot, if any.
    pub fn pick<'a, C, F>(&mut self, lookup: F) -> Option<usize>
    where
        C: Candidate + 'a,
        F: Fn(usize) -> Option<&'a C>,
    {
        while let Some(Reverse(e)) = self.heap.pop() {
            let Some(c) = lookup(e.slot).filter(|c| c.id() == e.id) else {
                continue; // cluster already gone
            };
            if c.priority() == e.priority && c.last_tick() == e.last_tick {
                self.age = self.age.max(e.priority);
                return Some(e.slot);
            }
            // Hit since it was queued: re-queue with current standing.
            self.heap.push(Reverse(Entry {
                priority: c.priority(),
                last_tick: c.last_tick(),
                ..e
            }));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct C {
        id: u64,
        priority: u64,
        tick: u64,
    }
    impl Candidate for C {
        fn id(&self) -> u64 {
            self.id
        }
        fn priority(&self) -> u64 {
            self.priority
        }
        fn last_tick(&self) -> u64 {
            self.tick
        }
    }

    #[test]
    fn evicts_lowest_priority_then_least_recent() {
        let mut ev = Evictor::default();
        let c = |id, priority, tick| C { id, priority, tick };
        let mut cs = [c(1, 5, 1), c(2, 1, 2), c(3, 1, 3)];
        for (i, c) in cs.iter().enumerate() {
            ev.track(i, c);
        }
        // Cluster 2 is hit after being queued: it is now more valuable.
        cs[1].priority = 2;
        cs[1].tick = 4;
        let victim = ev.pick(|s| cs.get(s));
        assert_eq!(victim, Some(2));
        assert_eq!(ev.priority_for(1), 2, "age rose to the evicted priority");
    }

    /// Entries of clusters merged away are dropped once they outnumber the
    /// live ones; live ones stay, and eviction still finds them.
    #[test]
    fn entries_of_gone_clusters_are_compacted() {
        let mut ev = Evictor::default();
        let cs: Vec<C> = (0..1_000)
            .map(|id| C {
                id,
                priority: id,
                tick: id,
            })
            .collect();
        for (slot, c) in cs.iter().enumerate() {
            ev.track(slot, c);
            // Only the first ten stay live; the rest were merged away.
            ev.compact(10.min(slot + 1), |slot, id| slot < 10 && id == slot as u64);
        }
        assert!(ev.entries() <= 2 * 10 + 64 + 1, "{}", ev.entries());
        let live = |s: usize| cs.get(s).filter(|_| s < 10);
        assert_eq!(ev.pick(live), Some(0), "the live ones are still there");
    }
}
