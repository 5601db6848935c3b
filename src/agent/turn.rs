//! One turn of the agent — the question, the tool calls, the answer — as
//! `opsdeck ask` and the console both run it: the LLM agent when a provider is
//! configured, the offline agent otherwise. Everything is reported as events,
//! and the turn is recorded into the conversation as it goes.

use tokio::sync::mpsc::UnboundedSender;

use super::conversation::SharedConversation;
use super::events::AgentEvent;
use super::intent::follow_up::Context;
use super::llm::LlmAgent;
use super::offline;
use super::runner::ToolRunner;
use crate::support::sync::lock;

/// Runs a turn to its end and reports `TurnFinished`; true when it answered.
/// The turn is added to `conversation`, with the earlier turns as its context.
pub async fn run(
    llm: Option<&LlmAgent>,
    mode: &str,
    runner: &ToolRunner<'_>,
    conversation: &SharedConversation,
    question: &str,
    events: &UnboundedSender<AgentEvent>,
) -> bool {
    let _ = events.send(AgentEvent::UserMessage {
        text: question.to_string(),
    });
    let _ = events.send(AgentEvent::AgentMode {
        mode: mode.to_string(),
    });
    let (context, turn) = {
        let mut conversation = lock(conversation);
        let context = Context::from_turns(conversation.turns());
        conversation.begin(question);
        (context, conversation.turn_number())
    };
    let outcome = match llm {
        // The LLM agent streams its own text deltas as they arrive.
        Some(agent) => {
            let turn = agent.continue_turn(runner, conversation, events).await;
            if turn.ok {
                Ok(turn.answer)
            } else {
                Err((turn.answer, String::new()))
            }
        }
        None => {
            let answered = offline::answer(runner, question, &context).await;
            record_offline(conversation, turn, &answered);
            match answered.answer {
                Ok(answer) => {
                    offline::stream_answer(&answer, events);
                    Ok(answer)
                }
                Err(message) => Err((String::new(), message)),
            }
        }
    };
    // A turn cancelled (and maybe followed by another) is closed already.
    if let Some(c) = lock(conversation).if_current(turn) {
        c.finish(outcome.is_ok());
    }
    let tool_calls = runner.calls_made();
    match outcome {
        Ok(answer) => {
            let _ = events.send(AgentEvent::TurnFinished {
                answer,
                tool_calls,
                ok: true,
            });
            true
        }
        Err((partial, message)) => {
            if !message.is_empty() {
                let _ = events.send(AgentEvent::Error { message });
            }
            let _ = events.send(AgentEvent::TurnFinished {
                answer: partial,
                tool_calls,
                ok: false,
            });
            false
        }
    }
}

/// The offline agent's calls and answer, as if a model had made them (ids
/// are made up: nothing else pairs them). Its error, too, is what the next
/// turn should know.
fn record_offline(conversation: &SharedConversation, turn: u64, answered: &offline::Answered) {
    let mut guard = lock(conversation);
    let Some(conversation) = guard.if_current(turn) else {
        return;
    };
    for (index, call) in answered.calls.iter().enumerate() {
        let id = format!("offline_{turn}_{}", index + 1);
        conversation.add_call(&id, &call.tool, &call.arguments);
        conversation.set_result(&id, &call.result);
    }
    match &answered.answer {
        Ok(answer) => conversation.add_text(answer),
        Err(message) => conversation.add_text(message),
    }
}
