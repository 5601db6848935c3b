//! Greedy word wrapping of styled text by display width, in grapheme clusters,
//! under a prefix (indent, bullet, quote bars) that may differ on the first line.

use std::borrow::Cow;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::{Graphemes, UnicodeSegmentation};
use unicode_width::UnicodeWidthStr;

const TAB: &str = "    ";
/// Stands in for a glyph wider than a whole line (a CJK character at width 1):
/// wrapping must make progress, and overflowing the pane is not an option.
const TOO_WIDE: &str = "…";

#[derive(Debug, Clone, Copy)]
pub(super) struct Seg<'a> {
    pub text: &'a str,
    pub style: Style,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Break at spaces and around wide characters; hard-break only words longer than a line.
    Words,
    /// Break anywhere, keeping every space (code).
    Hard,
}

/// Tabs become spaces and other control characters a visible replacement: both
/// would otherwise make the terminal's idea of width differ from ours, and an
/// escape sequence from a model or a server must never reach the terminal.
pub(super) fn sanitize(raw: &str) -> Cow<'_, str> {
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    // C1 controls are the only non-ASCII controls, and all start with 0xC2.
    let suspect = raw.bytes().any(|b| b < 0x20 || b == 0x7F || b == 0xC2);
    if !suspect || !raw.chars().any(char::is_control) {
        return Cow::Borrowed(raw);
    }
    let mut clean = String::with_capacity(raw.len() + TAB.len());
    for c in raw.chars() {
        match c {
            '\t' => clean.push_str(TAB),
            c if c.is_control() => clean.push(char::REPLACEMENT_CHARACTER),
            c => clean.push(c),
        }
    }
    Cow::Owned(clean)
}

/// Grapheme clusters with their display width, so a line never breaks inside
/// an emoji sequence and the width we count is what the terminal shows. ASCII
/// (the common case) skips the segmentation: there every byte is a cluster.
enum Clusters<'a> {
    Ascii { text: &'a str, at: usize },
    Unicode(Graphemes<'a>),
}

impl<'a> Iterator for Clusters<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Clusters::Ascii { text, at } => {
                let cluster = text.get(*at..*at + 1)?;
                *at += 1;
                Some((cluster, cells(cluster)))
            }
            Clusters::Unicode(graphemes) => graphemes.next().map(|g| (g, g.width())),
        }
    }
}

fn clusters(text: &str) -> Clusters<'_> {
    if text.is_ascii() {
        Clusters::Ascii { text, at: 0 }
    } else {
        Clusters::Unicode(text.graphemes(true))
    }
}

/// Display width, as ratatui measures a span.
pub(super) fn cells(s: &str) -> usize {
    if s.is_ascii() {
        return s.bytes().filter(|b| !b.is_ascii_control()).count();
    }
    s.width()
}

/// Keeps a prefix (indent, bullet, quote bars) to at most half a narrow line,
/// dropping from the left so the marker itself survives.
pub(super) fn fit_prefix<'p, 'a>(
    prefix: &'p [Seg<'a>],
    width: usize,
) -> (Cow<'p, [Seg<'a>]>, usize) {
    let total: usize = prefix.iter().map(|seg| cells(seg.text)).sum();
    if total * 2 <= width {
        return (Cow::Borrowed(prefix), total);
    }
    let budget = width / 2;
    let mut excess = total - budget;
    let mut kept = Vec::new();
    let mut kept_width = 0;
    for seg in prefix {
        for (text, w) in clusters(seg.text) {
            if excess > 0 {
                excess = excess.saturating_sub(w);
                continue;
            }
            kept.push(Seg {
                text,
                style: seg.style,
            });
            kept_width += w;
        }
    }
    (Cow::Owned(kept), kept_width)
}

/// Appends `segs` wrapped to `width`, the first line starting with `first` and
/// the others with `cont`. Always appends at least one line.
pub(super) fn wrap<'a>(
    out: &mut Vec<Line<'static>>,
    segs: &[Seg<'a>],
    width: usize,
    first: &[Seg<'a>],
    cont: &[Seg<'a>],
    mode: Mode,
) {
    let (first, first_width) = fit_prefix(first, width);
    let mut wrapper = Wrapper {
        out,
        width,
        cont: fit_prefix(cont, width),
        // A full line of two-cell, three-byte characters takes 1.5 bytes a cell.
        line: LineBuf::new(&first, first_width, width + width / 2 + 8),
        first_line: true,
        word: Vec::new(),
        word_width: 0,
        gap: Vec::new(),
        gap_width: 0,
    };
    for &seg in segs {
        match mode {
            Mode::Hard => wrapper.put(Atom {
                text: seg.text,
                style: seg.style,
                width: cells(seg.text),
            }),
            Mode::Words => wrapper.feed(seg),
        }
    }
    wrapper.finish();
}

#[derive(Clone, Copy)]
struct Atom<'a> {
    text: &'a str,
    style: Style,
    width: usize,
}

/// The line being filled: its text in one buffer, reused line after line,
/// with where each style's run ends. Spans get their own exactly sized
/// strings only when the line is finished, instead of growing word by word.
struct LineBuf {
    text: String,
    runs: Vec<(usize, Style)>,
    width: usize,
    /// Whether anything beyond the prefix is on the line.
    content: bool,
}

impl LineBuf {
    /// `capacity`: bytes to reserve, so filling a line does not regrow it.
    fn new(prefix: &[Seg<'_>], width: usize, capacity: usize) -> LineBuf {
        let mut line = LineBuf {
            text: String::with_capacity(capacity),
            runs: Vec::with_capacity(4),
            width: 0,
            content: false,
        };
        line.reset(prefix, width);
        line
    }

    /// Empties the line and starts it with `prefix`, `width` cells wide.
    fn reset(&mut self, prefix: &[Seg<'_>], width: usize) {
        self.text.clear();
        self.runs.clear();
        self.content = false;
        for seg in prefix {
            self.push(seg.text, seg.style, 0);
        }
        self.width = width;
    }

    fn push(&mut self, text: &str, style: Style, width: usize) {
        if text.is_empty() {
            return;
        }
        self.text.push_str(text);
        match self.runs.last_mut() {
            Some((end, last)) if *last == style => *end = self.text.len(),
            _ => self.runs.push((self.text.len(), style)),
        }
        self.width += width;
    }

    fn to_line(&self) -> Line<'static> {
        let mut spans = Vec::with_capacity(self.runs.len());
        let mut start = 0;
        for &(end, style) in &self.runs {
            let text = self.text.get(start..end).unwrap_or("");
            spans.push(Span::styled(text.to_string(), style));
            start = end;
        }
        Line::from(spans)
    }
}

struct Wrapper<'o, 'a> {
    out: &'o mut Vec<Line<'static>>,
    width: usize,
    cont: (Cow<'a, [Seg<'a>]>, usize),
    line: LineBuf,
    first_line: bool,
    /// The word being collected and the spaces before it, as runs of one
    /// style: words are placed whole, so per-character work is only the scan.
    word: Vec<Atom<'a>>,
    word_width: usize,
    gap: Vec<Atom<'a>>,
    gap_width: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    Word,
    Gap,
}

impl<'a> Wrapper<'_, 'a> {
    fn feed(&mut self, seg: Seg<'a>) {
        if seg.text.is_ascii() {
            self.feed_ascii(seg);
            return;
        }
        let text = seg.text;
        let (mut kind, mut start, mut width) = (Run::Word, 0, 0);
        let mut at = 0;
        for (cluster, w) in clusters(text) {
            let end = at + cluster.len();
            if cluster == " " {
                if kind == Run::Word {
                    self.take_run(kind, text.get(start..at), seg.style, width);
                    self.place_word();
                    (kind, start, width) = (Run::Gap, at, 0);
                }
            } else if w >= 2 {
                // Wide characters (CJK, emoji) may break on either side: CJK
                // text has no spaces to break at.
                self.take_run(kind, text.get(start..at), seg.style, width);
                self.place_word();
                self.take_run(Run::Word, Some(cluster), seg.style, w);
                self.place_word();
                (kind, start, width) = (Run::Word, end, 0);
                at = end;
                continue;
            } else if kind == Run::Gap {
                self.take_run(kind, text.get(start..at), seg.style, width);
                (kind, start, width) = (Run::Word, at, 0);
            }
            width += w;
            at = end;
        }
        self.take_run(kind, text.get(start..), seg.style, width);
    }

    /// The common case, without decoding: every byte is one cell (control
    /// characters were sanitised away) and only spaces break.
    fn feed_ascii(&mut self, seg: Seg<'a>) {
        let text = seg.text;
        let mut start = 0;
        let mut kind = Run::Word;
        for (at, &b) in text.as_bytes().iter().enumerate() {
            let now = if b == b' ' { Run::Gap } else { Run::Word };
            if now != kind {
                self.take_run(kind, text.get(start..at), seg.style, at - start);
                if kind == Run::Word {
                    self.place_word();
                }
                (kind, start) = (now, at);
            }
        }
        self.take_run(kind, text.get(start..), seg.style, text.len() - start);
    }

    fn take_run(&mut self, kind: Run, text: Option<&'a str>, style: Style, width: usize) {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return;
        };
        let atom = Atom { text, style, width };
        if kind == Run::Word {
            self.word.push(atom);
            self.word_width += width;
        } else {
            self.gap.push(atom);
            self.gap_width += width;
        }
    }

    fn place_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let fits = self.line.width + self.gap_width + self.word_width <= self.width;
        if self.line.content {
            if fits {
                for gap in &self.gap {
                    self.line.push(gap.text, gap.style, gap.width);
                }
            } else {
                self.break_line();
            }
        } else if self.first_line && fits {
            // Indentation at the start of a source line is meaningful, spaces at
            // a wrap point are not; and indentation is the first thing to give
            // up when it would push the word onto the next line.
            for gap in &self.gap {
                self.line.push(gap.text, gap.style, gap.width);
            }
        }
        self.gap.clear();
        self.gap_width = 0;
        // Taken and put back so the buffer's allocation is reused for every word.
        let mut word = std::mem::take(&mut self.word);
        for &run in &word {
            self.put(run);
        }
        word.clear();
        self.word = word;
        self.word_width = 0;
    }

    /// Puts a run on the current line, whole if it fits, else cluster by
    /// cluster across as many lines as it takes.
    fn put(&mut self, run: Atom<'a>) {
        if self.line.width + run.width <= self.width {
            self.line.push(run.text, run.style, run.width);
            self.line.content |= !run.text.is_empty();
            return;
        }
        for (text, width) in clusters(run.text) {
            if self.line.content && self.line.width + width > self.width {
                self.break_line();
            }
            if self.line.width + width > self.width {
                self.line.push(TOO_WIDE, run.style, 1);
            } else {
                self.line.push(text, run.style, width);
            }
            self.line.content = true;
        }
    }

    fn break_line(&mut self) {
        self.out.push(self.line.to_line());
        self.line.reset(&self.cont.0, self.cont.1);
        self.first_line = false;
    }

    fn finish(mut self) {
        self.place_word();
        self.out.push(self.line.to_line());
    }
}
