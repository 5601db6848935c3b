//! Basic markdown for the chat pane: an LLM's answer, usually still streaming,
//! as word-wrapped ratatui lines.
//!
//! The chat re-renders its newest entries every frame, so rendering is a single
//! linear pass: each source line is classified on its own (no look-ahead, which
//! also means a half-received answer renders the same way it will once the rest
//! arrives), emphasis is paired with a delimiter stack rather than by searching
//! ahead, and wrapping is greedy. Markup that is not closed yet renders
//! literally, so a streamed `**bold` shows as typed instead of vanishing.

use std::borrow::Cow;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::console::ui::theme::Theme;

const BULLET: &str = "•";
const QUOTE_BAR: &str = "│ ";
const RULE: &str = "─";
const CODE_INDENT: usize = 2;
const LIST_INDENT: usize = 2;
const TAB: &str = "    ";
/// Stands in for a glyph wider than a whole line (a CJK character at width 1):
/// wrapping must make progress, and overflowing the pane is not an option.
const TOO_WIDE: &str = "…";
const ZWJ: char = '\u{200D}';

/// Renders `text` (markdown, possibly cut off mid-stream) into lines no wider
/// than `width` cells. Width 0 yields no lines.
pub fn render(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut renderer = Renderer {
        width: usize::from(width),
        theme: *theme,
        out: Vec::new(),
        blank_pending: false,
        fence: None,
        list: Vec::new(),
        hang: 0,
    };
    if renderer.width == 0 {
        return renderer.out;
    }
    for raw in text.split('\n') {
        renderer.line(raw);
    }
    renderer.out
}

/// Word-wraps plain text (no markup) to `width`, starting every line, the first
/// and each wrapped or `\n`-separated one, with `indent`. Leading spaces of each
/// source line are kept on its first line.
pub fn wrap_plain(text: &str, width: u16, style: Style, indent: &str) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut out = Vec::new();
    if width == 0 {
        return out;
    }
    let indent = sanitize(indent);
    let prefix = [Seg {
        text: &indent,
        style,
    }];
    for raw in text.split('\n') {
        let line = sanitize(raw);
        let segs = [Seg { text: &line, style }];
        wrap(&mut out, &segs, width, &prefix, &prefix, Mode::Words);
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Seg<'a> {
    text: &'a str,
    style: Style,
}

struct Fence {
    marker: u8,
    len: usize,
    /// Spaces before the opening fence; code lines lose up to this many, so a
    /// fence nested in a list item is not indented twice.
    indent: usize,
    /// Extra indentation when the block belongs to a list item.
    pad: usize,
}

struct Renderer {
    width: usize,
    theme: Theme,
    out: Vec<Line<'static>>,
    /// A blank line is only emitted once more content follows, which collapses
    /// runs of blanks and drops leading and trailing ones.
    blank_pending: bool,
    fence: Option<Fence>,
    /// Source indentation of each open list level, outermost first.
    list: Vec<usize>,
    /// Display column where the latest list item's text starts.
    hang: usize,
}

impl Renderer {
    fn line(&mut self, raw: &str) {
        let line = sanitize(raw);
        if let Some(fence) = &self.fence {
            if closes_fence(&line, fence) {
                self.fence = None;
            } else {
                let (indent, pad) = (fence.indent, fence.pad);
                self.code_line(&line, indent, pad);
            }
            return;
        }

        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if rest.trim_end_matches(' ').is_empty() {
            self.blank_pending = !self.out.is_empty();
            return;
        }
        if let Some((marker, len)) = opens_fence(rest) {
            let pad = if indent > 0 && !self.list.is_empty() {
                self.hang
            } else {
                self.list.clear();
                0
            };
            self.fence = Some(Fence {
                marker,
                len,
                indent,
                pad,
            });
            return;
        }
        if let Some(title) = heading(rest) {
            self.list.clear();
            let segs = inline(title, self.theme.heading(), &self.theme);
            self.emit(&segs, &[], &[], Mode::Words);
            return;
        }
        if is_rule(rest) {
            self.list.clear();
            self.flush_blank();
            let rule = RULE.repeat(self.width);
            self.out
                .push(Line::from(Span::styled(rule, self.theme.dim())));
            return;
        }
        if rest.starts_with('>') {
            self.quote(rest);
            return;
        }
        if let Some(item) = list_item(rest) {
            self.list_item(indent, item);
            return;
        }

        let pad = if indent > 0 && !self.list.is_empty() {
            self.hang
        } else {
            self.list.clear();
            0
        };
        let prefix = " ".repeat(pad);
        let prefix = [Seg {
            text: &prefix,
            style: self.theme.text(),
        }];
        let segs = inline(rest.trim_end_matches(' '), self.theme.text(), &self.theme);
        self.emit(&segs, &prefix, &prefix, Mode::Words);
    }

    fn quote(&mut self, rest: &str) {
        let mut depth = 0;
        let mut content = rest;
        while let Some(after) = content.strip_prefix('>') {
            depth += 1;
            content = after.trim_start_matches(' ');
        }
        let bars = QUOTE_BAR.repeat(depth);
        let prefix = [Seg {
            text: &bars,
            style: self.theme.dim(),
        }];
        let segs = inline(
            content.trim_end_matches(' '),
            self.theme.text(),
            &self.theme,
        );
        self.emit(&segs, &prefix, &prefix, Mode::Words);
    }

    fn list_item(&mut self, indent: usize, item: ListItem<'_>) {
        while self.list.last().is_some_and(|&open| open > indent) {
            self.list.pop();
        }
        if self.list.last() != Some(&indent) {
            self.list.push(indent);
        }
        let level = self.list.len().saturating_sub(1);
        let pad = " ".repeat(level * LIST_INDENT);
        let marker = format!("{} ", if item.bullet { BULLET } else { item.marker });
        self.hang = pad.len() + cells(&marker);
        let hanging = " ".repeat(self.hang);
        let first = [
            Seg {
                text: &pad,
                style: self.theme.text(),
            },
            Seg {
                text: &marker,
                style: self.theme.accent(),
            },
        ];
        let cont = [Seg {
            text: &hanging,
            style: self.theme.text(),
        }];
        let segs = inline(item.content, self.theme.text(), &self.theme);
        self.emit(&segs, &first, &cont, Mode::Words);
    }

    fn code_line(&mut self, line: &str, fence_indent: usize, pad: usize) {
        let leading = line.len() - line.trim_start_matches(' ').len();
        let code = &line[leading.min(fence_indent)..];
        let prefix = " ".repeat(pad + CODE_INDENT);
        let prefix = [Seg {
            text: &prefix,
            style: self.theme.text(),
        }];
        let segs = [Seg {
            text: code,
            style: self.theme.code(),
        }];
        self.emit(&segs, &prefix, &prefix, Mode::Hard);
    }

    fn emit(&mut self, segs: &[Seg<'_>], first: &[Seg<'_>], cont: &[Seg<'_>], mode: Mode) {
        self.flush_blank();
        wrap(&mut self.out, segs, self.width, first, cont, mode);
    }

    fn flush_blank(&mut self) {
        if std::mem::take(&mut self.blank_pending) {
            self.out.push(Line::default());
        }
    }
}

/// Tabs become spaces and other control characters a visible replacement: both
/// would otherwise make the terminal's idea of width differ from ours.
fn sanitize(raw: &str) -> Cow<'_, str> {
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

fn opens_fence(rest: &str) -> Option<(u8, usize)> {
    let marker = *rest.as_bytes().first()?;
    if marker != b'`' && marker != b'~' {
        return None;
    }
    let len = rest.bytes().take_while(|&b| b == marker).count();
    // A backtick in the info string means this is inline code such as
    // ```` ```x``` ````, not a fence.
    let info_ok = marker == b'~' || !rest[len..].contains('`');
    (len >= 3 && info_ok).then_some((marker, len))
}

fn closes_fence(line: &str, fence: &Fence) -> bool {
    let trimmed = line.trim_matches(' ');
    trimmed.len() >= fence.len && trimmed.bytes().all(|b| b == fence.marker)
}

fn heading(rest: &str) -> Option<&str> {
    let hashes = rest.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let after = &rest[hashes..];
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let title = after.trim_matches(' ');
    let unclosed = title.trim_end_matches('#');
    if unclosed.len() < title.len() && (unclosed.is_empty() || unclosed.ends_with(' ')) {
        return Some(unclosed.trim_end_matches(' '));
    }
    Some(title)
}

fn is_rule(rest: &str) -> bool {
    let mut marker = None;
    let mut count = 0;
    for b in rest.bytes() {
        match b {
            b' ' => {}
            b'-' | b'*' | b'_' if marker.is_none_or(|m| m == b) => {
                marker = Some(b);
                count += 1;
            }
            _ => return false,
        }
    }
    count >= 3
}

struct ListItem<'a> {
    bullet: bool,
    marker: &'a str,
    content: &'a str,
}

fn list_item(rest: &str) -> Option<ListItem<'_>> {
    let bytes = rest.as_bytes();
    let marker_len = match bytes.first()? {
        b'-' | b'*' | b'+' => 1,
        b'0'..=b'9' => {
            let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 9 || !matches!(bytes.get(digits), Some(b'.' | b')')) {
                return None;
            }
            digits + 1
        }
        _ => return None,
    };
    if bytes.get(marker_len) != Some(&b' ') {
        return None;
    }
    Some(ListItem {
        bullet: marker_len == 1,
        marker: &rest[..marker_len],
        content: rest[marker_len..].trim_matches(' '),
    })
}

enum Item<'a> {
    Text(&'a str),
    Code(&'a str),
    Delim(usize),
}

struct Delim<'a> {
    run: &'a str,
    ch: u8,
    /// Characters of the run not yet consumed by a match; these render literally.
    left: usize,
    can_open: bool,
    can_close: bool,
    item: usize,
}

/// Splits one line of inline markdown into styled segments.
fn inline<'a>(text: &'a str, base: Style, theme: &Theme) -> Vec<Seg<'a>> {
    let bytes = text.as_bytes();
    let ticks = backtick_runs(bytes);
    let closers = next_same_length(&ticks);
    let mut items = Vec::new();
    let mut delims: Vec<Delim<'a>> = Vec::new();
    let mut tick = 0;
    let mut plain = 0;
    let mut i = 0;
    let flush = |items: &mut Vec<Item<'a>>, from: usize, to: usize| {
        if from < to {
            items.push(Item::Text(&text[from..to]));
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if matches!(bytes.get(i + 1), Some(b'*' | b'_' | b'\\')) => {
                flush(&mut items, plain, i);
                items.push(Item::Text(&text[i + 1..i + 2]));
                i += 2;
                plain = i;
            }
            b'`' => {
                while ticks.get(tick).is_some_and(|&(start, _)| start < i) {
                    tick += 1;
                }
                let run = ticks.get(tick).map_or(1, |&(_, len)| len);
                match closers.get(tick).copied().flatten() {
                    Some(close) => {
                        let (close_start, close_len) = ticks[close];
                        flush(&mut items, plain, i);
                        items.push(Item::Code(code_content(&text[i + run..close_start])));
                        i = close_start + close_len;
                        plain = i;
                        tick = close + 1;
                    }
                    None => i += run,
                }
            }
            ch @ (b'*' | b'_') => {
                let run = bytes[i..].iter().take_while(|&&b| b == ch).count();
                flush(&mut items, plain, i);
                let before = text[..i].chars().next_back();
                let after = text[i + run..].chars().next();
                let (can_open, can_close) = flanking(ch, before, after);
                delims.push(Delim {
                    run: &text[i..i + run],
                    ch,
                    left: run,
                    can_open,
                    can_close,
                    item: items.len(),
                });
                items.push(Item::Delim(delims.len() - 1));
                i += run;
                plain = i;
            }
            _ => i += 1,
        }
    }
    flush(&mut items, plain, bytes.len());

    let ranges = pair_emphasis(&mut delims);
    // Per-item running counts of open emphasis (a difference array), so
    // nested and overlapping ranges cost O(items) in total.
    let counts = if ranges.is_empty() {
        0
    } else {
        items.len() + 1
    };
    let mut bold = vec![0i32; counts];
    let mut italic = vec![0i32; counts];
    for &(from, to, strong) in &ranges {
        let counts = if strong { &mut bold } else { &mut italic };
        counts[from] += 1;
        counts[to] -= 1;
    }

    let mut segs = Vec::with_capacity(items.len());
    let (mut in_bold, mut in_italic) = (0, 0);
    for (k, item) in items.iter().enumerate() {
        in_bold += bold.get(k).copied().unwrap_or(0);
        in_italic += italic.get(k).copied().unwrap_or(0);
        let emphasis = |style: Style| {
            let style = if in_bold > 0 {
                style.patch(theme.bold())
            } else {
                style
            };
            if in_italic > 0 {
                style.patch(theme.italic())
            } else {
                style
            }
        };
        let (text, style) = match item {
            Item::Text(text) => (*text, emphasis(base)),
            Item::Code(code) => (*code, emphasis(base.patch(theme.code()))),
            Item::Delim(d) => (&delims[*d].run[..delims[*d].left], emphasis(base)),
        };
        if !text.is_empty() {
            segs.push(Seg { text, style });
        }
    }
    segs
}

fn backtick_runs(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let len = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            runs.push((i, len));
            i += len;
        } else {
            i += 1;
        }
    }
    runs
}

/// For each backtick run, the next run of the same length (its closer if it
/// opens a code span), found in one backwards pass instead of a search per run.
fn next_same_length(runs: &[(usize, usize)]) -> Vec<Option<usize>> {
    let mut latest: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut next = vec![None; runs.len()];
    for (k, &(_, len)) in runs.iter().enumerate().rev() {
        next[k] = latest.insert(len, k);
    }
    next
}

fn code_content(raw: &str) -> &str {
    let padded = raw.len() >= 2 && raw.starts_with(' ') && raw.ends_with(' ');
    if padded && !raw.bytes().all(|b| b == b' ') {
        &raw[1..raw.len() - 1]
    } else {
        raw
    }
}

/// CommonMark's flanking rules, which are what keep `a * b` and intraword
/// underscores (`list_pipeline_runs`) from turning into emphasis.
fn flanking(ch: u8, before: Option<char>, after: Option<char>) -> (bool, bool) {
    let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let punct = |c: Option<char>| c.is_some_and(|c| !c.is_alphanumeric() && !c.is_whitespace());
    let left = !space(after) && (!punct(after) || space(before) || punct(before));
    let right = !space(before) && (!punct(before) || space(after) || punct(after));
    if ch == b'_' {
        (
            left && (!right || punct(before)),
            right && (!left || punct(after)),
        )
    } else {
        (left, right)
    }
}

/// Pairs emphasis delimiters (CommonMark's "process emphasis") and returns item
/// ranges `[from, to)` that are bold (`true`) or italic. `bottom` remembers how
/// far down the stack a failed search went, per kind of closer, so unmatched
/// runs are never rescanned and the whole pass stays linear.
fn pair_emphasis(delims: &mut [Delim<'_>]) -> Vec<(usize, usize, bool)> {
    let mut ranges = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut bottom = [0usize; 12];
    for c in 0..delims.len() {
        if delims[c].can_close {
            let key = usize::from(delims[c].ch == b'_') * 6
                + usize::from(delims[c].can_open) * 3
                + delims[c].run.len() % 3;
            while delims[c].left > 0 {
                let closer = &delims[c];
                let found = stack[bottom[key].min(stack.len())..]
                    .iter()
                    .rposition(|&o| delims[o].ch == closer.ch && pairable(&delims[o], closer))
                    .map(|k| k + bottom[key].min(stack.len()));
                let Some(k) = found else {
                    bottom[key] = stack.len();
                    break;
                };
                let o = stack[k];
                let used = if delims[o].left >= 2 && delims[c].left >= 2 {
                    2
                } else {
                    1
                };
                delims[o].left -= used;
                delims[c].left -= used;
                ranges.push((delims[o].item + 1, delims[c].item, used == 2));
                // Delimiters between the pair can no longer match anything.
                let keep = if delims[o].left > 0 { k + 1 } else { k };
                stack.truncate(keep);
                for b in &mut bottom {
                    *b = (*b).min(keep);
                }
            }
        }
        if delims[c].can_open && delims[c].left > 0 {
            stack.push(c);
        }
    }
    ranges
}

/// CommonMark's "rule of three": `*foo**bar*` must not pair the `**`.
fn pairable(opener: &Delim<'_>, closer: &Delim<'_>) -> bool {
    let (a, b) = (opener.run.len(), closer.run.len());
    !((opener.can_close || closer.can_open) && (a + b) % 3 == 0 && !(a % 3 == 0 && b % 3 == 0))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Break at spaces and around wide characters; hard-break only words longer than a line.
    Words,
    /// Break anywhere, keeping every space (code).
    Hard,
}

#[derive(Clone, Copy)]
struct Atom<'a> {
    text: &'a str,
    style: Style,
    width: usize,
}

/// Grapheme-ish clusters with their display width: a character plus the
/// zero-width marks, variation selectors and joined characters after it, so a
/// line never breaks inside an emoji sequence and the width we count matches
/// what ratatui measures for the finished span.
struct Clusters<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Iterator for Clusters<'a> {
    type Item = (&'a str, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.s[self.pos..];
        let bytes = rest.as_bytes();
        let first = *bytes.first()?;
        if first.is_ascii() && bytes.get(1).is_none_or(u8::is_ascii) {
            self.pos += 1;
            return Some((&rest[..1], usize::from(!first.is_ascii_control())));
        }
        let mut chars = rest.char_indices();
        let (_, head) = chars.next()?;
        let mut end = head.len_utf8();
        let mut joined = head == ZWJ;
        for (at, c) in chars {
            if !(joined || extends_cluster(c)) {
                break;
            }
            end = at + c.len_utf8();
            joined = c == ZWJ;
        }
        self.pos += end;
        let cluster = &rest[..end];
        Some((cluster, cluster.width()))
    }
}

fn extends_cluster(c: char) -> bool {
    c.width() == Some(0) || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

fn clusters(s: &str) -> Clusters<'_> {
    Clusters { s, pos: 0 }
}

/// Display width as the sum of cluster widths, which is what wrapping counts.
fn cells(s: &str) -> usize {
    if s.is_ascii() {
        return s.bytes().filter(|b| !b.is_ascii_control()).count();
    }
    clusters(s).map(|(_, w)| w).sum()
}

/// Keeps a prefix (indent, bullet, quote bars) to at most half a narrow line,
/// dropping from the left so the marker itself survives.
fn fit_prefix<'a>(prefix: &[Seg<'a>], width: usize) -> (Vec<Seg<'a>>, usize) {
    let total: usize = prefix.iter().map(|seg| cells(seg.text)).sum();
    if total * 2 <= width {
        return (prefix.to_vec(), total);
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
    (kept, kept_width)
}

struct LineBuf {
    spans: Vec<Span<'static>>,
    buf: String,
    style: Style,
    width: usize,
    /// Whether anything beyond the prefix is on the line.
    content: bool,
}

impl LineBuf {
    fn new(prefix: &[Seg<'_>], width: usize) -> LineBuf {
        let mut line = LineBuf {
            spans: Vec::new(),
            buf: String::new(),
            style: Style::default(),
            width: 0,
            content: false,
        };
        for seg in prefix {
            line.push(seg.text, seg.style, 0);
        }
        line.width = width;
        line
    }

    fn push(&mut self, text: &str, style: Style, width: usize) {
        if text.is_empty() {
            return;
        }
        if style != self.style && !self.buf.is_empty() {
            self.spans
                .push(Span::styled(std::mem::take(&mut self.buf), self.style));
        }
        self.style = style;
        self.buf.push_str(text);
        self.width += width;
    }

    fn finish(mut self) -> Line<'static> {
        if !self.buf.is_empty() {
            self.spans.push(Span::styled(self.buf, self.style));
        }
        Line::from(self.spans)
    }
}

struct Wrapper<'o, 'a> {
    out: &'o mut Vec<Line<'static>>,
    width: usize,
    cont: (Vec<Seg<'a>>, usize),
    line: LineBuf,
    first_line: bool,
    /// The word being collected and the spaces before it, as runs of one
    /// style: words are placed whole, so per-character work is only the scan.
    word: Vec<Atom<'a>>,
    word_width: usize,
    gap: Vec<Atom<'a>>,
    gap_width: usize,
}

/// Appends `segs` wrapped to `width`, the first line starting with `first` and
/// the others with `cont`. Always appends at least one line.
fn wrap<'a>(
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
        line: LineBuf::new(&first, first_width),
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
                    self.take_run(kind, &text[start..at], seg.style, width);
                    self.place_word();
                    (kind, start, width) = (Run::Gap, at, 0);
                }
            } else if w >= 2 {
                // Wide characters (CJK, emoji) may break on either side: CJK
                // text has no spaces to break at.
                self.take_run(kind, &text[start..at], seg.style, width);
                self.place_word();
                self.take_run(Run::Word, cluster, seg.style, w);
                self.place_word();
                (kind, start, width) = (Run::Word, end, 0);
                at = end;
                continue;
            } else if kind == Run::Gap {
                self.take_run(kind, &text[start..at], seg.style, width);
                (kind, start, width) = (Run::Word, at, 0);
            }
            width += w;
            at = end;
        }
        self.take_run(kind, &text[start..], seg.style, width);
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
                self.take_run(kind, &text[start..at], seg.style, at - start);
                if kind == Run::Word {
                    self.place_word();
                }
                (kind, start) = (now, at);
            }
        }
        self.take_run(kind, &text[start..], seg.style, text.len() - start);
    }

    fn take_run(&mut self, kind: Run, text: &'a str, style: Style, width: usize) {
        if text.is_empty() {
            return;
        }
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
        let next = LineBuf::new(&self.cont.0, self.cont.1);
        let done = std::mem::replace(&mut self.line, next);
        self.out.push(done.finish());
        self.first_line = false;
    }

    fn finish(mut self) {
        self.place_word();
        let line = std::mem::replace(&mut self.line, LineBuf::new(&[], 0));
        self.out.push(line.finish());
    }
}

#[cfg(test)]
mod tests {
    use ratatui::style::Modifier;

    use super::*;

    const THEME: Theme = Theme { colour: true };

    fn text_of(line: &Line<'_>) -> String {
        line.spans
            .iter()
            .map(|span| span.content.as_ref())
            .collect()
    }

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(text_of).collect()
    }

    fn md(text: &str, width: u16) -> Vec<String> {
        texts(&render(text, width, &THEME))
    }

    fn style_of(lines: &[Line<'_>], needle: &str) -> Style {
        lines
            .iter()
            .flat_map(|line| line.spans.iter())
            .find(|span| span.content.contains(needle))
            .map(|span| span.style)
            .unwrap_or_else(|| panic!("no span contains {needle:?} in {:?}", texts(lines)))
    }

    fn any_modifier(lines: &[Line<'_>], modifier: Modifier) -> bool {
        lines
            .iter()
            .flat_map(|line| line.spans.iter())
            .any(|span| span.style.add_modifier.contains(modifier))
    }

    const SAMPLE: &str = "# Incident summary\n\
        The run `run-42` of **nightly_sales_load** failed after _retrying_ 3 times; see \
        list_pipeline_runs and get_run_logs for details. 2 * 3 = 6, and a*b is fine.\n\
        \n\
        \n\
        ## Steps\n\
        1. Check the **linked service** credentials — they expired at 02:00 UTC.\n\
        2. Re-run with `--from-failure`.\n\
        - first bullet with a very_long_identifier_that_will_certainly_need_hard_breaking_somewhere\n\
        \x20 - nested *italic phrase that wraps around* end\n\
        \x20   continuation of the nested item\n\
        > quoted **warning** from the runbook\n\
        > > and a nested quote\n\
        中文字符的宽度是两个单元格，表情符号也是 🚀🔥 ok.\n\
        ---\n\
        ```sql\n\
        SELECT *\n\
        \tFROM sales  -- a **not bold** comment\n\
        ```\n\
        Done: __all good__ and ***very*** done \\*literally\\*.\n\
        ```\n\
        unclosed fence content";

    #[test]
    fn headings_drop_their_markers() {
        let lines = render("# Title\n### Sub *x* ##\n####### seven\n#tag", 80, &THEME);
        assert_eq!(texts(&lines), ["Title", "Sub x", "####### seven", "#tag"]);
        assert_eq!(style_of(&lines, "Title"), THEME.heading());
        assert!(
            style_of(&lines, "x")
                .add_modifier
                .contains(Modifier::ITALIC)
        );
        assert!(style_of(&lines, "x").add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn bold_with_stars_and_underscores() {
        let lines = render("a **bold** and __also__ b", 80, &THEME);
        assert_eq!(texts(&lines), ["a bold and also b"]);
        assert!(
            style_of(&lines, "bold")
                .add_modifier
                .contains(Modifier::BOLD)
        );
        assert!(
            style_of(&lines, "also")
                .add_modifier
                .contains(Modifier::BOLD)
        );
        assert_eq!(style_of(&lines, "a "), THEME.text());
    }

    #[test]
    fn italic_with_stars_and_underscores() {
        let lines = render("an *italic* and _this_ too; ***both***", 80, &THEME);
        assert_eq!(texts(&lines), ["an italic and this too; both"]);
        assert!(
            style_of(&lines, "italic")
                .add_modifier
                .contains(Modifier::ITALIC)
        );
        assert!(
            style_of(&lines, "this")
                .add_modifier
                .contains(Modifier::ITALIC)
        );
        let both = style_of(&lines, "both").add_modifier;
        assert!(both.contains(Modifier::ITALIC | Modifier::BOLD));
    }

    #[test]
    fn snake_case_and_arithmetic_are_not_emphasis() {
        let text = "call list_pipeline_runs then get_run_logs_v2, a * b * c, 2 * 3 and */5 * * * *";
        let lines = render(text, 200, &THEME);
        assert_eq!(texts(&lines), [text]);
        assert!(!any_modifier(&lines, Modifier::ITALIC));
        let lines = render("**list_pipeline_runs**", 80, &THEME);
        assert_eq!(texts(&lines), ["list_pipeline_runs"]);
        assert!(!any_modifier(&lines, Modifier::ITALIC));
        assert!(any_modifier(&lines, Modifier::BOLD));
    }

    #[test]
    fn inline_code_is_literal() {
        let lines = render("run `a*b_c_ **x**` now and ``x ` y``", 80, &THEME);
        assert_eq!(texts(&lines), ["run a*b_c_ **x** now and x ` y"]);
        assert_eq!(style_of(&lines, "a*b"), THEME.code());
        assert_eq!(style_of(&lines, "x ` y"), THEME.code());
        assert!(!any_modifier(&lines, Modifier::BOLD));
    }

    #[test]
    fn fenced_code_is_indented_and_literal() {
        let text = "before\n```rust\nfn main() {\n    let x = **1**;\n\n}\n```\nafter";
        let lines = render(text, 80, &THEME);
        assert_eq!(
            texts(&lines),
            [
                "before",
                "  fn main() {",
                "      let x = **1**;",
                "  ",
                "  }",
                "after"
            ]
        );
        assert_eq!(style_of(&lines, "fn main"), THEME.code());
        assert!(!any_modifier(&lines, Modifier::BOLD));
    }

    #[test]
    fn unclosed_fence_renders_the_rest_as_code() {
        let lines = render("text\n```\nstill *code*\n# not a heading", 80, &THEME);
        assert_eq!(
            texts(&lines),
            ["text", "  still *code*", "  # not a heading"]
        );
        assert_eq!(style_of(&lines, "still"), THEME.code());
    }

    #[test]
    fn inline_triple_backticks_are_not_a_fence() {
        assert_eq!(md("```x``` after", 80), ["x after"]);
    }

    #[test]
    fn bullets_nest_by_indentation() {
        let text =
            "- one\n- two\n  - nested\n    - deeper\n  - back\n* star\n+ plus\n-not a bullet";
        assert_eq!(
            md(text, 80),
            [
                "• one",
                "• two",
                "  • nested",
                "    • deeper",
                "  • back",
                "• star",
                "• plus",
                "-not a bullet"
            ]
        );
        // Four-space nesting reads the same as two-space nesting.
        assert_eq!(md("- a\n    - b", 80), ["• a", "  • b"]);
    }

    #[test]
    fn numbered_items_keep_their_numbers() {
        assert_eq!(
            md("1. first\n2. second\n10) tenth", 80),
            ["1. first", "2. second", "10) tenth"]
        );
    }

    #[test]
    fn wrapped_items_hang_under_their_text() {
        assert_eq!(
            md("- alpha beta gamma delta epsilon", 12),
            ["• alpha beta", "  gamma", "  delta", "  epsilon"]
        );
        assert_eq!(md("12. aaa bbb ccc", 9), ["12. aaa", "    bbb", "    ccc"]);
        assert_eq!(
            md("- item\n  more text here", 10),
            ["• item", "  more", "  text", "  here"]
        );
    }

    #[test]
    fn blank_lines_collapse_and_trim() {
        assert_eq!(md("\n\na\n\n\n\nb\n\n", 80), ["a", "", "b"]);
        assert_eq!(md("a\n   \nb", 80), ["a", "", "b"]);
    }

    #[test]
    fn quotes_get_a_dim_bar() {
        let lines = render("> quoted text\n> > nested\n>", 80, &THEME);
        assert_eq!(texts(&lines), ["│ quoted text", "│ │ nested", "│ "]);
        assert_eq!(lines[0].spans[0].style, THEME.dim());
        assert_eq!(md("> one two three", 10), ["│ one two", "│ three"]);
    }

    #[test]
    fn rules_span_the_width() {
        assert_eq!(md("---", 5), ["─────"]);
        assert_eq!(md("* * *", 3), ["───"]);
    }

    #[test]
    fn unclosed_markup_renders_literally() {
        assert_eq!(md("**bold", 80), ["**bold"]);
        assert_eq!(md("`code", 80), ["`code"]);
        assert_eq!(md("a **b `c _d", 80), ["a **b `c _d"]);
        assert_eq!(md("**bold** **open", 80), ["bold **open"]);
        assert_eq!(md("trailing \\", 80), ["trailing \\"]);
        assert_eq!(md("\\*not italic\\*", 80), ["*not italic*"]);
    }

    #[test]
    fn emphasis_survives_wrapping() {
        let lines = render("x **one two three four five** y", 9, &THEME);
        assert_eq!(texts(&lines), ["x one two", "three", "four five", "y"]);
        for line in &lines[1..3] {
            for span in &line.spans {
                assert!(span.style.add_modifier.contains(Modifier::BOLD), "{line:?}");
            }
        }
        assert!(lines[0].spans.iter().any(|s| s.content.contains("one")
            && s.style.add_modifier.contains(Modifier::BOLD)));
    }

    #[test]
    fn long_words_and_wide_characters_break_hard() {
        assert_eq!(md("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(md("中文字符测试", 5), ["中文", "字符", "测试"]);
        assert_eq!(md("ok 中文", 4), ["ok", "中文"]);
        assert_eq!(md("中ab cd", 7), ["中ab cd"]);
        assert_eq!(md("中ab cd", 6), ["中ab", "cd"]);
        assert_eq!(md("中", 1), ["…"]);
    }

    #[test]
    fn no_line_exceeds_the_width() {
        assert!(render(SAMPLE, 0, &THEME).is_empty());
        assert!(wrap_plain(SAMPLE, 0, Style::default(), "  ").is_empty());
        for width in 1..=80u16 {
            let lines = render(SAMPLE, width, &THEME);
            assert!(!lines.is_empty());
            for line in &lines {
                assert!(
                    line.width() <= usize::from(width),
                    "width {width}: {line:?}"
                );
            }
            for line in wrap_plain(SAMPLE, width, Style::default(), "    ") {
                assert!(
                    line.width() <= usize::from(width),
                    "width {width}: {line:?}"
                );
            }
        }
    }

    /// Characters that are markup (or decoration we add) and may legitimately
    /// appear or disappear; everything else must survive rendering, in order.
    fn content_chars(text: &str) -> String {
        text.chars()
            .filter(|c| !c.is_whitespace() && !"*_`#>-+\\•│─~".contains(*c))
            .collect()
    }

    #[test]
    fn every_streaming_prefix_keeps_its_text() {
        for (end, _) in SAMPLE.char_indices().chain([(SAMPLE.len(), ' ')]) {
            let prefix = &SAMPLE[..end];
            let expected: String = prefix
                .split('\n')
                .filter(|line| !line.trim_start().starts_with("```"))
                .map(content_chars)
                .collect();
            for width in [30, 11] {
                let rendered: String = render(prefix, width, &THEME)
                    .iter()
                    .map(|line| content_chars(&text_of(line)))
                    .collect();
                assert_eq!(rendered, expected, "prefix {prefix:?} at width {width}");
            }
        }
    }

    #[test]
    fn control_characters_are_made_visible() {
        assert_eq!(md("a\tb\u{1b}[31m\r", 80), ["a    b\u{FFFD}[31m"]);
    }

    #[test]
    fn wrap_plain_indents_every_line() {
        let style = THEME.dim();
        let lines = wrap_plain("alpha beta gamma\n   kept\n\n   longer", 9, style, "  ");
        assert_eq!(
            texts(&lines),
            [
                "  alpha",
                "  beta",
                "  gamma",
                "     kept",
                "  ",
                "  longer"
            ]
        );
        assert!(
            lines
                .iter()
                .all(|line| line.spans.iter().all(|s| s.style == style))
        );
        assert_eq!(texts(&wrap_plain("**raw**", 20, style, "")), ["**raw**"]);
    }
}
