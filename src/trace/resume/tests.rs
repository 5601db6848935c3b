//! A trace's conversation, as a resumed session gives it to the model.

use super::*;
use crate::agent::conversation::budget::ChatMessage;
use crate::agent::conversation::{Budget, CANCELLED_RESULT, TurnEnd};

/// A console trace as schema 1 writes it (before conversations were kept):
/// a turn with an approval (its preview and a refusal), a reset, two turns,
/// the last cut off by the session's end.
const TRACE: &str = r#"{"type":"header","schema":1,"opsdeck_version":"0.1.0","started_at":"2026-11-23T03:00:00Z","host":"h","process":"console","agent_mode":"gpt-test","read_only":false,"backend":"sandbox","servers":[]}
{"seq":1,"at":"2026-11-23T03:00:01Z","type":"agent","event":{"event":"user_message","text":"forgotten question"}}
{"seq":2,"at":"2026-11-23T03:00:02Z","type":"agent","event":{"event":"turn_finished","answer":"","tool_calls":0,"ok":true}}
{"seq":3,"at":"2026-11-23T03:00:03Z","type":"conversation_reset"}
{"seq":4,"at":"2026-11-23T03:00:04Z","type":"agent","event":{"event":"user_message","text":"why did transform_sales fail?"}}
{"seq":5,"at":"2026-11-23T03:00:05Z","type":"agent","event":{"event":"agent_mode","mode":"gpt-test"}}
{"seq":6,"at":"2026-11-23T03:00:06Z","type":"agent","event":{"event":"tool_call_started","call_id":"call-1","server":"opsdeck","tool":"triage_run","arguments":{"pipeline":"transform_sales"}}}
{"seq":7,"at":"2026-11-23T03:00:07Z","type":"agent","event":{"event":"tool_call_finished","call_id":"call-1","server":"opsdeck","tool":"triage_run","duration_ms":5,"is_error":false,"result":{"content":["summary line","{\"run_id\":\"r-1\"}"],"structured":{"run_id":"r-1"}},"truncated":false}}
{"seq":8,"at":"2026-11-23T03:00:08Z","type":"agent","event":{"event":"approval_needed","call_id":"call-2","server":"opsdeck","tool":"rerun_pipeline","arguments":{"pipeline":"transform_sales","dry_run":false},"reason":"changes the estate"}}
{"seq":9,"at":"2026-11-23T03:00:09Z","type":"agent","event":{"event":"tool_call_started","call_id":"call-2-preview","server":"opsdeck","tool":"rerun_pipeline","arguments":{"pipeline":"transform_sales","dry_run":true}}}
{"seq":10,"at":"2026-11-23T03:00:10Z","type":"agent","event":{"event":"tool_call_finished","call_id":"call-2-preview","server":"opsdeck","tool":"rerun_pipeline","duration_ms":5,"is_error":false,"result":{"content":["would rerun"]},"truncated":false}}
{"seq":11,"at":"2026-11-23T03:00:11Z","type":"agent","event":{"event":"approval_decided","call_id":"call-2","approved":false,"by":"user","reason":"changes the estate"}}
{"seq":12,"at":"2026-11-23T03:00:12Z","type":"agent","event":{"event":"tool_call_finished","call_id":"call-2","server":"","tool":"rerun_pipeline","duration_ms":0,"is_error":true,"result":"not approved","truncated":false}}
{"seq":13,"at":"2026-11-23T03:00:13Z","type":"agent","event":{"event":"text_delta","text":"The secret expired."}}
{"seq":14,"at":"2026-11-23T03:00:14Z","type":"agent","event":{"event":"turn_finished","answer":"The secret expired.","tool_calls":2,"ok":true}}
{"seq":15,"at":"2026-11-23T03:00:15Z","type":"agent","event":{"event":"user_message","text":"and downstream?"}}
{"seq":16,"at":"2026-11-23T03:00:16Z","type":"agent","event":{"event":"tool_call_started","call_id":"call-3","server":"opsdeck","tool":"get_pipeline_dependencies","arguments":{"pipeline":"transform_sales"}}}
{"seq":17,"at":"2026-11-23T03:00:17Z","type":"session_end","reason":"quit"}
"#;

#[test]
fn a_trace_gives_its_turns_after_the_last_reset() {
    let trace = reader::read(TRACE.as_bytes()).unwrap();
    assert!(trace.skipped.is_empty(), "{:?}", trace.skipped);
    let conversation = conversation(&trace, 16 * 1024);
    let turns = conversation.turns();
    assert_eq!(turns.len(), 2, "{turns:?}");
    assert_eq!(turns[0].question, "why did transform_sales fail?");
    assert_eq!(turns[0].end, TurnEnd::Answered);
    let calls: Vec<_> = turns[0].calls().collect();
    assert_eq!(
        calls.len(),
        2,
        "the preview is not the model's call: {calls:?}"
    );
    assert_eq!(
        calls[0].result.as_deref(),
        Some("summary line\n{\"run_id\":\"r-1\"}")
    );
    assert_eq!(calls[1].name, "rerun_pipeline");
    assert_eq!(
        calls[1].arguments, r#"{"dry_run":false,"pipeline":"transform_sales"}"#,
        "a refused call keeps the arguments it was asked with"
    );
    assert_eq!(calls[1].result.as_deref(), Some("not approved"));
    assert_eq!(turns[0].answer(), "The secret expired.");
    // Ids of their own: a live session numbers its calls from call-1 again.
    let ids: Vec<&str> = turns
        .iter()
        .flat_map(|t| t.calls().map(|c| c.id.as_str()))
        .collect();
    assert_eq!(ids, ["resumed-1", "resumed-2", "resumed-3"]);
    let carried = carried_events(&trace);
    assert!(matches!(&carried[0], AgentEvent::UserMessage { text } if text.starts_with("why")));
    let preview = carried.iter().any(|e| {
        matches!(e, AgentEvent::ToolCallStarted { call_id, .. } if call_id == "resumed-2-preview")
    });
    assert!(preview, "{carried:?}");
    assert_eq!(turns[1].end, TurnEnd::Cancelled);
    assert_eq!(
        turns[1].calls().next().unwrap().result.as_deref(),
        Some(CANCELLED_RESULT)
    );
    let mut resumed = conversation.clone();
    resumed.begin("rerun it");
    let messages = resumed.messages(Budget::default()).messages;
    assert_eq!(
        messages.first(),
        Some(&ChatMessage::User("why did transform_sales fail?".into()))
    );
    let tool_messages = messages
        .iter()
        .filter(|m| matches!(m, ChatMessage::Tool { .. }))
        .count();
    assert_eq!(tool_messages, 3);
}

#[test]
fn results_are_cut_to_the_model_cap_and_errors_keep_their_text() {
    let long = Value::Object(
        [("content".to_string(), Value::from(vec!["a".repeat(5_000)]))]
            .into_iter()
            .collect(),
    );
    let text = for_model(&long, false, 1_000);
    assert!(text.starts_with("aaa") && text.contains("truncated: 1000 of 5000 bytes"));
    let cut = Value::String("{\"content\":[\"x".into());
    assert_eq!(for_model(&cut, true, 1_000), "{\"content\":[\"x");
}

#[test]
fn a_missing_file_says_where_traces_are() {
    let error = load(Path::new("/nonexistent/trace.jsonl"), 1024).unwrap_err();
    assert!(
        error.contains("cannot open the trace /nonexistent/trace.jsonl"),
        "{error}"
    );
}

/// A trace written by an older opsdeck (or edited by hand): secrets in the
/// question, a split answer, the arguments and the result, escape sequences.
const SECRET_TRACE: &str = r#"{"type":"header","schema":1,"opsdeck_version":"0.0.1","started_at":"2026-11-23T03:00:00Z","host":"h","process":"ask","agent_mode":"gpt-test","read_only":false,"backend":"sandbox","servers":[]}
{"seq":1,"at":"2026-11-23T03:00:01Z","type":"agent","event":{"event":"user_message","text":"is DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net valid? \u001b]52;c;ZXZpbA==\u0007"}}
{"seq":2,"at":"2026-11-23T03:00:02Z","type":"agent","event":{"event":"tool_call_started","call_id":"call-1","server":"opsdeck","tool":"check\u001b[2Jsecret","arguments":{"password":"hunter2-very-secret","url":"https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2BabcdEFG%3D"}}}
{"seq":3,"at":"2026-11-23T03:00:03Z","type":"agent","event":{"event":"tool_call_finished","call_id":"call-1","server":"opsdeck","tool":"check\u001b[2Jsecret","duration_ms":5,"is_error":false,"result":{"content":["conn: password=hunter2-very-secret"]},"truncated":false}}
{"seq":4,"at":"2026-11-23T03:00:04Z","type":"agent","event":{"event":"text_delta","text":"The key is pass"}}
{"seq":5,"at":"2026-11-23T03:00:05Z","type":"agent","event":{"event":"text_delta","text":"word=hunter2-very-secret and it works."}}
{"seq":6,"at":"2026-11-23T03:00:06Z","type":"agent","event":{"event":"turn_finished","answer":"The key is password=hunter2-very-secret and it works.","tool_calls":1,"ok":true}}
"#;

const SECRETS: [&str; 4] = [
    "c2VjcmV0a2V5c2VjcmV0a2V5",
    "hunter2-very-secret",
    "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "\u{1b}",
];

#[test]
fn a_trace_is_redacted_and_neutralised_again_when_resumed() {
    let trace = reader::read(SECRET_TRACE.as_bytes()).unwrap();
    let conversation = conversation(&trace, 16 * 1024);
    let mut next = conversation.clone();
    next.begin("and now?");
    let sent = format!("{:?}", next.messages(Budget::default()).messages);
    let carried = serde_json::to_string(&carried_events(&trace)).unwrap();
    for secret in SECRETS {
        assert!(
            !sent.contains(secret),
            "{secret:?} reaches the model: {sent}"
        );
        assert!(
            !carried.contains(secret),
            "{secret:?} is carried: {carried}"
        );
    }
    assert!(sent.contains("[redacted"), "{sent}");
    let turn = &conversation.turns()[0];
    assert!(turn.answer().contains("[redacted"), "{}", turn.answer());
    assert!(turn.question.contains("\\x1b]52"), "{}", turn.question);
    assert!(
        turn.calls().all(|c| c.name == "check_x1b_2Jsecret"),
        "{:?}",
        turn.calls().collect::<Vec<_>>()
    );
}

#[test]
fn a_long_trace_resumes_its_last_turns_and_says_how_many_were_left_out() {
    let mut text = String::from(SECRET_TRACE.lines().next().unwrap());
    text.push('\n');
    let turns = crate::agent::conversation::MAX_TURNS + 25;
    for i in 0..turns {
        let seq = i * 2 + 1;
        text.push_str(&format!(
            "{{\"seq\":{seq},\"at\":\"2026-11-23T03:00:01Z\",\"type\":\"agent\",\"event\":{{\"event\":\"user_message\",\"text\":\"question {i}\"}}}}\n{{\"seq\":{},\"at\":\"2026-11-23T03:00:01Z\",\"type\":\"agent\",\"event\":{{\"event\":\"turn_finished\",\"answer\":\"\",\"tool_calls\":0,\"ok\":true}}}}\n",
            seq + 1
        ));
    }
    let trace = reader::read(text.as_bytes()).unwrap();
    let resumed = Resumed {
        conversation: conversation(&trace, 1024),
        trace,
    };
    assert_eq!(
        resumed.conversation.turns().len(),
        crate::agent::conversation::MAX_TURNS
    );
    assert_eq!(resumed.conversation.dropped_turns(), 25);
    let said = resumed.describe(Path::new("t.jsonl"));
    assert!(said.contains("25 earlier turns left out"), "{said}");
    let carried = carried_events(&resumed.trace);
    let questions: Vec<&str> = carried
        .iter()
        .filter_map(|e| match e {
            AgentEvent::UserMessage { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(questions.len(), crate::agent::conversation::MAX_TURNS);
    assert_eq!(questions[0], "question 25");
}
