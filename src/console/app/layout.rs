//! Where each pane goes for a terminal size. Pure arithmetic, shared by the
//! drawing and by `update` (which needs a pane's height for paging).
//!
//! - Wide (≥ 120×30): chat on the left, runs over tool calls on the right.
//! - Smaller: one pane at a time under a tab bar (Tab switches), which keeps
//!   80×24 fully usable.
//! - Zoomed: the focused pane alone.
//! - Below 40×10: a message saying the terminal is too small.

use ratatui::layout::{Constraint, Direction, Flex, Layout, Rect};

use super::pane::Pane;

pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;
const WIDE_WIDTH: u16 = 120;
const WIDE_HEIGHT: u16 = 30;

/// The areas of one frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Areas {
    /// A tab bar when only one pane shows.
    pub tabs: Option<Rect>,
    pub panes: Vec<(Pane, Rect)>,
    /// The hints / prompt line.
    pub prompt: Rect,
    pub status: Rect,
}

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

pub fn areas(area: Rect, focus: Pane, zoomed: bool) -> Areas {
    if too_small(area) {
        return Areas::default();
    }
    let [body, prompt, status] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let wide = area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT;
    if zoomed || !wide {
        let (tabs, pane) = if zoomed {
            (None, body)
        } else {
            let [tabs, pane] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(body);
            (Some(tabs), pane)
        };
        return Areas {
            tabs,
            panes: vec![(focus, pane)],
            prompt,
            status,
        };
    }
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(body);
    let right_split = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
        .split(right);
    Areas {
        tabs: None,
        panes: vec![
            (Pane::Chat, left),
            (Pane::Board, right_split[0]),
            (Pane::Inspector, right_split[1]),
        ],
        prompt,
        status,
    }
}

/// Where the approval dialog goes: all of a small terminal (every argument
/// must be readable), else the middle 90 %.
pub fn approval_popup(area: Rect) -> Rect {
    if area.width < 80 || area.height < 24 {
        return area;
    }
    let [row] = Layout::vertical([Constraint::Percentage(90)])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Percentage(90)])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// The approval dialog's text area (inside its border) for a screen of `size`.
pub fn approval_text_area(size: (u16, u16)) -> (u16, u16) {
    let popup = approval_popup(Rect::new(0, 0, size.0, size.1));
    (
        popup.width.saturating_sub(2),
        popup.height.saturating_sub(2),
    )
}

/// Lines of the chat input box for an input of `lines` lines: at least 1, at most 4.
pub fn input_height(lines: usize) -> u16 {
    lines.clamp(1, 4) as u16
}

/// The scrollable rows `pane` shows in a screen of `size` (for paging), 0
/// when it is not on screen; `input_lines` is the chat input's line count.
pub fn rows_of(
    size: (u16, u16),
    focus: Pane,
    zoomed: bool,
    input_lines: usize,
    pane: Pane,
) -> usize {
    let area = Rect::new(0, 0, size.0, size.1);
    let Some((_, rect)) = areas(area, focus, zoomed)
        .panes
        .into_iter()
        .find(|(p, _)| *p == pane)
    else {
        return 0;
    };
    let inner = rect.height.saturating_sub(2);
    let rows = match pane {
        // The input box and its separator line.
        Pane::Chat => inner.saturating_sub(input_height(input_lines) + 1),
        // The header row.
        Pane::Board => inner.saturating_sub(1),
        // The open call's header line.
        Pane::Inspector => inner.saturating_sub(1),
    };
    rows as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_terminals_show_three_panes_and_small_ones_one_with_tabs() {
        let wide = areas(Rect::new(0, 0, 200, 50), Pane::Chat, false);
        assert_eq!(wide.panes.len(), 3);
        assert!(wide.tabs.is_none());
        let small = areas(Rect::new(0, 0, 80, 24), Pane::Board, false);
        assert_eq!(small.panes.len(), 1);
        assert_eq!(small.panes[0].0, Pane::Board);
        assert_eq!(small.panes[0].1.height, 21, "24 − tabs − prompt − status");
        let zoomed = areas(Rect::new(0, 0, 200, 50), Pane::Inspector, true);
        assert_eq!(
            zoomed.panes,
            vec![(Pane::Inspector, Rect::new(0, 0, 200, 48))]
        );
    }

    #[test]
    fn tiny_terminals_get_no_panes_and_never_panic() {
        for (w, h) in [(0, 0), (1, 1), (39, 24), (80, 9), (40, 10)] {
            let a = areas(Rect::new(0, 0, w, h), Pane::Chat, false);
            assert_eq!(
                a.panes.is_empty(),
                too_small(Rect::new(0, 0, w, h)),
                "{w}×{h}"
            );
        }
    }
}
