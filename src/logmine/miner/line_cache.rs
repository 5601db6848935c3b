//! Whole prepared lines remembered by their shape.
//!
//! Most lines of a log are one of a few hundred statements with different
//! numbers in them. When every token of a line is shape-stable (see
//! `token_cache.rs`), any line with the same shape — same bytes, digits
//! aside — tokenises and masks exactly the same way: same token boundaries,
//! same masked texts and hashes. So the prepared result is kept under the
//! line's shape, and a later line of that shape is prepared with one hash,
//! one lookup and two copies instead of a pass per token.
//!
//! A line with tokens that are not shape-stable (`jk2_init()`, `eth0`: their
//! digits stay in the template) is kept under a second key: its shape with
//! those tokens' exact bytes put back. Which tokens those are depends only on
//! the shape, so the shape maps to a marker listing their spans.
//!
//! Bounded like the token cache: emptied when full.

use std::ops::Range;

use super::super::hash::{MixMap, same_bytes, word_hash};
use super::token::{LineToken, Span};

const MAX_LINES: usize = 1 << 14;
const MAX_ARENA_BYTES: usize = 8 << 20;
const MAX_TOKEN_RECORDS: usize = 1 << 18;
const SHAPE_SEED: u64 = 0x7a3c_e14d_0b95_f286;
const EXACT_SEED: u64 = 0x1d8e_4e27_c47d_124f;

#[derive(Debug)]
enum Kept {
    /// A prepared line: its masked text (in `arena`) and tokens.
    Line {
        masked: Range<usize>,
        tokens: Range<usize>,
        memo: Option<Memo>,
    },
    /// Lines of this shape are kept under their exact key; these spans (in
    /// `spans`) of the line keep their own bytes in it.
    Exact { spans: Range<usize> },
}

#[derive(Debug)]
struct Entry {
    /// The key (a shape, or a shape with some exact bytes) in `arena`.
    key: Range<usize>,
    kept: Kept,
}

/// The template lines of this shape joined, and the epoch then (see
/// `TemplateMiner::add_prepared`): the epoch of the line's group of
/// templates (counter `group`, kept here so a lookup need not work it out
/// again) when the template was found among the group's, else the miner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memo {
    pub epoch: u64,
    pub slot: usize,
    pub group: Option<usize>,
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
    spans: Vec<Span>,
    /// Scratch for building exact keys.
    key: Vec<u8>,
}

impl LineCache {
    /// Fills `tokens` and `masked` for `line` (whose shape is `shape`) if a
    /// line of its kind was kept.
    pub fn restore(
        &mut self,
        line: &str,
        shape: &[u8],
        tokens: &mut Vec<LineToken>,
        masked: &mut String,
    ) -> Option<EntryId> {
        let mut id = self.find(shape, SHAPE_SEED)?;
        if let Kept::Exact { spans } = &self.entry(id)?.kept {
            let spans = spans.clone();
            exact_key(line, shape, self.spans.get(spans)?, &mut self.key);
            id = self.find(&self.key, EXACT_SEED)?;
        }
        let Kept::Line {
            masked: text,
            tokens: kept,
            ..
        } = &self.entry(id)?.kept
        else {
            return None;
        };
        masked.push_str(self.arena.get(text.clone())?);
        tokens.extend_from_slice(self.tokens.get(kept.clone())?);
        Some(id)
    }

    /// Keeps a prepared line. `unstable` are the spans of its tokens that
    /// are not shape-stable (usually none).
    pub fn store(
        &mut self,
        line: &str,
        shape: &[u8],
        unstable: &[Span],
        tokens: &[LineToken],
        masked: &str,
    ) -> Option<EntryId> {
        let room = shape.len() * 2 + masked.len();
        if self.entries.len() + 2 > MAX_LINES
            || self.arena.len() + room > MAX_ARENA_BYTES
            || self.tokens.len() + tokens.len() > MAX_TOKEN_RECORDS
            || self.spans.len() + unstable.len() > MAX_TOKEN_RECORDS
        {
            self.clear();
        }
        if unstable.is_empty() {
            return self.push(shape, SHAPE_SEED, tokens, masked);
        }
        if self.find(shape, SHAPE_SEED).is_none() {
            let start = self.spans.len();
            self.spans.extend_from_slice(unstable);
            let spans = start..self.spans.len();
            self.push_entry(shape, SHAPE_SEED, Kept::Exact { spans })?;
        }
        let mut key = std::mem::take(&mut self.key);
        exact_key(line, shape, unstable, &mut key);
        let id = self.push(&key, EXACT_SEED, tokens, masked);
        self.key = key;
        id
    }

    pub fn memo(&self, id: EntryId) -> Option<Memo> {
        match self.entry(id)?.kept {
            Kept::Line { memo, .. } => memo,
            Kept::Exact { .. } => None,
        }
    }

    pub fn set_memo(&mut self, id: EntryId, memo: Memo) {
        if let Some(Entry {
            kept: Kept::Line { memo: slot, .. },
            ..
        }) = self.entries.get_mut(id.0 as usize)
        {
            *slot = Some(memo);
        }
    }

    fn entry(&self, id: EntryId) -> Option<&Entry> {
        self.entries.get(id.0 as usize)
    }

    fn find(&self, key: &[u8], seed: u64) -> Option<EntryId> {
        let &i = self.index.get(&word_hash(key, seed))?;
        let entry = self.entries.get(i as usize)?;
        let stored = self.arena.as_bytes().get(entry.key.clone())?;
        same_bytes(stored, key).then_some(EntryId(i))
    }

    fn push(
        &mut self,
        key: &[u8],
        seed: u64,
        tokens: &[LineToken],
        masked: &str,
    ) -> Option<EntryId> {
        let text_start = self.arena.len();
        self.arena.push_str(masked);
        let tokens_start = self.tokens.len();
        self.tokens.extend_from_slice(tokens);
        let kept = Kept::Line {
            masked: text_start..self.arena.len(),
            tokens: tokens_start..self.tokens.len(),
            memo: None,
        };
        self.push_entry(key, seed, kept)
    }

    fn push_entry(&mut self, key: &[u8], seed: u64, kept: Kept) -> Option<EntryId> {
        // Keys are lines with some digits rewritten: valid UTF-8.
        let key_text = std::str::from_utf8(key).ok()?;
        let index = u32::try_from(self.entries.len()).ok()?;
        let start = self.arena.len();
        self.arena.push_str(key_text);
        // A 64-bit collision between live keys only costs the newer one its
        // place: `find` compares the key bytes.
        self.index.entry(word_hash(key, seed)).or_insert(index);
        self.entries.push(Entry {
            key: start..self.arena.len(),
            kept,
        });
        Some(EntryId(index))
    }

    fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.arena.clear();
        self.tokens.clear();
        self.spans.clear();
    }
}

/// `shape` with the bytes of `line` put back in `spans`.
fn exact_key(line: &str, shape: &[u8], spans: &[Span], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(shape);
    for span in spans {
        let r = span.range();
        if let (Some(to), Some(from)) = (out.get_mut(r.clone()), line.as_bytes().get(r)) {
            to.copy_from_slice(from);
        }
    }
}
