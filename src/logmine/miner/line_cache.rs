//! Whole prepared lines remembered by their shape.
//!
//! Most lines of a log are one of a few hundred statements with different
//! numbers in them. When every token of a line is shape-stable (see
//! `token_cache.rs`), any line with the same shape — same bytes, digits
//! `1`–`9` aside — tokenises and masks exactly the same way: same token
//! boundaries, same masked texts and hashes. So the prepared result is kept
//! under the line's shape, and a later line of that shape is prepared with
//! one hash, one lookup and two copies instead of a pass per token.
//!
//! Bounded like the token cache: emptied when full.

use std::ops::Range;

use super::super::hash::{MixMap, same_bytes, word_hash};
use super::line::LineToken;

const MAX_LINES: usize = 1 << 14;
const MAX_ARENA_BYTES: usize = 8 << 20;
const MAX_TOKEN_RECORDS: usize = 1 << 18;
const LINE_SEED: u64 = 0x7a3c_e14d_0b95_f286;

#[derive(Debug)]
struct Entry {
    /// The shape, then the masked text, in `arena`.
    shape: Range<usize>,
    masked: Range<usize>,
    tokens: Range<usize>,
    memo: Option<Memo>,
}

/// The template lines of this shape joined, and the miner's epoch then (see
/// `TemplateMiner::add_prepared`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memo {
    pub epoch: u64,
    pub slot: usize,
}

/// Which entry a prepared line came from or went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryId(u32);

#[derive(Debug, Default)]
pub(crate) struct LineCache {
    index: MixMap<u64, u32>,
    entries: Vec<Entry>,
    arena: String,
    tokens: Vec<LineToken>,
}

impl LineCache {
    /// Fills `tokens` and `masked` for a line of this shape, if one was kept.
    pub fn restore(
        &self,
        shape: &[u8],
        tokens: &mut Vec<LineToken>,
        masked: &mut String,
    ) -> Option<EntryId> {
        let &i = self.index.get(&word_hash(shape, LINE_SEED))?;
        let entry = self.entries.get(i as usize)?;
        let stored = self.arena.as_bytes().get(entry.shape.clone())?;
        if !same_bytes(stored, shape) {
            return None;
        }
        masked.push_str(self.arena.get(entry.masked.clone())?);
        tokens.extend_from_slice(self.tokens.get(entry.tokens.clone())?);
        Some(EntryId(i))
    }

    pub fn memo(&self, id: EntryId) -> Option<Memo> {
        self.entries.get(id.0 as usize)?.memo
    }

    pub fn set_memo(&mut self, id: EntryId, memo: Memo) {
        if let Some(entry) = self.entries.get_mut(id.0 as usize) {
            entry.memo = Some(memo);
        }
    }

    /// Keeps a prepared line (all of whose tokens are shape-stable).
    pub fn store(&mut self, shape: &[u8], tokens: &[LineToken], masked: &str) -> Option<EntryId> {
        // Shapes are lines with some digits rewritten: valid UTF-8.
        let shape_text = std::str::from_utf8(shape).ok()?;
        if self.entries.len() >= MAX_LINES
            || self.arena.len() + shape.len() + masked.len() > MAX_ARENA_BYTES
            || self.tokens.len() + tokens.len() > MAX_TOKEN_RECORDS
        {
            self.index.clear();
            self.entries.clear();
            self.arena.clear();
            self.tokens.clear();
        }
        let index = u32::try_from(self.entries.len()).ok()?;
        let shape_start = self.arena.len();
        self.arena.push_str(shape_text);
        let masked_start = self.arena.len();
        self.arena.push_str(masked);
        let tokens_start = self.tokens.len();
        self.tokens.extend_from_slice(tokens);
        self.index
            .entry(word_hash(shape, LINE_SEED))
            .or_insert(index);
        self.entries.push(Entry {
            shape: shape_start..masked_start,
            masked: masked_start..self.arena.len(),
            tokens: tokens_start..self.tokens.len(),
            memo: None,
        });
        Some(EntryId(index))
    }
}
