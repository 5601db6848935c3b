//! Turning one event into a masked token sequence, without allocating.
//!
//! The prepared line lives in a scratch buffer owned by the miner and is
//! reused for every event: token texts are byte ranges into the event and
//! into one shared `masked` string.

use super::super::hash::fnv1a;
use super::super::mask::{VarKind, WILDCARD, mask_into, mask_token};
use std::ops::Range;

/// Only the first this-many bytes of an event's head line are tokenised.
/// Longer lines are almost always payload dumps; their structure is at the
/// start.
pub(crate) const MAX_LINE_BYTES: usize = 4096;
/// Cap on tokens per line, for the same reason and to bound template size.
pub(crate) const MAX_TOKENS: usize = 256;

#[derive(Debug, Clone)]
pub(crate) struct LineToken {
    /// Range into the head line (original text, the parameter value).
    pub raw: Range<usize>,
    /// Range into `PreparedLine::masked`.
    pub masked: Range<usize>,
    /// FNV hash of the masked text.
    pub hash: u64,
    /// Whether masking replaced (part of) the token.
    pub is_masked: bool,
}

#[derive(Debug, Default)]
pub(crate) struct PreparedLine {
    pub tokens: Vec<LineToken>,
    pub masked: String,
}

impl PreparedLine {
    pub fn masked_text(&self, t: &LineToken) -> &str {
        &self.masked[t.masked.clone()]
    }

    /// Tokenises and masks `head` (already cut to one line).
    pub fn prepare(&mut self, head: &str) {
        self.tokens.clear();
        self.masked.clear();
        let head = truncate_at_char_boundary(head, MAX_LINE_BYTES);
        let base = head.as_ptr() as usize;
        let mut iter = head.split_ascii_whitespace().take(MAX_TOKENS).peekable();
        while let Some(tok) = iter.next() {
            // `tok` is a sub-slice of `head`, so pointer difference is its offset.
            let start = tok.as_ptr() as usize - base;
            let m_start = self.masked.len();
            let is_masked = if is_date_word(tok) && iter.peek().is_some_and(|n| continues_date(n)) {
                // `[Sun Jun 19 04:08:37 2005]`: month and weekday names are
                // part of a timestamp when a date-ish token follows.
                let core = tok.trim_start_matches(['[', '(']);
                let lead = &tok[..tok.len() - core.len()];
                let trail = &core[core.trim_end_matches([',', '.', ']', ')']).len()..];
                self.masked.push_str(lead);
                self.masked.push_str(WILDCARD);
                self.masked.push_str(trail);
                true
            } else {
                mask_into(tok, &mut self.masked)
            };
            let m_end = self.masked.len();
            let text = &self.masked.as_bytes()[m_start..m_end];
            // A token of variables and punctuation only (`<*>:<*>`, `<*>,<*>`)
            // says nothing about the message: it hashes like `<*>`, so it
            // keys and compares as a variable whatever its punctuation.
            let variable_only = is_masked && !text.iter().any(u8::is_ascii_alphanumeric);
            self.tokens.push(LineToken {
                raw: start..start + tok.len(),
                masked: m_start..m_end,
                hash: if variable_only {
                    WILDCARD_HASH
                } else {
                    fnv1a(text)
                },
                is_masked,
            });
        }
    }
}

/// The hash of `<*>`, which every variable-only token also gets.
pub(crate) const WILDCARD_HASH: u64 = fnv1a(WILDCARD.as_bytes());

/// English month and weekday names, abbreviated or full, capitalised.
fn is_date_word(tok: &str) -> bool {
    const WORDS: [&str; 20] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
    ];
    let t = tok.trim_start_matches(['[', '(']);
    // Cheap reject first: this runs for every token.
    if !(3..=11).contains(&t.len()) || !t.as_bytes().first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let t = t.trim_end_matches([',', '.', ']', ')']);
    t.bytes().all(|b| b.is_ascii_alphabetic())
        && WORDS.iter().any(|w| t.starts_with(w))
        && is_full_or_abbrev(t)
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
fn continues_date(next: &str) -> bool {
    is_date_word(next) || matches!(mask_token(next), Some(VarKind::Number | VarKind::Timestamp))
}

/// The line a template is built from: the first non-blank line of the event
/// (for a traceback, the message/exception line, not the frames).
pub(crate) fn head_line(event: &str) -> &str {
    event
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

/// Longest prefix of `s` that is at most `max` bytes and ends on a char
/// boundary.
pub(crate) fn truncate_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_line_skips_blank_lines_and_crlf() {
        assert_eq!(head_line("\r\n  \nfirst\r\nsecond"), "first");
        assert_eq!(head_line(""), "");
        assert_eq!(head_line("\n\n"), "");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "ééé"; // 6 bytes
        assert_eq!(truncate_at_char_boundary(s, 3), "é");
        assert_eq!(truncate_at_char_boundary(s, 10), s);
    }

    #[test]
    fn prepare_caps_tokens_and_masks() {
        let mut p = PreparedLine::default();
        p.prepare("send 42 bytes\tto 10.0.0.1");
        let masked: Vec<&str> = p.tokens.iter().map(|t| p.masked_text(t)).collect();
        assert_eq!(masked, ["send", "<*>", "bytes", "to", "<*>"]);
        p.prepare("[Sun Dec 04 04:47:44 2005] [notice] ok");
        let masked: Vec<&str> = p.tokens.iter().map(|t| p.masked_text(t)).collect();
        assert_eq!(
            masked,
            [
                "[<*>",
                "<*>",
                "<*>",
                "<*>:<*>:<*>",
                "<*>]",
                "[notice]",
                "ok"
            ]
        );
        p.prepare("login at Sun Jun 19 04:08:37 2005 in May as Jun");
        let masked: Vec<&str> = p.tokens.iter().map(|t| p.masked_text(t)).collect();
        assert_eq!(
            masked,
            [
                "login",
                "at",
                "<*>",
                "<*>",
                "<*>",
                "<*>:<*>:<*>",
                "<*>",
                "in",
                "May",
                "as",
                "Jun"
            ]
        );
        let long = "w ".repeat(1000);
        p.prepare(&long);
        assert_eq!(p.tokens.len(), MAX_TOKENS);
    }
}
