//! Masking inside a token, piece by piece, in the conventions of the log
//! parsing field's corrected ground truth (Khan et al., "Guidelines for
//! assessing the accuracy of log message template identification
//! techniques", ICSE 2022) — generic rules, not tuned to any one log:
//!
//! * a token is cut at delimiters (`, ! ; : = | " ' [ ] ( ) { }`, and
//!   `. - + @ # $ % & /` within those pieces); delimiters stay in the template
//!   (`uid=<*>`, `core.<*>`, `<*>:<*>` for an address and port);
//! * a piece that is a Unix path (`/a/b`) is one variable, whatever its dots;
//! * a piece is a variable when it is a number, has four or more digits or
//!   is more than 30 % digits (`attempt_1445_0020_m_000001_0`, `16K`, but
//!   `jk2_init`, `tty2`, `PSR0` stay), is 16+ hex letters, or is one of the
//!   words the corrected truth always treats as a value (`true`, `false`,
//!   `null`, `root`, `admin`);
//! * a sign before a number belongs to it (`vCores:-27` → `vCores:<*>`), an
//!   identifier prefix glued with `_` belongs to the variable after it
//!   (`blk_-160` → `<*>`), and variables joined by `.` or by nothing are one
//!   (`19.47`, `10.0.0.1` → `<*>`).

use std::ops::Range;

use super::WILDCARD;

/// Delimiters that cut a token into the pieces checked for paths.
pub(super) fn is_path_delimiter(b: u8) -> bool {
    matches!(
        b,
        b',' | b'!'
            | b';'
            | b':'
            | b'='
            | b'|'
            | b'"'
            | b'\''
            | b'['
            | b']'
            | b'('
            | b')'
            | b'{'
            | b'}'
    ) || b.is_ascii_whitespace()
}

/// All delimiters: the path delimiters and these.
pub(crate) fn is_delimiter(b: u8) -> bool {
    is_path_delimiter(b)
        || matches!(
            b,
            b'.' | b'-' | b'+' | b'@' | b'#' | b'$' | b'%' | b'&' | b'/'
        )
}

/// Words the corrected ground truth treats as values wherever they appear.
pub(super) fn is_value_word(piece: &str) -> bool {
    const WORDS: [&str; 5] = ["true", "false", "null", "root", "admin"];
    (4..=5).contains(&piece.len()) && WORDS.iter().any(|w| w.eq_ignore_ascii_case(piece))
}

/// Whether one piece (no delimiters inside, perhaps a leading sign) is a variable.
pub(super) fn is_variable_piece(piece: &[u8]) -> bool {
    let digits = piece.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return (piece.len() >= 16 && piece.iter().all(u8::is_ascii_hexdigit))
            || std::str::from_utf8(piece).is_ok_and(is_value_word);
    }
    let body = piece
        .strip_prefix(b"-")
        .or_else(|| piece.strip_prefix(b"+"))
        .unwrap_or(piece);
    digits == body.len()
        || digits >= 4
        || digits * 10 > body.len() * 3
        // `rdd_2_1`, `broadcast_9_piece0`: a snake_case id with a numeric part.
        || body.split(|b| *b == b'_').any(|part| !part.is_empty() && part.iter().all(u8::is_ascii_digit))
}

/// A Unix path: `/` then one or more `/name` parts, perhaps a closing `/`
/// (`^(/[^/]+)+/?$`).
fn is_unix_path(piece: &[u8]) -> bool {
    let body = piece.strip_suffix(b"/").unwrap_or(piece);
    body.len() >= 2 && body[0] == b'/' && !body.windows(2).any(|w| w == b"//")
}

/// Writes `token` with its variable pieces as `<*>`; `caps` gets the byte
/// range of `token` each `<*>` stands for. Returns whether any was written.
pub(super) fn mask_pieces(
    token: &str,
    out: &mut String,
    caps: Option<&mut Vec<Range<usize>>>,
) -> bool {
    let mut w = Writer {
        out,
        caps,
        last_var: None,
        last_literal: None,
        masked: false,
    };
    let b = token.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if is_path_delimiter(b[i]) {
            w.literal(&token[i..=i], i);
            i += 1;
            continue;
        }
        let end = (i..b.len())
            .find(|&j| is_path_delimiter(b[j]))
            .unwrap_or(b.len());
        if is_unix_path(&b[i..end]) {
            w.variable(i..end);
        } else {
            sub_pieces(token, i..end, &mut w);
        }
        i = end;
    }
    w.masked
}

/// The pieces of one path-delimited part, cut at the other delimiters.
fn sub_pieces(token: &str, part: Range<usize>, w: &mut Writer<'_>) {
    let b = token.as_bytes();
    let mut i = part.start;
    while i < part.end {
        let signed = matches!(b[i], b'-' | b'+')
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && i + 1 < part.end;
        if is_delimiter(b[i]) && !signed {
            w.literal(&token[i..=i], i);
            i += 1;
            continue;
        }
        let start = i;
        i += usize::from(signed);
        while i < part.end && !is_delimiter(b[i]) {
            i += 1;
        }
        if is_variable_piece(&b[start..i]) {
            w.variable(start..i);
        } else {
            w.literal(&token[start..i], start);
        }
    }
}

/// Writes literals and variables, merging variables as the conventions say.
struct Writer<'a> {
    out: &'a mut String,
    caps: Option<&'a mut Vec<Range<usize>>>,
    /// Where the last `<*>` ends in `out`.
    last_var: Option<usize>,
    /// The last literal piece: where it starts in `out` and in the token,
    /// and where it ends in `out`.
    last_literal: Option<(usize, usize, usize)>,
    masked: bool,
}

impl Writer<'_> {
    fn literal(&mut self, text: &str, at: usize) {
        let start = self.out.len();
        self.out.push_str(text);
        self.last_literal = Some((start, at, self.out.len()));
    }

    fn variable(&mut self, mut range: Range<usize>) {
        self.masked = true;
        let len = self.out.len();
        // `<*><*>` and `<*>.<*>` are one variable.
        let joined = match self.last_var {
            Some(end) if end == len => true,
            Some(end) if end + 1 == len && self.out.ends_with('.') => {
                self.out.pop();
                true
            }
            _ => false,
        };
        if joined {
            if let Some(last) = self.caps.as_deref_mut().and_then(|c| c.last_mut()) {
                last.end = range.end;
            }
            self.last_var = Some(self.out.len());
            return;
        }
        // `blk_` + `-160`: an identifier prefix glued with `_` is part of the value.
        if let Some((out_start, at, out_end)) = self.last_literal
            && out_end == len
            && self.out[out_start..].ends_with('_')
            && !self.out[out_start..].starts_with('_')
        {
            self.out.truncate(out_start);
            range.start = at;
        }
        self.out.push_str(WILDCARD);
        if let Some(caps) = self.caps.as_deref_mut() {
            caps.push(range);
        }
        self.last_var = Some(self.out.len());
        self.last_literal = None;
    }
}
