//! Which tools a turn offers the model. OpenAI-style APIs take at most 128
//! tools per request, and an operator's host may hold far more (an Azure
//! operations server alone brings about a hundred). When the catalogue fits,
//! every tool is offered; when it does not, the tools are chosen:
//! 1. tools named in the question or the recent conversation (a flow the model
//!    started earlier — it cites what it called — stays possible);
//! 2. the playbook tools of our trusted server (triage, what changed, blast
//!    radius, status, logs, remediation): the system prompt's playbook is
//!    built from what is offered, and a peer with pipeline-shaped tool names
//!    must not push them out. Only a trusted server's tool takes such a place;
//!    an untrusted `rerun_pipeline` is not our remediation. They take at
//!    most half the places (rounded up), the most needed first, so a small
//!    limit still leaves room for the question's own tools;
//! 3. the rest by relevance to the question (see [`relevance`]), a tool's
//!    family and server (its group) lifting it with them, trusted servers first
//!    on a tie.
//!
//! Descriptions are clipped to [`MAX_DESCRIPTION_CHARS`]: some endpoints
//! refuse a request with a longer one.
//!
//! The chosen tools keep their catalogue order, so the same choice makes the
//! same request. The config's `allowedTools`/`deniedTools` are applied by the
//! host when it lists a server's tools (a denied tool is never in the
//! catalogue), so they are not handled a second time here.

mod relevance;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use crate::config::env::{Lookup, env_value};
use crate::mcp::CatalogTool;

use super::events::AgentEvent;
use super::runner::ToolRunner;
use relevance::{Query, ToolText};

/// The most tools one request may carry (OpenAI's limit).
pub const MAX_TOOLS_PER_REQUEST: usize = 128;

/// The variable that lowers the limit for a model that takes fewer tools.
pub const MAX_TOOLS_VARIABLE: &str = "OPSDECK_MAX_TOOLS";

/// The longest name the API takes for a function.
const MAX_NAME_CHARS: usize = 64;

/// How many names the "left out" list quotes.
const LEFT_OUT_SHOWN: usize = 8;

/// The longest tool description sent (some endpoints refuse longer ones).
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Our server's playbook tools, kept in every offer when a trusted server has
/// them, most needed first (the order that counts when the limit is small).
pub const CORE_TRIAGE_TOOLS: &[&str] = &[
    "triage_run",
    "what_changed",
    "get_pipeline_dependencies",
    "get_pipeline_status",
    "get_run_details",
    "list_pipeline_runs",
    "get_failed_tasks_summary",
    "list_pipelines",
    "summarize_error_logs",
    "fetch_logs",
    "get_secret_usage",
    "rerun_pipeline",
    "compare_runs",
];

/// The tools offered for one turn, and how many of the catalogue were left out.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    pub tools: Vec<CatalogTool>,
    pub left_out: usize,
    /// Some of the left-out names, for the log and the inspector.
    pub left_out_names: Vec<String>,
    /// What the person should know about the choice (a bad setting, a tool
    /// whose name no model API accepts); each becomes an error event.
    pub notes: Vec<String>,
}

impl Offer {
    /// The offered tools by the name the model sees.
    pub fn offered_names(&self) -> Vec<String> {
        self.tools.iter().map(|t| t.exposed_name.clone()).collect()
    }

    /// Tells the inspector, the trace and `ask` what was offered (and any note).
    pub fn announce(&self, events: &tokio::sync::mpsc::UnboundedSender<AgentEvent>) {
        for note in &self.notes {
            let _ = events.send(AgentEvent::Error {
                message: note.clone(),
            });
        }
        let _ = events.send(AgentEvent::ToolsOffered {
            offered: self.offered_names(),
            left_out: self.left_out,
        });
    }
}

/// What the choice depends on besides the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    pub question: &'a str,
    /// The last few questions and answers (and tool names) of the conversation.
    pub recent: &'a [&'a str],
    /// At most this many tools (1..=[`MAX_TOOLS_PER_REQUEST`]).
    pub limit: usize,
    /// Servers the configuration trusts: their tools win ties.
    pub trusted: &'a BTreeSet<String>,
}

/// Chooses the tools for a turn on `question`, with `recent` (the last few
/// questions and answers of the conversation) as context.
pub async fn tools_for_turn(runner: &ToolRunner<'_>, question: &str, recent: &[&str]) -> Offer {
    let host = runner.host();
    let catalog = host.catalog().await;
    let trusted: BTreeSet<String> = host
        .states()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| host.spec(name).is_some_and(|s| s.trusted))
        .collect();
    let (limit, setting_note) = limit_from(&|name| std::env::var(name).ok());
    let mut offer = select(
        catalog,
        &Selection {
            question,
            recent,
            limit,
            trusted: &trusted,
        },
    );
    offer.notes.extend(setting_note);
    if offer.left_out > 0 {
        tracing::info!(
            offered = offer.tools.len(),
            left_out = offer.left_out,
            some_left_out = ?offer.left_out_names,
            "the catalogue is larger than one request takes; tools chosen for the question"
        );
    }
    offer
}

/// The limit from [`MAX_TOOLS_VARIABLE`]: unset means 128; a value that is not
/// a number from 1 to 128 keeps 128 (more would be refused by the API) and
/// says why.
pub fn limit_from(lookup: Lookup) -> (usize, Option<String>) {
    let Some(raw) = env_value(lookup, MAX_TOOLS_VARIABLE) else {
        return (MAX_TOOLS_PER_REQUEST, None);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_TOOLS_PER_REQUEST).contains(&n) => (n, None),
        _ => {
            let shown = crate::support::text::clip(&raw, 40);
            (
                MAX_TOOLS_PER_REQUEST,
                Some(format!(
                    "{MAX_TOOLS_VARIABLE}={shown} is not a number of tools from 1 to {MAX_TOOLS_PER_REQUEST}; offering at most {MAX_TOOLS_PER_REQUEST}. Set it to the most tools your model takes per request, or unset it"
                )),
            )
        }
    }
}

/// Whether the chat APIs accept `name` for a function: `[A-Za-z0-9_-]{1,64}`.
/// One bad name makes the whole request fail, so such a tool is not offered.
pub fn name_is_accepted(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The choice itself: no more than `selection.limit` tools, in catalogue order.
pub fn select(catalog: Vec<CatalogTool>, selection: &Selection) -> Offer {
    let limit = selection.limit.clamp(1, MAX_TOOLS_PER_REQUEST);
    let total = catalog.len();
    let mut notes = Vec::new();
    let (usable, refused): (Vec<CatalogTool>, Vec<CatalogTool>) = catalog
        .into_iter()
        .partition(|t| name_is_accepted(&t.exposed_name));
    if !refused.is_empty() {
        let names: Vec<String> = refused
            .iter()
            .take(LEFT_OUT_SHOWN)
            .map(|t| {
                format!(
                    "'{}' on {}",
                    crate::support::text::clip(&t.exposed_name, 40),
                    t.server
                )
            })
            .collect();
        notes.push(format!(
            "{} tool(s) not offered to the model: their names are not 1–64 letters, digits, '_' or '-', which model APIs refuse ({}). Rename them on their server, or deny them in mcp.json (deniedTools)",
            refused.len(),
            names.join(", ")
        ));
    }
    let chosen: Vec<bool> = if usable.len() <= limit {
        vec![true; usable.len()]
    } else {
        choose(&usable, selection, limit)
    };
    let mut tools = Vec::with_capacity(limit.min(usable.len()));
    let mut left_out_names: Vec<String> = refused
        .iter()
        .map(|t| t.exposed_name.clone())
        .take(LEFT_OUT_SHOWN)
        .collect();
    for (mut tool, keep) in usable.into_iter().zip(chosen) {
        if keep {
            clip_description(&mut tool);
            tools.push(tool);
        } else if left_out_names.len() < LEFT_OUT_SHOWN {
            left_out_names.push(tool.exposed_name);
        }
    }
    Offer {
        left_out: total - tools.len(),
        tools,
        left_out_names: left_out_names
            .into_iter()
            .map(|n| crate::support::text::clip(&n, MAX_NAME_CHARS))
            .collect(),
        notes,
    }
}

/// Cuts a description longer than [`MAX_DESCRIPTION_CHARS`] (with the mark
/// of the cut inside the limit).
fn clip_description(tool: &mut CatalogTool) {
    let long = tool
        .tool
        .description
        .as_deref()
        .is_some_and(|d| d.chars().nth(MAX_DESCRIPTION_CHARS).is_some());
    if long && let Some(description) = tool.tool.description.take() {
        let clipped = crate::support::text::clip(&description, MAX_DESCRIPTION_CHARS - 1);
        tool.tool.description = Some(clipped.into());
    }
}

/// Whether `tool` is one of our playbook tools on a trusted server.
fn is_core(tool: &CatalogTool, trusted: &BTreeSet<String>) -> bool {
    trusted.contains(&tool.server) && CORE_TRIAGE_TOOLS.contains(&tool.server_tool_name())
}

/// Marks the `limit` tools to offer out of more: named first, then the
/// trusted playbook tools, then by relevance.
fn choose(tools: &[CatalogTool], selection: &Selection, limit: usize) -> Vec<bool> {
    let query = Query::new(selection.question, selection.recent);
    let texts: Vec<ToolText> = tools.iter().map(ToolText::of).collect();
    let scores = relevance::scores(&query, &texts);
    let named: Vec<bool> = tools
        .iter()
        .map(|t| query.names(&t.exposed_name) || query.names(t.server_tool_name()))
        .collect();
    let reserved = reserved(tools, selection, &named, limit);
    // (tier, untrusted, score, catalogue index), taken in order of tier, then
    // higher score, then trusted servers first, then catalogue order.
    let mut order: Vec<(u8, bool, f64, usize)> = tools
        .iter()
        .enumerate()
        .map(|(index, tool)| {
            let tier = if named[index] {
                0
            } else if reserved[index] {
                1
            } else {
                2
            };
            let untrusted = !selection.trusted.contains(&tool.server);
            (tier, untrusted, scores[index], index)
        })
        .collect();
    order.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| b.2.total_cmp(&a.2))
            .then_with(|| a.1.cmp(&b.1))
            .then_with(|| a.3.cmp(&b.3))
    });
    let mut chosen = vec![false; tools.len()];
    for (_, _, _, index) in order.into_iter().take(limit) {
        chosen[index] = true;
    }
    chosen
}

/// The trusted playbook tools that keep a place: at most half the limit
/// (rounded up), the most needed first.
fn reserved(
    tools: &[CatalogTool],
    selection: &Selection,
    named: &[bool],
    limit: usize,
) -> Vec<bool> {
    let places = limit.div_ceil(2);
    let mut core: Vec<(usize, usize)> = tools
        .iter()
        .enumerate()
        .filter(|(index, tool)| !named[*index] && is_core(tool, selection.trusted))
        .filter_map(|(index, tool)| {
            let rank = CORE_TRIAGE_TOOLS
                .iter()
                .position(|c| *c == tool.server_tool_name())?;
            Some((rank, index))
        })
        .collect();
    core.sort_unstable();
    let mut reserved = vec![false; tools.len()];
    for (_, index) in core.into_iter().take(places) {
        reserved[index] = true;
    }
    reserved
}

/// One line for the inspector, the trace and `ask`: how many were offered of
/// how many, and how many were left out.
pub fn describe(offered: &[String], left_out: usize) -> String {
    let total = offered.len().saturating_add(left_out);
    if left_out == 0 && total == 1 {
        "offered the one tool there is".to_string()
    } else if left_out == 0 {
        format!("offered all {total} tools")
    } else {
        format!(
            "offered {} of {total} tools ({left_out} left out)",
            offered.len()
        )
    }
}
