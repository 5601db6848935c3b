//! What an on-call question asks, recognised without a model: the kind of
//! question and the pipeline, run, secret or time window it names. A question
//! that names none but refers back ("and downstream?", "rerun it") is read
//! against the conversation ([`follow_up`]).

pub mod follow_up;

/// The questions the offline agent answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    WhyFailed {
        pipeline: Option<String>,
        run_id: Option<String>,
    },
    Status {
        pipeline: String,
    },
    /// Failures in a window (`until` None: up to now), of one pipeline or all.
    WhatIsFailing {
        since: String,
        until: Option<String>,
        pipeline: Option<String>,
    },
    SecretImpact {
        secret: String,
    },
    SecretsOverview,
    ExplainPlan {
        plan: Option<String>,
    },
    /// Error logs summarised over a window (`until` None: up to now).
    SummarizeErrors {
        since: String,
        until: Option<String>,
        pipeline: Option<String>,
    },
    Rerun {
        pipeline: String,
    },
    /// What depends on a pipeline: the pipelines downstream of it.
    Downstream {
        pipeline: String,
    },
    /// The changes recorded in a window (`until` None: up to now), of what
    /// one pipeline touches or all.
    WhatChanged {
        since: String,
        until: Option<String>,
        pipeline: Option<String>,
    },
    ListPipelines,
    Help,
}

/// Names the estate knows, to find in a question.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    pub pipelines: Vec<String>,
    pub secrets: Vec<String>,
    pub plans: Vec<String>,
}

/// `transform-sales`, `Transform Sales` and `transform_sales` compare equal.
fn normalize(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| {
            if c == '-' || c == ' ' || c == '.' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The longest known name the question mentions.
pub(super) fn find_name(question: &str, names: &[String]) -> Option<String> {
    let q = normalize(question);
    names
        .iter()
        .filter(|n| q.contains(&normalize(n)))
        .max_by_key(|n| n.len())
        .cloned()
}

/// A GUID-shaped run id (ADF), or a long number (Databricks, Airflow run ids differ but are quoted).
pub(super) fn find_run_id(question: &str) -> Option<String> {
    question
        .split(|c: char| {
            c.is_whitespace() || c == ',' || c == '?' || c == '`' || c == '"' || c == '\''
        })
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-'))
        .find(|w| {
            let parts: Vec<&str> = w.split('-').collect();
            parts.len() == 5
                && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
                && parts
                    .iter()
                    .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .map(str::to_string)
}

/// "last 6 hours", "past 30m", "2 days", "overnight", "today" → a duration for the tools (`6h`).
pub fn find_window(question: &str) -> Option<String> {
    let q = question.to_lowercase();
    if q.contains("overnight") || q.contains("last night") {
        return Some("12h".into());
    }
    if q.contains("today") {
        return Some("24h".into());
    }
    let words: Vec<&str> = q
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for (i, word) in words.iter().enumerate() {
        let (number, unit) = match word.find(|c: char| !c.is_ascii_digit()) {
            Some(0) | None if word.chars().all(|c| c.is_ascii_digit()) => {
                (word.to_string(), words.get(i + 1).copied().unwrap_or(""))
            }
            Some(split) if split > 0 => (word[..split].to_string(), &word[split..]),
            _ => continue,
        };
        let Ok(n) = number.parse::<u32>() else {
            continue;
        };
        let unit = match unit {
            "m" | "min" | "mins" | "minute" | "minutes" => "m",
            "h" | "hr" | "hrs" | "hour" | "hours" => "h",
            "d" | "day" | "days" => "d",
            "w" | "week" | "weeks" => "w",
            _ => continue,
        };
        return Some(format!("{n}{unit}"));
    }
    None
}

pub(super) fn has_any(question: &str, words: &[&str]) -> bool {
    let q = question.to_lowercase();
    words.iter().any(|w| q.contains(w))
}

/// "what changed?", "who changed …", "any recent changes / deployments?".
pub fn asks_what_changed(question: &str) -> bool {
    has_any(
        question,
        &[
            "what changed",
            "what has changed",
            "what's changed",
            "who changed",
            "anything changed",
            "any change",
            "recent change",
            "changes",
            "who deployed",
            "what was deployed",
            "deployments",
            "who touched",
        ],
    )
}

/// Recognises the question. Pipeline and secret names come from the estate.
pub fn recognise(question: &str, vocabulary: &Vocabulary) -> Intent {
    let pipeline = find_name(question, &vocabulary.pipelines);
    let secret = find_name(question, &vocabulary.secrets);
    let run_id = find_run_id(question);
    let window = find_window(question);
    if has_any(
        question,
        &[
            "rerun",
            "re-run",
            "retry",
            "restart",
            "run it again",
            "run again",
        ],
    ) && let Some(pipeline) = pipeline.clone()
    {
        return Intent::Rerun { pipeline };
    }
    if asks_what_changed(question) {
        return Intent::WhatChanged {
            since: window.unwrap_or_else(|| "24h".into()),
            until: None,
            pipeline,
        };
    }
    if let Some(secret) = secret {
        return Intent::SecretImpact { secret };
    }
    if has_any(
        question,
        &[
            "secret",
            "credential",
            "password",
            "key vault",
            "keyvault",
            "expir",
            "rotat",
        ],
    ) {
        return Intent::SecretsOverview;
    }
    if has_any(
        question,
        &[
            "terraform",
            " plan",
            "plan ",
            "infra change",
            "infrastructure change",
        ],
    ) {
        return Intent::ExplainPlan {
            plan: find_name(question, &vocabulary.plans),
        };
    }
    if has_any(
        question,
        &[
            "why",
            "fail",
            "broke",
            "broken",
            "root cause",
            "caused",
            "cause of",
            "what happened",
            "triage",
            "went wrong",
            "error",
        ],
    ) && (pipeline.is_some() || run_id.is_some())
        && !has_any(question, &["summar", "errors in", "error logs", "log"])
    {
        return Intent::WhyFailed { pipeline, run_id };
    }
    if has_any(
        question,
        &["summar", "log", "errors", "exceptions", "warnings"],
    ) {
        return Intent::SummarizeErrors {
            since: window.unwrap_or_else(|| "6h".into()),
            until: None,
            pipeline,
        };
    }
    if let Some(pipeline) = pipeline {
        return Intent::Status { pipeline };
    }
    if has_any(
        question,
        &[
            "fail",
            "broken",
            "broke",
            "down",
            "what's wrong",
            "what is wrong",
            "incident",
            "red",
        ],
    ) {
        return Intent::WhatIsFailing {
            since: window.unwrap_or_else(|| "24h".into()),
            until: None,
            pipeline: None,
        };
    }
    if has_any(question, &["pipelines", "list", "which jobs", "what runs"]) {
        return Intent::ListPipelines;
    }
    Intent::Help
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary {
            pipelines: vec![
                "transform_sales".into(),
                "transform_sales_daily".into(),
                "ingest_pos_sales".into(),
            ],
            secrets: vec!["adls-sp-client-secret".into()],
            plans: vec!["prod-lake-encryption".into()],
        }
    }

    #[test]
    fn why_did_a_pipeline_fail() {
        assert_eq!(
            recognise("why did transform_sales fail?", &vocab()),
            Intent::WhyFailed {
                pipeline: Some("transform_sales".into()),
                run_id: None
            }
        );
        assert_eq!(
            recognise("What broke in Transform Sales Daily last night", &vocab()),
            Intent::WhyFailed {
                pipeline: Some("transform_sales_daily".into()),
                run_id: None
            },
            "the longest matching name wins, spaces match underscores"
        );
    }

    #[test]
    fn a_run_id_is_enough_for_triage() {
        let intent = recognise(
            "why did run 1f006288-efaf-4b39-b054-e55d51a36a94 fail",
            &vocab(),
        );
        assert_eq!(
            intent,
            Intent::WhyFailed {
                pipeline: None,
                run_id: Some("1f006288-efaf-4b39-b054-e55d51a36a94".into())
            }
        );
    }

    #[test]
    fn secrets_plans_status_and_reruns() {
        assert_eq!(
            recognise("what breaks if adls-sp-client-secret expires?", &vocab()),
            Intent::SecretImpact {
                secret: "adls-sp-client-secret".into()
            }
        );
        assert_eq!(
            recognise("which secrets expire soon?", &vocab()),
            Intent::SecretsOverview
        );
        assert_eq!(
            recognise("explain the terraform plan prod-lake-encryption", &vocab()),
            Intent::ExplainPlan {
                plan: Some("prod-lake-encryption".into())
            }
        );
        assert_eq!(
            recognise("status of ingest_pos_sales", &vocab()),
            Intent::Status {
                pipeline: "ingest_pos_sales".into()
            }
        );
        assert_eq!(
            recognise("please rerun ingest_pos_sales", &vocab()),
            Intent::Rerun {
                pipeline: "ingest_pos_sales".into()
            }
        );
    }

    #[test]
    fn windows_and_overviews() {
        assert_eq!(
            recognise("summarise errors in the last 3 hours", &vocab()),
            Intent::SummarizeErrors {
                since: "3h".into(),
                until: None,
                pipeline: None
            }
        );
        assert_eq!(
            recognise("what is failing?", &vocab()),
            Intent::WhatIsFailing {
                since: "24h".into(),
                until: None,
                pipeline: None
            }
        );
        assert_eq!(find_window("past 30m"), Some("30m".into()));
        assert_eq!(find_window("overnight"), Some("12h".into()));
        assert_eq!(recognise("tell me a joke", &vocab()), Intent::Help);
    }

    #[test]
    fn what_changed_questions_with_and_without_a_pipeline() {
        assert_eq!(
            recognise(
                "what changed for ingest_pos_sales in the last 6 hours?",
                &vocab()
            ),
            Intent::WhatChanged {
                since: "6h".into(),
                until: None,
                pipeline: Some("ingest_pos_sales".into())
            }
        );
        assert_eq!(
            recognise("who changed anything overnight?", &vocab()),
            Intent::WhatChanged {
                since: "12h".into(),
                until: None,
                pipeline: None
            }
        );
        assert_eq!(
            recognise("any recent deployments?", &vocab()),
            Intent::WhatChanged {
                since: "24h".into(),
                until: None,
                pipeline: None
            }
        );
    }
}
