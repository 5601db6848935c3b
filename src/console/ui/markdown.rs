//! Markdown for the chat pane: an LLM's answer, usually still streaming, as
//! word-wrapped ratatui lines.
//!
//! `pulldown-cmark` does the parsing (CommonMark, no extensions); this module
//! only lays its events out, the way the chat always showed answers: one screen
//! line per source line (soft breaks break), a blank line only where the source
//! has one, lists and quotes hanging under their text, code as indented literal
//! lines, links with their markup around the styled text (`[text](url)`,
//! `<url>`), and any source line the parser consumes without an event (a link
//! reference definition, a `>` on its own) still shown, not silently dropped.
//! Markup that is not closed yet renders literally, as CommonMark says, so a
//! streamed `**bold` shows as typed instead of vanishing.
//!
//! Text from a model or a server is hostile: control characters are replaced
//! before parsing and again in anything the parser makes up (entities), and
//! no input panics or overflows the width (see the proptests).

mod containers;
mod render;
mod runs;
mod wrap;

use std::borrow::Cow;

use pulldown_cmark::{Options, Parser};
use ratatui::style::Style;
use ratatui::text::Line;

use self::render::Renderer;
use self::wrap::{Mode, Seg, sanitize, wrap};
use crate::console::ui::theme::Theme;

/// Renders `text` (markdown, possibly cut off mid-stream) into lines no wider
/// than `width` cells. Width 0 yields no lines.
pub fn render(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    // Control characters go before parsing, so no offset the parser reports
    // can point into an escape sequence and a stray `\r` is not a line end.
    let source = sanitize_lines(text);
    let mut renderer = Renderer::new(&source, usize::from(width), *theme);
    for (event, range) in Parser::new_ext(&source, Options::empty()).into_offset_iter() {
        renderer.event(event, range);
    }
    renderer.finish()
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

/// `sanitize` for every line of `text`, without copying clean text.
fn sanitize_lines(text: &str) -> Cow<'_, str> {
    let suspect = text
        .bytes()
        .any(|b| (b < 0x20 && b != b'\n') || b == 0x7F || b == 0xC2);
    if !suspect {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            clean.push('\n');
        }
        clean.push_str(&sanitize(line));
    }
    Cow::Owned(clean)
}

#[cfg(test)]
mod tests;
