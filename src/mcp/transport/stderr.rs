//! What a stdio server writes to stderr, made fit for the log: line by line,
//! each line redacted whole, a private key block never written, an over-long
//! line cut where the cut cannot split a token, and at most
//! [`LINES_PER_SECOND`] lines a second per server, so a server's stderr can
//! neither leak a secret into the log nor fill the disk.
//!
//! [`StderrLog`] is pure (bytes and the time in, lines out); the drain task
//! feeds it and logs what it returns.

use std::borrow::Cow;
use std::time::{Duration, Instant};

/// The longest line kept to be redacted as a whole; the rest is counted, not kept.
pub(crate) const MAX_LINE_BYTES: usize = 16 << 10;
/// The longest line written to the log (after redaction, so a cut leaks nothing).
pub(crate) const MAX_LOGGED_CHARS: usize = 4 << 10;
/// Lines logged per server per second; the rest are counted and said once.
pub(crate) const LINES_PER_SECOND: u32 = 100;
/// What stands in the log for a private key block.
pub(crate) const PRIVATE_KEY_MARKER: &str = "[a private key block was withheld from the log]";

const WINDOW: Duration = Duration::from_secs(1);

/// Splits a server's stderr into log lines; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct StderrLog {
    line: Vec<u8>,
    /// Bytes of the current line past [`MAX_LINE_BYTES`], counted not kept.
    overflow: usize,
    /// Inside a `-----BEGIN … PRIVATE KEY-----` block.
    in_private_key: bool,
    window_start: Option<Instant>,
    logged_in_window: u32,
    dropped_lines: u64,
}

impl StderrLog {
    /// Takes what was read at `now`; returns the lines to log.
    pub fn feed(&mut self, mut bytes: &[u8], now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (piece, ended) = match memchr::memchr(b'\n', bytes) {
                Some(at) => (&bytes[..at], Some(at + 1)),
                None => (bytes, None),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.line.len());
            let kept = piece.len().min(room);
            self.line.extend_from_slice(&piece[..kept]);
            self.overflow = self.overflow.saturating_add(piece.len() - kept);
            match ended {
                Some(next) => {
                    self.end_line(now, &mut out);
                    bytes = &bytes[next..];
                }
                None => break,
            }
        }
        out
    }

    /// The stream ended: the last line without a newline, and what was dropped.
    pub fn finish(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        if !self.line.is_empty() || self.overflow > 0 {
            self.end_line(now, &mut out);
        }
        if let Some(note) = self.dropped_note() {
            out.push(note);
        }
        out
    }

    fn end_line(&mut self, now: Instant, out: &mut Vec<String>) {
        let mut line = std::mem::take(&mut self.line);
        let overflow = std::mem::replace(&mut self.overflow, 0);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let Some(kind) = self.classify(&line) else {
            return;
        };
        if !self.admit(now, out) {
            return;
        }
        out.push(match kind {
            LineKind::PrivateKey => PRIVATE_KEY_MARKER.to_string(),
            LineKind::Text => loggable(&line, overflow),
        });
    }

    /// What the line is, tracking private key blocks; `None` for a key's body.
    fn classify(&mut self, line: &[u8]) -> Option<LineKind> {
        let text = String::from_utf8_lossy(line);
        if self.in_private_key {
            if is_private_key_end(&text) {
                self.in_private_key = false;
                return None;
            }
            if looks_like_key_body(&text) {
                return None;
            }
            // Not a key line after all (a key cut off): log normally from here.
            self.in_private_key = false;
        }
        if let Some(begin) = private_key_begin(&text) {
            self.in_private_key = !is_private_key_end(&text[begin..]);
            return Some(LineKind::PrivateKey);
        }
        Some(LineKind::Text)
    }

    /// Whether one more line fits this second; says what was dropped before it.
    fn admit(&mut self, now: Instant, out: &mut Vec<String>) -> bool {
        let new_window = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= WINDOW);
        if new_window {
            self.window_start = Some(now);
            self.logged_in_window = 0;
            if let Some(note) = self.dropped_note() {
                out.push(note);
            }
        }
        if self.logged_in_window >= LINES_PER_SECOND {
            self.dropped_lines = self.dropped_lines.saturating_add(1);
            return false;
        }
        self.logged_in_window += 1;
        true
    }

    fn dropped_note(&mut self) -> Option<String> {
        let dropped = std::mem::replace(&mut self.dropped_lines, 0);
        (dropped > 0).then(|| {
            format!("… {dropped} more stderr lines dropped (at most {LINES_PER_SECOND} a second are logged)")
        })
    }
}

enum LineKind {
    PrivateKey,
    Text,
}

/// A complete line as it goes to the log: cut, if it ran over, before the
/// token the cut would split; redacted whole; control characters made visible;
/// at most [`MAX_LOGGED_CHARS`].
fn loggable(line: &[u8], overflow: usize) -> String {
    let mut dropped = overflow;
    let mut kept = line;
    if overflow > 0 {
        // What follows the last space may be the start of a secret whose end was not kept.
        let cut = line.iter().rposition(u8::is_ascii_whitespace).unwrap_or(0);
        dropped = dropped.saturating_add(line.len() - cut);
        kept = &line[..cut];
    }
    let text = String::from_utf8_lossy(kept);
    let redacted = crate::support::redact::text(&text);
    let mut shown = visible(&redacted).into_owned();
    if let Some((cut, _)) = shown.char_indices().nth(MAX_LOGGED_CHARS) {
        dropped = dropped.saturating_add(shown.len() - cut);
        shown.truncate(cut);
    }
    if dropped > 0 {
        let gap = if shown.is_empty() { "" } else { " " };
        shown.push_str(&format!("{gap}… {dropped} bytes dropped"));
    }
    shown
}

/// Control characters (an escape sequence, a carriage return) written as
/// escapes, so reading the log in a terminal shows them instead of running them.
fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Where a `-----BEGIN … PRIVATE KEY-----` line starts, if this is one.
fn private_key_begin(text: &str) -> Option<usize> {
    let begin = text.find("-----BEGIN ")?;
    text[begin..].contains("PRIVATE KEY").then_some(begin)
}

fn is_private_key_end(text: &str) -> bool {
    text.find("-----END ")
        .is_some_and(|end| text[end..].contains("PRIVATE KEY"))
}

/// The headers a PEM (RFC 1421) or PGP armor (RFC 4880) block may carry.
const KEY_HEADERS: &[&str] = &[
    "Proc-Type",
    "DEK-Info",
    "Version",
    "Comment",
    "Hash",
    "Charset",
    "MessageID",
];

/// A line a PEM or PGP key body is made of: blank, a header, or base64 — alone,
/// or as the last word after a logger's prefix (`2026-01-01 ERROR MIIEow…`).
fn looks_like_key_body(text: &str) -> bool {
    let line = text.trim();
    if line.is_empty() {
        return true;
    }
    if line
        .split_once(": ")
        .is_some_and(|(name, _)| KEY_HEADERS.contains(&name))
    {
        return true;
    }
    let last = line.rsplit(char::is_whitespace).next().unwrap_or(line);
    let base64 = last
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    base64 && (last.len() == line.len() || last.len() >= 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(log: &mut StderrLog, input: &[u8]) -> Vec<String> {
        let now = Instant::now();
        let mut out = log.feed(input, now);
        out.extend(log.finish(now));
        out
    }

    #[test]
    fn a_private_key_block_is_one_marker_line() {
        let input = b"starting\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAstderrkeybody0123456789abcdef\nZZZsecondlineofkey\n-----END RSA PRIVATE KEY-----\nready\n";
        let lines = all(&mut StderrLog::default(), input);
        assert_eq!(lines, ["starting", PRIVATE_KEY_MARKER, "ready"]);
    }

    #[test]
    fn key_lines_split_across_reads_are_still_withheld() {
        let mut log = StderrLog::default();
        let now = Instant::now();
        let mut out = Vec::new();
        for piece in [
            &b"-----BEGIN OPENSSH PRIV"[..],
            b"ATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
            b"BG5vbmUAAAAEbm9uZQ\r\nProc-Type: 4,ENCRYPTED\n\n",
            b"-----END OPENSSH PRIVATE KEY-----\nafter\n",
        ] {
            out.extend(log.feed(piece, now));
        }
        assert_eq!(out, [PRIVATE_KEY_MARKER, "after"]);
    }

    #[test]
    fn key_lines_behind_a_logger_prefix_are_withheld_too() {
        let input = b"2026-01-01 ERROR bad key: -----BEGIN EC PRIVATE KEY-----\n\
2026-01-01 ERROR MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oH\n\
2026-01-01 ERROR q1wOaHRDcmlzcCBzZWNyZXQga2V5IG1hdGVyaWFs\n\
2026-01-01 ERROR -----END EC PRIVATE KEY-----\n\
2026-01-01 INFO retrying\n";
        let lines = all(&mut StderrLog::default(), input);
        assert_eq!(lines, [PRIVATE_KEY_MARKER, "2026-01-01 INFO retrying"]);
    }

    #[test]
    fn a_key_cut_off_stops_being_withheld_at_the_first_line_that_is_not_key() {
        let input =
            b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nserver listening on port 8080\n";
        let lines = all(&mut StderrLog::default(), input);
        assert_eq!(lines, [PRIVATE_KEY_MARKER, "server listening on port 8080"]);
    }

    #[test]
    fn a_token_at_the_line_cap_is_dropped_whole_not_cut_in_two() {
        let token = "dapi0123456789abcdef0123456789abcdef";
        // The token straddles the cap: its first half is inside, its second outside.
        let pad = "x".repeat(MAX_LINE_BYTES - 20);
        let input = format!("{pad} {token} tail\n");
        let lines = all(&mut StderrLog::default(), input.as_bytes());
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        for half in ["dapi0123456789", "abcdef0123456789abcdef", "tail"] {
            assert!(!line.contains(half), "{half} leaked");
        }
        assert!(
            line.ends_with(" bytes dropped"),
            "{}",
            &line[line.len() - 40..]
        );
        assert!(line.chars().count() < MAX_LOGGED_CHARS + 40);
    }

    #[test]
    fn a_long_line_within_the_cap_is_redacted_as_a_whole() {
        // The old drain cut at 2048 bytes and logged each half unredacted.
        let input = format!(
            "{} dapi0123456789abcdef0123456789abcdef tail\n",
            "x".repeat(2040)
        );
        let lines = all(&mut StderrLog::default(), input.as_bytes());
        let joined = lines.join("\n");
        assert!(!joined.contains("dapi0123"), "{joined}");
        assert!(!joined.contains("abcdef tail"), "{joined}");
    }

    #[test]
    fn lines_are_redacted() {
        let lines = all(
            &mut StderrLog::default(),
            b"connecting with DATABRICKS_TOKEN=dapi0123456789abcdef0123456789abcdef\n",
        );
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains("dapi0123456789abcdef"), "{}", lines[0]);
        assert!(lines[0].contains("[redacted"), "{}", lines[0]);
    }

    #[test]
    fn escape_sequences_are_shown_not_run() {
        let lines = all(
            &mut StderrLog::default(),
            b"\x1b]52;c;aGk=\x07title\x1b[2J\n",
        );
        assert_eq!(lines, ["\\u{1b}]52;c;aGk=\\u{7}title\\u{1b}[2J"]);
    }

    #[test]
    fn a_flood_is_cut_to_the_rate_and_the_drop_is_said_once() {
        let mut log = StderrLog::default();
        let start = Instant::now();
        let flood = "noise\n".repeat(10_000);
        let first = log.feed(flood.as_bytes(), start);
        assert_eq!(first.len(), LINES_PER_SECOND as usize);
        let later = log.feed(b"after a pause\n", start + Duration::from_millis(1_500));
        assert_eq!(
            later,
            [
                "… 9900 more stderr lines dropped (at most 100 a second are logged)",
                "after a pause"
            ]
        );
        assert!(log.finish(start + Duration::from_secs(2)).is_empty());
    }

    #[test]
    fn what_was_dropped_is_said_at_the_end_of_the_stream() {
        let mut log = StderrLog::default();
        let now = Instant::now();
        log.feed("line\n".repeat(150).as_bytes(), now);
        assert_eq!(
            log.finish(now),
            ["… 50 more stderr lines dropped (at most 100 a second are logged)"]
        );
    }

    #[test]
    fn a_line_without_newline_is_kept_bounded() {
        let mut log = StderrLog::default();
        let now = Instant::now();
        let chunk = vec![b'y'; 1 << 20];
        for _ in 0..8 {
            assert!(log.feed(&chunk, now).is_empty());
        }
        assert!(log.line.len() <= MAX_LINE_BYTES);
        let lines = log.finish(now);
        assert_eq!(lines, [format!("… {} bytes dropped", 8 << 20)]);
    }
}
