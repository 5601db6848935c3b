//! Finding the entry that best explains an error.
//!
//! Every entry whose code, phrase or pattern occurs is a candidate; the best
//! one wins by, in order:
//! 1. specific over generic (a wrapper such as ADF 2200 loses to what it wraps);
//! 2. the entry's `priority`;
//! 3. position: the candidate matched latest in the message wins, because
//!    vendors wrap outer → inner ("Failure happened on 'Sink' side …
//!    ErrorCode=AdlsGen2OperationFailed … Message=AADSTS7000222 …") and the
//!    innermost error is the cause;
//! 4. strength: an exact code over a pattern over a phrase.

use regex::{Regex, RegexBuilder};

use super::entry::Entry;

/// Longer messages are read as their first and last halves of this size:
/// enough for the wrapper and the innermost cause of a stack trace, bounded
/// so a multi-megabyte log line costs the same as a short one.
const HALF_WINDOW: usize = 32 * 1024;

/// A bare number is an error code only right after one of these words
/// ("Sql error number: 2627", "Msg 1205", "SqlErrorNumber=42108"), so a row
/// count or a port is never taken for one.
const NUMBER_CONTEXT: &[&str] = &[
    "error",
    "errorcode",
    "error code",
    "errornumber",
    "error number",
    "number",
    "msg",
    "code",
    "status",
    "statuscode",
    "status code",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    Phrase = 1,
    Pattern = 2,
    Code = 3,
}

/// An entry that matched, and where.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub entry: &'a Entry,
    /// The matched text as it appears in the error (the code when only the code matched).
    pub matched: String,
    /// Byte offset of the entry's first match in the message; `None` when only
    /// the error code field matched.
    pub first_at: Option<usize>,
    last_at: usize,
    strength: Strength,
}

impl Hit<'_> {
    fn rank(&self) -> (bool, i32, usize, Strength, usize) {
        (
            !self.entry.generic,
            self.entry.priority,
            self.last_at,
            self.strength,
            self.matched.len(),
        )
    }
}

struct Compiled {
    entry: Entry,
    codes: Vec<String>,
    phrases: Vec<String>,
    patterns: Vec<Regex>,
}

/// The entries with their needles lower-cased and their patterns compiled, once.
pub struct Matcher {
    compiled: Vec<Compiled>,
}

impl Matcher {
    /// Entries must have passed `load::check`; a pattern that still fails to
    /// compile is skipped rather than trusted.
    pub fn new(entries: Vec<Entry>) -> Self {
        let compiled = entries
            .into_iter()
            .map(|entry| Compiled {
                codes: entry.codes.iter().map(|c| c.to_ascii_lowercase()).collect(),
                phrases: entry
                    .phrases
                    .iter()
                    .map(|p| p.to_ascii_lowercase())
                    .collect(),
                patterns: entry
                    .patterns
                    .iter()
                    .filter_map(|p| {
                        RegexBuilder::new(p)
                            .case_insensitive(true)
                            .size_limit(1 << 20)
                            .build()
                            .ok()
                    })
                    .collect(),
                entry,
            })
            .collect();
        Matcher { compiled }
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.compiled.iter().map(|c| &c.entry)
    }

    /// The best explanation of `code` + `message`, if any entry matches.
    /// Pass `bounded(message)` for messages of unknown length.
    pub fn best<'a>(&'a self, code: &str, message: &str) -> Option<Hit<'a>> {
        self.candidates(code, message)
            .into_iter()
            .max_by(|a, b| a.rank().cmp(&b.rank()))
    }

    /// Every entry that matches, in no particular order.
    pub fn candidates<'a>(&'a self, code: &str, message: &str) -> Vec<Hit<'a>> {
        let code = code.trim();
        let lower = message.to_ascii_lowercase();
        self.compiled
            .iter()
            .filter_map(|c| hit(c, code, message, &lower))
            .collect()
    }
}

/// The message a matcher reads: all of it when short, otherwise its first and
/// last `HALF_WINDOW` bytes joined by " … ".
pub fn bounded(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= 2 * HALF_WINDOW {
        return message.into();
    }
    let head_end = crate::support::text::floor_boundary(message, HALF_WINDOW);
    let mut tail_start = message.len() - HALF_WINDOW;
    while !message.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!("{} … {}", &message[..head_end], &message[tail_start..]).into()
}

fn hit<'a>(c: &'a Compiled, code: &str, message: &str, lower: &str) -> Option<Hit<'a>> {
    let mut found: Vec<(usize, usize, Strength)> = Vec::new();
    let mut code_field = false;
    for needle in &c.codes {
        code_field |= code.eq_ignore_ascii_case(needle);
        found.extend(code_tokens(lower, needle).map(|at| (at, at + needle.len(), Strength::Code)));
    }
    for phrase in &c.phrases {
        if let Some(first) = lower.find(phrase.as_str()) {
            found.push((first, first + phrase.len(), Strength::Phrase));
            if let Some(last) = lower.rfind(phrase.as_str()).filter(|l| *l != first) {
                found.push((last, last + phrase.len(), Strength::Phrase));
            }
        }
    }
    for pattern in &c.patterns {
        let mut matches = pattern.find_iter(message);
        if let Some(first) = matches.next() {
            found.push((first.start(), first.end(), Strength::Pattern));
            if let Some(last) = matches.last() {
                found.push((last.start(), last.end(), Strength::Pattern));
            }
        }
    }
    if found.is_empty() {
        return code_field.then(|| Hit {
            entry: &c.entry,
            matched: code.to_string(),
            first_at: None,
            last_at: 0,
            strength: Strength::Code,
        });
    }
    let first = found.iter().min_by_key(|(start, _, _)| *start)?;
    let last = found.iter().max_by_key(|(start, _, _)| *start)?;
    let strongest = found.iter().map(|(_, _, s)| *s).max()?;
    Some(Hit {
        entry: &c.entry,
        matched: message
            .get(first.0..first.1)
            .unwrap_or_default()
            .to_string(),
        first_at: Some(first.0),
        // +1: any match in the message ranks after a match of the code field.
        last_at: last.0 + 1,
        strength: strongest,
    })
}

/// Where `needle` (lower-case) occurs in `lower` as a whole token.
fn code_tokens<'h>(lower: &'h str, needle: &'h str) -> impl Iterator<Item = usize> + 'h {
    let numeric = needle.bytes().all(|b| b.is_ascii_digit());
    lower
        .match_indices(needle)
        .map(|(at, _)| at)
        .filter(move |at| {
            let before = lower[..*at].bytes().next_back();
            let after = lower[at + needle.len()..].bytes().next();
            let token = !before.is_some_and(is_word) && !after.is_some_and(is_word);
            token && (!numeric || after_code_word(&lower[..*at]))
        })
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn after_code_word(before: &str) -> bool {
    let trimmed = before.trim_end_matches([' ', ':', '=', '#', '\'', '"', '(', '[', '-']);
    NUMBER_CONTEXT.iter().any(|word| trimmed.ends_with(word))
}
