//! One source line of inline text, as styled runs, and the cleaning of text
//! the parser made up.

use std::borrow::Cow;

use pulldown_cmark::CowStr;
use ratatui::style::Style;

use super::wrap::{Seg, sanitize};

/// Text from the source is clean already (see `sanitize_lines`); what the
/// parser made up can spell control characters the source did not have
/// (`&#27;`).
pub(super) fn clean<'t>(text: &'t CowStr<'_>) -> Cow<'t, str> {
    match text {
        CowStr::Borrowed(text) => Cow::Borrowed(text),
        other => sanitize(other),
    }
}

/// One line of inline text as runs of one style each, in one buffer: a
/// cluster split across events (an escape, an entity) stays whole.
#[derive(Default)]
pub(super) struct Runs {
    text: String,
    /// Where each run ends in `text`, and its style.
    ends: Vec<(usize, Style)>,
}

impl Runs {
    pub(super) fn push(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        self.text.push_str(text);
        match self.ends.last_mut() {
            Some((end, last)) if *last == style => *end = self.text.len(),
            _ => self.ends.push((self.text.len(), style)),
        }
    }

    pub(super) fn segs(&self) -> Vec<Seg<'_>> {
        let mut start = 0;
        let mut segs = Vec::with_capacity(self.ends.len());
        for &(end, style) in &self.ends {
            let text = self.text.get(start..end).unwrap_or("");
            segs.push(Seg { text, style });
            start = end;
        }
        segs
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}
