//! Follow-up questions for the offline agent: "and downstream?", "rerun it",
//! "what about yesterday?" name nothing themselves; they mean the pipeline,
//! run or secret the conversation last discussed, and (for a new window) the
//! last kind of question. The subject is read from the tool calls of earlier
//! turns (their arguments, and the pipeline a triage found), so a turn the
//! LLM answered, or one restored from a trace, counts as much as one the
//! offline agent answered.

mod wording;

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
            until: text("until"),
            pipeline,
        },
        "what_changed" => Intent::WhatChanged {
            since: text("since")
                .or_else(|| text("from"))
                .unwrap_or_else(|| "24h".into()),
            until: text("until").or_else(|| text("to")),
            pipeline,
        },
        _ => return None,
    })
}

const RERUN: &[&str] = &[
    "rerun",
    "re-run",
    "retry",
    "restart",
    "run it again",
    "run again",
];

/// A window with an end: "yesterday" is the day before the last 24 hours.
fn find_range(question: &str) -> Option<(String, Option<String>)> {
    if question.to_lowercase().contains("yesterday") {
        return Some(("48h".into(), Some("24h".into())));
    }
    find_window(question).map(|since| (since, None))
}

/// Whether a question that stands alone as `alone` still leans on the last
/// one when it carries on from it ("and the logs?", "what about
/// yesterday?"): it asks nothing of its own, or asks about errors or changes
/// without saying whose. A list of what is failing, the pipelines or the
/// secrets needs no subject, so it stands alone.
fn leans_on_the_last(alone: &Intent) -> bool {
    matches!(
        alone,
        Intent::Help
            | Intent::SummarizeErrors { pipeline: None, .. }
            | Intent::WhatChanged { pipeline: None, .. }
    )
}

/// Reads a question against the conversation. `None`: the question stands on
/// its own (it names its subject, or needs none). `Some(Err)`: it refers
/// back, but the conversation has nothing it could mean.
///
/// A question is a follow-up only when it needs a subject it does not have:
/// a pronoun pointing back ("rerun it", "why did it fail", "its logs", "that
/// run"), a rerun, a downstream question with a subject to be downstream of,
/// or a question carrying on from the last ("and …?", "what about …?", a
/// window alone) that asks nothing on its own.
pub fn recognise_follow_up(
    question: &str,
    vocabulary: &Vocabulary,
    context: &Context,
) -> Option<Result<Intent, String>> {
    let names_its_own = find_name(question, &vocabulary.pipelines).is_some()
        || find_name(question, &vocabulary.secrets).is_some()
        || find_run_id(question).is_some();
    if names_its_own {
        return None;
    }
    let words = wording::words_of(question);
    let everywhere = wording::about_everything(&words);
    let points_back = wording::points_back(&words);
    let carries_on = wording::carries_on(&words) && !everywhere;
    let rerun = has_any(question, RERUN) && !everywhere;
    let downstream = wording::asks_downstream(question, &words);
    let alone = recognise(question, vocabulary);
    let window_alone = matches!(alone, Intent::Help) && find_range(question).is_some();
    let follows = points_back
        || rerun
        || (downstream && (carries_on || context.has_subject()))
        || ((carries_on || window_alone) && leans_on_the_last(&alone));
    if !follows {
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
    if rerun {
        return Some(match &context.pipeline {
            Some(pipeline) => Ok(Intent::Rerun {
                pipeline: pipeline.clone(),
            }),
            None => nothing("pipeline"),
        });
    }
    if downstream {
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
        return Some(Ok(in_a_new_window(&alone, context, since, until)));
    }
    // "why did it fail?", "show its logs": the question with its subject put back.
    let subject = context
        .run_id
        .as_ref()
        .filter(|_| has_any(question, &["run"]))
        .or(context.pipeline.as_ref())
        .or(context.secret.as_ref())
        .or(context.run_id.as_ref());
    let Some(subject) = subject else {
        return Some(nothing("pipeline, run or secret"));
    };
    Some(Ok(match alone {
        Intent::SummarizeErrors {
            since,
            until,
            pipeline: None,
        } if context.pipeline.is_some() => Intent::SummarizeErrors {
            since,
            until,
            pipeline: context.pipeline.clone(),
        },
        Intent::WhatChanged {
            since,
            until,
            pipeline: None,
        } if context.pipeline.is_some() => Intent::WhatChanged {
            since,
            until,
            pipeline: context.pipeline.clone(),
        },
        _ => recognise(&format!("{question} {subject}"), vocabulary),
    }))
}

/// A follow-up naming a window: the question it asks (or, asking nothing
/// but the window, the last one), over the new window, about the same
/// subject. Failures of the pipeline discussed when the last question had
/// no window.
fn in_a_new_window(
    alone: &Intent,
    context: &Context,
    since: String,
    until: Option<String>,
) -> Intent {
    let asked = match alone {
        Intent::Help => context.last.as_ref(),
        other => Some(other),
    };
    let own = |pipeline: &Option<String>| pipeline.clone().or_else(|| context.pipeline.clone());
    match asked {
        // The last question's own scope is kept: "what about yesterday?"
        // after "what changed everywhere?" is still everywhere.
        Some(Intent::SummarizeErrors { pipeline, .. }) if matches!(alone, Intent::Help) => {
            Intent::SummarizeErrors {
                since,
                until,
                pipeline: pipeline.clone(),
            }
        }
        Some(Intent::WhatChanged { pipeline, .. }) if matches!(alone, Intent::Help) => {
            Intent::WhatChanged {
                since,
                until,
                pipeline: pipeline.clone(),
            }
        }
        Some(Intent::WhatIsFailing { pipeline, .. }) if matches!(alone, Intent::Help) => {
            Intent::WhatIsFailing {
                since,
                until,
                pipeline: pipeline.clone(),
            }
        }
        // Asked anew without a subject ("and errors in the last 2 days?"):
        // the subject discussed.
        Some(Intent::SummarizeErrors { pipeline, .. }) => Intent::SummarizeErrors {
            since,
            until,
            pipeline: own(pipeline),
        },
        Some(Intent::WhatChanged { pipeline, .. }) => Intent::WhatChanged {
            since,
            until,
            pipeline: own(pipeline),
        },
        _ => Intent::WhatIsFailing {
            since,
            until,
            pipeline: context.pipeline.clone(),
        },
    }
}

#[cfg(test)]
mod tests;
