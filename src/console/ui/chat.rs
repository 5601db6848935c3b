//! The chat pane: the transcript (questions, streamed markdown answers, tool
//! calls as one-liners, notices) over the input box.
//!
//! Only the entries that reach the screen are laid out: the transcript is built
//! from the newest entry backwards until the window (plus the scroll offset) is
//! full, so 2,000 messages cost what the last few do.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::markdown;
use super::theme::Theme;
use crate::console::app::chat::{ChatEntry, ToolCallStatus};
use crate::console::app::update::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, block: Block) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let input_height = crate::console::app::layout::input_height(app);
    let [transcript, input] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(input_height + 1)]).areas(inner);
    let lines = transcript_window(app, transcript.width, transcript.height as usize, theme);
    frame.render_widget(Paragraph::new(lines), transcript);
    let title = if app.typing {
        Line::from(Span::styled(" ask ", theme.accent()))
    } else {
        Line::from(Span::styled(
            " reading — i or Enter to type, j/k/g/G to scroll ",
            theme.dim(),
        ))
    };
    let mut textarea = app.input.clone();
    textarea.set_block(
        Block::default()
            .borders(Borders::TOP)
            .border_style(theme.border(app.typing))
            .title(title),
    );
    textarea.set_placeholder_style(theme.dim());
    if !app.typing {
        textarea.set_cursor_style(ratatui::style::Style::default());
    }
    frame.render_widget(&textarea, input);
}

/// The lines that fit `height` rows, `scroll_from_bottom` up from the newest.
pub fn transcript_window(
    app: &App,
    width: u16,
    height: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let chat = &app.chat;
    let wanted = height.saturating_add(chat.scroll_from_bottom);
    let mut blocks: Vec<Vec<Line<'static>>> = Vec::new();
    let mut collected = 0usize;
    for entry in chat.entries.iter().rev() {
        let lines = entry_lines(entry, width, theme);
        collected += lines.len() + 1;
        blocks.push(lines);
        if collected >= wanted {
            break;
        }
    }
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(collected);
    for block in blocks.into_iter().rev() {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.extend(block);
    }
    if lines.is_empty() {
        return welcome(width, theme);
    }
    // Scrolling past the oldest line stops at it.
    let scroll = chat
        .scroll_from_bottom
        .min(lines.len().saturating_sub(height));
    let end = lines.len() - scroll;
    let start = end.saturating_sub(height);
    lines.drain(..start);
    lines.truncate(end - start);
    lines
}

fn welcome(width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let text = "Ask what broke, e.g. “what failed in the last 6 hours?”, “why did transform_sales fail?”, “which secrets expire soon?”. Tab moves between panes; ? shows every key.";
    markdown::wrap_plain(text, width, theme.dim(), "")
}

fn entry_lines(entry: &ChatEntry, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    match entry {
        ChatEntry::User(text) => {
            let mut lines = markdown::wrap_plain(text, width.saturating_sub(2), theme.user(), "");
            for (i, line) in lines.iter_mut().enumerate() {
                let marker = if i == 0 { "› " } else { "  " };
                line.spans.insert(0, Span::styled(marker, theme.user()));
            }
            lines
        }
        ChatEntry::Assistant { text, streaming } => {
            let mut lines = markdown::render(text, width, theme);
            if *streaming {
                match lines.last_mut() {
                    Some(last) if last.width() < width as usize => {
                        last.spans.push(Span::styled("▌", theme.accent()))
                    }
                    _ => lines.push(Line::from(Span::styled("▌", theme.accent()))),
                }
            }
            lines
        }
        ChatEntry::ToolCall {
            call_id,
            server,
            tool,
            status,
            duration_ms,
        } => vec![tool_line(
            call_id,
            server,
            tool,
            status,
            *duration_ms,
            width,
            theme,
        )],
        ChatEntry::Notice { error, text } => {
            let style = if *error { theme.error() } else { theme.dim() };
            let prefix = if *error { "! " } else { "· " };
            markdown::wrap_plain(&format!("{prefix}{text}"), width, style, "")
        }
    }
}

/// `  ⚙ get_run_details · opsdeck  ✓ 12 ms  #call-3` — the id is the inspector entry's.
fn tool_line(
    call_id: &str,
    server: &str,
    tool: &str,
    status: &ToolCallStatus,
    duration_ms: Option<u64>,
    width: u16,
    theme: &Theme,
) -> Line<'static> {
    let (symbol, label, style) = match status {
        ToolCallStatus::Running => ("…", "running", theme.accent()),
        ToolCallStatus::Ok => ("✓", "ok", theme.ok()),
        ToolCallStatus::Failed => ("✗", "error", theme.error()),
        ToolCallStatus::AwaitingApproval => ("?", "awaiting approval", theme.warn()),
        ToolCallStatus::Refused => ("⊘", "refused", theme.warn()),
    };
    let timing = duration_ms.map_or(String::new(), |ms| format!(" {ms} ms"));
    let mut spans = vec![
        Span::styled("  ⚙ ", theme.dim()),
        Span::styled(tool.to_string(), theme.bold()),
    ];
    if !server.is_empty() {
        spans.push(Span::styled(format!(" · {server}"), theme.dim()));
    }
    spans.push(Span::styled(format!("  {symbol} {label}{timing}"), style));
    spans.push(Span::styled(format!("  #{call_id}"), theme.dim()));
    super::clip_line(Line::from(spans), width)
}
