//! One token of a prepared line, and the facts about words that both the line
//! and the token cache need (a leaf: it imports neither).

use std::ops::Range;

use super::super::hash::fnv1a;
use super::super::mask::{VarKind, WILDCARD, mask_token};

/// A byte range in 8 bytes rather than `Range<usize>`'s 16: prepared lines
/// are copied out of the line cache for every event, so their size counts.
/// Lines are capped at [`MAX_LINE_BYTES`](super::line::MAX_LINE_BYTES), so `u32` is plenty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub fn new(range: Range<usize>) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span {
            start: clamp(range.start),
            end: clamp(range.end),
        }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LineToken {
    /// Range into the head line (original text, the parameter value).
    pub raw: Span,
    /// Range into `PreparedLine::masked`.
    pub masked: Span,
    /// FNV hash of the masked text.
    pub hash: u64,
    /// Whether masking replaced (part of) the token.
    pub is_masked: bool,
    /// See [`TokenFacts`](super::token_cache::TokenFacts).
    pub date_word: bool,
    pub continues_date: bool,
    /// A unit after a number (`KB`, `sec`): it stays a literal in the
    /// template, but skeletons count it with the value's gap.
    pub unit_word: bool,
}

/// The hash of `<*>`, which every variable-only token also gets.
pub(crate) const WILDCARD_HASH: u64 = fnv1a(WILDCARD.as_bytes());

/// English month and weekday names, abbreviated or full, capitalised.
pub(crate) fn is_date_word(tok: &str) -> bool {
    const WORDS: [&str; 20] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
    ];
    // Bytes, not chars, and the cheapest rejections first: this runs for
    // most tokens of every line.
    let b = tok.as_bytes();
    let lead = b.iter().take_while(|c| matches!(c, b'[' | b'(')).count();
    let t = &b[lead..];
    if !(3..=11).contains(&t.len()) || !t[0].is_ascii_uppercase() {
        return false;
    }
    let trail = t
        .iter()
        .rev()
        .take_while(|c| matches!(c, b',' | b'.' | b']' | b')'))
        .count();
    let t = &t[..t.len() - trail];
    t.iter().all(u8::is_ascii_alphabetic)
        && WORDS.iter().any(|w| t.starts_with(w.as_bytes()))
        // All ASCII letters, so this is a whole `str`.
        && std::str::from_utf8(t).is_ok_and(is_full_or_abbrev)
}

/// `Jun`/`June`/`Sunday` but not `Junk` or `Sunset`.
fn is_full_or_abbrev(t: &str) -> bool {
    const FULL: [&str; 19] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    t.len() == 3 || t == "Sept" || FULL.contains(&t)
}

/// Token that can follow a month/weekday name inside a timestamp.
pub(crate) fn continues_date(next: &str) -> bool {
    is_date_word(next) || matches!(mask_token(next), Some(VarKind::Number | VarKind::Timestamp))
}
