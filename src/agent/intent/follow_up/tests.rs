//! Follow-ups resolve to the conversation's last subject, whoever answered it.

use super::*;
use crate::agent::conversation::Conversation;

fn vocab() -> Vocabulary {
    Vocabulary {
        pipelines: vec!["transform_sales".into(), "ingest_pos_sales".into()],
        secrets: vec!["adls-sp-client-secret".into()],
        plans: Vec::new(),
    }
}

fn turn_with(
    conversation: &mut Conversation,
    question: &str,
    tool: &str,
    arguments: &str,
    result: &str,
) {
    conversation.begin(question);
    conversation.add_call("c", tool, arguments);
    conversation.set_result("c", result);
    conversation.add_text("answer");
    conversation.finish(true);
}

fn context_after(tool: &str, arguments: &str, result: &str) -> Context {
    let mut conversation = Conversation::default();
    turn_with(&mut conversation, "first", tool, arguments, result);
    Context::from_turns(conversation.turns())
}

#[test]
fn downstream_rerun_and_a_new_window_reuse_the_pipeline() {
    let context = context_after("triage_run", r#"{"pipeline":"transform_sales"}"#, "x");
    let follow = |q: &str| recognise_follow_up(q, &vocab(), &context);
    assert_eq!(
        follow("and downstream?"),
        Some(Ok(Intent::Downstream {
            pipeline: "transform_sales".into()
        }))
    );
    assert_eq!(
        follow("what does that break?"),
        Some(Ok(Intent::Downstream {
            pipeline: "transform_sales".into()
        }))
    );
    assert_eq!(
        follow("rerun it"),
        Some(Ok(Intent::Rerun {
            pipeline: "transform_sales".into()
        }))
    );
    assert_eq!(
        follow("what about yesterday?"),
        Some(Ok(Intent::WhatIsFailing {
            since: "48h".into(),
            until: Some("24h".into()),
            pipeline: Some("transform_sales".into())
        }))
    );
    assert_eq!(
        follow("why did it fail?"),
        Some(Ok(Intent::WhyFailed {
            pipeline: Some("transform_sales".into()),
            run_id: None
        }))
    );
    // A question naming its own subject is not a follow-up.
    assert_eq!(follow("rerun ingest_pos_sales"), None);
    assert_eq!(follow("what is failing?"), None);
}

#[test]
fn a_triage_by_run_id_gives_the_pipeline_it_found() {
    let result = r#"[sandbox] run r-9 failed
{"run_id":"r-9","pipeline":"ingest_pos_sales","root_cause":"x"}"#;
    let context = context_after("opsdeck__triage_run", r#"{"run_id":"r-9"}"#, result);
    assert_eq!(context.pipeline.as_deref(), Some("ingest_pos_sales"));
    assert_eq!(context.run_id.as_deref(), Some("r-9"));
    assert_eq!(
        recognise_follow_up("rerun that pipeline", &vocab(), &context),
        Some(Ok(Intent::Rerun {
            pipeline: "ingest_pos_sales".into()
        }))
    );
}

#[test]
fn a_secret_discussed_last_is_what_downstream_means() {
    let context = context_after(
        "get_secret_usage",
        r#"{"secret":"adls-sp-client-secret"}"#,
        "x",
    );
    assert_eq!(
        recognise_follow_up("and downstream?", &vocab(), &context),
        Some(Ok(Intent::SecretImpact {
            secret: "adls-sp-client-secret".into()
        }))
    );
}

#[test]
fn the_window_of_the_last_question_is_replaced() {
    let context = context_after("summarize_error_logs", r#"{"since":"6h"}"#, "x");
    assert_eq!(
        recognise_follow_up("what about the last 2 days?", &vocab(), &context),
        Some(Ok(Intent::SummarizeErrors {
            since: "2d".into(),
            pipeline: None
        }))
    );
}

#[test]
fn a_follow_up_with_nothing_to_refer_to_says_so() {
    let empty = Context::default();
    for question in ["rerun it", "and downstream?", "why did it fail?"] {
        let answer = recognise_follow_up(question, &vocab(), &empty);
        let Some(Err(message)) = answer else {
            panic!("{question}: {answer:?}");
        };
        assert!(message.contains("has not named"), "{message}");
    }
}

#[test]
fn the_newest_subject_wins() {
    let mut conversation = Conversation::default();
    turn_with(
        &mut conversation,
        "a",
        "triage_run",
        r#"{"pipeline":"transform_sales"}"#,
        "x",
    );
    turn_with(
        &mut conversation,
        "b",
        "get_pipeline_status",
        r#"{"pipeline":"ingest_pos_sales"}"#,
        "x",
    );
    turn_with(&mut conversation, "c", "list_pipelines", "{}", "x");
    let context = Context::from_turns(conversation.turns());
    assert_eq!(context.pipeline.as_deref(), Some("ingest_pos_sales"));
    assert_eq!(
        context.last,
        Some(Intent::Status {
            pipeline: "ingest_pos_sales".into()
        })
    );
}
