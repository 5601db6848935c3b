//! The inspector's JSON viewer: a tool call's arguments or result, pretty-printed
//! once into lines, then folded, scrolled and searched without printing it again.
//!
//! Results can be a megabyte, and the drawer asks for the visible window every
//! frame, so the state is kept in line indices: stepping to the next visible line
//! is O(1) (a folded opener jumps to its closer), stepping back is O(depth), and a
//! window costs O(height). Only actions that change folds walk the lines, once.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

/// "No enclosing container" in `JsonView::parent`.
const NONE: usize = usize::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `{` or `[`, possibly after a key; `close` is the index of its closing line.
    Open { close: usize },
    /// `}` or `]` (with a comma when more entries follow); `open` is its opener.
    Close { open: usize },
    /// A scalar, an empty `{}` / `[]`, or the first line of a multi-line string.
    Leaf,
    /// A further line of a string value that contained newlines, one level
    /// deeper than the line that starts the string.
    StringContinuation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonLine {
    /// Nesting level; the drawer indents by it (the text carries no indentation).
    pub depth: u16,
    pub text: String,
    pub kind: LineKind,
}

/// One visible row of [`JsonView::window`].
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Index of the line in the unfolded listing.
    pub index: usize,
    pub line: &'a JsonLine,
    pub folded: bool,
    /// How many lines the fold hides inside the container (entries and their
    /// contents, not the closing bracket); 0 when not folded.
    pub hidden: usize,
    /// The closing bracket of a folded container, with its comma if any (`},`);
    /// empty when not folded.
    pub closer: &'a str,
}

impl<'a> Row<'a> {
    /// What to draw after the indentation: the line itself, or for a folded
    /// container its summary, `"key": {…},` (the drawer adds `(N lines)`).
    pub fn display(&self) -> Cow<'a, str> {
        if self.folded {
            Cow::Owned(format!("{}…{}", self.line.text, self.closer))
        } else {
            Cow::Borrowed(self.line.text.as_str())
        }
    }
}

#[derive(Debug, Clone)]
pub struct JsonView {
    lines: Vec<JsonLine>,
    /// For each line, the opener whose fold hides it: the enclosing container's
    /// opener, or for a closing line its own opener. Following it up the chain
    /// visits every fold that could hide the line.
    parent: Vec<usize>,
    folded: Vec<bool>,
    visible_len: usize,
    /// Line indices, always of visible lines, with their visible-row numbers.
    cursor_line: usize,
    cursor_row: usize,
    scroll_line: usize,
    scroll_row: usize,
}

impl JsonView {
    pub fn new(value: &Value) -> JsonView {
        let (lines, parent) = Builder::build(value);
        let len = lines.len();
        JsonView {
            lines,
            parent,
            folded: vec![false; len],
            visible_len: len,
            cursor_line: 0,
            cursor_row: 0,
            scroll_line: 0,
            scroll_row: 0,
        }
    }

    /// Total lines with nothing folded.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Always false: even `null` is a line. Here for the `len` convention.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Rows shown given the current folds.
    pub fn visible_len(&self) -> usize {
        self.visible_len
    }

    /// Every line, unfolded, in order.
    pub fn lines(&self) -> &[JsonLine] {
        &self.lines
    }

    /// Visible-row index of the cursor.
    pub fn cursor(&self) -> usize {
        self.cursor_row
    }

    /// Line index of the cursor, to compare with [`Row::index`] when drawing.
    pub fn cursor_line(&self) -> usize {
        self.cursor_line
    }

    /// Up to `height` visible rows from the scroll position. If the height shrank
    /// since the last move and the cursor would fall outside, the window follows
    /// the cursor; it also never leaves blank rows below the end while rows
    /// above are scrolled off.
    pub fn window(&self, height: usize) -> Vec<Row<'_>> {
        if height == 0 {
            return Vec::new();
        }
        let (mut top, mut top_row) = (self.scroll_line, self.scroll_row);
        if self.cursor_row < top_row {
            (top, top_row) = (self.cursor_line, self.cursor_row);
        } else if self.cursor_row >= top_row + height {
            let (line, back) = self.back(self.cursor_line, height - 1);
            (top, top_row) = (line, self.cursor_row - back);
        }
        let below = self.visible_len - top_row;
        if below < height && top_row > 0 {
            top = self.back(top, height - below).0;
        }

        let mut rows = Vec::with_capacity(height.min(self.visible_len));
        let mut at = Some(top);
        while let Some(i) = at {
            if rows.len() == height {
                break;
            }
            rows.push(self.row(i));
            at = self.next_visible(i);
        }
        rows
    }

    /// Moves the cursor by `delta` visible rows, stopping at either end, and
    /// scrolls just enough to keep it within a window of `height` rows.
    pub fn move_cursor(&mut self, delta: isize, height: usize) {
        for _ in 0..delta.unsigned_abs() {
            let step = if delta > 0 {
                self.next_visible(self.cursor_line)
            } else {
                self.prev_visible(self.cursor_line)
            };
            let Some(line) = step else { break };
            self.cursor_line = line;
            if delta > 0 {
                self.cursor_row += 1;
            } else {
                self.cursor_row -= 1;
            }
        }
        self.scroll_to_cursor(height, false);
    }

    pub fn top(&mut self) {
        self.cursor_line = 0;
        self.cursor_row = 0;
        self.scroll_line = 0;
        self.scroll_row = 0;
    }

    pub fn bottom(&mut self, height: usize) {
        self.cursor_line = self.representative(self.lines.len() - 1);
        self.cursor_row = self.visible_len - 1;
        self.scroll_to_cursor(height, false);
    }

    /// On an opener, folds or unfolds its container; anywhere else, folds the
    /// enclosing container and moves the cursor to its opener.
    pub fn toggle_fold(&mut self) {
        let i = self.cursor_line;
        if let LineKind::Open { .. } = self.lines[i].kind {
            self.folded[i] = !self.folded[i];
        } else {
            let container = self.parent[i];
            if container == NONE {
                return;
            }
            self.folded[container] = true;
            self.cursor_line = container;
        }
        self.refold();
    }

    /// Folds every container whose opener is deeper than `depth` and unfolds
    /// the rest: `fold_all_deeper_than(1)` shows the top level's entries with
    /// their own containers folded.
    pub fn fold_all_deeper_than(&mut self, depth: u16) {
        for (i, line) in self.lines.iter().enumerate() {
            if let LineKind::Open { .. } = line.kind {
                self.folded[i] = line.depth > depth;
            }
        }
        self.refold();
    }

    /// Finds `needle` (case-insensitive) starting at the line after the cursor
    /// and wrapping around, in every line including folded ones. On a match,
    /// unfolds what hides it, moves the cursor there and scrolls it into view.
    pub fn find(&mut self, needle: &str, forward: bool, height: usize) -> bool {
        if needle.is_empty() {
            return false;
        }
        let needle = Needle::new(needle);
        let n = self.lines.len();
        for step in 1..=n {
            let i = if forward {
                (self.cursor_line + step) % n
            } else {
                (self.cursor_line + n - step) % n
            };
            if !needle.is_in(&self.lines[i].text) {
                continue;
            }
            let mut p = self.parent[i];
            while p != NONE {
                self.folded[p] = false;
                p = self.parent[p];
            }
            self.cursor_line = i;
            self.refold();
            self.scroll_to_cursor(height, true);
            return true;
        }
        false
    }

    /// The whole value as pretty JSON (two-space indent). Multi-line strings are
    /// joined back with `\n` escapes, so the text always parses.
    pub fn text(&self) -> String {
        let size: usize = self
            .lines
            .iter()
            .map(|line| line.text.len() + 2 * usize::from(line.depth) + 2)
            .sum();
        let mut out = String::with_capacity(size);
        for (i, line) in self.lines.iter().enumerate() {
            if line.kind == LineKind::StringContinuation {
                out.push_str("\\n");
            } else {
                if i > 0 {
                    out.push('\n');
                }
                for _ in 0..line.depth {
                    out.push_str("  ");
                }
            }
            out.push_str(&line.text);
        }
        out
    }

    fn row(&self, i: usize) -> Row<'_> {
        let line = &self.lines[i];
        match line.kind {
            LineKind::Open { close } if self.folded[i] => Row {
                index: i,
                line,
                folded: true,
                hidden: close - i - 1,
                closer: &self.lines[close].text,
            },
            _ => Row {
                index: i,
                line,
                folded: false,
                hidden: 0,
                closer: "",
            },
        }
    }

    fn next_visible(&self, i: usize) -> Option<usize> {
        let next = match self.lines[i].kind {
            LineKind::Open { close } if self.folded[i] => close + 1,
            _ => i + 1,
        };
        (next < self.lines.len()).then_some(next)
    }

    /// The visible row just above visible line `i`: line `i - 1`, or if that is
    /// hidden, the outermost folded container hiding it.
    fn prev_visible(&self, i: usize) -> Option<usize> {
        i.checked_sub(1).map(|j| self.representative(j))
    }

    /// The visible line that stands for line `i`: itself, or the outermost
    /// folded container hiding it.
    fn representative(&self, i: usize) -> usize {
        let mut shown = i;
        let mut p = self.parent[i];
        while p != NONE {
            if self.folded[p] {
                shown = p;
            }
            p = self.parent[p];
        }
        shown
    }

    /// Up to `rows` visible rows above `from`: the line reached and the rows taken.
    fn back(&self, from: usize, rows: usize) -> (usize, usize) {
        let mut at = from;
        let mut taken = 0;
        while taken < rows {
            let Some(prev) = self.prev_visible(at) else {
                break;
            };
            at = prev;
            taken += 1;
        }
        (at, taken)
    }

    fn scroll_to_cursor(&mut self, height: usize, centre: bool) {
        let height = height.max(1);
        if self.cursor_row >= self.scroll_row && self.cursor_row < self.scroll_row + height {
            return;
        }
        let above = match (centre, self.cursor_row < self.scroll_row) {
            (true, _) => height / 2,
            (false, true) => 0,
            (false, false) => height - 1,
        };
        let (line, taken) = self.back(self.cursor_line, above);
        self.scroll_line = line;
        self.scroll_row = self.cursor_row - taken;
    }

    /// After folds changed: moves the cursor and scroll position off hidden
    /// lines and recounts rows, in one walk over the visible lines.
    fn refold(&mut self) {
        self.cursor_line = self.representative(self.cursor_line);
        self.scroll_line = self.representative(self.scroll_line);
        let mut row = 0;
        let mut at = Some(0);
        while let Some(i) = at {
            if i == self.cursor_line {
                self.cursor_row = row;
            }
            if i == self.scroll_line {
                self.scroll_row = row;
            }
            row += 1;
            at = self.next_visible(i);
        }
        self.visible_len = row;
    }
}

enum Needle {
    /// Compared bytewise, ignoring ASCII case, without lowercasing every line.
    Ascii(Vec<u8>),
    Unicode(String),
}

impl Needle {
    fn new(needle: &str) -> Needle {
        if needle.is_ascii() {
            Needle::Ascii(needle.as_bytes().to_vec())
        } else {
            Needle::Unicode(needle.to_lowercase())
        }
    }

    fn is_in(&self, haystack: &str) -> bool {
        match self {
            Needle::Ascii(needle) => haystack
                .as_bytes()
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle)),
            Needle::Unicode(needle) => haystack.to_lowercase().contains(needle.as_str()),
        }
    }
}

enum Entries<'v> {
    Object(serde_json::map::Iter<'v>),
    Array(std::slice::Iter<'v, Value>),
}

struct OpenContainer<'v> {
    entries: Entries<'v>,
    line: usize,
    /// Whether the container itself is followed by a sibling (its closer gets a comma).
    comma: bool,
    close: char,
}

#[derive(Default)]
struct Builder {
    lines: Vec<JsonLine>,
    parent: Vec<usize>,
}

impl Builder {
    /// Pretty-prints with an explicit stack rather than recursion, so a deeply
    /// nested value built in code cannot overflow the thread's stack.
    fn build(value: &Value) -> (Vec<JsonLine>, Vec<usize>) {
        let mut builder = Builder::default();
        let mut stack: Vec<OpenContainer<'_>> = Vec::new();
        builder.value(None, value, false, NONE, &mut stack);
        while let Some(top) = stack.last_mut() {
            let next = match &mut top.entries {
                Entries::Object(entries) => entries
                    .next()
                    .map(|(key, value)| (Some(key.as_str()), value, entries.len() > 0)),
                Entries::Array(entries) => {
                    entries.next().map(|value| (None, value, entries.len() > 0))
                }
            };
            let open = top.line;
            match next {
                Some((key, value, comma)) => builder.value(key, value, comma, open, &mut stack),
                None => {
                    let (close, comma) = (top.close, top.comma);
                    stack.pop();
                    let index = builder.lines.len();
                    builder.lines[open].kind = LineKind::Open { close: index };
                    let mut text = String::with_capacity(2);
                    text.push(close);
                    if comma {
                        text.push(',');
                    }
                    let depth = builder.lines[open].depth;
                    builder.push(depth, text, LineKind::Close { open }, open);
                }
            }
        }
        (builder.lines, builder.parent)
    }

    fn push(&mut self, depth: u16, text: String, kind: LineKind, parent: usize) -> usize {
        self.lines.push(JsonLine { depth, text, kind });
        self.parent.push(parent);
        self.lines.len() - 1
    }

    fn value<'v>(
        &mut self,
        key: Option<&str>,
        value: &'v Value,
        comma: bool,
        parent: usize,
        stack: &mut Vec<OpenContainer<'v>>,
    ) {
        let depth = u16::try_from(stack.len()).unwrap_or(u16::MAX);
        let mut text = String::new();
        if let Some(key) = key {
            text.push('"');
            escape_into(&mut text, key);
            text.push_str("\": ");
        }
        let entries = match value {
            Value::Object(map) if !map.is_empty() => Some((Entries::Object(map.iter()), '{', '}')),
            Value::Array(items) if !items.is_empty() => {
                Some((Entries::Array(items.iter()), '[', ']'))
            }
            _ => None,
        };
        if let Some((entries, open, close)) = entries {
            text.push(open);
            // The real closer index is patched in once the container ends.
            let line = self.push(depth, text, LineKind::Open { close: 0 }, parent);
            stack.push(OpenContainer {
                entries,
                line,
                comma,
                close,
            });
            return;
        }
        match value {
            Value::String(s) => {
                self.string(depth, text, s, comma, parent);
                return;
            }
            Value::Object(_) => text.push_str("{}"),
            Value::Array(_) => text.push_str("[]"),
            Value::Null => text.push_str("null"),
            Value::Bool(b) => text.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let _ = write!(text, "{n}");
            }
        }
        if comma {
            text.push(',');
        }
        self.push(depth, text, LineKind::Leaf, parent);
    }

    /// A string with newlines becomes one line per source line, so tool
    /// results like `"summary\n{…json…}"` read as text rather than one endless
    /// line of `\n` escapes.
    fn string(&mut self, depth: u16, mut text: String, s: &str, comma: bool, parent: usize) {
        text.push('"');
        let mut pieces = s.split('\n');
        escape_into(&mut text, pieces.next().unwrap_or_default());
        let mut kind = LineKind::Leaf;
        let mut line_depth = depth;
        for piece in pieces {
            self.push(line_depth, std::mem::take(&mut text), kind, parent);
            kind = LineKind::StringContinuation;
            line_depth = depth.saturating_add(1);
            escape_into(&mut text, piece);
        }
        text.push('"');
        if comma {
            text.push(',');
        }
        self.push(line_depth, text, kind, parent);
    }
}

/// JSON string escaping, also escaping DEL and C1 controls (valid JSON either
/// way) because a terminal would act on them.
fn escape_into(out: &mut String, s: &str) {
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if c.is_control() => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push_str(escaped);
        }
        plain = i + c.len_utf8();
    }
    out.push_str(&s[plain..]);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Value {
        json!({
            "a": 1,
            "b": {"c": [true, null], "d": {}, "e": []},
            "f": "line one\nline \"two\"\tend",
            "g": [{"h": "x"}, 2.5]
        })
    }

    fn shape(view: &JsonView) -> Vec<(u16, &str, LineKind)> {
        view.lines()
            .iter()
            .map(|line| (line.depth, line.text.as_str(), line.kind))
            .collect()
    }

    fn window_indices(view: &JsonView, height: usize) -> Vec<usize> {
        view.window(height).iter().map(|row| row.index).collect()
    }

    #[test]
    fn lines_look_like_pretty_json() {
        let view = JsonView::new(&sample());
        use LineKind::*;
        assert_eq!(
            shape(&view),
            [
                (0, "{", Open { close: 18 }),
                (1, "\"a\": 1,", Leaf),
                (1, "\"b\": {", Open { close: 9 }),
                (2, "\"c\": [", Open { close: 6 }),
                (3, "true,", Leaf),
                (3, "null", Leaf),
                (2, "],", Close { open: 3 }),
                (2, "\"d\": {},", Leaf),
                (2, "\"e\": []", Leaf),
                (1, "},", Close { open: 2 }),
                (1, "\"f\": \"line one", Leaf),
                (2, "line \\\"two\\\"\\tend\",", StringContinuation),
                (1, "\"g\": [", Open { close: 17 }),
                (2, "{", Open { close: 15 }),
                (3, "\"h\": \"x\"", Leaf),
                (2, "},", Close { open: 13 }),
                (2, "2.5", Leaf),
                (1, "]", Close { open: 12 }),
                (0, "}", Close { open: 0 }),
            ]
        );
    }

    #[test]
    fn scalars_and_empty_containers_are_single_lines() {
        for (value, text) in [
            (json!(null), "null"),
            (json!(42), "42"),
            (json!({}), "{}"),
            (json!([]), "[]"),
            (json!("a\u{1b}b\u{7f}"), "\"a\\u001bb\\u007f\""),
        ] {
            let view = JsonView::new(&value);
            assert_eq!(shape(&view), [(0, text, LineKind::Leaf)]);
            assert_eq!(view.visible_len(), 1);
        }
    }

    #[test]
    fn a_top_level_multi_line_string_is_shown_as_lines() {
        let view = JsonView::new(&json!("error: boom\n  at step 3\n"));
        use LineKind::*;
        assert_eq!(
            shape(&view),
            [
                (0, "\"error: boom", Leaf),
                (1, "  at step 3", StringContinuation),
                (1, "\"", StringContinuation),
            ]
        );
    }

    #[test]
    fn folding_changes_visible_counts() {
        let mut view = JsonView::new(&sample());
        let total = view.len();
        assert_eq!(view.visible_len(), total);

        view.move_cursor(2, 10); // "b": {
        view.toggle_fold();
        assert_eq!(view.visible_len(), total - 7);
        let rows = view.window(3);
        assert_eq!(rows[2].index, 2);
        assert!(rows[2].folded);
        assert_eq!(rows[2].hidden, 6);
        assert_eq!(rows[2].display(), "\"b\": {…},");

        view.toggle_fold();
        assert_eq!(view.visible_len(), total);

        view.fold_all_deeper_than(1);
        // "b", "c" … every container below the top level's entries is folded.
        assert!(view.window(100).iter().all(|row| row.line.depth <= 2));
        assert_eq!(
            window_indices(&view, 100),
            [0, 1, 2, 3, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18]
        );
        view.fold_all_deeper_than(0);
        assert_eq!(window_indices(&view, 100), [0, 1, 2, 10, 11, 12, 18]);
        view.fold_all_deeper_than(u16::MAX);
        assert_eq!(view.visible_len(), total);
    }

    #[test]
    fn toggling_inside_a_container_folds_it_and_moves_to_its_opener() {
        let mut view = JsonView::new(&sample());
        view.move_cursor(4, 10); // true, inside "c": [
        view.toggle_fold();
        assert_eq!(view.cursor_line(), 3);
        assert_eq!(view.cursor(), 3);
        assert!(view.window(10)[3].folded);

        // From a closing bracket: folds that container.
        view.toggle_fold(); // unfold "c"
        view.move_cursor(6, 10); // line 9, "},"
        assert_eq!(view.cursor_line(), 9);
        view.toggle_fold();
        assert_eq!(view.cursor_line(), 2);
        assert_eq!(view.window(10)[2].display(), "\"b\": {…},");

        // On a continuation line of a string: folds the enclosing object.
        let mut view = JsonView::new(&json!({"s": "a\nb"}));
        view.move_cursor(2, 10);
        view.toggle_fold();
        assert_eq!(view.cursor_line(), 0);
        assert_eq!(view.visible_len(), 1);
        assert_eq!(view.window(5)[0].display(), "{…}");

        // A top-level scalar has nothing to fold.
        let mut view = JsonView::new(&json!(1));
        view.toggle_fold();
        assert_eq!(view.visible_len(), 1);
    }

    #[test]
    fn moving_back_over_folds_lands_on_the_opener() {
        let mut view = JsonView::new(&sample());
        view.move_cursor(2, 10);
        view.toggle_fold(); // fold "b"
        view.move_cursor(1, 10);
        assert_eq!(view.cursor_line(), 10);
        view.move_cursor(-1, 10);
        assert_eq!(view.cursor_line(), 2);
        assert_eq!(view.cursor(), 2);
    }

    #[test]
    fn find_unfolds_what_hides_the_match() {
        let mut view = JsonView::new(&sample());
        view.fold_all_deeper_than(0);
        assert!(view.find("\"H\"", true, 5));
        assert_eq!(view.cursor_line(), 14);
        // "g" and its first element were unfolded; "b" stays folded.
        assert_eq!(view.visible_len(), 12);
        assert_eq!(view.cursor(), 7);
        let rows = view.window(5);
        assert_eq!(rows.len(), 5);
        assert!(
            rows.iter().any(|row| row.index == 14),
            "cursor scrolled into view"
        );
        assert!(rows.iter().all(|row| !row.folded || row.index == 2));

        // Wraps around, and searches backwards.
        assert!(view.find("line one", true, 5));
        assert_eq!(view.cursor_line(), 10);
        assert!(view.find("TRUE", false, 5));
        assert_eq!(view.cursor_line(), 4);
        assert!(!view.window(100).iter().any(|r| r.folded && r.index == 3));
        assert!(!view.find("absent", true, 5));
        assert_eq!(view.cursor_line(), 4);
        assert!(!view.find("", true, 5));
        // Non-ASCII needles compare case-insensitively too.
        let mut view = JsonView::new(&json!({"k": "Ärger"}));
        assert!(view.find("äRGER", true, 5));
        assert_eq!(view.cursor_line(), 1);
    }

    #[test]
    fn window_never_exceeds_height() {
        let mut view = JsonView::new(&sample());
        for height in 0..25 {
            assert!(view.window(height).len() <= height);
            assert_eq!(view.window(height).len(), height.min(view.visible_len()));
        }
        view.move_cursor(15, 4);
        let rows = view.window(4);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[3].index, 15);
        // The window follows the cursor if the pane shrank.
        let rows = view.window(2);
        assert_eq!(window_indices(&view, 2), [14, 15]);
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn cursor_clamps_at_both_ends() {
        let mut view = JsonView::new(&sample());
        view.move_cursor(-5, 4);
        assert_eq!(view.cursor(), 0);
        view.move_cursor(1000, 4);
        assert_eq!(view.cursor(), view.visible_len() - 1);
        assert_eq!(view.cursor_line(), view.len() - 1);
        assert_eq!(window_indices(&view, 4), [15, 16, 17, 18]);
        view.top();
        assert_eq!((view.cursor(), view.cursor_line()), (0, 0));
        assert_eq!(window_indices(&view, 2), [0, 1]);
        view.bottom(3);
        assert_eq!(view.cursor(), view.visible_len() - 1);
        assert_eq!(window_indices(&view, 3), [16, 17, 18]);
        view.move_cursor(isize::MIN, 3);
        assert_eq!(view.cursor(), 0);

        // Folding the root near the bottom leaves one row, and no blank window.
        view.bottom(3);
        view.toggle_fold();
        assert_eq!(view.visible_len(), 1);
        assert_eq!(window_indices(&view, 3), [0]);
        view.bottom(3);
        assert_eq!(view.cursor_line(), 0);
    }

    #[test]
    fn scrolling_keeps_the_cursor_in_view() {
        let mut view = JsonView::new(&json!((0..100).collect::<Vec<_>>()));
        view.move_cursor(50, 10);
        assert_eq!(view.window(10)[9].index, 50);
        view.move_cursor(-5, 10);
        assert_eq!(
            view.window(10)[9].index,
            50,
            "no scroll while the cursor is on screen"
        );
        view.move_cursor(-20, 10);
        assert_eq!(view.window(10)[0].index, 25);
        view.fold_all_deeper_than(0);
        assert_eq!(view.visible_len(), 102);
        view.fold_all_deeper_than(u16::MAX);
        view.toggle_fold();
        assert_eq!(view.visible_len(), 1);
        assert_eq!(window_indices(&view, 10), [0]);
    }

    #[test]
    fn text_round_trips() {
        let value = json!({
            "a": [1, -2, 3.5, {"b": null, "e": {}, "l": []}],
            "k\"ey\n": "tab\tquote\"back\\slash\u{1}",
            "unicode": "héllo 中文 🚀",
            "multi": "first\nsecond\r\n\nlast"
        });
        let view = JsonView::new(&value);
        let text = view.text();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(parsed, value);

        let plain = json!({"a": [1, {"b": "c"}], "d": true});
        assert_eq!(
            JsonView::new(&plain).text(),
            serde_json::to_string_pretty(&plain).unwrap_or_default()
        );
    }

    #[test]
    fn a_megabyte_builds_and_folds() {
        let items: Vec<Value> = (0..10_000)
            .map(|i| json!({"id": i, "name": format!("run-{i:05}"), "log": "x".repeat(60) + "\nend"}))
            .collect();
        let value = Value::Array(items);
        let mut view = JsonView::new(&value);
        assert_eq!(view.len(), 2 + 10_000 * 6);
        assert!(view.text().len() > 1_000_000);
        view.fold_all_deeper_than(0);
        assert_eq!(view.visible_len(), 10_002);
        assert!(view.find("run-09999", true, 20));
        assert_eq!(view.window(20).len(), 20);
        assert!(
            view.window(20)
                .iter()
                .any(|row| row.index == view.cursor_line())
        );

        let text = "line of a long error message\n".repeat(35_000);
        let view = JsonView::new(&Value::String(text));
        assert_eq!(view.len(), 35_001);
        assert_eq!(view.window(3).len(), 3);
    }
}
