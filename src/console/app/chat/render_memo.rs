//! Each chat entry's rendered lines, kept between frames.
//!
//! Laying out markdown is the costly part of drawing the chat, and almost every
//! frame draws the same entries at the same width: only an answer still
//! streaming in changes. The drawing code asks here first; an entry is rendered
//! again only when its key (text length, width, theme) no longer matches,
//! which is exactly when an appended chunk or a resize changed what it shows.
//!
//! The app layer cannot know how entries are drawn, so the lines are stored as
//! the plain ratatui values the UI produced. Drawing takes `&App`; the memo is
//! interior-mutable so a frame can fill it without `&mut`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use ratatui::text::Line;

/// An entry's lines as last drawn, shared with the frame that shows them.
pub type RenderedLines = Arc<[Line<'static>]>;

/// Everything besides the entry's position that decides its lines. Entries
/// only ever grow at the end (a streamed answer) or change in ways the drawing
/// code keeps out of the memo (tool-call status, the streaming cursor), so the
/// text length stands in for the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderKey {
    pub text_len: usize,
    pub width: u16,
    /// What else the drawing depends on (the theme), fingerprinted by the UI.
    pub variant: u64,
}

/// At most this many lines are kept (a few MB); beyond it the least recently
/// drawn entries go first. A 50-row screen shows 50, so scrolling through
/// hundreds of long answers still hits the memo.
const MAX_LINES: usize = 40_000;

#[derive(Default)]
pub struct RenderMemo {
    slots: RefCell<Slots>,
}

#[derive(Default)]
struct Slots {
    by_entry: HashMap<usize, Slot>,
    lines: usize,
    clock: u64,
}

struct Slot {
    key: RenderKey,
    lines: RenderedLines,
    last_used: u64,
}

impl RenderMemo {
    /// The lines of entry `entry` for `key`, rendering them only on a miss.
    pub fn get_or_render(
        &self,
        entry: usize,
        key: RenderKey,
        render: impl FnOnce() -> Vec<Line<'static>>,
    ) -> RenderedLines {
        if let Ok(mut slots) = self.slots.try_borrow_mut() {
            slots.clock += 1;
            let now = slots.clock;
            if let Some(slot) = slots.by_entry.get_mut(&entry)
                && slot.key == key
            {
                slot.last_used = now;
                return slot.lines.clone();
            }
        }
        let lines: RenderedLines = render().into();
        // A memo already borrowed (never, drawing is single-threaded) only
        // means this frame does not store what it rendered.
        if let Ok(mut slots) = self.slots.try_borrow_mut() {
            slots.store(entry, key, lines.clone());
        }
        lines
    }

    /// The chat dropped its entries: their lines go with them.
    pub fn clear(&self) {
        if let Ok(mut slots) = self.slots.try_borrow_mut() {
            *slots = Slots::default();
        }
    }

    /// Entries and lines held, for tests and the benchmark.
    pub fn size(&self) -> (usize, usize) {
        self.slots
            .try_borrow()
            .map_or((0, 0), |slots| (slots.by_entry.len(), slots.lines))
    }
}

impl Slots {
    fn store(&mut self, entry: usize, key: RenderKey, lines: RenderedLines) {
        let held = lines.len().max(1);
        let slot = Slot {
            key,
            lines,
            last_used: self.clock,
        };
        if let Some(old) = self.by_entry.insert(entry, slot) {
            self.lines -= old.lines.len().max(1);
        }
        self.lines += held;
        if self.lines > MAX_LINES {
            self.evict();
        }
    }

    /// Drops the least recently drawn entries down to three quarters of the
    /// cap, so eviction (a sort) runs once per many stores, not on each.
    fn evict(&mut self) {
        let mut by_age: Vec<(u64, usize)> = self
            .by_entry
            .iter()
            .map(|(&entry, slot)| (slot.last_used, entry))
            .collect();
        by_age.sort_unstable();
        for (_, entry) in by_age {
            if self.lines <= MAX_LINES / 4 * 3 {
                break;
            }
            if let Some(old) = self.by_entry.remove(&entry) {
                self.lines -= old.lines.len().max(1);
            }
        }
    }
}

/// A copy starts empty: it is a cache, and the copy's entries may diverge.
impl Clone for RenderMemo {
    fn clone(&self) -> Self {
        RenderMemo::default()
    }
}

impl std::fmt::Debug for RenderMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (entries, lines) = self.size();
        write!(f, "RenderMemo {{ entries: {entries}, lines: {lines} }}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text_len: usize) -> RenderKey {
        RenderKey {
            text_len,
            width: 80,
            variant: 0,
        }
    }

    fn lines(n: usize) -> Vec<Line<'static>> {
        (0..n).map(|i| Line::from(format!("line {i}"))).collect()
    }

    #[test]
    fn renders_once_per_key() {
        let memo = RenderMemo::default();
        let mut renders = 0;
        for _ in 0..3 {
            memo.get_or_render(0, key(5), || {
                renders += 1;
                lines(2)
            });
        }
        assert_eq!(renders, 1);
        let grown = memo.get_or_render(0, key(6), || {
            renders += 1;
            lines(3)
        });
        assert_eq!(
            (renders, grown.len()),
            (2, 3),
            "a longer text renders again"
        );
        let resized = RenderKey {
            width: 40,
            ..key(6)
        };
        memo.get_or_render(0, resized, || {
            renders += 1;
            lines(4)
        });
        assert_eq!(renders, 3, "a new width renders again");
        assert_eq!(memo.size(), (1, 4), "one slot per entry");
    }

    #[test]
    fn memory_stays_under_the_cap_dropping_the_oldest() {
        let memo = RenderMemo::default();
        for entry in 0..1_000 {
            memo.get_or_render(entry, key(1), || lines(100));
            // Entry 0 is drawn every frame, as the newest entry would be.
            memo.get_or_render(0, key(1), || lines(100));
        }
        let (entries, held) = memo.size();
        assert!(held <= MAX_LINES, "{held} lines held");
        assert!(entries < 1_000);
        let mut rendered = false;
        memo.get_or_render(0, key(1), || {
            rendered = true;
            lines(100)
        });
        assert!(!rendered, "the entry drawn most recently survived eviction");
        memo.clear();
        assert_eq!(memo.size(), (0, 0));
    }
}
