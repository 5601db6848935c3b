//! What the approval dialog shows, as text the model can measure: the
//! drawing styles these lines, and the model counts the rows they wrap to, so
//! `y` is taken only once every row of the call has been on screen.

use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::ApprovalRequest;

/// One line of the dialog, by what it says (the drawing picks its style).
#[derive(Debug, Clone, PartialEq)]
pub enum DialogLine {
    /// The tool, then `" on server …"`.
    Title {
        tool: String,
        server: String,
    },
    Reason(String),
    Blank,
    Heading(&'static str),
    /// A value the call would touch: the padded label, then the value.
    Target {
        label: String,
        value: String,
    },
    Warning(String),
    Code(String),
    Plain(String),
    Dim(String),
}

impl DialogLine {
    /// The line's text exactly as drawn (styles aside).
    pub fn text(&self) -> String {
        match self {
            DialogLine::Title { tool, server } => format!("{tool} on server {server}"),
            DialogLine::Target { label, value } => format!("{label}{value}"),
            DialogLine::Reason(t)
            | DialogLine::Warning(t)
            | DialogLine::Code(t)
            | DialogLine::Plain(t)
            | DialogLine::Dim(t) => t.clone(),
            DialogLine::Heading(t) => (*t).to_string(),
            DialogLine::Blank => String::new(),
        }
    }
}

/// The dialog's lines: the call, why it asks, what it would touch, every
/// argument, the values hidden as secrets, and the dry-run preview.
pub fn dialog_lines(request: &ApprovalRequest) -> Vec<DialogLine> {
    let mut lines = vec![
        DialogLine::Title {
            tool: request.tool.clone(),
            server: request.server.clone(),
        },
        DialogLine::Reason(request.reason.clone()),
        DialogLine::Blank,
    ];
    let target = request.target();
    if !target.is_empty() {
        lines.push(DialogLine::Heading("target"));
        for (label, value) in target {
            lines.push(DialogLine::Target {
                label: format!("  {label:<22}"),
                value,
            });
        }
        lines.push(DialogLine::Blank);
    }
    lines.push(DialogLine::Heading("arguments"));
    if !request.hidden.is_empty() {
        lines.push(DialogLine::Warning(format!(
            "  ⚠ {} value(s) hidden here as secrets: {} — the call sends them unchanged; refuse if you cannot vouch for them",
            request.hidden.len(),
            request.hidden.join(", ")
        )));
    }
    for text in request.arguments_pretty().lines() {
        lines.push(DialogLine::Code(format!("  {text}")));
    }
    lines.push(DialogLine::Blank);
    lines.push(DialogLine::Heading("dry-run preview"));
    match &request.preview {
        Ok(preview) => {
            for text in preview.lines().take(200) {
                lines.push(DialogLine::Plain(format!("  {text}")));
            }
        }
        Err(why) => lines.push(DialogLine::Dim(format!("  {why}"))),
    }
    lines
}

/// The rows the dialog's lines take when wrapped to `width` columns, as the
/// drawing wraps them (the same widget counts them).
pub fn dialog_rows(request: &ApprovalRequest, width: u16) -> usize {
    if width == 0 {
        return usize::MAX;
    }
    let lines: Vec<Line> = dialog_lines(request)
        .iter()
        .map(|line| Line::from(line.text()))
        .collect();
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .line_count(width)
}
