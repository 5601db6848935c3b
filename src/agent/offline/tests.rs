//! The offline agent reads results as the contract says, and says so when
//! one does not read.

use super::*;
use crate::agent::conversation::Conversation;
use crate::model::contract::{ClusterBrief, Evidence, FailureCategory, FailureGroup};
use crate::model::log::LogLevel;
use crate::model::run::RunStatus;

fn report() -> TriageReport {
    TriageReport {
        run_id: "r-1".into(),
        pipeline: "transform_inventory".into(),
        environment: "prod".into(),
        status: RunStatus::Failed,
        failing_path: Vec::new(),
        category: FailureCategory::ExpiredCredential,
        root_cause: "Key Vault secret adls-sp-client-secret expired".into(),
        root_cause_pipeline: "ingest_inventory".into(),
        confidence: "high".into(),
        evidence: vec![Evidence {
            kind: "error".into(),
            detail: "ingest_inventory/Copy failed with AADSTS7000222".into(),
            tool: "get_run_details".into(),
        }],
        secrets: Vec::new(),
        log_clusters: vec![ClusterBrief {
            template: "token request failed <*>".into(),
            count: 12,
            baseline_count: 0,
            first_seen: None,
            last_seen: None,
            level: LogLevel::Error,
            pipelines: vec!["ingest_inventory".into()],
            sources: Vec::new(),
            examples: vec!["token request failed\nCaused by: AADSTS7000222".into()],
            is_new: true,
            is_spike: false,
            rate_ratio: None,
        }],
        failing_since: None,
        consecutive_failures: 3,
        blast_radius: vec!["publish_sales_mart".into()],
        next_steps: vec!["Rotate the secret".into()],
        gaps: Vec::new(),
        change: None,
    }
}

fn outcome(structured: Option<Value>) -> ToolOutcome {
    ToolOutcome {
        is_error: false,
        for_model: String::new(),
        structured,
        summary: "[sandbox] transform_inventory run r-1 failed".into(),
    }
}

fn renamed(mut value: Value, from: &str, to: &str) -> Value {
    if let Some(object) = value.as_object_mut()
        && let Some(field) = object.remove(from)
    {
        object.insert(to.into(), field);
    }
    value
}

#[test]
fn a_result_in_the_contract_is_answered_from_its_fields() {
    let value = serde_json::to_value(report()).unwrap();
    let (_, read) = typed::<TriageReport>("triage_run", outcome(Some(value))).unwrap();
    let answer = triage_answer(&read.unwrap());
    assert!(
        answer.contains("## Why transform_inventory failed"),
        "{answer}"
    );
    assert!(answer.contains("(high confidence): Key Vault secret adls-sp-client-secret expired"));
    assert!(answer.contains("Run `r-1` (prod), category: expired_credential."));
    assert!(
        answer.contains("- ×12 ERROR: token request failed"),
        "{answer}"
    );
    assert!(answer.contains("  Caused by: AADSTS7000222"));
    assert!(answer.contains("**Blast radius** (1 pipelines): publish_sales_mart"));
    assert!(answer.contains("1. Rotate the secret"));
}

#[test]
fn a_renamed_or_missing_field_is_an_error_that_says_so_not_an_answer_with_blanks() {
    let good = serde_json::to_value(report()).unwrap();
    let moved = renamed(good.clone(), "root_cause", "cause");
    let problem = typed::<TriageReport>("triage_run", outcome(Some(moved))).unwrap_err();
    assert!(
        problem.contains("could not read the result of triage_run")
            && problem.contains("root_cause"),
        "{problem}"
    );
    assert!(problem.contains("its summary said: [sandbox] transform_inventory run r-1 failed"));
    let mut missing = good;
    missing.as_object_mut().unwrap().remove("blast_radius");
    let problem = typed::<TriageReport>("triage_run", outcome(Some(missing))).unwrap_err();
    assert!(problem.contains("blast_radius"), "{problem}");

    let group = FailureGroup {
        pipeline: "ingest_pos_sales".into(),
        activity: "CopyPosToRaw".into(),
        activity_type: "Copy".into(),
        error_code: "2200".into(),
        count: 4,
        first_seen: None,
        last_seen: None,
        sample_message: "blob missing".into(),
        run_ids: Vec::new(),
    };
    let group = renamed(serde_json::to_value(group).unwrap(), "error_code", "code");
    let failures = json!({
        "window_since": "2026-11-23T00:00:00Z", "window_until": "2026-11-23T03:00:00Z",
        "failed_runs": 4, "groups": [group]
    });
    let problem =
        typed::<FailuresResult>("get_failed_tasks_summary", outcome(Some(failures))).unwrap_err();
    assert!(
        problem.contains("get_failed_tasks_summary") && problem.contains("error_code"),
        "{problem}"
    );
}

#[test]
fn no_structured_result_leaves_the_summary_and_a_tool_error_stays_an_error() {
    let (summary, read) = typed::<PipelineStatus>("get_pipeline_status", outcome(None)).unwrap();
    assert!(read.is_none());
    assert!(summary.starts_with("[sandbox]"));
    let failed = ToolOutcome {
        is_error: true,
        ..outcome(None)
    };
    assert!(
        typed::<PipelineStatus>("get_pipeline_status", failed)
            .unwrap_err()
            .starts_with("get_pipeline_status failed: ")
    );
}

#[test]
fn names_and_instants_are_written_as_the_result_writes_them() {
    assert_eq!(wire_name(&FailureCategory::OutOfMemory), "out_of_memory");
    assert_eq!(wire_name(&LogLevel::Warn), "WARN");
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T03:42:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(instant(Some(at), "?"), json!(at).as_str().unwrap());
    assert_eq!(instant(None, "?"), "?");
}

fn estate_names() -> Vocabulary {
    Vocabulary {
        pipelines: vec!["transform_inventory".into(), "ingest_inventory".into()],
        secrets: Vec::new(),
        plans: Vec::new(),
    }
}

/// The context after turns that each made one call (tool, arguments).
fn context_after(calls: &[(&str, &str)]) -> Context {
    let mut conversation = Conversation::default();
    for (tool, arguments) in calls {
        conversation.begin("q");
        conversation.add_call("c", tool, arguments);
        conversation.set_result("c", "x");
        conversation.add_text("answer");
        conversation.finish(true);
    }
    Context::from_turns(conversation.turns())
}

#[test]
fn ordinary_questions_are_answered_as_asked_in_any_conversation() {
    let fresh = Context::default();
    let after_triage = context_after(&[("triage_run", r#"{"pipeline":"transform_inventory"}"#)]);
    for context in [&fresh, &after_triage] {
        let failing = |since: &str| {
            Ok(Intent::WhatIsFailing {
                since: since.into(),
                until: None,
                pipeline: None,
            })
        };
        let ask = |q: &str| intent_for(q, &estate_names(), context);
        assert_eq!(ask("is there anything failing?"), failing("24h"));
        assert_eq!(
            ask("which pipelines are failing right now? list them"),
            failing("24h")
        );
        assert_eq!(ask("are there failures overnight?"), failing("12h"));
        assert_eq!(
            ask("show me everything that failed in the last 24h"),
            failing("24h")
        );
    }
}

#[test]
fn what_changed_after_a_why_question_is_about_that_pipeline_and_yesterday_follows() {
    let after_triage = context_after(&[("triage_run", r#"{"pipeline":"transform_inventory"}"#)]);
    assert_eq!(
        intent_for("what changed?", &estate_names(), &after_triage),
        Ok(Intent::WhatChanged {
            since: "24h".into(),
            until: None,
            pipeline: Some("transform_inventory".into())
        })
    );
    assert_eq!(
        intent_for("why did it break?", &estate_names(), &after_triage),
        Ok(Intent::WhyFailed {
            pipeline: Some("transform_inventory".into()),
            run_id: None
        })
    );
    let after_changes = context_after(&[(
        "what_changed",
        r#"{"since":"6h","pipeline":"transform_inventory"}"#,
    )]);
    assert_eq!(
        intent_for("what about yesterday?", &estate_names(), &after_changes),
        Ok(Intent::WhatChanged {
            since: "48h".into(),
            until: Some("24h".into()),
            pipeline: Some("transform_inventory".into())
        })
    );
    // After "what changed everywhere?", yesterday is everywhere too, though
    // a pipeline was discussed before.
    let everywhere = context_after(&[
        ("triage_run", r#"{"pipeline":"transform_inventory"}"#),
        ("what_changed", r#"{"since":"24h"}"#),
    ]);
    assert_eq!(
        intent_for("what about yesterday?", &estate_names(), &everywhere),
        Ok(Intent::WhatChanged {
            since: "48h".into(),
            until: Some("24h".into()),
            pipeline: None
        })
    );
}

#[test]
fn a_window_with_an_end_reaches_the_tools_as_since_and_until() {
    assert_eq!(
        window_arguments("48h", Some("24h"), Some("transform_inventory")),
        json!({"since": "48h", "until": "24h", "pipeline": "transform_inventory"})
    );
    assert_eq!(window_arguments("6h", None, None), json!({"since": "6h"}));
    assert_eq!(
        window_title("48h", Some("24h"), Some("p")),
        "p, from 48h to 24h ago"
    );
    assert_eq!(window_title("6h", None, None), "last 6h");
}
