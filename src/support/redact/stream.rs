//! Redaction for text that arrives in pieces: a model's answer as it streams.
//!
//! A piece redacted alone shows a secret split across two pieces whole, and
//! pieces redacted alone then joined keep a secret's tail
//! (`password=[redacted: password]ter2`). So a stream is redacted a line at a
//! time with the whole line as context: [`StreamRedactor`] lets text out only
//! when its line is complete, and holds it longer where a secret's value may
//! follow on a later line — after a line ending in `password:` or naming a
//! secret in a name/value pair, inside an open JSON object or array, inside a
//! PEM private key (whose body is dropped, not held). What it holds is
//! bounded: past [`MAX_PENDING`] bytes, text is let out at a blank no secret
//! straddles, keeping the last [`KEEP_AFTER_CUT`] bytes as context.

use std::sync::LazyLock;

use regex::Regex;

use super::rules::{JSON_NAMES, PEM_BEGIN, PEM_END, PRIVATE_KEY, spans};
use super::text;
use crate::support::text::floor_boundary;

/// The most text held back for context before some of it is let out anyway.
pub const MAX_PENDING: usize = 8 * 1024;

/// What a forced cut keeps back, so a secret starting just before the cut
/// point is still seen whole (with its name) when the rest arrives.
pub const KEEP_AFTER_CUT: usize = 1024;

/// Enough of a private key's body to find an END line split across pieces.
const END_LOOKBACK: usize = 128;

/// Where the stream is.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Mode {
    #[default]
    Text,
    /// Inside a PEM private key: dropped up to its END line.
    PrivateKey,
    /// A secret ran up to a forced cut: dropped up to the next blank.
    Secret,
}

/// Redacts a stream of text pieces; see the module documentation. Pure: no
/// clock, no I/O. One per stream (the console keeps one for its session; a
/// turn's end flushes it).
#[derive(Debug, Default)]
pub struct StreamRedactor {
    /// Raw text not let out yet.
    pending: String,
    mode: Mode,
}

fn compiled(pattern: &str) -> Option<Regex> {
    Regex::new(pattern)
        .map_err(|e| tracing::error!("stream redaction pattern does not compile: {e}"))
        .ok()
}

static BEGIN: LazyLock<Option<Regex>> = LazyLock::new(|| compiled(PEM_BEGIN));
static END: LazyLock<Option<Regex>> = LazyLock::new(|| compiled(PEM_END));

/// A line whose next line may hold a secret's value: it ends in a separator
/// (`password:`, `token =`, `secret =>`), or names a secret in a name/value
/// pair (`- name: DB_PASSWORD`, `"name": "AIRFLOW_PASSWORD",`, `"keyName": "key1",`).
static WAITS_FOR_VALUE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compiled(&format!(
        r#"(?i)(?:(?:=>|:=|[=:])|["']?\b(?:name|key|variable)["']?[ \t]*[:=][ \t]*["']?[A-Za-z0-9_.\-]*?(?:{JSON_NAMES})["']?[ \t]*,?|"keyName"\s*:\s*"[^"]*"[ \t]*,?)[ \t]*$"#
    ))
});

/// What may begin or name a secret in a line: then it is let out only whole.
static PROSE_HINT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compiled(
        r#"(?i)pass|pwd|secret|token|key|auth|bearer|sig|cred|cookie|private|begin|session|api|[=:@{}\[\]"'`\\/]"#,
    )
});

/// A JSON key (`"name":`), the sign that an open bracket holds JSON and not code.
static JSON_KEY: LazyLock<Option<Regex>> = LazyLock::new(|| compiled(r#""(?:[^"\\\n]|\\.)*"\s*:"#));

impl StreamRedactor {
    pub fn new() -> StreamRedactor {
        StreamRedactor::default()
    }

    /// Takes the next piece; returns the redacted text that may be shown or
    /// written now (often empty: the line is not complete yet).
    pub fn push(&mut self, piece: &str) -> String {
        let mut out = String::new();
        // A huge piece goes in slices, so what is held stays bounded.
        let mut rest = piece;
        while !rest.is_empty() {
            let (slice, tail) = rest.split_at(floor_boundary(rest, MAX_PENDING));
            self.pending.push_str(slice);
            self.drain(&mut out, slice.contains('\n'));
            rest = tail;
        }
        out
    }

    /// The end of the stream (or of one answer): everything still held,
    /// redacted, and the redactor ready for the next stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        let mode = std::mem::take(&mut self.mode);
        match mode {
            Mode::Text => text(&rest).into_owned(),
            // The marker was written when the key began.
            Mode::PrivateKey | Mode::Secret => String::new(),
        }
    }

    /// True when nothing is held.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.mode == Mode::Text
    }

    /// Lets out what may go, after a piece arrived (`new_line`: it held a line end).
    fn drain(&mut self, out: &mut String, new_line: bool) {
        let mut look = new_line;
        loop {
            match self.mode {
                Mode::Secret => match self.pending.find(char::is_whitespace) {
                    Some(blank) => {
                        self.pending.drain(..blank);
                        self.mode = Mode::Text;
                        look = true;
                    }
                    None => {
                        self.pending.clear();
                        return;
                    }
                },
                Mode::PrivateKey => match END.as_ref().and_then(|end| end.find(&self.pending)) {
                    Some(end) => {
                        out.push_str(end.as_str());
                        let end = end.end();
                        self.pending.drain(..end);
                        self.mode = Mode::Text;
                        look = true;
                    }
                    None => {
                        let keep = floor_boundary(
                            &self.pending,
                            self.pending.len().saturating_sub(END_LOOKBACK),
                        );
                        self.pending.drain(..keep);
                        return;
                    }
                },
                Mode::Text => {
                    if !look && self.pending.len() <= MAX_PENDING {
                        let cut = self.prose_cut();
                        self.let_out(out, cut);
                        return;
                    }
                    if let Some(begin) = BEGIN.as_ref().and_then(|b| b.find(&self.pending)) {
                        out.push_str(&text(&self.pending[..begin.start()]));
                        out.push_str(begin.as_str());
                        out.push_str(&format!("[redacted: {PRIVATE_KEY}]"));
                        let end = begin.end();
                        self.pending.drain(..end);
                        self.mode = Mode::PrivateKey;
                        continue;
                    }
                    let lines = self.line_cut();
                    self.let_out(out, lines);
                    if self.pending.len() <= MAX_PENDING {
                        let cut = self.prose_cut();
                        self.let_out(out, cut);
                        return;
                    }
                    let (cut, runs_on) = self.forced_cut();
                    self.let_out(out, cut);
                    if runs_on {
                        self.mode = Mode::Secret;
                    }
                }
            }
        }
    }

    fn let_out(&mut self, out: &mut String, upto: usize) {
        if upto > 0 {
            out.push_str(&text(&self.pending[..upto]));
            self.pending.drain(..upto);
        }
    }

    /// Plain prose flows a word at a time, so an answer still streams: while
    /// the line so far holds nothing that could begin or name a secret (no
    /// match, no secret-ish word, no `=`, `:`, quote, bracket or `@`), what
    /// precedes its last blank goes out; the last word is kept, it may not be
    /// whole yet. Once such a sign appears, the rest of the line waits for its end.
    fn prose_cut(&self) -> usize {
        if self.pending.contains('\n')
            || PROSE_HINT
                .as_ref()
                .is_none_or(|hint| hint.is_match(&self.pending))
            || !spans(&self.pending).is_empty()
        {
            return 0;
        }
        self.pending
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8())
    }

    /// How much of the held text is complete lines that need nothing after them.
    fn line_cut(&self) -> usize {
        let Some(last) = self.pending.rfind('\n') else {
            return 0;
        };
        let complete = &self.pending[..=last];
        let mut cut = complete.len();
        let body = complete.trim_end();
        let last_line = line_start(body, body.len());
        if WAITS_FOR_VALUE
            .as_ref()
            .is_some_and(|waits| waits.is_match(&body[last_line..]))
        {
            cut = last_line;
        }
        if let Some(open) = open_json(complete) {
            cut = cut.min(line_start(complete, open));
        }
        cut
    }

    /// Where to let out text when too much is held, and whether a secret runs
    /// on past that point (then what follows, up to a blank, is dropped).
    /// Prefers the last blank at least [`KEEP_AFTER_CUT`] before the end that
    /// is not inside any rule's match; else that point moved out of the match.
    fn forced_cut(&self) -> (usize, bool) {
        let pending = &self.pending;
        let matches = spans(pending);
        let mut inside = vec![false; pending.len() + 1];
        for span in &matches {
            if let Some(flags) = inside.get_mut(span.start + 1..span.end) {
                flags.fill(true);
            }
        }
        let is_inside = |at: usize| inside.get(at).copied().unwrap_or(false);
        let limit = floor_boundary(pending, pending.len().saturating_sub(KEEP_AFTER_CUT));
        let at_blank = pending[..limit]
            .char_indices()
            .rev()
            .filter(|(_, c)| c.is_whitespace())
            .map(|(i, c)| i + c.len_utf8())
            .find(|&at| !is_inside(at));
        if let Some(at) = at_blank {
            return (at, false);
        }
        // Moving left from inside a match stops at its start, moving right at its end.
        let mut at = limit;
        while at > 0 && is_inside(at) {
            at -= 1;
        }
        if at == 0 {
            at = limit;
            while at < pending.len() && is_inside(at) {
                at += 1;
            }
        }
        let runs_on = at == pending.len() && matches.iter().any(|span| span.end == at);
        (at, runs_on)
    }
}

/// The start of the line that holds byte `at`.
fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The first bracket still open at the end of the text that holds JSON (a
/// `"key":` after it) or nothing yet: a JSON object is let out when it closes,
/// so a name and its value are redacted together. Brackets inside strings do
/// not count; code's braces (no `"key":` inside) do not hold anything.
fn open_json(text: &str) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' | '\n' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => open.push(i),
            '}' | ']' => {
                open.pop();
            }
            _ => {}
        }
    }
    open.into_iter().find(|&at| {
        let after = &text[at + 1..];
        after.trim().is_empty() || JSON_KEY.as_ref().is_some_and(|key| key.is_match(after))
    })
}

#[cfg(test)]
mod tests;
