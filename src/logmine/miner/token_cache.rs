//! Memoised token masking: the miner's hot path.
//!
//! Masking a token runs a dozen shape rules; a log repeats the same tokens
//! (and the same *shapes* of token: `blk_-1608…`, `10.251.42.84:50010`)
//! millions of times. Every masking rule looks only at where digits are, not
//! at which digits (see [`depends_on_digit_values`] for the one exception),
//! so the result for `job_1445_0020` is also the result for `job_7302_0117`.
//! The cache is keyed by the token's *shape* — the token with every digit
//! written as `0` (except before an `x`, for `0x1f`) — and stores the
//! masked text and its hash.
//!
//! Two kinds of token cannot share a result with their shape-mates: those
//! whose masked text keeps digits (`tty2`, `sha256` stay literal) and those
//! that look like a known technical word. Their shape maps to a marker, and
//! they are cached under their exact bytes instead.
//!
//! Bounded: when full, the cache is emptied and refills with what the log
//! is saying now. Results never depend on the cache's state.

use std::ops::Range;

use super::super::hash::{MixMap, fnv1a, same_bytes, word_hash};
use super::super::mask::{depends_on_digit_values, is_plain_word, mask_into};
use super::token::{WILDCARD_HASH, continues_date, is_date_word};

/// Entries kept before the cache is emptied.
const MAX_ENTRIES: usize = 1 << 16;
/// Bytes of keys and masked texts kept before the cache is emptied.
const MAX_ARENA_BYTES: usize = 8 << 20;
/// Tokens longer than this are masked directly (rare, and would crowd the arena).
const MAX_CACHED_TOKEN: usize = 128;

const SHAPE_SEED: u64 = 0x51_7cc1_b727_220a;
const EXACT_SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// What the miner needs to know about one masked token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenFacts {
    /// FNV hash of the masked text ([`WILDCARD_HASH`] for variable-only tokens).
    pub hash: u64,
    /// Whether masking replaced (part of) the token.
    pub is_masked: bool,
    /// A month or weekday name, perhaps bracketed.
    pub date_word: bool,
    /// Can follow a month/weekday name inside a timestamp.
    pub continues_date: bool,
    /// Every token of the same shape masks the same way (so a line of such
    /// tokens can be remembered by its shape too).
    pub shape_stable: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    key: Range<u32>,
    masked: Range<u32>,
    facts: TokenFacts,
    /// The shape is shared by tokens with different results: look the
    /// token up by its exact bytes.
    by_exact_bytes: bool,
}

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    index: MixMap<u64, u32>,
    entries: Vec<Entry>,
    arena: String,
}

/// A token's (or line's) shape: every digit becomes `0`, except a digit
/// right before `x`/`X`, which `0x1f` makes meaningful.
pub(crate) fn shape_of(text: &str, out: &mut Vec<u8>) {
    out.clear();
    let b = text.as_bytes();
    // A plain map the compiler vectorises, then the rare `x` fixed up.
    out.extend(b.iter().map(|&c| if c.is_ascii_digit() { b'0' } else { c }));
    for x in memchr::memchr2_iter(b'x', b'X', b) {
        if x > 0 && b[x - 1].is_ascii_digit() {
            out[x - 1] = b[x - 1];
        }
    }
}

impl TokenCache {
    /// Masks `token` (whose shape is `shape`) into `out` and returns its facts.
    pub fn mask(&mut self, token: &str, shape: &[u8], out: &mut String) -> TokenFacts {
        if is_plain_word(token) {
            // Most tokens: cheaper to answer than to look up. A plain word
            // has no digits, so it continues a date only as a date word.
            out.push_str(token);
            let date_word = is_date_word(token);
            return TokenFacts {
                hash: fnv1a(token.as_bytes()),
                is_masked: false,
                date_word,
                continues_date: date_word,
                shape_stable: true,
            };
        }
        if token.len() > MAX_CACHED_TOKEN {
            let start = out.len();
            let mut facts = compute(token, out);
            facts.shape_stable = shape_stable(token, &out[start..]);
            return facts;
        }
        let by_shape = word_hash(shape, SHAPE_SEED);
        match self.find(by_shape, shape) {
            Some(entry) if !entry.by_exact_bytes => return self.emit(entry, out),
            Some(_) => return self.mask_exact(token, out),
            None => {}
        }
        let start = out.len();
        let mut facts = compute(token, out);
        let masked = &out[start..];
        facts.shape_stable = shape_stable(token, masked);
        if facts.shape_stable {
            self.insert(by_shape, shape, masked, facts, false);
        } else {
            // The marker for the shape, then the token itself.
            self.insert(by_shape, shape, "", facts, true);
            let exact = word_hash(token.as_bytes(), EXACT_SEED);
            self.insert(exact, token.as_bytes(), masked, facts, false);
        }
        facts
    }

    /// Number of entries (for tests: the cache stays bounded).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn mask_exact(&mut self, token: &str, out: &mut String) -> TokenFacts {
        let exact = word_hash(token.as_bytes(), EXACT_SEED);
        if let Some(entry) = self.find(exact, token.as_bytes()) {
            return self.emit(entry, out);
        }
        let start = out.len();
        let facts = compute(token, out);
        let masked = out[start..].to_owned();
        self.insert(exact, token.as_bytes(), &masked, facts, false);
        facts
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<Entry> {
        let &i = self.index.get(&hash)?;
        let entry = self.entries.get(i as usize)?;
        let stored = self.arena.as_bytes().get(range(&entry.key))?;
        same_bytes(stored, key).then(|| entry.clone())
    }

    fn emit(&self, entry: Entry, out: &mut String) -> TokenFacts {
        out.push_str(self.arena.get(range(&entry.masked)).unwrap_or_default());
        entry.facts
    }

    fn insert(&mut self, hash: u64, key: &[u8], masked: &str, facts: TokenFacts, marker: bool) {
        // Keys are token bytes or shapes of them: valid UTF-8 either way.
        let Ok(key) = std::str::from_utf8(key) else {
            return;
        };
        if self.entries.len() >= MAX_ENTRIES
            || self.arena.len() + key.len() + masked.len() > MAX_ARENA_BYTES
        {
            self.index.clear();
            self.entries.clear();
            self.arena.clear();
        }
        let (Ok(index), Ok(key_start)) = (
            u32::try_from(self.entries.len()),
            u32::try_from(self.arena.len()),
        ) else {
            return;
        };
        self.arena.push_str(key);
        let masked_start = key_start + key.len() as u32;
        self.arena.push_str(masked);
        let end = masked_start + masked.len() as u32;
        // A 64-bit hash collision between two live keys only costs the
        // newer one its cache slot: `find` compares the key bytes.
        self.index.entry(hash).or_insert(index);
        self.entries.push(Entry {
            key: key_start..masked_start,
            masked: masked_start..end,
            facts,
            by_exact_bytes: marker,
        });
    }
}

/// Whether every token shaped like `token` masks to `masked` (see the module
/// comment).
fn shape_stable(token: &str, masked: &str) -> bool {
    !(masked.bytes().any(|b| b.is_ascii_digit()) || depends_on_digit_values(token))
}

fn range(r: &Range<u32>) -> Range<usize> {
    r.start as usize..r.end as usize
}

/// Masks one token without the cache.
pub(crate) fn compute(token: &str, out: &mut String) -> TokenFacts {
    let start = out.len();
    let is_masked = mask_into(token, out);
    let text = &out.as_bytes()[start..];
    // A token of variables and punctuation only (`<*>:<*>`, `<*>,<*>`) says
    // nothing about the message: it hashes like `<*>`, so it keys and
    // compares as a variable whatever its punctuation.
    let variable_only = is_masked && !text.iter().any(u8::is_ascii_alphanumeric);
    TokenFacts {
        hash: if variable_only {
            WILDCARD_HASH
        } else {
            fnv1a(text)
        },
        is_masked,
        date_word: is_date_word(token),
        continues_date: continues_date(token),
        shape_stable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logmine::test_support::letters;

    fn via_cache(cache: &mut TokenCache, token: &str) -> (String, TokenFacts) {
        let mut shape = Vec::new();
        shape_of(token, &mut shape);
        let mut out = String::new();
        let facts = cache.mask(token, &shape, &mut out);
        (out, facts)
    }

    fn direct(token: &str) -> (String, TokenFacts) {
        let mut out = String::new();
        let mut facts = compute(token, &mut out);
        facts.shape_stable = shape_stable(token, &out);
        (out, facts)
    }

    #[test]
    fn shape_mates_share_a_result_but_digit_sensitive_tokens_do_not() {
        // Each pair has the same shape; the second is answered from the cache.
        let pairs = [
            ("job_1445_0020", "job_7302_0117"),
            ("10.251.42.84:50010", "10.112.93.17:50010"),
            ("tty2", "tty7"),
            ("s3", "s7"),
            ("x86", "x12"),
            ("sha256", "sha111"),
            ("PSR0", "PSR0"),
            ("s1", "s3"),
            ("0x1f", "0x2f"),
            ("0x1f", "1x1f"),
            ("50010", "19283"),
            ("http/1.0", "http/2.1"),
            ("Jun", "Jun"),
            ("[Sun", "[Sun"),
            ("Connection", "Connection"),
            ("true", "true"),
        ];
        for (a, b) in pairs {
            for (first, second) in [(a, b), (b, a)] {
                let mut cache = TokenCache::default();
                assert_eq!(via_cache(&mut cache, first), direct(first), "{first}");
                assert_eq!(
                    via_cache(&mut cache, second),
                    direct(second),
                    "{second} after {first}"
                );
                assert_eq!(via_cache(&mut cache, first), direct(first), "{first} again");
            }
        }
    }

    #[test]
    fn the_cache_stays_bounded() {
        let mut cache = TokenCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            // Distinct shapes (letters, not digits, vary), and not plain
            // words, which bypass the cache.
            let token = format!("{}:x", letters(i));
            assert_eq!(via_cache(&mut cache, &token), direct(&token));
        }
        assert!(cache.len() <= MAX_ENTRIES);
        let long = "a".repeat(MAX_CACHED_TOKEN + 1);
        assert_eq!(via_cache(&mut cache, &long), direct(&long));
    }
}
