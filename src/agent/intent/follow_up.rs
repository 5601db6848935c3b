//! Follow-up questions for the offline agent: "and downstream?", "rerun it",
//! "what about yesterday?" name nothing themselves; they mean the pipeline,
//! run or secret the conversation last discussed, and (for a new window) the
//! last kind of question. The subject is read from the tool calls of earlier
//! turns (their arguments, and the pipeline a triage found), so a turn the
//! LLM answered, or one restored from a trace, counts as much as one the
//! offline agent answered.

use serde_json::Value;

use super::{Intent, Vocabulary, find_name, find_run_id, find_window, has_any, recognise};
use crate::agent::conversation::Turn;

/// What the conversation so far is about.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    pub pipeline: Option<String>,
    pub run_id: Option<String>,
    pub secret: Option<String>,
    /// The last question that had a subject or a window, as an intent.
    pub last: Option<Intent>,
}

impl Context {
    /// The subject of the newest turns that have one, from their tool calls.
    pub fn from_turns(turns: &[Turn]) -> Context {
        let mut context = Context::default();
        for turn in turns.iter().rev() {
            for call in turn.calls() {
                let arguments: Value = serde_json::from_str(&call.arguments).unwrap_or(Value::Null);
                let text = |key: &str| arguments.get(key).and_then(Value::as_str).map(String::from);
                let mut pipeline = text("pipeline");
                let mut run_id = text("run_id");
                if tool_name(&call.name) == "triage_run"
                    && let Some(found) = call.result.as_deref().and_then(triaged)
                {
                    pipeline = pipeline.or(Some(found.0));
                    run_id = run_id.or(Some(found.1));
                }
                let secret = text("secret");
                if context.pipeline.is_none()
                    && context.run_id.is_none()
                    && context.secret.is_none()
                {
                    context.pipeline = pipeline.clone();
                    context.run_id = run_id.clone();
                    context.secret = secret.clone();
                }
                if context.last.is_none() {
                    context.last = as_intent(&call.name, &arguments, pipeline, run_id, secret);
                }
            }
            if context.last.is_some() && context.has_subject() {
                break;
            }
        }
        context
    }

    fn has_subject(&self) -> bool {
        self.pipeline.is_some() || self.run_id.is_some() || self.secret.is_some()
    }
}

/// `server__tool` (two servers offering one name) as `tool`.
fn tool_name(exposed: &str) -> &str {
    exposed.rsplit("__").next().unwrap_or(exposed)
}

/// The pipeline and run a triage result names (its JSON follows the summary).
fn triaged(result: &str) -> Option<(String, String)> {
    let json = &result[result.find('{')?..];
    let value: Value = serde_json::Deserializer::from_str(json)
        .into_iter::<Value>()
        .next()?
        .ok()?;
    Some((
        value.get("pipeline")?.as_str()?.to_string(),
        value.get("run_id")?.as_str()?.to_string(),
    ))
}

/// The question an earlier call answered.
fn as_intent(
    tool: &str,
    arguments: &Value,
    pipeline: Option<String>,
    run_id: Option<String>,
    secret: Option<String>,
) -> Option<Intent> {
    let text = |key: &str| arguments.get(key).and_then(Value::as_str).map(String::from);
    Some(match tool_name(tool) {
        "triage_run" | "get_run_details" => Intent::WhyFailed { pipeline, run_id },
        "get_pipeline_status" => Intent::Status {
            pipeline: pipeline?,
        },
        "get_pipeline_dependencies" => Intent::Downstream {
            pipeline: pipeline?,
        },
        "rerun_pipeline" => Intent::Rerun {
            pipeline: pipeline?,
        },
        "get_secret_usage" => Intent::SecretImpact { secret: secret? },
        "get_failed_tasks_summary" => Intent::WhatIsFailing {
            since: text("since").unwrap_or_else(|| "24h".into()),
            until: text("until"),
            pipeline,
        },
        "summarize_error_logs" => Intent::SummarizeErrors {
            since: text("since").unwrap_or_else(|| "6h".into()),
            pipeline,
        },
        _ => return None,
    })
}

const DOWNSTREAM: &[&str] = &[
    "downstream",
    "break",
    "blast radius",
    "impact",
    "affect",
    "depend",
];
const RERUN: &[&str] = &[
    "rerun",
    "re-run",
    "retry",
    "restart",
    "run it again",
    "run again",
];
const REFERENCES: &[&str] = &[
    "it", "its", "that", "this", "them", "those", "same", "there",
];

/// A window with an end: "yesterday" is the day before the last 24 hours.
fn find_range(question: &str) -> Option<(String, Option<String>)> {
    if question.to_lowercase().contains("yesterday") {
        return Some(("48h".into(), Some("24h".into())));
    }
    find_window(question).map(|since| (since, None))
}

/// Whether the question refers back instead of naming what it is about.
fn refers_back(question: &str) -> bool {
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().any(|w| REFERENCES.contains(w))
        || matches!(words.first(), Some(&"and" | &"also"))
        || lower.trim_start().starts_with("what about")
        || lower.trim_start().starts_with("how about")
        || has_any(question, DOWNSTREAM)
        || has_any(question, RERUN)
}

/// Reads a question against the conversation. `None`: the question stands on
/// its own (it names its subject, or does not refer back). `Some(Err)`: it
/// refers back, but the conversation has nothing it could mean.
pub fn recognise_follow_up(
    question: &str,
    vocabulary: &Vocabulary,
    context: &Context,
) -> Option<Result<Intent, String>> {
    let names_its_own = find_name(question, &vocabulary.pipelines).is_some()
        || find_name(question, &vocabulary.secrets).is_some()
        || find_run_id(question).is_some();
    if names_its_own || !refers_back(question) {
        return None;
    }
    let nothing = |example: &str| {
        Err(format!(
            "\"{}\" refers to something asked before, but this conversation has not named a {example} yet. Name it, e.g. \"{}\".",
            crate::support::text::clip(question.trim(), 80),
            match example {
                "secret" => "what breaks if adls-sp-client-secret expires?",
                _ => "why did transform_sales fail?",
            }
        ))
    };
    let last_was_secret = matches!(context.last, Some(Intent::SecretImpact { .. }));
    if has_any(question, RERUN) {
        return Some(match &context.pipeline {
            Some(pipeline) => Ok(Intent::Rerun {
                pipeline: pipeline.clone(),
            }),
            None => nothing("pipeline"),
        });
    }
    if has_any(question, DOWNSTREAM) {
        return Some(match (&context.secret, &context.pipeline) {
            (Some(secret), _) if last_was_secret || context.pipeline.is_none() => {
                Ok(Intent::SecretImpact {
                    secret: secret.clone(),
                })
            }
            (_, Some(pipeline)) => Ok(Intent::Downstream {
                pipeline: pipeline.clone(),
            }),
            _ => nothing("pipeline"),
        });
    }
    if let Some((since, until)) = find_range(question) {
        return Some(Ok(match &context.last {
            Some(Intent::SummarizeErrors { pipeline, .. }) => Intent::SummarizeErrors {
                since,
                pipeline: pipeline.clone(),
            },
            _ => Intent::WhatIsFailing {
                since,
                until,
                pipeline: context.pipeline.clone(),
            },
        }));
    }
    // "why did it fail?", "show its logs": the question with its subject put back.
    let subject = context
        .run_id
        .as_ref()
        .filter(|_| has_any(question, &["run"]))
        .or(context.pipeline.as_ref())
        .or(context.secret.as_ref())
        .or(context.run_id.as_ref());
    Some(match subject {
        Some(subject) => Ok(recognise(&format!("{question} {subject}"), vocabulary)),
        None => nothing("pipeline, run or secret"),
    })
}

#[cfg(test)]
mod tests;
