//! Generic variable detection for single log tokens.
//!
//! Masking runs *before* clustering so that lines differing only in ids,
//! numbers, addresses and the like land in the same template without the
//! clusterer having to discover every such position statistically. Rules are
//! deliberately generic (shapes, not dataset-specific regexes) and work on
//! bytes without allocating, because this runs for every token of every line.
//!
//! A token is first split into wrapping punctuation and a core
//! (`"(10.0.0.1),"` → `(` + `10.0.0.1` + `),`); the punctuation is kept in the
//! masked form (`(<*>),`) since it is part of the message's structure.

use schemars::JsonSchema;
use serde::Serialize;
use shapes::classify;
use std::ops::Range;

mod pieces;
mod shapes;

pub(crate) use pieces::is_delimiter;

/// Placeholder written in place of a variable.
pub const WILDCARD: &str = "<*>";

/// What kind of variable a token was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VarKind {
    /// Integer, decimal, scientific, or a quantity such as `12KB` / `85%`.
    Number,
    /// A number with a time unit: `1500ms`, `3s`, `2.5h`.
    Duration,
    /// `0x1f`, or a long run of hex digits (hashes, tokens, request ids).
    Hex,
    /// IPv4 or IPv6 address.
    Ip,
    /// `host:port` or `1.2.3.4:80`.
    HostPort,
    /// 8-4-4-4-12 hex UUID/GUID.
    Uuid,
    /// Unix, relative, home or Windows file path.
    Path,
    /// Anything with a `scheme://`.
    Url,
    /// Dates, times and ISO-8601 timestamps.
    Timestamp,
    /// Any other token containing digits: `blk_-123`, `job_1445_0020`, `eth0`.
    Id,
    /// `user@example.com`.
    Email,
    /// A single-token quoted string: `'orders'`.
    Quoted,
    /// Control characters or replacement characters from invalid UTF-8.
    Binary,
}

impl VarKind {
    /// Stable lowercase name, handy for labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            VarKind::Number => "number",
            VarKind::Duration => "duration",
            VarKind::Hex => "hex",
            VarKind::Ip => "ip",
            VarKind::HostPort => "host_port",
            VarKind::Uuid => "uuid",
            VarKind::Path => "path",
            VarKind::Url => "url",
            VarKind::Timestamp => "timestamp",
            VarKind::Id => "id",
            VarKind::Email => "email",
            VarKind::Quoted => "quoted",
            VarKind::Binary => "binary",
        }
    }
}

/// Classifies a whole token (ignoring wrapping punctuation such as brackets
/// and a trailing comma). Returns `None` for constants, and also for tokens
/// that are only *partly* variable such as `uid=0` — use [`mask_into`] or
/// [`mask_line`] to get `uid=<*>`.
pub fn mask_token(token: &str) -> Option<VarKind> {
    if is_binary(token) {
        return Some(VarKind::Binary);
    }
    let w = Wrapped::split(token);
    classify(w.core).or_else(|| (w.quoted && !w.core.is_empty()).then_some(VarKind::Quoted))
}

/// Appends the masked form of `token` to `out`; returns whether anything was
/// replaced by [`WILDCARD`].
pub fn mask_into(token: &str, out: &mut String) -> bool {
    mask_impl(token, out, None)
}

/// Like [`mask_into`], additionally recording, for each wildcard written, the
/// byte range of `token` it replaced (the parameter value).
pub(crate) fn mask_with_captures(
    token: &str,
    out: &mut String,
    caps: &mut Vec<Range<usize>>,
) -> bool {
    mask_impl(token, out, Some(caps))
}

/// Masks every whitespace-separated token of `line` and joins them with a
/// single space. Convenience for callers and tests; the miner uses the
/// allocation-free path.
pub fn mask_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for (i, tok) in line.split_ascii_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        mask_into(tok, &mut out);
    }
    out
}

/// A token no rule can mask: a plain word such as `Connection` or `to`.
/// Most tokens are; this is the cheap check that lets callers skip masking.
pub(crate) fn is_plain_word(token: &str) -> bool {
    plainly_constant(token) && !pieces::is_value_word(token)
}

fn mask_impl(token: &str, out: &mut String, mut caps: Option<&mut Vec<Range<usize>>>) -> bool {
    if is_plain_word(token) {
        out.push_str(token);
        return false;
    }
    if is_binary(token) {
        out.push_str(WILDCARD);
        if let Some(c) = caps.as_deref_mut() {
            c.push(0..token.len());
        }
        return true;
    }
    // Shapes the piece rules would cut wrongly are masked whole: an address
    // and port as `<*>:<*>`, a URL as `scheme://<*>`.
    let w = Wrapped::split(token);
    let core = w.core;
    // (start, end) of each variable in `core`.
    let parts: Vec<(usize, usize)> = match classify(core) {
        // `0x1fffffffe`: the piece rules count digits, and hex letters are not.
        // A number with its unit (`5.1MiB`, `87%`, `30ms`) is one value.
        Some(
            VarKind::Uuid
            | VarKind::Ip
            | VarKind::Email
            | VarKind::Hex
            | VarKind::Number
            | VarKind::Duration,
        ) => vec![(0, core.len())],
        // Relative, home and Windows paths; Unix paths are found piece by piece.
        Some(VarKind::Path) if starts_like_a_path(core) => vec![(0, core.len())],
        Some(VarKind::HostPort) => {
            let colon = core.rfind(':').unwrap_or(core.len());
            let skip = core.len() - core.trim_start_matches('/').len();
            match core[skip..colon].find('/') {
                Some(slash) => vec![
                    (0, skip + slash),
                    (skip + slash + 1, colon),
                    (colon + 1, core.len()),
                ],
                None => vec![(0, colon), (colon + 1, core.len())],
            }
        }
        Some(VarKind::Url) => match core.find("://") {
            Some(scheme) => vec![(scheme + 3, core.len())],
            None => vec![(0, core.len())],
        },
        // `user=alice`, `free=5.1MiB`: a key announces a value, so a plain
        // word after `=` is one too, and a number keeps its unit (other
        // shapes, paths and lists, are left to the piece rules).
        None if value_after_key(core) => {
            let eq = core.find('=').map_or(core.len(), |i| i + 1);
            vec![(eq, core.len())]
        }
        _ => return pieces::mask_pieces(token, out, caps),
    };
    out.push_str(w.lead);
    let mut written = 0;
    for (start, end) in parts {
        out.push_str(&core[written..start]);
        out.push_str(WILDCARD);
        if let Some(c) = caps.as_deref_mut() {
            c.push(w.core_start + start..w.core_start + end);
        }
        written = end;
    }
    out.push_str(&core[written..]);
    out.push_str(w.trail);
    true
}

/// Whether masking `token` can depend on *which* digits it holds, beyond
/// the digits it copies into the masked text and a digit before `x` (`0x`).
/// Every rule looks only at where digits are except the list of known
/// technical words (`s3`, `x86`); the miner's token cache relies on this to
/// share one result among tokens that differ only in digits.
pub(crate) fn depends_on_digit_values(token: &str) -> bool {
    shapes::may_be_known_constant(Wrapped::split(token).core)
}

/// A unit word that follows a number and is part of its value: `1.16 KB`,
/// `<1 sec`, `30 seconds` (the issue of numbers with units, sizes and
/// durations). Sizes, data rates and time units, as written in logs; the
/// word may carry wrapping punctuation (`KB)`, `ms,`).
pub(crate) fn is_unit_word(token: &str) -> bool {
    const UNITS: [&str; 34] = [
        "B", "KB", "kB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "bytes", "byte", "ns",
        "us", "µs", "ms", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute",
        "minutes", "h", "hr", "hrs", "hour", "hours", "day", "days", "Mbps",
    ];
    let core = Wrapped::split(token).core;
    !core.is_empty() && core.len() <= 7 && UNITS.contains(&core)
}

/// Whether `token` is `key=word` (wrapping punctuation aside), the shape
/// masked as `key=<*>` whatever the word.
pub(crate) fn is_word_after_key(token: &str) -> bool {
    word_after_key(Wrapped::split(token).core)
}

/// `key=word`: a key, `=`, and a value of letters only (`user=alice`,
/// `state=RUNNING`, `mode=read-only`).
fn word_after_key(core: &str) -> bool {
    let Some((key, value)) = core.split_once('=') else {
        return false;
    };
    !key.is_empty()
        && is_key(key)
        && key.bytes().any(|b| b.is_ascii_alphabetic())
        && !value.is_empty()
        && value.bytes().any(|b| b.is_ascii_alphabetic())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'-' | b'.'))
}

/// `key=value` where the value is a plain word or one whole value (a
/// number with its unit, hex, an address).
fn value_after_key(core: &str) -> bool {
    if word_after_key(core) {
        return true;
    }
    let Some((key, value)) = core.split_once('=') else {
        return false;
    };
    is_key(key)
        && key.bytes().any(|b| b.is_ascii_alphabetic())
        && matches!(
            classify(value),
            Some(
                VarKind::Number
                    | VarKind::Duration
                    | VarKind::Hex
                    | VarKind::Uuid
                    | VarKind::Ip
                    | VarKind::Email
            )
        )
}

fn starts_like_a_path(core: &str) -> bool {
    let b = core.as_bytes();
    ["./", "../", "~/", "\\\\"]
        .iter()
        .any(|p| core.starts_with(p))
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

fn is_key(key: &str) -> bool {
    key.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A token split into wrapping punctuation and the part to classify.
struct Wrapped<'a> {
    lead: &'a str,
    core: &'a str,
    trail: &'a str,
    core_start: usize,
    quoted: bool,
}

impl<'a> Wrapped<'a> {
    fn split(token: &'a str) -> Self {
        let b = token.as_bytes();
        let mut start = 0;
        let mut end = b.len();
        while start < end && matches!(b[start], b'(' | b'[' | b'{' | b'<') {
            start += 1;
        }
        while end > start
            && matches!(
                b[end - 1],
                b')' | b']' | b'}' | b'>' | b',' | b';' | b':' | b'.' | b'!' | b'?'
            )
        {
            end -= 1;
        }
        let mut quoted = false;
        if end - start >= 2 && is_quote(b[start]) && b[end - 1] == b[start] {
            // Balanced quotes: keep them as structure, classify the inside.
            start += 1;
            end -= 1;
            quoted = true;
        } else {
            // A quote opened or closed by a neighbouring token (`"GET`,
            // `HTTP/1.1"`) is punctuation, not part of the value.
            if start < end && is_quote(b[start]) {
                start += 1;
            }
            if end > start && is_quote(b[end - 1]) {
                end -= 1;
            }
        }
        // All trimmed bytes are ASCII, so these are char boundaries.
        Wrapped {
            lead: &token[..start],
            core: &token[start..end],
            trail: &token[end..],
            core_start: start,
            quoted,
        }
    }
}

/// Fast path for the common case, a plain word: one pass over the bytes
/// proves that no rule below could fire (no digit, none of the characters
/// that paths, URLs, emails, addresses, key=value or quotes need, no control
/// or non-ASCII bytes, too short for a letters-only hex string).
fn plainly_constant(token: &str) -> bool {
    token.len() < 16
        && token.bytes().all(|b| {
            b.is_ascii_graphic()
                && !b.is_ascii_digit()
                && !matches!(b, b'=' | b'/' | b'\\' | b'@' | b':' | b'\'' | b'"' | b'`')
        })
}

fn is_quote(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'`')
}

fn is_binary(token: &str) -> bool {
    let b = token.as_bytes();
    if b.iter().any(|&c| c < 0x20 || c == 0x7f) {
        return true;
    }
    // Non-ASCII: look for U+FFFD (lossy decoding) and C1 controls.
    !token.is_ascii() && token.chars().any(|c| c == '\u{FFFD}' || c.is_control())
}

#[cfg(test)]
mod tests;
