//! Turning one event into a masked token sequence, without allocating.
//!
//! The prepared line lives in a scratch buffer owned by the miner and is
//! reused for every event: token texts are byte ranges into the event and
//! into one shared `masked` string.

use super::super::mask::{WILDCARD, is_unit_word};
use super::line_cache::{EntryId, LineCache, Memo};
use super::token::{LineToken, Span, WILDCARD_HASH};
use super::token_cache::{TokenCache, compute, shape_of};
use crate::support::text::prefix_within;

/// Only the first this-many bytes of an event's head line are tokenised.
/// Longer lines are almost always payload dumps; their structure is at the
/// start.
pub(crate) const MAX_LINE_BYTES: usize = 4096;
/// Cap on tokens per line, for the same reason and to bound template size.
pub(crate) const MAX_TOKENS: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct PreparedLine {
    pub tokens: Vec<LineToken>,
    pub masked: String,
    /// The head line's shape (see `token_cache.rs`), token ranges shared.
    shape: Vec<u8>,
    cache: TokenCache,
    lines: LineCache,
    /// The line cache entry of the line prepared last, if it has one.
    entry: Option<EntryId>,
    /// Spans of the tokens that are not shape-stable (scratch).
    unstable: Vec<Span>,
    /// Off only in tests, to check the caches against plain masking.
    uncached: bool,
}

impl PreparedLine {
    /// A scratch line that masks every token afresh and remembers nothing.
    #[cfg(test)]
    pub fn uncached() -> Self {
        PreparedLine {
            uncached: true,
            ..PreparedLine::default()
        }
    }

    pub fn masked_text(&self, t: &LineToken) -> &str {
        &self.masked[t.masked.range()]
    }

    /// The masked text's bytes (no char-boundary checks: ranges come from
    /// `prepare`).
    pub fn masked(&self, t: &LineToken) -> &[u8] {
        self.masked
            .as_bytes()
            .get(t.masked.range())
            .unwrap_or_default()
    }

    /// Tokenises and masks `head` (already cut to one line).
    pub fn prepare(&mut self, head: &str) {
        self.tokens.clear();
        self.masked.clear();
        let head = prefix_within(head, MAX_LINE_BYTES);
        shape_of(head, &mut self.shape);
        self.entry = None;
        if !self.uncached {
            self.entry = self
                .lines
                .restore(head, &self.shape, &mut self.tokens, &mut self.masked);
            if self.entry.is_some() {
                return;
            }
        }
        self.unstable.clear();
        let base = head.as_ptr() as usize;
        let mut date_words = false;
        let mut previous_date_word = false;
        for tok in head.split_ascii_whitespace().take(MAX_TOKENS) {
            // `tok` is a sub-slice of `head`, so pointer difference is its offset.
            let start = tok.as_ptr() as usize - base;
            let end = start + tok.len();
            let m_start = self.masked.len();
            let shape = self.shape.get(start..end).unwrap_or_default();
            let facts = if self.uncached {
                compute(tok, &mut self.masked)
            } else {
                self.cache.mask(tok, shape, &mut self.masked)
            };
            if !facts.shape_stable {
                self.unstable.push(Span::new(start..end));
            }
            date_words |= previous_date_word && facts.continues_date;
            previous_date_word = facts.date_word;
            self.tokens.push(LineToken {
                raw: Span::new(start..end),
                masked: Span::new(m_start..self.masked.len()),
                hash: facts.hash,
                is_masked: facts.is_masked,
                continues_date: facts.continues_date,
                date_word: facts.date_word,
                unit_word: false,
            });
        }
        self.mark_units_after_numbers(head);
        let quoted = self.quoted_spans(head);
        if date_words || !quoted.is_empty() {
            self.mask_whole_tokens(head, &quoted);
        }
        if !self.uncached {
            self.entry = self.lines.store(
                head,
                &self.shape,
                &self.unstable,
                &self.tokens,
                &self.masked,
            );
        }
    }

    /// The template the last line of this shape joined, if recorded at `epoch`.
    /// `group_epoch(counter)` reads a group's epoch; `epoch` is the miner's.
    pub fn memo(&self, epoch: u64, group_epoch: impl Fn(usize) -> u64) -> Option<usize> {
        let memo = self.lines.memo(self.entry?)?;
        let now = memo.group.map_or(epoch, group_epoch);
        (memo.epoch == now).then_some(memo.slot)
    }

    /// Records that this line joined `slot` at `epoch` without changing it.
    /// `epoch` is the group's when `group` names its counter, else the
    /// miner's.
    pub fn set_memo(&mut self, epoch: u64, slot: usize, group: Option<usize>) {
        if let Some(id) = self.entry {
            self.lines.set_memo(id, Memo { epoch, slot, group });
        }
    }

    /// Marks unit words that follow a number (`1.16 KB)`, `<1 sec`): part of
    /// the number's value when templates of different lengths are compared
    /// (`merge.rs`), literals otherwise — whether a unit is constant is for
    /// the lines to show. Which token is a number depends only on where
    /// digits are, so the line cache, keyed by shape and words, stays exact.
    fn mark_units_after_numbers(&mut self, head: &str) {
        /// A unit with its wrapping punctuation (`(seconds),`) is no longer.
        const MAX_UNIT_TOKEN: usize = 12;
        for i in 1..self.tokens.len() {
            let (before, t) = (&self.tokens[i - 1], &self.tokens[i]);
            // Cheapest tests first: this runs for every token of every line
            // the line cache has not seen.
            if !before.is_masked || t.is_masked || t.raw.range().len() > MAX_UNIT_TOKEN {
                continue;
            }
            let number = head
                .get(before.raw.range())
                .is_some_and(|raw| raw.bytes().any(|b| b.is_ascii_digit()))
                && !self.masked(before).iter().any(u8::is_ascii_alphanumeric);
            if number && head.get(t.raw.range()).is_some_and(is_unit_word) {
                self.tokens[i].unit_word = true;
            }
        }
    }

    /// Quoted values that span tokens (`'nightly backup'`, `"disk is
    /// full"`): a token opening a quote and a later one (at most
    /// `MAX_QUOTED_TOKENS` on) closing it. One value, however many words, so
    /// the miner sees only variables there. A double-quoted span opening
    /// with a word in capitals is left alone: that is a structured command
    /// (`"GET /x HTTP/1.1"`), not free text.
    fn quoted_spans(&self, head: &str) -> Vec<(usize, usize)> {
        const MAX_QUOTED_TOKENS: usize = 16;
        // Most lines quote nothing: one scan of the bytes says so.
        if memchr::memchr3(b'\'', b'"', b'`', head.as_bytes()).is_none() {
            return Vec::new();
        }
        let raw = |i: usize| head.get(self.tokens[i].raw.range()).unwrap_or_default();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < self.tokens.len() {
            let core = raw(i).trim_start_matches(['(', '[']);
            let Some(quote) = core
                .chars()
                .next()
                .filter(|c| matches!(c, '\'' | '"' | '`'))
            else {
                i += 1;
                continue;
            };
            let inner = &core[1..];
            let closes_here = inner
                .trim_end_matches([',', '.', ';', ':', ')', ']'])
                .ends_with(quote);
            let command =
                quote == '"' && inner.len() >= 2 && inner.bytes().all(|b| b.is_ascii_uppercase());
            if closes_here || command {
                i += 1;
                continue;
            }
            let last = (i + 1..self.tokens.len().min(i + MAX_QUOTED_TOKENS)).find(|&j| {
                let t = raw(j);
                !t.starts_with(quote)
                    && t.trim_end_matches([',', '.', ';', ':', ')', ']'])
                        .ends_with(quote)
            });
            match last {
                Some(j) => {
                    spans.push((i, j));
                    i = j + 1;
                }
                None => i += 1,
            }
        }
        spans
    }

    /// Rewrites whole tokens as `<*>` (their wrapping punctuation kept):
    /// month and weekday names inside a timestamp (`[Sun Jun 19 04:08:37
    /// 2005]`, a date-ish token following) and the quoted `spans`. Rare, so
    /// this rebuilds the masked text rather than complicating the main loop.
    fn mask_whole_tokens(&mut self, head: &str, spans: &[(usize, usize)]) {
        let mut masked = String::with_capacity(self.masked.len());
        for i in 0..self.tokens.len() {
            let next_continues = self.tokens.get(i + 1).is_some_and(|n| n.continues_date);
            let in_span = spans.iter().any(|&(a, b)| (a..=b).contains(&i));
            let t = &mut self.tokens[i];
            let start = masked.len();
            if (t.date_word && next_continues) || in_span {
                let tok = &head[t.raw.range()];
                let core = tok.trim_start_matches(['[', '(', '\'', '"', '`']);
                let lead = &tok[..tok.len() - core.len()];
                let trail = &core[core
                    .trim_end_matches([',', '.', ']', ')', ';', ':', '\'', '"', '`'])
                    .len()..];
                masked.push_str(lead);
                masked.push_str(WILDCARD);
                masked.push_str(trail);
                t.is_masked = true;
                // Brackets and punctuation only around the `<*>`.
                t.hash = WILDCARD_HASH;
            } else {
                masked.push_str(&self.masked[t.masked.range()]);
            }
            t.masked = Span::new(start..masked.len());
        }
        self.masked = masked;
    }
}

/// The line a template is built from: the first non-blank line of the event
/// (for a traceback, the message/exception line, not the frames).
pub(crate) fn head_line(event: &str) -> &str {
    let blank = |l: &str| {
        l.bytes().all(|b| b.is_ascii_whitespace()) || (!l.is_ascii() && l.trim().is_empty())
    };
    // Most events are one line: no `split`, which walks chars.
    if memchr::memchr(b'\n', event.as_bytes()).is_none() {
        let line = event.strip_suffix('\r').unwrap_or(event);
        return if blank(line) { "" } else { line };
    }
    event
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .find(|l| !blank(l))
        .unwrap_or("")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn head_line_skips_blank_lines_and_crlf() {
        assert_eq!(head_line("\r\n  \nfirst\r\nsecond"), "first");
        assert_eq!(head_line(""), "");
        assert_eq!(head_line("\n\n"), "");
        assert_eq!(head_line("one line\r"), "one line");
        assert_eq!(head_line(" \u{3000} "), "");
        assert_eq!(head_line("\u{3000}\nnext"), "next");
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

    /// What `prepare` produced, comparable across runs.
    fn snapshot(p: &PreparedLine) -> Vec<(std::ops::Range<usize>, String, u64, bool)> {
        p.tokens
            .iter()
            .map(|t| {
                (
                    t.raw.range(),
                    p.masked_text(t).to_owned(),
                    t.hash,
                    t.is_masked,
                )
            })
            .collect()
    }

    pub(crate) mod caches {
        use super::*;
        use proptest::prelude::*;

        /// Token patterns; `#` becomes a digit run of random length. Chosen
        /// to cross every rule that looks at digits: known words (`s3`),
        /// `0x`, literal digits (`tty2`), dates, addresses, ids.
        const PATTERNS: &[&str] = &[
            "Connection",
            "to",
            "timed",
            "out",
            "blk_#",
            "#.#.#.#:#",
            "0x#",
            "#x#",
            "s#",
            "x#",
            "sha#",
            "tty#",
            "http/#.#",
            "Jun",
            "[Sun",
            "#:#:#",
            "uid=#",
            "#ms",
            "/var/#",
            "'#'",
            "PSR#",
            "#",
            "-#",
            "job_#_#",
            "#.#",
            "(#)",
            "true",
            "\u{FFFD}#",
            "Ünïcode#",
        ];

        pub(crate) fn line() -> impl Strategy<Value = String> {
            prop::collection::vec(
                (
                    prop::sample::select(PATTERNS),
                    prop::collection::vec(0u32..10, 1..6),
                ),
                1..12,
            )
            .prop_map(|tokens| {
                let words: Vec<String> = tokens
                    .into_iter()
                    .map(|(pattern, digits)| {
                        let run: String = digits
                            .iter()
                            .filter_map(|d| char::from_digit(*d, 10))
                            .collect();
                        pattern.replace('#', &run)
                    })
                    .collect();
                words.join(" ")
            })
        }

        proptest! {
            /// The token and line caches never change a result: a line
            /// prepared after others (of the same shapes) comes out exactly
            /// as with plain masking.
            #[test]
            fn warm_caches_prepare_lines_as_cold_ones_do(lines in prop::collection::vec(line(), 1..40)) {
                let mut warm = PreparedLine::default();
                for l in lines.iter().chain(lines.iter().rev()) {
                    warm.prepare(l);
                    let mut cold = PreparedLine::uncached();
                    cold.prepare(l);
                    prop_assert_eq!(snapshot(&warm), snapshot(&cold), "line {:?}", l);
                }
            }
        }
    }
}
