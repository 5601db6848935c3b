//! Drawing only: every function here reads the [`App`] and paints a frame;
//! none changes state or does I/O.

pub mod board;
pub mod chat;
pub mod inspector;
pub mod markdown;
pub mod overlay;
pub mod status;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use crate::console::app::layout;
use crate::console::app::update::{App, Pane};
use theme::Theme;

/// Paints the whole console.
pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    if layout::too_small(area) {
        draw_too_small(frame, area, theme);
        return;
    }
    let areas = layout::areas(area, app.focus, app.zoomed);
    if let Some(tabs) = areas.tabs {
        draw_tabs(frame, tabs, app, theme);
    }
    for (pane, rect) in &areas.panes {
        let focused = *pane == app.focus;
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border(focused))
            .title(pane_title(app, *pane, theme));
        match pane {
            Pane::Chat => chat::draw(frame, *rect, app, theme, block),
            Pane::Board => board::draw(frame, *rect, app, theme, block),
            Pane::Inspector => inspector::draw(frame, *rect, app, theme, block),
        }
    }
    status::draw_prompt(frame, areas.prompt, app, theme);
    status::draw_status(frame, areas.status, app, theme);
    overlay::draw(frame, area, app, theme);
}

fn pane_title(app: &App, pane: Pane, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(format!(" {} ", pane.title()), theme.bold())];
    let extra = match pane {
        Pane::Chat if app.chat.turn_active => " answering… (Esc cancels) ".to_string(),
        Pane::Chat if !app.chat.follow => " scrolled — G follows ".to_string(),
        Pane::Board => board::title_detail(app),
        Pane::Inspector => format!(" {} ", app.calls.len()),
        _ => String::new(),
    };
    if !extra.is_empty() {
        spans.push(Span::styled(extra, theme.dim()));
    }
    Line::from(spans)
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = Vec::new();
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, pane.title());
        let style = if *pane == app.focus {
            theme.selected()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled("Tab switches · Ctrl-Z zoom", theme.dim()));
    frame.render_widget(
        Paragraph::new(clip_line(Line::from(spans), area.width)),
        area,
    );
}

fn draw_too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let text = format!(
        "opsdeck needs at least {}×{}; this terminal is {}×{}. Enlarge it (q quits).",
        layout::MIN_WIDTH,
        layout::MIN_HEIGHT,
        area.width,
        area.height
    );
    frame.render_widget(
        Paragraph::new(text)
            .style(theme.warn())
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// A pane with nothing to show says why, dimmed and wrapped.
pub fn draw_empty(frame: &mut Frame, area: Rect, text: String, theme: &Theme) {
    frame.render_widget(
        Paragraph::new(text)
            .style(theme.dim())
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// Cuts a line to `width` cells, ending in `…` when something was cut.
pub fn clip_line(line: Line<'static>, width: u16) -> Line<'static> {
    let width = width as usize;
    if line.width() <= width {
        return line;
    }
    let mut used = 0;
    let mut spans = Vec::with_capacity(line.spans.len());
    for span in line.spans {
        let span_width = span.content.width();
        if used + span_width < width {
            used += span_width;
            spans.push(span);
            continue;
        }
        let room = width.saturating_sub(used + 1);
        let cut = clip_str(&span.content, room);
        spans.push(Span::styled(format!("{cut}…"), span.style));
        break;
    }
    Line::from(spans).style(line.style)
}

/// The longest prefix of `text` that fits `cells` display cells, cut only
/// between grapheme clusters (an emoji sequence or a letter with its accents
/// is kept whole or left out whole).
pub fn clip_str(text: &str, cells: usize) -> &str {
    let mut used = 0;
    for (index, cluster) in text.grapheme_indices(true) {
        let w = cluster.width();
        if used + w > cells {
            return &text[..index];
        }
        used += w;
    }
    text
}

/// Pads or clips `text` to exactly `cells` display cells.
pub fn fit(text: &str, cells: usize) -> String {
    let width = text.width();
    if width <= cells {
        let mut out = String::with_capacity(text.len() + cells - width);
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', cells - width));
        out
    } else if cells == 0 {
        String::new()
    } else {
        format!("{}…", clip_str(text, cells - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_respects_display_width() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("日本語", 4), "日…");
        assert_eq!(fit("x", 0), "");
        let line = clip_line(Line::from(vec![Span::raw("hello "), Span::raw("world")]), 8);
        assert_eq!(line.width(), 8);
        assert_eq!(line.to_string(), "hello w…");
    }

    #[test]
    fn clipping_never_splits_a_grapheme_cluster() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let text = format!("ab{family}cd");
        // The whole family or none of it: never a lone man with a dangling joiner.
        assert_eq!(clip_str(&text, 3), "ab");
        assert_eq!(clip_str(&text, 4), format!("ab{family}"));
        let accented = "e\u{301}x";
        assert_eq!(clip_str(accented, 1), "e\u{301}");
        assert_eq!(fit("ne\u{301}e\u{301}", 3), "ne\u{301}e\u{301}");
    }
}
