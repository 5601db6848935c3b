//! The chat pane: the transcript (questions, streamed markdown answers, tool
//! calls as one-liners, notices) over the input box.
//!
//! Only the entries that reach the screen are laid out: the transcript is built
//! from the newest entry backwards until the window (plus the scroll offset) is
//! full, so 2,000 messages cost what the last few do. Each entry's lines come
//! from the chat's render memo, so a frame lays out only what changed (the
//! answer streaming in), and only the lines on screen are copied.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use std::hash::{DefaultHasher, Hash, Hasher};

use super::markdown;
use super::theme::Theme;
use super::theme::tone_style;
use crate::console::app::calls::{CallReading, Tone};
use crate::console::app::chat::render_memo::{RenderKey, RenderedLines};
use crate::console::app::chat::{ChatEntry, ToolCallStatus};
use crate::console::app::update::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, block: Block) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let input_height = app.input_height();
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
    let variant = theme_fingerprint(theme);
    let mut blocks: Vec<EntryLines> = Vec::new();
    let mut collected = 0usize;
    for (index, entry) in chat.entries.iter().enumerate().rev() {
        let block = entry_block(app, index, entry, width, variant, theme);
        collected += block.len(width) + 1;
        blocks.push(block);
        if collected >= wanted {
            break;
        }
    }
    blocks.reverse();
    // One blank line between entries.
    let total = blocks.iter().map(|b| b.len(width) + 1).sum::<usize>();
    let total = total.saturating_sub(1);
    if total == 0 {
        return welcome(width, theme);
    }
    // Scrolling past the oldest line stops at it.
    let scroll = chat.scroll_from_bottom.min(total.saturating_sub(height));
    let end = total - scroll;
    let start = end.saturating_sub(height);
    // Only the lines on screen are copied out of the memo.
    let mut lines = Vec::with_capacity(end - start);
    let mut at = 0usize;
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            if (start..end).contains(&at) {
                lines.push(Line::default());
            }
            at += 1;
        }
        let len = block.len(width);
        if at + len > start && at < end {
            let from = start.saturating_sub(at);
            let to = (end - at).min(len);
            lines.extend((from..to).map(|k| block.line(k, width, theme)));
        }
        at += len;
        if at >= end {
            break;
        }
    }
    lines
}

/// An entry's lines, from the memo, and whether the streaming cursor follows them.
struct EntryLines {
    lines: RenderedLines,
    cursor: bool,
}

impl EntryLines {
    fn plain(lines: Vec<Line<'static>>) -> EntryLines {
        EntryLines {
            lines: lines.into(),
            cursor: false,
        }
    }

    /// The cursor goes after the last line's text, or on a line of its own
    /// when that line is full.
    fn cursor_on_own_line(&self, width: u16) -> bool {
        self.cursor
            && self
                .lines
                .last()
                .is_none_or(|last| last.width() >= usize::from(width))
    }

    fn len(&self, width: u16) -> usize {
        self.lines.len() + usize::from(self.cursor_on_own_line(width))
    }

    fn line(&self, k: usize, width: u16, theme: &Theme) -> Line<'static> {
        let cursor = || Span::styled("▌", theme.accent());
        match self.lines.get(k) {
            Some(line) if self.cursor && k + 1 == self.lines.len() => {
                let mut line = line.clone();
                if !self.cursor_on_own_line(width) {
                    line.spans.push(cursor());
                }
                line
            }
            Some(line) => line.clone(),
            None => Line::from(cursor()),
        }
    }
}

/// The theme as a number for the memo's key: a different theme is a different rendering.
fn theme_fingerprint(theme: &Theme) -> u64 {
    let mut hasher = DefaultHasher::new();
    format!("{theme:?}").hash(&mut hasher);
    hasher.finish()
}

fn welcome(width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let text = "Ask what broke, e.g. “what failed in the last 6 hours?”, “why did transform_sales fail?”, “which secrets expire soon?”. Tab moves between panes; ? shows every key.";
    markdown::wrap_plain(text, width, theme.dim(), "")
}

fn entry_block(
    app: &App,
    index: usize,
    entry: &ChatEntry,
    width: u16,
    variant: u64,
    theme: &Theme,
) -> EntryLines {
    let memo = app.chat.rendered();
    let key = |text: &str| RenderKey {
        text_len: text.len(),
        width,
        variant,
    };
    match entry {
        ChatEntry::User(text) => EntryLines {
            lines: memo.get_or_render(index, key(text), || question_lines(text, width, theme)),
            cursor: false,
        },
        ChatEntry::Assistant { text, streaming } => EntryLines {
            lines: memo.get_or_render(index, key(text), || markdown::render(text, width, theme)),
            cursor: *streaming,
        },
        // One line whose status changes in place: cheap, and not worth a key.
        ChatEntry::ToolCall {
            call_id,
            server,
            tool,
            status,
            duration_ms,
        } => {
            // The call store is the one record of a call (the inspector reads
            // it too); the entry's own status stands in only before the store
            // has heard of the call.
            let (reading, duration_ms) = match app.calls.get(call_id) {
                Some(call) => (call.reading(), call.duration_ms.or(*duration_ms)),
                None => (entry_reading(status), *duration_ms),
            };
            EntryLines::plain(vec![tool_line(
                call_id,
                server,
                tool,
                reading,
                duration_ms,
                width,
                theme,
            )])
        }
        ChatEntry::Notice { error, text } => EntryLines {
            lines: memo.get_or_render(index, key(text), || {
                let style = if *error { theme.error() } else { theme.dim() };
                let prefix = if *error { "! " } else { "· " };
                markdown::wrap_plain(&format!("{prefix}{text}"), width, style, "")
            }),
            cursor: false,
        },
    }
}

fn question_lines(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = markdown::wrap_plain(text, width.saturating_sub(2), theme.user(), "");
    for (i, line) in lines.iter_mut().enumerate() {
        let marker = if i == 0 { "› " } else { "  " };
        line.spans.insert(0, Span::styled(marker, theme.user()));
    }
    lines
}

/// `  ⚙ get_run_details · opsdeck  ✓ 12 ms  #call-3` — the id is the inspector entry's.
fn tool_line(
    call_id: &str,
    server: &str,
    tool: &str,
    reading: CallReading,
    duration_ms: Option<u64>,
    width: u16,
    theme: &Theme,
) -> Line<'static> {
    let (symbol, label) = (reading.symbol, reading.label);
    let style = tone_style(reading.tone, theme);
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

/// A call line's reading from the chat's own record, before the store has it.
fn entry_reading(status: &ToolCallStatus) -> CallReading {
    let (symbol, label, tone) = match status {
        ToolCallStatus::Running => ("…", "running", Tone::Busy),
        ToolCallStatus::Ok => ("✓", "ok", Tone::Good),
        ToolCallStatus::Failed => ("✗", "error", Tone::Bad),
        ToolCallStatus::AwaitingApproval => ("?", "awaiting approval", Tone::Attention),
        ToolCallStatus::Refused => ("⊘", "refused", Tone::Attention),
    };
    CallReading {
        symbol,
        label,
        tone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::events::AgentEvent;

    fn text_of(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|line| line.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn delta(text: &str) -> AgentEvent {
        AgentEvent::TextDelta { text: text.into() }
    }

    fn finished() -> AgentEvent {
        AgentEvent::TurnFinished {
            answer: String::new(),
            tool_calls: 0,
            ok: true,
        }
    }

    fn chat_with_answers(count: usize) -> App {
        let mut app = App::default();
        for i in 0..count {
            app.chat.submit(&format!("question {i}"));
            app.chat.apply(&delta(&format!(
                "## Answer {i}\n\nSome **bold** text and `code`.\n\n- one\n- two\n"
            )));
            app.chat.apply(&finished());
        }
        app
    }

    /// A clone starts with an empty memo, so it renders every entry afresh.
    fn assert_same_as_fresh(app: &App, width: u16, height: usize, theme: &Theme) {
        let fresh = app.clone();
        assert_eq!(
            transcript_window(app, width, height, theme),
            transcript_window(&fresh, width, height, theme),
            "memoised and fresh frames differ at {width}×{height}"
        );
    }

    #[test]
    fn memoised_frames_match_fresh_ones() {
        let mut app = chat_with_answers(30);
        let theme = Theme::default();
        for width in [80, 33, 80] {
            assert_same_as_fresh(&app, width, 20, &theme);
        }
        assert_same_as_fresh(&app, 80, 20, &Theme::MONOCHROME);
        app.chat.submit("stream");
        for chunk in [
            "The ",
            "answer **grows",
            "** here and ",
            "wraps around the edge",
        ] {
            app.chat.apply(&delta(chunk));
            assert_same_as_fresh(&app, 24, 20, &theme);
        }
        app.chat.scroll_up(37);
        assert_same_as_fresh(&app, 80, 20, &theme);
        app.chat.scroll_to_top();
        assert_same_as_fresh(&app, 80, 20, &theme);
        app.chat.clear();
        assert_same_as_fresh(&app, 80, 20, &theme);
        app.chat.notice(true, "after the clear");
        assert_same_as_fresh(&app, 80, 20, &theme);
        assert_eq!(
            text_of(&transcript_window(&app, 80, 20, &theme)),
            ["! after the clear"]
        );
    }

    #[test]
    fn unchanged_entries_are_not_rendered_again() {
        let mut app = chat_with_answers(200);
        let theme = Theme::default();
        transcript_window(&app, 80, 40, &theme);
        let (memoised, _) = app.chat.rendered().size();
        assert!(
            memoised > 0 && memoised < 20,
            "only what reaches the screen: {memoised}"
        );
        app.chat.submit("more");
        app.chat.apply(&delta("streaming"));
        transcript_window(&app, 80, 40, &theme);
        let variant = theme_fingerprint(&theme);
        let newest = app.chat.entries.len() - 1;
        let mut rendered = Vec::new();
        for (index, entry) in app.chat.entries.iter().enumerate().rev().take(6) {
            let ChatEntry::Assistant { text, .. } = entry else {
                continue;
            };
            let key = RenderKey {
                text_len: text.len(),
                width: 80,
                variant,
            };
            app.chat.rendered().get_or_render(index, key, || {
                rendered.push(index);
                Vec::new()
            });
        }
        assert!(rendered.is_empty(), "re-rendered {rendered:?}");
        app.chat.apply(&delta(" on"));
        let ChatEntry::Assistant { text, .. } = &app.chat.entries[newest] else {
            panic!("the newest entry is the streaming answer");
        };
        let key = RenderKey {
            text_len: text.len(),
            width: 80,
            variant,
        };
        let mut grew = false;
        app.chat.rendered().get_or_render(newest, key, || {
            grew = true;
            Vec::new()
        });
        assert!(grew, "the growing answer renders again");
    }

    #[test]
    fn the_streaming_cursor_follows_the_text_or_takes_its_own_line() {
        let mut app = App::default();
        let theme = Theme::default();
        app.chat.apply(&delta("abc"));
        assert_eq!(text_of(&transcript_window(&app, 10, 5, &theme)), ["abc▌"]);
        assert_eq!(
            text_of(&transcript_window(&app, 3, 5, &theme)),
            ["abc", "▌"]
        );
        app.chat.apply(&finished());
        assert_eq!(text_of(&transcript_window(&app, 10, 5, &theme)), ["abc"]);
    }

    #[test]
    fn the_window_is_the_bottom_rows_with_blank_lines_between_entries() {
        let mut app = App::default();
        let theme = Theme::default();
        app.chat.submit("q");
        app.chat.apply(&delta("one\ntwo\nthree"));
        app.chat.apply(&finished());
        assert_eq!(
            text_of(&transcript_window(&app, 20, 10, &theme)),
            ["› q", "", "one", "two", "three"]
        );
        assert_eq!(
            text_of(&transcript_window(&app, 20, 2, &theme)),
            ["two", "three"]
        );
        app.chat.scroll_up(1);
        assert_eq!(
            text_of(&transcript_window(&app, 20, 2, &theme)),
            ["one", "two"]
        );
        app.chat.scroll_to_top();
        assert_eq!(
            text_of(&transcript_window(&app, 20, 2, &theme)),
            ["› q", ""]
        );
    }

    /// The chat's call line and the inspector read one record: after Esc a
    /// waiting call is "cancelled" in both, and a person's `n` is "refused"
    /// in both (before, the chat said refused where the inspector said failed).
    #[test]
    fn the_chat_and_the_inspector_read_a_call_alike() {
        use crate::console::app::update::{Msg, update};
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |code| Msg::Key(KeyEvent::new(code, KeyModifiers::NONE));
        let needed = |id: &str| {
            Msg::Agent(AgentEvent::ApprovalNeeded {
                call_id: id.into(),
                server: "opsdeck".into(),
                tool: "rerun_pipeline".into(),
                arguments: serde_json::json!({"pipeline": "p"}),
                reason: "changes the estate".into(),
            })
        };
        let line_of = |app: &App, id: &str| -> String {
            let theme = Theme::default();
            (0..app.chat.entries.len())
                .map(|i| entry_block(app, i, &app.chat.entries[i], 120, 0, &theme))
                .flat_map(|block| text_of(&block.lines))
                .find(|line| line.contains(&format!("#{id}")))
                .unwrap_or_default()
        };
        let mut app = App::default();
        app.chat.submit("rerun it");
        update(&mut app, needed("call-1"));
        update(&mut app, key(KeyCode::Esc));
        let reading = app.calls.get("call-1").map(|c| c.reading());
        assert_eq!(reading.map(|r| r.label), Some("cancelled"));
        assert!(
            line_of(&app, "call-1").contains("⊘ cancelled"),
            "{}",
            line_of(&app, "call-1")
        );

        app.chat.submit("rerun it again");
        update(&mut app, needed("call-2"));
        update(
            &mut app,
            Msg::Agent(AgentEvent::ApprovalDecided {
                call_id: "call-2".into(),
                approved: false,
                by: "user".into(),
                reason: "changes the estate".into(),
            }),
        );
        let reading = app.calls.get("call-2").map(|c| c.reading());
        assert_eq!(reading.map(|r| r.label), Some("refused"));
        assert!(
            line_of(&app, "call-2").contains("⊘ refused"),
            "{}",
            line_of(&app, "call-2")
        );
    }
}
