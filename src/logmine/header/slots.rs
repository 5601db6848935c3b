//! Cutting a line's start into fields ("slots") and telling what kind of
//! field each is.
//!
//! A slot is a run of non-blank bytes, except that a bracket group
//! (`[IPC Server handler 2]`, `[req-1 - - -]`) is one slot even when it holds
//! spaces: thread names and request contexts are one field.

/// Longest bracket group read as one slot; a `[` not closed by then is an
/// ordinary token (a message that happens to start with a bracket).
const MAX_GROUP_BYTES: usize = 512;

/// Slots of `line` from a byte offset, as `(start, end)` byte ranges.
#[derive(Clone)]
pub struct Slots<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Slots<'a> {
    pub fn new(line: &'a str, from: usize) -> Self {
        Slots {
            bytes: line.as_bytes(),
            pos: from.min(line.len()),
        }
    }

    /// Carries on from `pos` (after a timestamp spanning several slots),
    /// finishing the token `pos` falls inside.
    pub fn resume_at(&mut self, pos: usize) {
        let mut pos = pos.min(self.bytes.len());
        while pos < self.bytes.len() && !is_blank(self.bytes[pos]) {
            pos += 1;
        }
        self.pos = self.pos.max(pos);
    }

    /// The offset just past the last slot read.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The offset where the next slot would start (after blanks).
    pub fn next_start(&self) -> usize {
        let mut pos = self.pos;
        while pos < self.bytes.len() && is_blank(self.bytes[pos]) {
            pos += 1;
        }
        pos
    }
}

impl Iterator for Slots<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let start = self.next_start();
        if start >= self.bytes.len() {
            self.pos = start;
            return None;
        }
        let end = group_end(self.bytes, start).unwrap_or_else(|| token_end(self.bytes, start));
        self.pos = end;
        Some((start, end))
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn token_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    while end < bytes.len() && !is_blank(bytes[end]) {
        end += 1;
    }
    end
}

/// The end of a bracket group opening at `start` (nested brackets of the
/// same kind counted), extended to the end of its token (`[main]:`).
fn group_end(bytes: &[u8], start: usize) -> Option<usize> {
    let close = match bytes[start] {
        b'[' => b']',
        b'(' => b')',
        b'{' => b'}',
        b'<' => b'>',
        _ => return None,
    };
    let open = bytes[start];
    let mut depth = 0usize;
    let limit = bytes.len().min(start + MAX_GROUP_BYTES);
    for (i, &b) in bytes.iter().enumerate().take(limit).skip(start) {
        if b == open {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return Some(token_end(bytes, i + 1));
            }
        }
    }
    None
}

/// What kind of field a slot is, coarsely enough to be the same on every
/// line of a file while the values differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SlotClass {
    /// `[main]`, `(pid 12)`, `{task.py:12}`.
    Bracket,
    /// Punctuation only: `-`, `|`, `:`.
    Separator,
    /// A name that ends the header: `dfs.DataNode:`, `sshd[123]:`, `file.go:42]`.
    Tag,
    /// An identifier: `etl.load`, `nova.compute.manager`, `host-7`.
    Name,
    /// Digits: a process or thread id.
    Number,
    /// Anything else (words with other punctuation, quoted text…).
    Other,
}

impl SlotClass {
    /// The class of `text` (one slot).
    pub fn of(text: &str) -> SlotClass {
        let bytes = text.as_bytes();
        let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
            return SlotClass::Other;
        };
        // `[-]` is an empty bracket group, not a separator.
        if matches!(first, b'[' | b'(' | b'{' | b'<') && bytes.len() > 1 {
            return if last == b':' {
                SlotClass::Tag
            } else {
                SlotClass::Bracket
            };
        }
        if bytes.iter().all(u8::is_ascii_punctuation) {
            return SlotClass::Separator;
        }
        if bytes.iter().all(u8::is_ascii_digit) {
            return SlotClass::Number;
        }
        // `:` ends a logger or program name; an unmatched `]` ends glog's `file.go:42]`.
        if bytes.len() > 1 && (last == b':' || (last == b']' && !bytes.contains(&b'['))) {
            return if first.is_ascii_alphanumeric() || first == b'/' || first == b'_' {
                SlotClass::Tag
            } else {
                SlotClass::Other
            };
        }
        let identifier = first.is_ascii_alphabetic()
            && bytes
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'$'));
        if identifier {
            SlotClass::Name
        } else {
            SlotClass::Other
        }
    }

    /// Whether a header may end with this field.
    pub fn closes_header(self) -> bool {
        matches!(
            self,
            SlotClass::Bracket | SlotClass::Separator | SlotClass::Tag
        )
    }
}
