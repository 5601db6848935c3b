//! The tool-trace inspector: every tool call (state, tool, server, duration,
//! arguments) with a preview of the selected one; Enter opens a call's
//! arguments and result as foldable JSON, drawn a window at a time.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;
use super::theme::tone_style;
use crate::console::app::calls::{CallState, ToolCall};
use crate::console::app::inspector::{OfferedTools, OpenCall};
use crate::console::app::update::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, block: Block) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let inspector = &app.inspector;
    if let Some(open) = &inspector.open {
        let call = app.calls.get(&open.call_id);
        draw_open(frame, inner, call, open, theme);
        return;
    }
    // Which tools the model could call this turn, above the calls it made.
    let inner = match &inspector.offered {
        Some(offered) if inner.height >= 4 => {
            let lines = offer_lines(offered, inner.width, theme);
            let [top, rest] =
                Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(0)])
                    .areas(inner);
            frame.render_widget(Paragraph::new(lines), top);
            rest
        }
        _ => inner,
    };
    if inspector.visible_len() == 0 {
        let text = if inspector.search().is_empty() {
            "No tool calls yet. Each call the agent makes appears here with its arguments, result and timing."
                .to_string()
        } else {
            format!(
                "No call matches '{}' (Esc clears the search).",
                inspector.search()
            )
        };
        super::draw_empty(frame, inner, text, theme);
        return;
    }
    // The list on top; the selected call's preview below when there is room.
    let (list_area, preview_area) = if inner.height >= 10 {
        let list_rows = (inspector.visible_len() as u16 + 1).clamp(3, inner.height / 2);
        let [list, preview] =
            Layout::vertical([Constraint::Length(list_rows), Constraint::Min(0)]).areas(inner);
        (list, Some(preview))
    } else {
        (inner, None)
    };
    let rows = list_area.height as usize;
    let offset = inspector.selected.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = inspector
        .visible(&app.calls)
        .enumerate()
        .skip(offset)
        .take(rows)
        .map(|(index, call)| {
            let line = call_line(call, list_area.width, theme);
            if index == inspector.selected {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list_area);
    if let (Some(area), Some(call)) = (preview_area, inspector.selected_call(&app.calls)) {
        frame.render_widget(Paragraph::new(preview_lines(call, area.width, theme)), area);
    }
}

/// Rows of offered names under the counts.
const OFFER_NAME_ROWS: usize = 2;

/// Lines of the offer: the counts, then the offered names as far as two
/// rows hold them, with how many more (names come from servers: made safe
/// for the screen).
fn offer_lines(offered: &OfferedTools, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let summary = Line::from(Span::styled(offered.summary(), theme.dim()));
    let mut lines = vec![super::clip_line(summary, width)];
    let width = usize::from(width).max(1);
    // Room kept on the last row for " … +999".
    let reserve = 8;
    let mut rows: Vec<String> = vec![String::new()];
    for (index, name) in offered.names.iter().enumerate() {
        let name = crate::support::terminal::for_screen(name);
        let last_row = rows.len() == OFFER_NAME_ROWS;
        let more_after = index + 1 < offered.names.len();
        let room = width.saturating_sub(if last_row && more_after { reserve } else { 0 });
        let Some(row) = rows.last_mut() else {
            break;
        };
        let separator = if row.is_empty() { "" } else { ", " };
        if row.chars().count() + separator.len() + name.chars().count() <= room || row.is_empty() {
            row.push_str(separator);
            row.push_str(&name);
        } else if last_row {
            row.push_str(&format!(" … +{}", offered.names.len() - index));
            break;
        } else {
            rows.push(name.into_owned());
        }
    }
    for row in rows.into_iter().filter(|r| !r.is_empty()) {
        lines.push(super::clip_line(
            Line::from(Span::styled(row, theme.dim())),
            width as u16,
        ));
    }
    lines
}

fn state_symbol(call: &ToolCall, theme: &Theme) -> Span<'static> {
    // One reading for the chat and the inspector: a refused call reads as
    // refused, not as failed, in both.
    let reading = call.reading();
    Span::styled(
        format!("{} ", reading.symbol),
        tone_style(reading.tone, theme),
    )
}

fn call_line(call: &ToolCall, width: u16, theme: &Theme) -> Line<'static> {
    let timing = call
        .duration_ms
        .map_or_else(|| "   …".to_string(), |ms| format!("{ms:>5} ms"));
    let line = Line::from(vec![
        state_symbol(call, theme),
        Span::styled(format!("{:<8} ", call.call_id), theme.dim()),
        Span::styled(format!("{:<24}", call.tool), theme.bold()),
        Span::styled(format!(" {timing} "), theme.dim()),
        Span::raw(compact(&call.arguments)),
    ]);
    super::clip_line(line, width)
}

/// Arguments on one line: `{"run_id":"r1"}` → `run_id=r1`.
fn compact(arguments: &serde_json::Value) -> String {
    match arguments.as_object() {
        Some(map) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => String::new(),
    }
}

fn preview_lines(call: &ToolCall, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{} ", call.tool), theme.heading()),
        Span::styled(
            format!("on {} · Enter opens the full result", call.server),
            theme.dim(),
        ),
    ])];
    if let Some(approval) = &call.approval {
        lines.push(Line::from(Span::styled(approval.clone(), theme.warn())));
    }
    if call.truncated {
        lines.push(Line::from(Span::styled(
            "result cut to the inspector's cap",
            theme.warn(),
        )));
    }
    let style = if call.state == CallState::Failed {
        theme.error()
    } else {
        theme.text()
    };
    for text in call.preview.lines() {
        lines.push(super::clip_line(
            Line::from(Span::styled(text.to_string(), style)),
            width,
        ));
    }
    lines
}

fn draw_open(
    frame: &mut Frame,
    area: Rect,
    call: Option<&ToolCall>,
    open: &OpenCall,
    theme: &Theme,
) {
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let title = match call {
        Some(call) => format!(
            "{} · {} · {} · {}",
            call.call_id,
            call.tool,
            call.server,
            call.duration_ms
                .map_or("running".into(), |ms| format!("{ms} ms"))
        ),
        None => open.call_id.clone(),
    };
    let header_line = Line::from(vec![
        Span::styled(title, theme.heading()),
        Span::styled(
            "  space fold · / find · n next · y copy · Esc back",
            theme.dim(),
        ),
    ]);
    frame.render_widget(
        Paragraph::new(super::clip_line(header_line, header.width)),
        header,
    );
    let height = body.height as usize;
    let cursor_line = open.view.cursor_line();
    let width = body.width as usize;
    let lines: Vec<Line> = open
        .view
        .window(height)
        .into_iter()
        .map(|row| {
            let indent = "  ".repeat(row.line.depth as usize);
            // A 1 MB one-line string is one row: cut it before it becomes a span.
            let room = width.saturating_sub(indent.len());
            let display = row.display();
            let text = super::clip_str(&display, room + 1).to_string();
            let mut spans = vec![Span::raw(indent), Span::styled(text, theme.code())];
            if row.folded {
                spans.push(Span::styled(
                    format!(" ({} lines)", row.hidden),
                    theme.dim(),
                ));
            }
            let line = super::clip_line(Line::from(spans), body.width);
            if row.index == cursor_line {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::events::AgentEvent;
    use crate::console::app::calls::ToolCalls;

    fn symbol_after(events: &[AgentEvent]) -> String {
        let mut calls = ToolCalls::default();
        for event in events {
            calls.apply(event);
        }
        call_line(&calls[0], 60, &Theme::default()).spans[0]
            .content
            .to_string()
    }

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn the_offer_shows_the_counts_and_as_many_names_as_two_rows_hold() {
        let offered = OfferedTools {
            names: (0..128).map(|i| format!("azure_tool_{i}")).collect(),
            left_out: 86,
        };
        let lines = offer_lines(&offered, 60, &Theme::default());
        let texts: Vec<String> = lines.iter().map(text).collect();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert_eq!(texts[0], "offered 128 of 214 tools (86 left out)");
        assert!(
            texts[1].starts_with("azure_tool_0, azure_tool_1"),
            "{texts:?}"
        );
        let shown = texts[1..].join(", ").matches("azure_tool_").count();
        assert!(
            texts[2].ends_with(&format!("… +{}", 128 - shown)),
            "{texts:?}"
        );
        assert!(texts.iter().all(|t| t.chars().count() <= 60), "{texts:?}");
    }

    #[test]
    fn offered_names_from_a_server_are_made_safe_for_the_screen() {
        let offered = OfferedTools {
            names: vec!["evil\u{1b}]52;c;aGk=\u{7}".into()],
            left_out: 0,
        };
        let lines = offer_lines(&offered, 80, &Theme::default());
        assert_eq!(text(&lines[0]), "offered the one tool there is");
        assert!(!text(&lines[1]).contains('\u{1b}'), "{:?}", text(&lines[1]));
    }

    #[test]
    fn a_refused_call_reads_as_refused_not_failed() {
        let needed = AgentEvent::ApprovalNeeded {
            call_id: "call-1".into(),
            server: "opsdeck".into(),
            tool: "rerun_pipeline".into(),
            arguments: serde_json::json!({}),
            reason: "changes the estate".into(),
        };
        let decided = |approved| AgentEvent::ApprovalDecided {
            call_id: "call-1".into(),
            approved,
            by: "user".into(),
            reason: "changes the estate".into(),
        };
        let failed = AgentEvent::ToolCallFinished {
            call_id: "call-1".into(),
            server: "opsdeck".into(),
            tool: "rerun_pipeline".into(),
            duration_ms: 0,
            is_error: true,
            result: serde_json::json!("not approved (user)"),
            truncated: false,
        };
        assert_eq!(
            symbol_after(&[needed.clone(), decided(false), failed.clone()]),
            "⊘ "
        );
        assert_eq!(symbol_after(&[needed, decided(true), failed]), "✗ ");
    }
}
