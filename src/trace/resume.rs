//! A recorded session's conversation, to continue it (`--resume TRACE`): the
//! questions, the answers, and each tool call with the result the model read,
//! rebuilt from the trace's agent events. Any trace of schema 1 resumes,
//! including those written before conversations were kept: a tool's
//! model-facing text is the trace's recorded result (already redacted), cut
//! to the cap a model is sent. The dry runs made for approval dialogs were
//! never the model's calls and are left out; a turn the trace ends in the
//! middle of is closed as cancelled; `:new` (a `conversation_reset` record)
//! forgets what came before it.
//!
//! A trace file is untrusted (an older opsdeck, a hand edit): every event is
//! redacted and neutralised again on the way in ([`clean`]). At most
//! [`MAX_TURNS`] turns are resumed; older ones are counted and the model and
//! the person are told how many were left out.

mod clean;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;

use super::reader::{self, Trace};
use crate::agent::conversation::{Conversation, MAX_TURNS};
use crate::agent::events::AgentEvent;
use crate::support::text::cap_text;
use clean::Item;

/// A trace read for resuming, and what it holds.
#[derive(Debug, Clone)]
pub struct Resumed {
    pub trace: Trace,
    pub conversation: Conversation,
}

impl Resumed {
    /// A line for the person: how much was restored, and what was skipped.
    pub fn describe(&self, path: &Path) -> String {
        let turns = self.conversation.turns().len();
        let mut text = format!(
            "resumed {} earlier turn{} from {}",
            turns,
            if turns == 1 { "" } else { "s" },
            path.display()
        );
        let dropped = self.conversation.dropped_turns();
        if dropped > 0 {
            text.push_str(&format!(
                " ({dropped} earlier turn{} left out: a conversation keeps the last {MAX_TURNS})",
                if dropped == 1 { "" } else { "s" }
            ));
        }
        if !self.trace.skipped.is_empty() {
            text.push_str(&format!(
                " ({} unreadable line{} skipped)",
                self.trace.skipped.len(),
                if self.trace.skipped.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        text
    }
}

/// Reads the trace at `path` and rebuilds its conversation; `model_cap` is the
/// most bytes of one tool result the model is sent.
pub fn load(path: &Path, model_cap: usize) -> Result<Resumed, String> {
    let file = std::fs::File::open(path).map_err(|e| {
        format!(
            "cannot open the trace {} to resume it ({e}); traces are under ~/.local/state/opsdeck/traces/",
            path.display()
        )
    })?;
    let trace = reader::load(file).map_err(|e| format!("cannot resume {}: {e}", path.display()))?;
    let conversation = conversation(&trace, model_cap);
    Ok(Resumed {
        trace,
        conversation,
    })
}

/// The conversation a trace records.
pub fn conversation(trace: &Trace, model_cap: usize) -> Conversation {
    let mut conversation = Conversation::default();
    // Arguments of calls that waited for approval, for a refusal's record.
    let mut asked: HashMap<String, String> = HashMap::new();
    let mut started: HashSet<String> = HashSet::new();
    let mut renumber = Renumber::default();
    for item in clean::items(&trace.records) {
        let event = match item {
            Item::Agent(event) => renumber.event(&event),
            Item::Reset => {
                conversation.clear();
                continue;
            }
        };
        match &event {
            AgentEvent::UserMessage { text } => conversation.begin(text),
            AgentEvent::TextDelta { text } => conversation.add_text(text),
            AgentEvent::ToolCallStarted {
                call_id,
                tool,
                arguments,
                ..
            } if !is_preview(call_id) => {
                conversation.add_call(call_id, tool, &arguments.to_string());
                started.insert(call_id.clone());
            }
            AgentEvent::ApprovalNeeded {
                call_id, arguments, ..
            } => {
                asked.insert(call_id.clone(), arguments.to_string());
            }
            AgentEvent::ToolCallFinished {
                call_id,
                tool,
                result,
                truncated,
                ..
            } if !is_preview(call_id) => {
                // A refused call never started: its record is the finish alone.
                if !started.remove(call_id) {
                    let arguments = asked.remove(call_id).unwrap_or_else(|| "{}".into());
                    conversation.add_call(call_id, tool, &arguments);
                }
                conversation.set_result(call_id, &for_model(result, *truncated, model_cap));
            }
            AgentEvent::TurnFinished { ok, .. } => conversation.finish(*ok),
            _ => {}
        }
    }
    // The session ended mid-turn.
    conversation.cancel();
    conversation
}

/// The agent events of the conversation a trace records (those after its
/// last reset, from the first of the last [`MAX_TURNS`] questions), cleaned:
/// a resumed session records them again first, so its own trace resumes
/// whole, and the console shows them as the chat so far.
pub fn carried_events(trace: &Trace) -> Vec<AgentEvent> {
    let items = clean::items(&trace.records);
    let after_reset = items
        .iter()
        .rposition(|i| *i == Item::Reset)
        .map_or(0, |at| at + 1);
    let items = &items[after_reset..];
    let questions: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Item::Agent(AgentEvent::UserMessage { .. })))
        .map(|(at, _)| at)
        .collect();
    let start = match questions.len().checked_sub(MAX_TURNS) {
        Some(excess) if excess > 0 => questions[excess],
        _ => 0,
    };
    let mut renumber = Renumber::default();
    items[start..]
        .iter()
        .filter_map(|i| match i {
            Item::Agent(event) => Some(renumber.event(event)),
            Item::Reset => None,
        })
        .collect()
}

/// Gives the calls of a resumed conversation ids of their own (`resumed-1`,
/// …): a trace that itself began with a resumed one holds each session's
/// `call-1`, and the live session numbers its calls from `call-1` again.
/// Ids are unique within a turn, so the renaming starts over with each question.
#[derive(Default)]
struct Renumber {
    next: u64,
    this_turn: HashMap<String, String>,
}

impl Renumber {
    fn id(&mut self, call_id: &str) -> String {
        let (base, preview) = match call_id.strip_suffix("-preview") {
            Some(base) => (base, "-preview"),
            None => (call_id, ""),
        };
        let next = &mut self.next;
        let id = self.this_turn.entry(base.to_string()).or_insert_with(|| {
            *next += 1;
            format!("resumed-{next}")
        });
        format!("{id}{preview}")
    }

    fn event(&mut self, event: &AgentEvent) -> AgentEvent {
        let mut event = event.clone();
        match &mut event {
            AgentEvent::UserMessage { .. } => self.this_turn.clear(),
            AgentEvent::ToolCallStarted { call_id, .. }
            | AgentEvent::ToolCallFinished { call_id, .. }
            | AgentEvent::ApprovalNeeded { call_id, .. }
            | AgentEvent::ApprovalDecided { call_id, .. } => *call_id = self.id(call_id),
            _ => {}
        }
        event
    }
}

/// The runner's own dry run before an approval dialog (`call-7-preview`).
fn is_preview(call_id: &str) -> bool {
    call_id.ends_with("-preview")
}

/// The text the model read, from the result the trace kept: the tool's text
/// blocks (the runner sends those), or the message of an error or refusal.
fn for_model(result: &Value, truncated: bool, model_cap: usize) -> String {
    let text = match result {
        Value::Object(object) if !truncated => match object.get("content") {
            Some(Value::Array(blocks)) => blocks
                .iter()
                .map(|b| b.as_str().map_or_else(|| b.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => result.to_string(),
        },
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    cap_text(&text, model_cap)
}

#[cfg(test)]
mod tests;
