//! The run board: one row per run with a status symbol and colour, start,
//! duration and the pipeline's recent trend. Only the rows on screen are built.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};

use super::theme::{Theme, status_symbol};
use crate::console::app::board::TREND_LEN;
use crate::console::app::update::App;
use crate::model::run::PipelineRun;

/// The mark before a pinned run's pipeline: a run opsdeck started and follows.
pub const PIN: &str = "◆ ";

/// "12/240 · prod · sort start · failed · refreshed 4s ago" (or why it is stale).
pub fn title_detail(app: &App) -> String {
    let board = &app.board;
    let mut parts = vec![format!("{}/{}", board.visible_len(), board.total())];
    match board.environments() {
        [] => {}
        [one] => parts.push(one.clone()),
        [first, second] => parts.push(format!("{first}+{second}")),
        many => parts.push(format!("{} environments", many.len())),
    }
    if board.pinned_len() > 0 {
        parts.push(format!("{PIN}{} followed", board.pinned_len()));
    }
    parts.push(format!("sort {}", board.sort().label()));
    if !board.status_filter().is_empty() {
        let names: Vec<&str> = board.status_filter().iter().map(|s| s.as_str()).collect();
        parts.push(names.join(","));
    }
    if !board.name_filter().is_empty() {
        parts.push(format!("/{}", board.name_filter()));
    }
    parts.push(refresh_age(app));
    format!(" {} ", parts.join(" · "))
}

pub fn refresh_age(app: &App) -> String {
    let board = &app.board;
    match (board.last_refresh, app.now) {
        (None, _) => "loading…".into(),
        (Some(at), Some(now)) => {
            // Whole seconds: the age ticks once a second, not with every frame.
            let ms = (now - at).num_milliseconds().max(0);
            let age = if ms < 60_000 {
                format!("{}s", ms / 1000)
            } else {
                short_duration(ms)
            };
            match &board.stale_reason {
                Some(_) => format!("STALE {age}"),
                None => format!("{age} ago"),
            }
        }
        (Some(_), None) => "just now".into(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, block: Block) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let board = &app.board;
    if board.visible_len() == 0 {
        let text = match (&board.stale_reason, board.last_refresh) {
            (Some(reason), _) => format!("The board cannot refresh: {reason}"),
            (None, None) => "Loading runs…".to_string(),
            (None, Some(_)) if board.total() > 0 => {
                "No run matches the filter (:filter all, or / to change the name filter)".into()
            }
            (None, Some(_)) => "No runs in the last 24 hours.".into(),
        };
        super::draw_empty(frame, inner, text, theme);
        return;
    }
    let body_rows = inner.height.saturating_sub(1) as usize;
    let wide = inner.width >= 100;
    // Keep the selection on screen without state: the window ends at it when it is low.
    let offset = board.selected.saturating_sub(body_rows.saturating_sub(1));
    let now = app.now;
    let rows: Vec<Row> = board
        .visible()
        .enumerate()
        .skip(offset)
        .take(body_rows)
        .map(|(index, run)| {
            let pinned = board.is_pinned(&run.run_id);
            let row = run_row(run, board.trend(&run.pipeline), now, wide, pinned, theme);
            if index == board.selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(12),
        Constraint::Min(14),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(TREND_LEN as u16),
    ];
    let mut header = vec!["status", "pipeline", "run", "start", "took", "trend"];
    if wide {
        widths.insert(2, Constraint::Length(8));
        header.insert(2, "backend");
        widths.insert(3, Constraint::Length(6));
        header.insert(3, "env");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold()))
        .column_spacing(1);
    frame.render_widget(table, inner);
    if let Some(reason) = &board.stale_reason {
        let note = Rect {
            y: inner.y + inner.height - 1,
            height: 1,
            ..inner
        };
        let text = super::fit(
            &format!(" stale: {reason} — showing the last good data "),
            note.width as usize,
        );
        frame.render_widget(Paragraph::new(text).style(theme.warn()), note);
    }
}

fn run_row<'a>(
    run: &'a PipelineRun,
    trend: &[crate::model::run::RunStatus],
    now: Option<DateTime<Utc>>,
    wide: bool,
    pinned: bool,
    theme: &Theme,
) -> Row<'a> {
    let status_style = theme.status(&run.status);
    let status = format!("{} {}", status_symbol(&run.status), run.status.as_str());
    let trend_line = Line::from(
        trend
            .iter()
            .map(|s| Span::styled(status_symbol(s), theme.status(s)))
            .collect::<Vec<_>>(),
    );
    let took = match (run.duration_ms, run.run_start, now) {
        (Some(ms), _, _) => short_duration(ms),
        (None, Some(start), Some(now)) if !run.status.is_terminal() => {
            format!(
                "{}…",
                short_duration((now - start).num_milliseconds().max(0))
            )
        }
        _ => "—".into(),
    };
    let mut cells = vec![
        Line::from(Span::styled(status, status_style)),
        // A run opsdeck started and follows is marked where the eye reads first.
        if pinned {
            Line::from(vec![
                Span::styled(PIN, theme.bold()),
                Span::raw(run.pipeline.as_str()),
            ])
        } else {
            Line::from(run.pipeline.as_str())
        },
        Line::from(short_id(&run.run_id)),
        Line::from(start_text(run.run_start, now)),
        Line::from(took),
        trend_line,
    ];
    if wide {
        cells.insert(2, Line::from(run.backend.as_str()));
        cells.insert(3, Line::from(run.environment.as_str()));
    }
    Row::new(cells)
}

/// Run ids are long GUIDs in ADF; the first 8 characters identify a run on screen.
fn short_id(id: &str) -> String {
    super::clip_str(id, 8).to_string()
}

fn start_text(start: Option<DateTime<Utc>>, now: Option<DateTime<Utc>>) -> String {
    match (start, now) {
        (None, _) => "queued".into(),
        (Some(s), Some(n)) if s.date_naive() == n.date_naive() => s.format("%H:%M:%S").to_string(),
        (Some(s), _) => s.format("%d %H:%M").to_string(),
    }
}

/// 850ms, 42s, 3m05s, 2h10m, 3d4h.
pub fn short_duration(ms: i64) -> String {
    let seconds = ms / 1000;
    match seconds {
        _ if ms < 1000 => format!("{ms}ms"),
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3600..86400 => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d{}h", seconds / 86400, seconds % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(850), "850ms");
        assert_eq!(short_duration(42_000), "42s");
        assert_eq!(short_duration(185_000), "3m05s");
        assert_eq!(short_duration(7_800_000), "2h10m");
        assert_eq!(short_duration(273_600_000), "3d4h");
    }
}
