//! Recording turns, cancelling them, and fitting them into a budget.

use super::budget::{ChatMessage, estimate};
use super::*;

fn answered(conversation: &mut Conversation, question: &str, result: &str, answer: &str) {
    conversation.begin(question);
    conversation.add_text("Looking. ");
    let id = format!("id-{}", conversation.turns().len());
    conversation.add_calls([(id.as_str(), "triage_run", r#"{"pipeline":"p"}"#)]);
    conversation.set_result(&id, result);
    conversation.add_text(answer);
    conversation.finish(true);
}

/// Every tool message follows an assistant message that made its call.
fn assert_paired(messages: &[ChatMessage]) {
    let mut open: Vec<String> = Vec::new();
    for message in messages {
        match message {
            ChatMessage::Assistant { calls, .. } => {
                assert!(open.is_empty(), "calls without results: {open:?}");
                open = calls.iter().map(|c| c.id.clone()).collect();
            }
            ChatMessage::Tool { call_id, .. } => {
                let at = open.iter().position(|id| id == call_id);
                assert!(at.is_some(), "orphan tool message {call_id}");
                open.remove(at.unwrap());
            }
            ChatMessage::User(_) => assert!(open.is_empty(), "calls without results: {open:?}"),
        }
    }
    assert!(open.is_empty(), "calls without results: {open:?}");
}

#[test]
fn a_turn_becomes_question_calls_results_and_answer() {
    let mut c = Conversation::default();
    answered(
        &mut c,
        "why did p fail?",
        "secret expired",
        "The secret expired.",
    );
    c.begin("and downstream?");
    let fitted = c.messages(Budget::default());
    assert_eq!(
        fitted.messages,
        vec![
            ChatMessage::User("why did p fail?".into()),
            ChatMessage::Assistant {
                text: "Looking. ".into(),
                calls: vec![budget::CallRequest {
                    id: "id-1".into(),
                    name: "triage_run".into(),
                    arguments: r#"{"pipeline":"p"}"#.into()
                }]
            },
            ChatMessage::Tool {
                call_id: "id-1".into(),
                content: "secret expired".into()
            },
            ChatMessage::Assistant {
                text: "The secret expired.".into(),
                calls: vec![]
            },
            ChatMessage::User("and downstream?".into()),
        ]
    );
    assert_eq!(
        c.recent(4),
        [
            "why did p fail?",
            "Looking. The secret expired.",
            "tools called: triage_run"
        ],
        "the tools a turn called stay in view, so they stay offered"
    );
}

#[test]
fn a_cancelled_turn_keeps_finished_results_and_closes_the_rest() {
    let mut c = Conversation::default();
    c.begin("q");
    c.add_calls([("a", "t1", "{}"), ("b", "t2", "{}")]);
    c.set_result("a", "done");
    c.add_text("partial");
    c.cancel();
    let turn = &c.turns()[0];
    assert_eq!(turn.end, TurnEnd::Cancelled);
    let results: Vec<_> = turn.calls().map(|c| c.result.clone().unwrap()).collect();
    assert_eq!(results, ["done", CANCELLED_RESULT]);
    c.begin("next");
    let messages = c.messages(Budget::default()).messages;
    assert_paired(&messages);
    let ChatMessage::Assistant { text, .. } = &messages[4] else {
        panic!("{messages:?}");
    };
    assert!(text.starts_with("partial") && text.contains("cancelled by the engineer"));
    // A turn left open when the next begins is closed as cancelled.
    c.add_calls([("c", "t3", "{}")]);
    c.begin("third");
    assert_eq!(c.turns()[1].end, TurnEnd::Cancelled);
    assert_paired(&c.messages(Budget::default()).messages);
}

#[test]
fn old_results_are_clipped_with_a_marker_before_recent_ones() {
    let mut c = Conversation::default();
    let big = "x".repeat(18_400);
    for i in 0..4 {
        answered(
            &mut c,
            &format!("question {i}"),
            &big,
            &format!("answer {i}"),
        );
    }
    c.begin("now");
    let full = c.messages(Budget { tokens: 1_000_000 });
    assert_eq!(full.clipped_turns, 0);
    let budget = Budget {
        tokens: full.tokens - 4_000,
    };
    let fitted = c.messages(budget);
    assert!(
        fitted.tokens <= budget.tokens,
        "{} > {}",
        fitted.tokens,
        budget.tokens
    );
    assert_paired(&fitted.messages);
    let tools: Vec<&str> = fitted
        .messages
        .iter()
        .filter_map(|m| match m {
            ChatMessage::Tool { content, .. } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tools.len(), 4, "no call lost its result");
    assert!(tools[0].contains(
        "[earlier result clipped: 18 400 chars → 600; call the tool again for the full result]"
    ));
    assert_eq!(tools[3], big, "the latest turn stays verbatim");
    assert_eq!(fitted.summarised_turns, 0);
}

#[test]
fn when_clipping_is_not_enough_whole_turns_are_summarised_then_left_out() {
    let mut c = Conversation::default();
    for i in 0..6 {
        answered(
            &mut c,
            &format!("question {i}"),
            &"y".repeat(3_000),
            &"z".repeat(2_000),
        );
    }
    c.begin("now");
    let fitted = c.messages(Budget { tokens: 1_500 });
    assert!(fitted.summarised_turns > 0, "{fitted:?}");
    assert!(fitted.tokens <= 1_500, "{}", fitted.tokens);
    assert_paired(&fitted.messages);
    let text = format!("{:?}", fitted.messages);
    assert!(text.contains("[earlier turn summarised to fit the context; tools called: triage_run"));
    assert_eq!(
        fitted.messages.last(),
        Some(&ChatMessage::User("now".into()))
    );
    // A budget too small for anything still sends the question, with a note.
    let tiny = c.messages(Budget { tokens: 10 });
    assert_eq!(tiny.left_out_turns, 6);
    let [ChatMessage::User(only)] = tiny.messages.as_slice() else {
        panic!("{tiny:?}");
    };
    assert!(
        only.contains("6 earlier turns were left out") && only.ends_with("now"),
        "{only}"
    );
}

#[test]
fn the_open_turn_is_never_cut() {
    let mut c = Conversation::default();
    c.begin("q");
    c.add_calls([("a", "t", "{}")]);
    let huge = "r".repeat(50_000);
    c.set_result("a", &huge);
    let fitted = c.messages(Budget { tokens: 100 });
    assert!(estimate(&fitted.messages) > 100);
    assert!(matches!(&fitted.messages[2], ChatMessage::Tool { content, .. } if *content == huge));
}

#[test]
fn the_context_setting_is_checked() {
    let none = |_: &str| None;
    assert_eq!(
        ContextSetting::from_env(&none),
        Ok(ContextWindow { tokens: 128_000 })
    );
    let set = |v: &'static str| move |_: &str| Some(v.to_string());
    assert_eq!(
        ContextSetting::from_env(&set("200_000")),
        Ok(ContextWindow { tokens: 200_000 })
    );
    let error = ContextSetting::from_env(&set("lots")).unwrap_err();
    assert!(
        error.contains("OPSDECK_CONTEXT_TOKENS is \"lots\", not a number"),
        "{error}"
    );
    let error = ContextSetting::from_env(&set("99999999999")).unwrap_err();
    assert!(error.contains("out of range"), "{error}");
    assert!(ContextSetting::from_env(&set("10")).is_err());
}

#[test]
fn the_history_gets_what_the_system_prompt_tools_and_answer_leave() {
    let window = ContextWindow { tokens: 128_000 };
    assert_eq!(window.history(0).tokens, 128_000 - 4_096);
    assert_eq!(window.history(30_000).tokens, 128_000 - 30_000 - 4_096);
    assert_eq!(window.history(200_000).tokens, 0, "never below nothing");
    // A small window keeps a quarter for the answer.
    assert_eq!(ContextWindow { tokens: 4_000 }.history(0).tokens, 3_000);
    assert_eq!(Budget { tokens: 10 }.halved().tokens, 5);
}

#[test]
fn tool_results_and_arguments_count_at_three_bytes_a_token_prose_at_four() {
    let prose = estimate(&[ChatMessage::User("a".repeat(1_200))]);
    let data = estimate(&[ChatMessage::Tool {
        call_id: String::new(),
        content: "a".repeat(1_200),
    }]);
    assert_eq!(prose, 300 + 4);
    assert_eq!(data, 400 + 4);
}

#[test]
fn a_long_conversation_keeps_its_last_turns_and_says_how_many_went() {
    let mut c = Conversation::default();
    for i in 0..50_000 {
        answered(&mut c, &format!("question {i}"), "small result", "ok");
    }
    assert_eq!(c.turns().len(), MAX_TURNS);
    assert_eq!(c.dropped_turns(), 50_000 - MAX_TURNS);
    assert_eq!(c.turn_number(), 50_000);
    assert_eq!(
        c.turns()[0].question,
        format!("question {}", 50_000 - MAX_TURNS)
    );
    c.begin("now");
    assert_eq!(c.turns().len(), MAX_TURNS);
    let fitted = c.messages(Budget::default());
    assert_eq!(fitted.dropped_turns, 50_000 - MAX_TURNS + 1);
    assert_paired(&fitted.messages);
    let ChatMessage::User(first) = &fitted.messages[0] else {
        panic!("{:?}", fitted.messages[0]);
    };
    assert!(
        first.starts_with(&format!(
            "[opsdeck: {} earlier turns were left out",
            50_000 - MAX_TURNS + 1
        )),
        "{first}"
    );
    // A small budget: the many turns give way, each step counted once.
    let small = c.messages(Budget { tokens: 2_000 });
    assert!(small.tokens <= 2_000, "{}", small.tokens);
    assert!(small.left_out_turns > 0);
    // `:new` forgets the count too.
    c.clear();
    assert_eq!(c.dropped_turns(), 0);
}

#[test]
fn questions_answers_results_and_arguments_are_bounded_when_recorded() {
    let mut c = Conversation::default();
    c.begin(&"q".repeat(MAX_TEXT_BYTES * 3));
    for _ in 0..100 {
        c.add_text(&"a".repeat(10_000));
    }
    c.add_calls([("x", "t", &*"{".repeat(MAX_ARGUMENT_BYTES + 1))]);
    c.set_result("x", &"r".repeat(MAX_RESULT_BYTES * 2));
    let turn = &c.turns()[0];
    assert!(
        turn.question.len() < MAX_TEXT_BYTES + 200,
        "{}",
        turn.question.len()
    );
    assert!(turn.question.ends_with("more than a turn keeps]"));
    let answer = turn.answer();
    assert!(answer.len() < MAX_TEXT_BYTES + 200, "{}", answer.len());
    assert!(answer.ends_with("longer than a turn keeps]"));
    let call = turn.calls().next().unwrap();
    assert!(call.arguments.len() < 300);
    assert!(call.result.as_ref().unwrap().len() < MAX_RESULT_BYTES + 200);
}

#[test]
fn a_tool_name_the_api_rejects_is_recorded_as_one_it_accepts() {
    let mut c = Conversation::default();
    c.begin("q");
    c.add_calls([("a", "multi_tool_use.parallel", "{}")]);
    c.add_call("b", "", "{}");
    c.set_result("a", "error: no such tool");
    c.set_result("b", "error: no such tool");
    c.finish(true);
    c.begin("next");
    let names: Vec<String> = c
        .messages(Budget::default())
        .messages
        .iter()
        .flat_map(|m| match m {
            ChatMessage::Assistant { calls, .. } => calls.iter().map(|c| c.name.clone()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(names, ["multi_tool_use_parallel", "tool"]);
}

#[test]
fn a_turn_is_summarised_only_when_the_summary_is_shorter() {
    let mut c = Conversation::default();
    // Tiny turns: a summary line is longer than the turn itself.
    for i in 0..6 {
        c.begin(&format!("q{i}"));
        c.add_text("ok");
        c.finish(true);
    }
    c.begin("now");
    let full = c.messages(Budget { tokens: 1_000_000 });
    let fitted = c.messages(Budget {
        tokens: full.tokens - 1,
    });
    assert_eq!(fitted.summarised_turns, 0, "{fitted:?}");
    assert!(fitted.left_out_turns >= 1, "{fitted:?}");
    assert!(!format!("{:?}", fitted.messages).contains("summarised"));
}

#[test]
fn a_late_record_of_a_cancelled_turn_never_lands_in_the_next_one() {
    let mut c = Conversation::default();
    c.begin("first");
    let first = c.turn_number();
    c.cancel();
    c.begin("second");
    // The first turn's task, not yet stopped, records once more.
    if let Some(late) = c.if_current(first) {
        late.add_text("late text of the first turn");
        late.add_calls([("late", "triage_run", "{}")]);
        late.finish(true);
    }
    let second = &c.turns()[1];
    assert_eq!(second.question, "second");
    assert_eq!(second.answer(), "");
    assert_eq!(second.calls().count(), 0);
    assert_eq!(
        second.end,
        TurnEnd::Open,
        "the late finish did not close it"
    );
    let current = c.turn_number();
    c.if_current(current)
        .expect("the open turn records")
        .add_text("the second answer");
    assert_eq!(c.turns()[1].answer(), "the second answer");
}
