//! Recognising level words (`ERROR`, `[warn]`, `level=info`).

use crate::model::log::LogLevel;

/// Tokens after the timestamp searched for a level by the generic reader
/// (`- name - ERROR - msg` puts it fourth).
const LEVEL_SEARCH_TOKENS: usize = 5;

/// A level word among the first tokens from `from`; returns it and the
/// offset just past its token.
pub fn find_level(line: &str, from: usize) -> Option<(LogLevel, usize)> {
    find_level_within(line, from, LEVEL_SEARCH_TOKENS)
}

/// Like [`find_level`], looking at `tokens` tokens only.
pub fn find_level_within(line: &str, from: usize, tokens: usize) -> Option<(LogLevel, usize)> {
    let base = line.as_ptr() as usize;
    for token in line.get(from..)?.split_ascii_whitespace().take(tokens) {
        // `token` is a sub-slice of `line`, so pointer difference is its offset.
        let end = token.as_ptr() as usize - base + token.len();
        let (word, marked) = unwrap_level(token);
        if let Some(level) = level_word(word, marked) {
            return Some((level, end));
        }
    }
    None
}

/// The word inside `[error]`, `<WARN>`, `error:`, `level=error`, and
/// whether it was set off like that.
pub fn unwrap_level(token: &str) -> (&str, bool) {
    let word = token
        .trim_start_matches(['[', '(', '<'])
        .trim_end_matches([']', ')', '>', ':', ',']);
    match word
        .strip_prefix("level=")
        .or_else(|| word.strip_prefix("lvl="))
    {
        Some(value) => (value, true),
        None => (word, word.len() < token.len()),
    }
}

/// Full level names only, in upper case, or in lower case when `marked`
/// (bracketed, `error:`, `level=error`): single letters, capitalised words
/// and bare lower-case words (`connection error while…`) occur in messages
/// too often.
pub fn level_word(word: &str, marked: bool) -> Option<LogLevel> {
    let upper = word.bytes().all(|b| b.is_ascii_uppercase());
    let lower = marked && word.bytes().all(|b| b.is_ascii_lowercase());
    if word.len() < 3 || !(upper || lower) {
        return None;
    }
    LogLevel::parse(word)
}

/// Longest level name looked at in a column known to hold levels.
const MAX_LEVEL_WORD: usize = 12;

/// The token in a column a file's first lines showed to hold levels: a
/// level word in any case, or an upper-case word the vocabulary does not
/// know (BGL's `FAILURE`), which still fills the column (`Some(None)`).
/// `None` when the token cannot be a level: the line does not fit.
pub fn level_column(token: &str) -> Option<Option<LogLevel>> {
    if let Some(level) = syslog_priority(token) {
        return Some(Some(level));
    }
    let (word, marked) = unwrap_level(token);
    if word.is_empty()
        || word.len() > MAX_LEVEL_WORD
        || !word.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    if let Some(level) = LogLevel::parse(word) {
        return Some(Some(level));
    }
    let upper = word.len() >= 3 && word.bytes().all(|b| b.is_ascii_uppercase());
    (upper || (marked && word.len() >= 3)).then_some(None)
}

/// The severity in a syslog priority (`<134>`, `<134>1` with RFC 5424's
/// version): the priority is facility × 8 + severity (RFC 5424 §6.2.1).
pub fn syslog_priority(token: &str) -> Option<LogLevel> {
    let inner = token.strip_prefix('<')?;
    let (digits, rest) = inner.split_once('>')?;
    if digits.is_empty() || digits.len() > 3 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let priority: u8 = digits.parse().ok().filter(|p| *p <= 191)?;
    Some(match priority % 8 {
        0..=2 => LogLevel::Fatal,
        3 => LogLevel::Error,
        4 => LogLevel::Warn,
        5 | 6 => LogLevel::Info,
        _ => LogLevel::Debug,
    })
}
