//! TEMPORARY (replaced by the full renderer).
use super::theme::Theme;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

pub fn render(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    wrap_plain(text, width, theme.text(), "")
}

pub fn wrap_plain(text: &str, width: u16, style: Style, indent: &str) -> Vec<Line<'static>> {
    let width = (width as usize).max(1);
    let mut out = Vec::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            out.push(Line::from(indent.to_string()));
            continue;
        }
        for chunk in chars.chunks(width) {
            out.push(Line::from(vec![
                Span::raw(indent.to_string()),
                Span::styled(chunk.iter().collect::<String>(), style),
            ]));
        }
    }
    out
}
