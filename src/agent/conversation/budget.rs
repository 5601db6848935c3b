//! The conversation as chat messages, within a token budget.
//!
//! Tokens are estimated from bytes: prose at 4 bytes a token, tool results,
//! arguments and other JSON at 3 (JSON has more punctuation, each often a
//! token of its own). Close enough for OpenAI's tokenizers, and bytes count
//! non-ASCII text high, which errs on the side of sending less. The budget is
//! what the context window leaves once the system prompt, the offered tool
//! definitions and room for the answer are taken ([`ContextWindow::history`]).
//! The turn being answered is never cut. Earlier turns give way oldest first,
//! each step visible to the model through a marker: first their long tool
//! results are clipped, then whole turns are summarised to one line (when the
//! summary is shorter), then (only when even that does not fit) the oldest are
//! left out with a note. The last [`RECENT_VERBATIM`] turns give way only
//! after every older one has. A call and its result always go together, so
//! the API never sees a tool message without its call.

use super::{Conversation, Turn, TurnEnd};
use crate::support::text::clip;

/// The model's context window assumed when nothing is set: today's common
/// models (GPT-4o, GPT-4.1 mini…) take 128k tokens.
pub const DEFAULT_CONTEXT_TOKENS: u64 = 128_000;
/// The smallest and largest context windows accepted.
pub const MIN_CONTEXT_TOKENS: u64 = 2_000;
pub const MAX_CONTEXT_TOKENS: u64 = 10_000_000;
/// The variable that overrides [`DEFAULT_CONTEXT_TOKENS`].
pub const CONTEXT_VARIABLE: &str = "OPSDECK_CONTEXT_TOKENS";
/// Tokens kept free for the answer (a quarter of a window smaller than 16k).
pub const ANSWER_RESERVE_TOKENS: usize = 4_096;
/// Turns kept verbatim while an older one can still give way.
pub const RECENT_VERBATIM: usize = 2;
/// Characters an earlier tool result is clipped to.
pub const CLIPPED_RESULT_CHARS: usize = 600;
/// Characters of a summarised turn's question and answer.
const SUMMARY_QUESTION_CHARS: usize = 300;
const SUMMARY_ANSWER_CHARS: usize = 400;
/// Tokens counted per message for the API's framing of it.
const MESSAGE_OVERHEAD: usize = 4;
/// Bytes a token of prose, and of JSON or tool output, is taken to be.
const PROSE_BYTES_PER_TOKEN: usize = 4;
const DATA_BYTES_PER_TOKEN: usize = 3;

/// One chat message, whichever client sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    User(String),
    Assistant {
        text: String,
        calls: Vec<CallRequest>,
    },
    Tool {
        call_id: String,
        content: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallRequest {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// The tokens the conversation's messages may take in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub tokens: usize,
}

impl Default for Budget {
    /// What the default context window leaves with no system prompt or tools.
    fn default() -> Self {
        ContextWindow::default().history(0)
    }
}

impl Budget {
    /// Half of this budget: the retry after the API said the context was too long.
    pub fn halved(self) -> Budget {
        Budget {
            tokens: self.tokens / 2,
        }
    }
}

/// The model's context window, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextWindow {
    pub tokens: usize,
}

impl Default for ContextWindow {
    fn default() -> Self {
        ContextWindow::new(DEFAULT_CONTEXT_TOKENS)
    }
}

impl ContextWindow {
    /// A window of `tokens`, brought into the accepted range.
    pub fn new(tokens: u64) -> ContextWindow {
        let tokens = tokens.clamp(MIN_CONTEXT_TOKENS, MAX_CONTEXT_TOKENS);
        ContextWindow {
            tokens: usize::try_from(tokens).unwrap_or(usize::MAX),
        }
    }

    /// The room kept for the answer.
    pub fn answer_reserve(&self) -> usize {
        ANSWER_RESERVE_TOKENS.min(self.tokens / 4)
    }

    /// The conversation's budget in a request whose system prompt and tool
    /// definitions take `fixed` tokens: the rest of the window, less the
    /// answer's room.
    pub fn history(&self, fixed: usize) -> Budget {
        Budget {
            tokens: self
                .tokens
                .saturating_sub(fixed)
                .saturating_sub(self.answer_reserve()),
        }
    }
}

/// Reads the context window setting ([`CONTEXT_VARIABLE`]).
pub struct ContextSetting;

impl ContextSetting {
    /// The context window the environment names, or the default; a value
    /// that is not a number in range is an error saying so.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<ContextWindow, String> {
        let Some(raw) = get(CONTEXT_VARIABLE).filter(|v| !v.trim().is_empty()) else {
            return Ok(ContextWindow::default());
        };
        // Worded without `NAME=value`: redaction takes `…_TOKENS=` for a secret.
        let tokens = raw.trim().replace('_', "").parse::<u64>().map_err(|_| {
            format!(
                "{CONTEXT_VARIABLE} is \"{}\", not a number of tokens; set it to the model's context window, e.g. 128000",
                clip(&raw, 40)
            )
        })?;
        if !(MIN_CONTEXT_TOKENS..=MAX_CONTEXT_TOKENS).contains(&tokens) {
            return Err(format!(
                "{CONTEXT_VARIABLE} is {tokens}, out of range; the context window must be {MIN_CONTEXT_TOKENS} to {MAX_CONTEXT_TOKENS} tokens"
            ));
        }
        Ok(ContextWindow::new(tokens))
    }
}

/// The request's messages (after the system prompt) and what gave way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fitted {
    pub messages: Vec<ChatMessage>,
    pub clipped_turns: usize,
    pub summarised_turns: usize,
    pub left_out_turns: usize,
    /// Turns the conversation no longer held (beyond its turn limit).
    pub dropped_turns: usize,
    /// The estimated tokens of `messages`.
    pub tokens: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Verbatim,
    Clipped,
    Summarised,
    LeftOut,
}

/// Estimated tokens of prose (questions, answers, the system prompt).
pub fn prose_tokens(text: &str) -> usize {
    text.len().div_ceil(PROSE_BYTES_PER_TOKEN)
}

/// Estimated tokens of JSON and tool output (results, arguments, definitions).
pub fn data_tokens(text: &str) -> usize {
    text.len().div_ceil(DATA_BYTES_PER_TOKEN)
}

/// Estimated tokens of some messages.
pub fn estimate(messages: &[ChatMessage]) -> usize {
    messages
        .iter()
        .map(|m| {
            let tokens = match m {
                ChatMessage::User(text) => prose_tokens(text),
                ChatMessage::Assistant { text, calls } => {
                    prose_tokens(text)
                        + calls
                            .iter()
                            .map(|c| {
                                data_tokens(&c.id)
                                    + data_tokens(&c.name)
                                    + data_tokens(&c.arguments)
                            })
                            .sum::<usize>()
                }
                ChatMessage::Tool { call_id, content } => {
                    data_tokens(call_id) + data_tokens(content)
                }
            };
            tokens + MESSAGE_OVERHEAD
        })
        .sum()
}

impl Conversation {
    /// The messages for the next request: every finished turn as the budget
    /// allows, then the open turn (never cut). Linear in the conversation's
    /// size: each step re-estimates one turn and keeps a running total.
    pub fn messages(&self, budget: Budget) -> Fitted {
        let (done, open) = match self.turns.split_last() {
            Some((last, rest)) if last.end == TurnEnd::Open => (rest, Some(last)),
            _ => (self.turns.as_slice(), None),
        };
        let current = open.map(|t| render(t, Level::Verbatim)).unwrap_or_default();
        // The note about turns left out needs room of its own.
        let note_room = prose_tokens(&left_out_note(usize::MAX)) + 1;
        let mut available = budget.tokens.saturating_sub(estimate(&current));
        let mut note_reserved = self.dropped > 0;
        if note_reserved {
            available = available.saturating_sub(note_room);
        }
        let mut levels = vec![Level::Verbatim; done.len()];
        let mut costs: Vec<usize> = done
            .iter()
            .map(|t| estimate(&render(t, Level::Verbatim)))
            .collect();
        let mut total: usize = costs.iter().sum();
        let recent = done.len().saturating_sub(RECENT_VERBATIM);
        let order = (0..recent)
            .map(|i| (i, Level::Clipped))
            .chain((0..recent).map(|i| (i, Level::Summarised)))
            .chain((recent..done.len()).map(|i| (i, Level::Clipped)))
            .chain((recent..done.len()).map(|i| (i, Level::Summarised)))
            .chain((0..done.len()).map(|i| (i, Level::LeftOut)));
        for (index, level) in order {
            if total <= available {
                break;
            }
            if level == Level::LeftOut && !note_reserved {
                note_reserved = true;
                available = available.saturating_sub(note_room);
            }
            let cost = estimate(&render(&done[index], level));
            // A summary longer than the turn it stands for saves nothing.
            if level == Level::Summarised && cost >= costs[index] {
                continue;
            }
            total = total - costs[index] + cost;
            levels[index] = level;
            costs[index] = cost;
        }
        let mut fitted = Fitted {
            dropped_turns: self.dropped,
            ..Fitted::default()
        };
        for (turn, level) in done.iter().zip(&levels) {
            match level {
                Level::Verbatim => {}
                Level::Clipped => fitted.clipped_turns += 1,
                Level::Summarised => fitted.summarised_turns += 1,
                Level::LeftOut => fitted.left_out_turns += 1,
            }
            fitted.messages.extend(render(turn, *level));
        }
        fitted.messages.extend(current);
        let missing = fitted.left_out_turns + fitted.dropped_turns;
        if missing > 0 {
            let note = left_out_note(missing);
            if let Some(ChatMessage::User(first)) = fitted.messages.first_mut() {
                *first = format!("{note}\n\n{first}");
            }
        }
        if fitted.clipped_turns + fitted.summarised_turns + missing > 0 {
            tracing::info!(
                clipped = fitted.clipped_turns,
                summarised = fitted.summarised_turns,
                left_out = fitted.left_out_turns,
                dropped = fitted.dropped_turns,
                budget = budget.tokens,
                "earlier turns gave way to fit the context"
            );
        }
        fitted.tokens = estimate(&fitted.messages);
        fitted
    }
}

/// What the model is told when `missing` earlier turns are not in the request.
fn left_out_note(missing: usize) -> String {
    format!(
        "[opsdeck: {missing} earlier turn{} left out of this conversation to fit the model's context; ask again about anything from them]",
        if missing == 1 { " was" } else { "s were" }
    )
}

/// One turn as messages at a level of detail. Every turn but an open one ends
/// with an assistant message, so the next question follows an answer.
fn render(turn: &Turn, level: Level) -> Vec<ChatMessage> {
    match level {
        Level::LeftOut => Vec::new(),
        Level::Summarised => summary(turn),
        Level::Verbatim | Level::Clipped => {
            let mut messages = vec![ChatMessage::User(turn.question.clone())];
            for round in &turn.rounds {
                let calls = round
                    .calls
                    .iter()
                    .map(|c| CallRequest {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        arguments: c.arguments.clone(),
                    })
                    .collect();
                messages.push(ChatMessage::Assistant {
                    text: round.text.clone(),
                    calls,
                });
                for call in &round.calls {
                    let result = call.result.as_deref().unwrap_or(super::CANCELLED_RESULT);
                    let content = if level == Level::Clipped {
                        clip_result(result)
                    } else {
                        result.to_string()
                    };
                    messages.push(ChatMessage::Tool {
                        call_id: call.id.clone(),
                        content,
                    });
                }
            }
            close(turn.end, &mut messages);
            messages
        }
    }
}

/// The ending a finished turn's messages need: its cancelled or failed note,
/// and an answer after the last tool results.
fn close(end: TurnEnd, messages: &mut Vec<ChatMessage>) {
    let note = match end {
        TurnEnd::Open => return,
        TurnEnd::Answered => None,
        TurnEnd::Failed => Some("[this answer ended on an error and may be incomplete]"),
        TurnEnd::Cancelled => Some("[cancelled by the engineer before the answer was complete]"),
    };
    match messages.last_mut() {
        Some(ChatMessage::Assistant { text, calls }) if calls.is_empty() => {
            if let Some(note) = note {
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                text.push_str(note);
            } else if text.trim().is_empty() {
                text.push_str("(no answer text)");
            }
        }
        _ => messages.push(ChatMessage::Assistant {
            text: note.unwrap_or("(no answer text)").to_string(),
            calls: Vec::new(),
        }),
    }
}

/// An earlier result cut to [`CLIPPED_RESULT_CHARS`], with a marker.
fn clip_result(result: &str) -> String {
    let chars = result.chars().count();
    if chars <= CLIPPED_RESULT_CHARS {
        return result.to_string();
    }
    let kept: String = result.chars().take(CLIPPED_RESULT_CHARS).collect();
    format!(
        "{kept}\n[earlier result clipped: {} chars → {}; call the tool again for the full result]",
        grouped(chars),
        grouped(CLIPPED_RESULT_CHARS)
    )
}

/// `18400` as `18 400`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A whole turn in one line each for the question and the answer.
fn summary(turn: &Turn) -> Vec<ChatMessage> {
    let tools: Vec<String> = turn
        .calls()
        .map(|c| format!("{} {}", c.name, clip(&c.arguments, 120)))
        .collect();
    let ending = match turn.end {
        TurnEnd::Cancelled => " (cancelled)",
        TurnEnd::Failed => " (ended on an error)",
        TurnEnd::Answered | TurnEnd::Open => "",
    };
    let answer = turn
        .answer()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        ChatMessage::User(clip(&turn.question, SUMMARY_QUESTION_CHARS)),
        ChatMessage::Assistant {
            text: format!(
                "[earlier turn summarised to fit the context{ending}; tools called: {}; answer: {}]",
                if tools.is_empty() {
                    "none".to_string()
                } else {
                    tools.join("; ")
                },
                clip(&answer, SUMMARY_ANSWER_CHARS)
            ),
            calls: Vec::new(),
        },
    ]
}
