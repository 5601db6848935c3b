//! One turn of the agent — the question, the tool calls, the answer — as
//! `opsdeck ask` and the console both run it: the LLM agent when a provider is
//! configured, the offline agent otherwise. Everything is reported as events.

use tokio::sync::mpsc::UnboundedSender;

use super::events::AgentEvent;
use super::llm::LlmAgent;
use super::offline;
use super::runner::ToolRunner;

/// Runs a turn to its end and reports `TurnFinished`; true when it answered.
pub async fn run(
    llm: Option<&LlmAgent>,
    mode: &str,
    runner: &ToolRunner<'_>,
    question: &str,
    events: &UnboundedSender<AgentEvent>,
) -> bool {
    let _ = events.send(AgentEvent::UserMessage {
        text: question.to_string(),
    });
    let _ = events.send(AgentEvent::AgentMode {
        mode: mode.to_string(),
    });
    let outcome = match llm {
        // The LLM agent streams its own text deltas as they arrive.
        Some(agent) => {
            let turn = agent.run_turn(runner, question, events).await;
            if turn.ok {
                Ok(turn.answer)
            } else {
                Err((turn.answer, String::new()))
            }
        }
        None => match offline::answer(runner, question).await {
            Ok(answer) => {
                offline::stream_answer(&answer, events);
                Ok(answer)
            }
            Err(message) => Err((String::new(), message)),
        },
    };
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
