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
}

#[derive(Debug, Default)]
pub(crate) struct LineCache {
    index: MixMap<u64, u32>,
    entries: Vec<Entry>,
    arena: String,
    tokens: Vec<LineToken>,
}

impl LineCache {
    /// Fills `tokens` and `masked` for a line of this shape, if one was kept.
    pub fn restore(&self, shape: &[u8], tokens: &mut Vec<LineToken>, masked: &mut String) -> bool {
        let Some(entry) = self
            .index
            .get(&word_hash(shape, LINE_SEED))
            .and_then(|&i| self.entries.get(i as usize))
        else {
            return false;
        };
        if !same_bytes(
            self.arena.as_bytes().get(entry.shape.clone()).unwrap_or_default(),
            shape,
        ) {
            return false;
        }
        let (Some(text), Some(kept)) = (
            self.arena.get(entry.masked.clone()),
            self.tokens.get(entry.tokens.clone()),
        ) else {
            return false;
        };
        masked.push_str(text);
        tokens.extend_from_slice(kept);
        true
    }

    /// Keeps a prepared line (all of whose tokens are shape-stable).
    pub fn store(&mut self, shape: &[u8], tokens: &[LineToken], masked: &str) {
        // Shapes are lines with some digits rewritten: valid UTF-8.
        let Ok(shape_text) = std::str::from_utf8(shape) else {
            return;
        };
        if self.entries.len() >= MAX_LINES
            || self.arena.len() + shape.len() + masked.len() > MAX_ARENA_BYTES
            || self.tokens.len() + tokens.len() > MAX_TOKEN_RECORDS
        {
            self.index.clear();
            self.entries.clear();
            self.arena.clear();
            self.tokens.clear();
        }
        let Ok(index) = u32::try_from(self.entries.len()) else {
            return;
        };
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
        });
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
