//! The conversation: every turn so far (question, the model's text, the tool
//! calls with their arguments and the results the model read), so that a
//! follow-up question reaches the model with the earlier evidence. The console
//! and `ask` keep one; a trace rebuilds one (`trace::resume`); `:new` clears it.
//!
//! A turn is recorded as it happens, so a turn cancelled half-way still leaves
//! a coherent history: [`Conversation::cancel`] marks the partial answer and
//! gives every call that never finished a result saying so (the chat API
//! rejects a tool call without its result). [`budget`] turns the turns into
//! the chat messages of a request, within a token budget.

pub mod budget;
mod limits;

use std::sync::{Arc, Mutex};

pub use budget::{Budget, ContextSetting, ContextWindow};
pub use limits::{MAX_ARGUMENT_BYTES, MAX_RESULT_BYTES, MAX_TEXT_BYTES, MAX_TURNS, api_tool_name};
use limits::{clip_arguments, clip_text, push_clipped};

/// What a call that never finished is given as its result.
pub const CANCELLED_RESULT: &str =
    "[cancelled: the engineer stopped the turn before this call finished; there is no result]";

/// One tool call the model (or the offline agent) made, and what it read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolExchange {
    /// The id the model gave the call; results are paired with calls by it.
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them (JSON text).
    pub arguments: String,
    /// The model-facing result text; `None` while the call runs.
    pub result: Option<String>,
}

impl ToolExchange {
    /// A call as recorded: its name as the chat API accepts it back (the
    /// real call reports its own error when the name was wrong), its
    /// arguments bounded.
    fn new(id: &str, name: &str, arguments: &str) -> ToolExchange {
        ToolExchange {
            id: id.to_string(),
            name: api_tool_name(name),
            arguments: clip_arguments(arguments),
            result: None,
        }
    }
}

/// One model response: its text, then the calls it asked for (none in the last).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Round {
    pub text: String,
    pub calls: Vec<ToolExchange>,
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEnd {
    /// Still running.
    Open,
    Answered,
    /// Ended on an error; the partial answer is kept.
    Failed,
    /// Stopped by the engineer (Esc) or by the session ending mid-turn.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub question: String,
    pub rounds: Vec<Round>,
    pub end: TurnEnd,
}

impl Turn {
    fn new(question: &str) -> Turn {
        Turn {
            question: clip_text(question, MAX_TEXT_BYTES),
            rounds: Vec::new(),
            end: TurnEnd::Open,
        }
    }

    /// The answer's text, all rounds together.
    pub fn answer(&self) -> String {
        self.rounds.iter().map(|r| r.text.as_str()).collect()
    }

    /// Every call of the turn, in order.
    pub fn calls(&self) -> impl Iterator<Item = &ToolExchange> {
        self.rounds.iter().flat_map(|r| r.calls.iter())
    }

    /// The round new text belongs to: the last one, unless it already asked
    /// for tools (text after calls is the model's next response).
    fn round_for_text(&mut self) -> &mut Round {
        if self.rounds.last().is_none_or(|r| !r.calls.is_empty()) {
            self.rounds.push(Round::default());
        }
        let last = self.rounds.len() - 1;
        &mut self.rounds[last]
    }

    /// The round a call belongs to: the last one when it has only text so far
    /// (the same response), or when `same_batch` and it holds calls already.
    fn round_for_call(&mut self, same_batch: bool) -> &mut Round {
        let reuse = self
            .rounds
            .last()
            .is_some_and(|r| r.calls.is_empty() || same_batch);
        if !reuse {
            self.rounds.push(Round::default());
        }
        let last = self.rounds.len() - 1;
        &mut self.rounds[last]
    }
}

/// The turns of one conversation. Only the last turn may be open. At most
/// [`MAX_TURNS`] are kept: older ones are dropped and counted, and the model
/// is told how many (see [`budget`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    turns: Vec<Turn>,
    /// Turns dropped to keep [`MAX_TURNS`], since the last `clear`.
    dropped: usize,
    /// Turns ever begun: numbers call ids no other turn of the conversation has.
    begun: u64,
}

/// A conversation shared by the console (which cancels and clears it) and the
/// task running a turn (which records into it).
pub type SharedConversation = Arc<Mutex<Conversation>>;

impl Conversation {
    pub fn shared(self) -> SharedConversation {
        Arc::new(Mutex::new(self))
    }

    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// Earlier turns dropped to keep at most [`MAX_TURNS`].
    pub fn dropped_turns(&self) -> usize {
        self.dropped
    }

    /// The number of the latest turn begun (1 for the first), never reused in
    /// this conversation: call ids made up from it stay unique.
    pub fn turn_number(&self) -> u64 {
        self.begun
    }

    /// The conversation while `turn` is still its latest turn begun. A task
    /// of a cancelled turn may record once more before it stops; once the
    /// next turn has begun, that late record is dropped rather than mixed
    /// into the new turn.
    pub fn if_current(&mut self, turn: u64) -> Option<&mut Conversation> {
        (self.begun == turn).then_some(self)
    }

    /// Forgets every turn (`:new`).
    pub fn clear(&mut self) {
        self.turns.clear();
        self.dropped = 0;
    }

    /// Starts a turn. A turn still open is closed as cancelled first, so the
    /// history stays coherent whoever forgot to close it. The oldest turns go
    /// when more than [`MAX_TURNS`] would be kept.
    pub fn begin(&mut self, question: &str) {
        self.cancel();
        if self.turns.len() >= MAX_TURNS {
            let excess = self.turns.len() + 1 - MAX_TURNS;
            self.turns.drain(..excess);
            self.dropped = self.dropped.saturating_add(excess);
        }
        self.begun = self.begun.saturating_add(1);
        self.turns.push(Turn::new(question));
    }

    /// Counts `n` turns as dropped before the ones kept (a resumed trace's).
    pub fn note_dropped(&mut self, n: usize) {
        self.dropped = self.dropped.saturating_add(n);
    }

    fn open_turn(&mut self) -> Option<&mut Turn> {
        self.turns.last_mut().filter(|t| t.end == TurnEnd::Open)
    }

    /// Text of the answer as it arrives.
    pub fn add_text(&mut self, text: &str) {
        if let Some(turn) = self.open_turn() {
            let used: usize = turn.rounds.iter().map(|r| r.text.len()).sum();
            push_clipped(&mut turn.round_for_text().text, text, used, MAX_TEXT_BYTES);
        }
    }

    /// The calls of one model response, about to run.
    pub fn add_calls<'a>(&mut self, calls: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) {
        let Some(turn) = self.open_turn() else {
            return;
        };
        let mut same_batch = false;
        for (id, name, arguments) in calls {
            turn.round_for_call(same_batch)
                .calls
                .push(ToolExchange::new(id, name, arguments));
            same_batch = true;
        }
    }

    /// One call about to run, joining the calls just before it (the offline
    /// agent's calls, or a trace's, where responses are not told apart).
    pub fn add_call(&mut self, id: &str, name: &str, arguments: &str) {
        if let Some(turn) = self.open_turn() {
            turn.round_for_call(true)
                .calls
                .push(ToolExchange::new(id, name, arguments));
        }
    }

    /// The model-facing result of a call of the open turn.
    pub fn set_result(&mut self, id: &str, result: &str) {
        if let Some(turn) = self.open_turn()
            && let Some(call) = turn
                .rounds
                .iter_mut()
                .rev()
                .flat_map(|r| r.calls.iter_mut())
                .find(|c| c.id == id && c.result.is_none())
        {
            call.result = Some(clip_text(result, MAX_RESULT_BYTES));
        }
    }

    /// Ends the open turn.
    pub fn finish(&mut self, answered: bool) {
        if let Some(turn) = self.open_turn() {
            turn.end = if answered {
                TurnEnd::Answered
            } else {
                TurnEnd::Failed
            };
            close_unfinished(turn);
        }
    }

    /// Ends the open turn as cancelled: the partial answer is kept and marked,
    /// calls that finished keep their results, the others get [`CANCELLED_RESULT`].
    pub fn cancel(&mut self) {
        if let Some(turn) = self.open_turn() {
            turn.end = TurnEnd::Cancelled;
            close_unfinished(turn);
        }
    }

    /// The last `n` questions, answers and the tools each turn called, newest
    /// last (context for choosing tools: a tool called earlier stays offered).
    pub fn recent(&self, n: usize) -> Vec<String> {
        let mut recent: Vec<String> = self
            .turns
            .iter()
            .rev()
            .filter(|t| t.end != TurnEnd::Open)
            .flat_map(|t| [tools_called(t), t.answer(), t.question.clone()])
            .filter(|text| !text.trim().is_empty())
            .take(n)
            .collect();
        recent.reverse();
        recent
    }
}

/// "tools called: a b" for a turn that called any, else empty (then skipped).
fn tools_called(turn: &Turn) -> String {
    let mut names: Vec<&str> = Vec::new();
    for call in turn.rounds.iter().flat_map(|r| r.calls.iter()) {
        if !names.contains(&call.name.as_str()) {
            names.push(&call.name);
        }
    }
    if names.is_empty() {
        String::new()
    } else {
        format!("tools called: {}", names.join(" "))
    }
}

fn close_unfinished(turn: &mut Turn) {
    for call in turn.rounds.iter_mut().flat_map(|r| r.calls.iter_mut()) {
        if call.result.is_none() {
            call.result = Some(CANCELLED_RESULT.to_string());
        }
    }
}

#[cfg(test)]
mod tests;
