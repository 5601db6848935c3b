//! Reading a trace as blocks cut at line ends, within bounds whatever the
//! input: a line may be at most [`MAX_LINE_BYTES`] long and a trace at most
//! [`Limits::total`] bytes, so a file without line ends (or `/dev/zero`)
//! neither fills memory nor reads forever.
//!
//! A line over the limit is never held whole: once it is known to be too
//! long, a [`LONG_LINE`] placeholder stands in its place (so line numbers stay
//! exact and the reader can say which line was skipped and why) and the rest
//! of it is read and dropped.

use std::io::{self, Read};

/// The longest trace line read. A record is at most a 1 MiB tool result
/// escaped as JSON; anything much longer is damage, not a record.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The most `--replay --format markdown|json` read: they hold the whole trace.
pub const MAX_LOADED_BYTES: u64 = 1 << 30;

/// The most the streamed transcript (`--replay`, text) reads.
pub const MAX_STREAMED_BYTES: u64 = 4 << 30;

/// The most held while looking for where a trace begins (blank lines before
/// its first line, or records before the first with a time).
pub const MAX_LEADING_BYTES: usize = 64 << 20;

/// The error for a trace that does not begin within [`MAX_LEADING_BYTES`].
pub fn no_beginning() -> String {
    format!(
        "this is not an opsdeck trace: its first {} MiB hold no trace line",
        MAX_LEADING_BYTES >> 20
    )
}

/// Stands in for a line over the limit. It is not JSON (it starts with NUL),
/// so no real record can be taken for it.
pub const LONG_LINE: &[u8] = b"\0opsdeck: line over the length limit\0";

/// Why a line over the limit was skipped, for the list of skipped lines.
pub fn long_line_reason() -> String {
    format!(
        "longer than the {} MiB a trace line may be; skipped without reading it",
        MAX_LINE_BYTES >> 20
    )
}

/// True for the placeholder of a skipped over-long line, or a line over the limit.
pub fn is_long_line(line: &[u8]) -> bool {
    line == LONG_LINE || line.len() > MAX_LINE_BYTES
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one line.
    pub line: usize,
    /// Bytes read from the input in all.
    pub total: u64,
}

impl Limits {
    pub const STREAM: Limits = Limits {
        line: MAX_LINE_BYTES,
        total: MAX_STREAMED_BYTES,
    };
    pub const LOAD: Limits = Limits {
        line: MAX_LINE_BYTES,
        total: MAX_LOADED_BYTES,
    };
}

/// The warning for a trace read only up to the total limit.
pub fn capped_warning(limits: Limits) -> String {
    format!(
        "the trace is larger than the {} MiB opsdeck reads here; only its first {} MiB were read",
        limits.total >> 20,
        limits.total >> 20
    )
}

/// Calls `take` with blocks of about `size` bytes, each ending at a line end
/// except perhaps the last (`last` is true for it), until the input ends,
/// `take` returns false or `limits.total` bytes were read. Returns whether
/// the input went on past that limit (then the line cut by it is dropped).
pub fn read_blocks<R: Read>(
    input: &mut R,
    size: usize,
    limits: Limits,
    mut take: impl FnMut(Vec<u8>, bool) -> bool,
) -> io::Result<bool> {
    let size = size.max(1);
    let mut input = input.take(limits.total);
    let mut carry = Vec::new();
    loop {
        let mut block = std::mem::take(&mut carry);
        let target = block.len() + size;
        block.reserve(size);
        let mut at_end = false;
        while block.len() < target {
            let want = (target - block.len()) as u64;
            if input.by_ref().take(want).read_to_end(&mut block)? == 0 {
                at_end = true;
                break;
            }
        }
        if at_end {
            let capped = went_on(&mut input)?;
            if capped {
                // The line the limit cut is not a line of the trace.
                let keep = memchr::memrchr(b'\n', &block).map_or(0, |end| end + 1);
                block.truncate(keep);
            }
            // Announced even when empty, so a file of blank lines (or of
            // nothing) still gets its verdict.
            take(block, true);
            return Ok(capped);
        }
        match memchr::memrchr(b'\n', &block) {
            Some(end) => {
                carry = block[end + 1..].to_vec();
                block.truncate(end + 1);
                if !take(block, false) {
                    return Ok(false);
                }
            }
            None => carry = block,
        }
        if carry.len() > limits.line {
            // Freed now, not after the rest of the line is skipped.
            drop(std::mem::take(&mut carry));
            let mut placeholder = LONG_LINE.to_vec();
            placeholder.push(b'\n');
            if !take(placeholder, false) {
                return Ok(false);
            }
            match skip_rest_of_line(&mut input, size)? {
                Some(rest) => carry = rest,
                None => {
                    let capped = went_on(&mut input)?;
                    take(Vec::new(), true);
                    return Ok(capped);
                }
            }
        }
    }
}

/// Reads and drops bytes up to and including the next line end; returns what
/// was read after it, or `None` when the input ended first.
fn skip_rest_of_line<R: Read>(input: &mut R, size: usize) -> io::Result<Option<Vec<u8>>> {
    let mut scratch = vec![0u8; size.clamp(1, 1 << 20)];
    loop {
        let read = match input.read(&mut scratch) {
            Ok(0) => return Ok(None),
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(end) = memchr::memchr(b'\n', &scratch[..read]) {
            return Ok(Some(scratch[end + 1..read].to_vec()));
        }
    }
}

/// Whether the input behind a `take` that is used up has more to give.
fn went_on<R: Read>(input: &mut io::Take<&mut R>) -> io::Result<bool> {
    if input.limit() > 0 {
        return Ok(false);
    }
    let mut probe = [0u8; 1];
    loop {
        match input.get_mut().read(&mut probe) {
            Ok(read) => return Ok(read > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], size: usize, limits: Limits) -> (Vec<Vec<u8>>, bool) {
        let mut out = Vec::new();
        let capped = read_blocks(&mut &input[..], size, limits, |block, _| {
            out.push(block);
            true
        })
        .unwrap();
        (out, capped)
    }

    fn lines_of(blocks: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let all: Vec<u8> = blocks.concat();
        all.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn an_over_long_line_is_replaced_and_the_lines_after_it_kept() {
        let limits = Limits {
            line: 100,
            total: 1 << 20,
        };
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1000));
        input.extend_from_slice(b"\nthird\nfourth\n");
        // (A block larger than the limit may hold an over-long line whole:
        // memory is still bounded, and the reader skips it by its length.)
        for size in [7, 64, 150] {
            let (blocks, capped) = read_all(&input, size, limits);
            assert!(!capped);
            let lines = lines_of(&blocks);
            assert_eq!(lines[0], b"first", "block {size}");
            assert_eq!(lines[1], LONG_LINE, "block {size}");
            assert_eq!(lines[2], b"third", "block {size}");
            assert_eq!(lines[3], b"fourth", "block {size}");
            assert!(
                blocks.iter().all(|b| b.len() <= limits.line + size + 1),
                "no block holds the long line (block {size})"
            );
        }
    }

    #[test]
    fn an_endless_line_is_dropped_in_pieces_up_to_the_total() {
        let limits = Limits {
            line: 1 << 10,
            total: 1 << 20,
        };
        let mut zeros = io::repeat(0);
        let mut largest = 0;
        let mut seen = Vec::new();
        let capped = read_blocks(&mut zeros, 256, limits, |block, last| {
            largest = largest.max(block.len());
            seen.push((block, last));
            true
        })
        .unwrap();
        assert!(capped, "an endless input stops at the total");
        assert!(largest <= limits.line + 256 + LONG_LINE.len() + 1);
        assert_eq!(seen.len(), 2, "the placeholder, then the end");
        assert!(seen[0].0.starts_with(LONG_LINE) && seen[1].1);
    }

    #[test]
    fn a_trace_over_the_total_keeps_its_whole_lines_only() {
        let limits = Limits {
            line: 100,
            total: 20,
        };
        let (blocks, capped) = read_all(b"line one\nline two\nline three\n", 8, limits);
        assert!(capped);
        assert_eq!(blocks.concat(), b"line one\nline two\n");
        let (blocks, capped) = read_all(
            b"line one\nline two\n",
            8,
            Limits {
                total: 18,
                ..limits
            },
        );
        assert!(!capped, "exactly the total is not over it");
        assert_eq!(blocks.concat(), b"line one\nline two\n");
    }
}
