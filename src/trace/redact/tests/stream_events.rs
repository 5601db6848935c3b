//! The event side of the stream redactor: what the console and `ask` feed it.

use super::*;

#[test]
fn events_flush_the_held_answer_before_the_turn_moves_on() {
    let mut redactor = StreamRedactor::new();
    let delta = |text: &str| AgentEvent::TextDelta { text: text.into() };
    assert_eq!(
        redactor.redact_event(delta("the key is dapi0123456789abcd")),
        []
    );
    assert_eq!(
        redactor.redact_event(AgentEvent::Usage {
            prompt_tokens: 1,
            completion_tokens: 2
        }),
        [AgentEvent::Usage {
            prompt_tokens: 1,
            completion_tokens: 2
        }],
        "usage may come mid-answer: it passes without a flush"
    );
    assert_eq!(redactor.redact_event(delta("ef0123456789abcdef")), []);
    let finished = AgentEvent::TurnFinished {
        answer: "the key is dapi0123456789abcdef0123456789abcdef".into(),
        tool_calls: 0,
        ok: true,
    };
    let out = redactor.redact_event(finished);
    assert_eq!(
        out,
        [
            delta("the key is [redacted: Databricks token]"),
            AgentEvent::TurnFinished {
                answer: "the key is [redacted: Databricks token]".into(),
                tool_calls: 0,
                ok: true,
            }
        ]
    );
    assert!(redactor.is_idle());
    // A tool call and an error flush too, and are themselves redacted.
    assert_eq!(redactor.redact_event(delta("checking")), []);
    let out = redactor.redact_event(AgentEvent::Error {
        message: "Bearer abcdefghijklmnopqrstu failed".into(),
    });
    assert_eq!(
        out,
        [
            delta("checking"),
            AgentEvent::Error {
                message: "Bearer [redacted: bearer token] failed".into()
            }
        ]
    );
    // A line that may name a secret is held until something else happens.
    assert_eq!(redactor.redact_event(delta("about to call with key ")), []);
    let call = AgentEvent::ToolCallStarted {
        call_id: "c".into(),
        server: "s".into(),
        tool: "t".into(),
        arguments: serde_json::json!({"password": "p4ss"}),
    };
    let out = redactor.redact_event(call);
    assert_eq!(out[0], delta("about to call with key "));
    assert!(
        matches!(&out[1], AgentEvent::ToolCallStarted { arguments, .. } if arguments["password"] == "[redacted: value of password]")
    );
}

#[test]
fn plain_prose_streams_a_word_at_a_time() {
    let mut stream = StreamRedactor::new();
    assert_eq!(stream.push("The run "), "The run ");
    assert_eq!(stream.push("fail"), "");
    assert_eq!(stream.push("ed at 03"), "failed at ");
    assert_eq!(stream.finish(), "03");
}

#[test]
fn prose_that_may_hold_a_secret_waits_for_its_line() {
    for pieces in [
        vec!["It used the pass", "word=hun", "ter2 here.\n"],
        vec![
            "Connect with ",
            "token ghp_",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            " now\n",
        ],
        vec!["see https://user", ":hunter2@db.example.com for it\n"],
    ] {
        let mut stream = StreamRedactor::new();
        let mut shown = String::new();
        for piece in &pieces {
            shown.push_str(&stream.push(piece));
        }
        shown.push_str(&stream.finish());
        assert!(!shown.contains("hunter2"), "{pieces:?} → {shown}");
        assert!(
            !shown.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
            "{pieces:?} → {shown}"
        );
    }
}

#[test]
fn offered_tool_names_are_redacted_like_any_text_from_a_server() {
    let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    let offered = event(AgentEvent::ToolsOffered {
        offered: vec!["triage_run".into(), token.into()],
        left_out: 4,
    });
    let AgentEvent::ToolsOffered { offered, left_out } = offered else {
        panic!("the event kind changed");
    };
    assert_eq!(offered[0], "triage_run");
    assert!(!offered[1].contains(token), "{}", offered[1]);
    assert_eq!(left_out, 4);
}
