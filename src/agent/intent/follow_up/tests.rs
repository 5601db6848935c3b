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
            until: None,
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

fn vocab_with_inventory() -> Vocabulary {
    let mut vocabulary = vocab();
    vocabulary.pipelines.push("transform_inventory".into());
    vocabulary
}

fn after_inventory_triage() -> Context {
    context_after("triage_run", r#"{"pipeline":"transform_inventory"}"#, "x")
}

#[test]
fn ordinary_questions_in_a_fresh_conversation_stand_alone() {
    let empty = Context::default();
    for question in [
        "is there anything failing?",
        "are there failures overnight?",
        "which pipelines are failing right now? list them",
        "show me everything that failed in the last 24h",
        "what is the impact of the outage?",
        "is it just me, or is everything failing?",
        "which pipelines failed this morning?",
        "list the pipelines that depend on nothing",
    ] {
        assert_eq!(
            recognise_follow_up(question, &vocab_with_inventory(), &empty),
            None,
            "{question}"
        );
    }
}

#[test]
fn ordinary_questions_after_a_triage_are_not_scoped_to_its_pipeline() {
    let context = after_inventory_triage();
    for question in [
        "is there anything failing?",
        "which pipelines are failing right now? list them",
        "are there failures overnight?",
        "show me everything that failed in the last 24h",
        "list the pipelines",
        "which secrets expire soon?",
        "what changed?",
    ] {
        assert_eq!(
            recognise_follow_up(question, &vocab_with_inventory(), &context),
            None,
            "{question}"
        );
    }
}

#[test]
fn a_pronoun_pointing_back_is_a_follow_up_about_the_subject() {
    let context = after_inventory_triage();
    let follow = |q: &str| recognise_follow_up(q, &vocab_with_inventory(), &context);
    let why = Some(Ok(Intent::WhyFailed {
        pipeline: Some("transform_inventory".into()),
        run_id: None,
    }));
    assert_eq!(
        follow("why did it break?"),
        why,
        "break with why is a cause"
    );
    assert_eq!(follow("why did that fail?"), why);
    assert_eq!(follow("what caused it?"), why);
    let downstream = Some(Ok(Intent::Downstream {
        pipeline: "transform_inventory".into(),
    }));
    assert_eq!(follow("what does it break?"), downstream);
    assert_eq!(follow("what else breaks?"), downstream);
    assert_eq!(follow("does anything depend on it?"), downstream);
    assert_eq!(follow("what is the blast radius?"), downstream);
    assert_eq!(
        follow("show its logs"),
        Some(Ok(Intent::SummarizeErrors {
            since: "6h".into(),
            until: None,
            pipeline: Some("transform_inventory".into())
        }))
    );
    assert_eq!(
        follow("retry that run"),
        Some(Ok(Intent::Rerun {
            pipeline: "transform_inventory".into()
        }))
    );
    assert_eq!(
        follow("and the logs?"),
        Some(Ok(Intent::SummarizeErrors {
            since: "6h".into(),
            until: None,
            pipeline: Some("transform_inventory".into())
        }))
    );
}

#[test]
fn what_about_yesterday_after_what_changed_is_what_changed_yesterday() {
    let context = context_after(
        "what_changed",
        r#"{"since":"6h","pipeline":"transform_inventory"}"#,
        "x",
    );
    assert_eq!(
        context.last,
        Some(Intent::WhatChanged {
            since: "6h".into(),
            until: None,
            pipeline: Some("transform_inventory".into())
        })
    );
    let expected = Some(Ok(Intent::WhatChanged {
        since: "48h".into(),
        until: Some("24h".into()),
        pipeline: Some("transform_inventory".into()),
    }));
    assert_eq!(
        recognise_follow_up("what about yesterday?", &vocab_with_inventory(), &context),
        expected
    );
    assert_eq!(
        recognise_follow_up("and yesterday?", &vocab_with_inventory(), &context),
        expected
    );
    // Changes everywhere stay everywhere over the new window.
    let everywhere = context_after("what_changed", r#"{"since":"24h"}"#, "x");
    assert_eq!(
        recognise_follow_up("what about the last 3 days?", &vocab(), &everywhere),
        Some(Ok(Intent::WhatChanged {
            since: "3d".into(),
            until: None,
            pipeline: None
        }))
    );
    // A window given as from/to reads too.
    let ranged = context_after(
        "opsdeck__what_changed",
        r#"{"from":"2026-11-22T00:00:00Z","to":"2026-11-23T00:00:00Z"}"#,
        "x",
    );
    assert_eq!(
        ranged.last,
        Some(Intent::WhatChanged {
            since: "2026-11-22T00:00:00Z".into(),
            until: Some("2026-11-23T00:00:00Z".into()),
            pipeline: None
        })
    );
}

#[test]
fn a_window_after_a_failure_list_keeps_its_scope() {
    let context = context_after("get_failed_tasks_summary", r#"{"since":"24h"}"#, "x");
    assert_eq!(
        recognise_follow_up("what about yesterday?", &vocab(), &context),
        Some(Ok(Intent::WhatIsFailing {
            since: "48h".into(),
            until: Some("24h".into()),
            pipeline: None
        }))
    );
}
