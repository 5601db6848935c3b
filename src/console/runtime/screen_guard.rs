//! The last stop before the terminal: every cell the console draws passes
//! here, and a cell whose text holds a control character (an escape sequence
//! from a tool result, a run message or a server's error that slipped past the
//! redaction at the console's doors) is drawn as `␛`-style visible text instead.
//! A cell holding an invisible format character (a bidi override or isolate, a
//! zero-width space: text that would display reordered, or a tool name that
//! looks like another) is drawn as `�`, as wide as the cell.
//! So no path through the UI can make the terminal obey someone else's bytes;
//! opsdeck's own sequences (bell, OSC 9/777, OSC 52) go around it on purpose.

use std::io;

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use unicode_width::UnicodeWidthStr;

use crate::support::terminal::is_invisible_format;

/// A backend that neutralises control characters in cells, then draws with `inner`.
pub struct ScreenGuard<B: Backend> {
    inner: B,
}

impl<B: Backend> ScreenGuard<B> {
    pub fn new(inner: B) -> ScreenGuard<B> {
        ScreenGuard { inner }
    }
}

/// A control character's visible stand-in: the Unicode "control pictures" for
/// C0 and DEL, and a replacement mark for the C1 range.
fn visible(c: char) -> char {
    match u32::from(c) {
        code @ 0x00..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        _ => '\u{fffd}',
    }
}

fn is_control(c: char) -> bool {
    c.is_control()
}

/// The cell as it may be written: unchanged unless its text holds a control
/// or an invisible format character.
fn safe_cell(cell: &Cell) -> Option<Cell> {
    let symbol = cell.symbol();
    if !symbol
        .chars()
        .any(|c| is_control(c) || is_invisible_format(c))
    {
        return None;
    }
    let clean: String = if symbol.chars().any(is_invisible_format) {
        // Zero-width, so it rides in a neighbour's cell: the whole cell is
        // marked, as wide as what it drew, so the columns after it stay put.
        let shown: String = symbol
            .chars()
            .filter(|c| !is_invisible_format(*c))
            .collect();
        "\u{fffd}".repeat(shown.width().max(1))
    } else {
        symbol
            .chars()
            .map(|c| if is_control(c) { visible(c) } else { c })
            .collect()
    };
    let mut safe = cell.clone();
    safe.set_symbol(&clean);
    Some(safe)
}

impl<B: Backend> Backend for ScreenGuard<B> {
    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        // Cleaned cells must outlive the iterator handed to the inner backend.
        let cells: Vec<(u16, u16, &Cell)> = content.collect();
        let cleaned: Vec<Option<Cell>> = cells.iter().map(|(_, _, c)| safe_cell(c)).collect();
        self.inner.draw(
            cells
                .iter()
                .zip(&cleaned)
                .map(|((x, y, cell), clean)| (*x, *y, clean.as_ref().unwrap_or(cell))),
        )
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::widgets::Paragraph;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut terminal = Terminal::new(ScreenGuard::new(TestBackend::new(40, 2))).unwrap();
        let hostile = "ok \u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J \u{9b}31m";
        terminal
            .draw(|frame| frame.render_widget(Paragraph::new(hostile), frame.area()))
            .unwrap();
        let drawn: String = terminal
            .backend()
            .inner
            .buffer()
            .content()
            .iter()
            .map(Cell::symbol)
            .collect();
        assert!(!drawn.chars().any(char::is_control), "{drawn:?}");
        assert!(drawn.contains("ok ␛]52;c;cHduZWQ=␇␛[2J"), "{drawn:?}");
    }

    fn drawn(text: &str, width: u16) -> String {
        let mut terminal = Terminal::new(ScreenGuard::new(TestBackend::new(width, 1))).unwrap();
        terminal
            .draw(|frame| {
                frame.render_widget(ratatui::text::Line::raw(text), frame.area());
            })
            .unwrap();
        terminal
            .backend()
            .inner
            .buffer()
            .content()
            .iter()
            .map(Cell::symbol)
            .collect()
    }

    #[test]
    fn bidi_controls_never_reach_the_terminal_and_are_marked() {
        for hostile in [
            "run wipe_table\u{202e}elbat_daer now",
            "\u{2067}drop\u{2069} read_runs",
            "tool\u{200b}name\u{200f}x\u{061c}y\u{2066}z",
            "\u{202e}first",
        ] {
            let out = drawn(hostile, 40);
            assert!(
                !out.chars().any(is_invisible_format),
                "{hostile:?} -> {out:?}"
            );
            assert!(out.contains('\u{fffd}'), "{hostile:?} -> {out:?}");
        }
        // The marked cell keeps its width: the text after it stays in its columns.
        let out = drawn("ab\u{202e}cd", 6);
        assert_eq!(out.chars().count(), 6, "{out:?}");
        assert!(out.starts_with("a\u{fffd}cd"), "{out:?}");
        let wide = Cell::new("日\u{202e}");
        assert_eq!(safe_cell(&wide).unwrap().symbol(), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn joiners_that_scripts_and_emoji_need_pass_unchanged() {
        assert!(safe_cell(&Cell::new("👨\u{200d}👩")).is_none());
        assert!(safe_cell(&Cell::new("ی\u{200c}")).is_none());
    }

    #[test]
    fn plain_cells_pass_unchanged() {
        let cell = Cell::new("é");
        assert!(safe_cell(&cell).is_none());
    }
}
