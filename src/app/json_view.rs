//! TEMPORARY minimal JSON view (replaced by the full one).
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum LineKind {
    Open { close: usize },
    Close,
    Leaf,
    StringContinuation,
}

#[derive(Debug, Clone)]
pub struct JsonLine {
    pub depth: u16,
    pub text: String,
    pub kind: LineKind,
}

#[derive(Debug, Clone)]
pub struct JsonView {
    lines: Vec<JsonLine>,
    cursor: usize,
    scroll: usize,
}

pub struct Row<'a> {
    pub index: usize,
    pub visible_index: usize,
    pub line: &'a JsonLine,
    pub folded: bool,
    pub hidden: usize,
}

impl JsonView {
    pub fn new(value: &Value) -> JsonView {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        let lines = text
            .lines()
            .map(|l| JsonLine {
                depth: 0,
                text: l.to_string(),
                kind: LineKind::Leaf,
            })
            .collect();
        JsonView {
            lines,
            cursor: 0,
            scroll: 0,
        }
    }
    pub fn len(&self) -> usize {
        self.lines.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
    pub fn visible_len(&self) -> usize {
        self.lines.len()
    }
    pub fn window(&self, height: usize) -> Vec<Row<'_>> {
        self.lines
            .iter()
            .enumerate()
            .skip(self.scroll)
            .take(height)
            .map(|(i, l)| Row {
                index: i,
                visible_index: i,
                line: l,
                folded: false,
                hidden: 0,
            })
            .collect()
    }
    pub fn cursor(&self) -> usize {
        self.cursor
    }
    pub fn move_cursor(&mut self, delta: isize, height: usize) {
        let max = self.lines.len().saturating_sub(1) as isize;
        self.cursor = (self.cursor as isize + delta).clamp(0, max.max(0)) as usize;
        if self.cursor < self.scroll {
            self.scroll = self.cursor;
        }
        if self.cursor >= self.scroll + height {
            self.scroll = self.cursor + 1 - height;
        }
    }
    pub fn top(&mut self) {
        self.cursor = 0;
        self.scroll = 0;
    }
    pub fn bottom(&mut self, height: usize) {
        self.move_cursor(isize::MAX / 2, height);
    }
    pub fn toggle_fold(&mut self) {}
    pub fn fold_all_deeper_than(&mut self, _depth: u16) {}
    pub fn find(&mut self, needle: &str, _forward: bool, height: usize) -> bool {
        let needle = needle.to_lowercase();
        let n = self.lines.len();
        for step in 1..=n {
            let i = (self.cursor + step) % n;
            if self.lines[i].text.to_lowercase().contains(&needle) {
                let delta = i as isize - self.cursor as isize;
                self.move_cursor(delta, height);
                return true;
            }
        }
        false
    }
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
