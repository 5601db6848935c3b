use super::*;
use crate::mcp::catalog::build;
use rmcp::model::{Tool, ToolAnnotations};
use serde_json::json;
use std::sync::Arc;

fn annotated(name: &str, annotations: Option<ToolAnnotations>, description: &str) -> CatalogTool {
    let schema = json!({"type": "object", "properties": {"dry_run": {"type": "boolean", "description": "Default true"}}});
    let mut t = Tool::new(
        name.to_string(),
        description.to_string(),
        Arc::new(schema.as_object().cloned().unwrap()),
    );
    t.annotations = annotations;
    build(&[("srv".into(), vec![t])]).remove(0)
}

fn tool(name: &str, destructive: bool, description: &str) -> CatalogTool {
    annotated(
        name,
        Some(ToolAnnotations::from_raw(
            None,
            Some(!destructive),
            Some(destructive),
            None,
            None,
        )),
        description,
    )
}

const TRUSTED: Standing = Standing {
    trusted: true,
    read_only: false,
    always_allow: &[],
};
const UNTRUSTED: Standing = Standing {
    trusted: false,
    read_only: false,
    always_allow: &[],
};

fn pre(text: &str) -> PreApproval {
    text.parse::<PreApproval>().unwrap().bind(&["srv"]).unwrap()
}

#[test]
fn an_approval_is_bound_to_one_server() {
    let bare: PreApproval = "rerun:{}".parse().unwrap();
    let err = bare.clone().bind(&["a", "b"]).unwrap_err();
    assert!(err.contains("SERVER/rerun"), "{err}");
    assert_eq!(
        bare.clone().bind(&["a"]).unwrap().server.as_deref(),
        Some("a")
    );
    let named: PreApproval = "b/rerun:{}".parse().unwrap();
    assert_eq!(
        named.clone().bind(&["a", "b"]).unwrap().server.as_deref(),
        Some("b")
    );
    assert!(named.bind(&["a"]).unwrap_err().contains("not configured"));
    let other_server = r#"other/rerun:{"dry_run":false}"#
        .parse::<PreApproval>()
        .unwrap()
        .bind(&["other", "srv"])
        .unwrap();
    let mut policy = ApprovalPolicy::new(false, vec![other_server]);
    assert!(
        matches!(
            policy.judge(
                &tool("rerun", true, "d"),
                &json!({"dry_run": false}),
                TRUSTED
            ),
            Verdict::NeedsApproval(_)
        ),
        "another server's approval does not count"
    );
}

#[test]
fn reads_are_allowed_and_destructive_calls_need_approval() {
    let mut policy = ApprovalPolicy::new(false, vec![]);
    assert_eq!(
        policy.judge(&tool("read", false, "d"), &json!({}), TRUSTED),
        Verdict::Allow
    );
    let verdict = policy.judge(
        &tool("rerun", true, "d"),
        &json!({"dry_run": false}),
        TRUSTED,
    );
    assert!(
        matches!(&verdict, Verdict::NeedsApproval(a) if a.reason.contains("destructive") && !a.session_allowable())
    );
}

#[test]
fn an_untrusted_server_is_asked_every_call_whatever_its_annotations_say() {
    let mut policy = ApprovalPolicy::new(false, vec![]);
    for claimed in [
        tool("wipe_table", false, "says it only reads"),
        annotated("drop_table", None, "says nothing"),
    ] {
        let verdict = policy.judge(&claimed, &json!({"table": "orders"}), UNTRUSTED);
        assert!(
            matches!(&verdict, Verdict::NeedsApproval(a) if a.kind == AskKind::Untrusted && a.reason.contains("not marked trusted")),
            "{verdict:?}"
        );
    }
}

#[test]
fn a_dry_run_on_a_trusted_server_is_a_preview_but_not_on_an_untrusted_one() {
    let mut policy = ApprovalPolicy::new(false, vec![]);
    assert_eq!(
        policy.judge(
            &tool("rerun", true, "d"),
            &json!({"dry_run": true}),
            TRUSTED
        ),
        Verdict::Allow
    );
    assert_eq!(
        policy.judge(&tool("rerun", true, "d"), &json!({}), TRUSTED),
        Verdict::Allow,
        "dry_run defaults to true"
    );
    let untrusted = policy.judge(
        &tool("rerun", true, "d"),
        &json!({"dry_run": true}),
        UNTRUSTED,
    );
    assert!(
        matches!(untrusted, Verdict::NeedsApproval(_)),
        "an untrusted server's word is not taken"
    );
}

#[test]
fn the_operator_may_allow_an_untrusted_tool_but_its_destructive_claim_still_counts() {
    let allow = ["search".to_string(), "drop".to_string()];
    let standing = Standing {
        always_allow: &allow,
        ..UNTRUSTED
    };
    let mut policy = ApprovalPolicy::new(false, vec![]);
    assert_eq!(
        policy.judge(&annotated("search", None, "d"), &json!({}), standing),
        Verdict::Allow
    );
    assert!(matches!(
        policy.judge(&tool("drop", true, "d"), &json!({}), standing),
        Verdict::NeedsApproval(a) if a.kind == AskKind::Destructive
    ));
}

#[test]
fn allowed_for_the_session_lasts_until_the_definition_changes() {
    let mut policy = ApprovalPolicy::new(false, vec![]);
    let v1 = annotated("search", None, "v1");
    let first = policy.judge(&v1, &json!({}), UNTRUSTED);
    assert!(matches!(&first, Verdict::NeedsApproval(a) if a.session_allowable()));
    policy.approved(&v1, true);
    assert_eq!(
        policy.judge(&v1, &json!({"q": 1}), UNTRUSTED),
        Verdict::Allow
    );
    let v2 = annotated("search", None, "v2");
    assert!(matches!(
        policy.judge(&v2, &json!({}), UNTRUSTED),
        Verdict::NeedsApproval(a) if a.kind == AskKind::Changed && !a.session_allowable()
    ));
}

#[test]
fn read_only_refuses_and_pre_approval_allows_only_the_exact_call_once() {
    let exact = r#"rerun:{"pipeline":"p","dry_run":false}"#;
    let mut read_only = ApprovalPolicy::new(true, vec![pre(exact)]);
    let call = json!({"pipeline": "p", "dry_run": false});
    assert!(matches!(
        read_only.judge(&tool("rerun", true, "d"), &call, TRUSTED),
        Verdict::Refuse(_)
    ));
    let mut approved = ApprovalPolicy::new(false, vec![pre(exact)]);
    let other = json!({"pipeline": "q", "dry_run": false});
    assert!(
        matches!(
            approved.judge(&tool("rerun", true, "d"), &other, TRUSTED),
            Verdict::NeedsApproval(_)
        ),
        "other arguments are not approved"
    );
    let extra = json!({"pipeline": "p", "dry_run": false, "from_failed_activity": false});
    assert!(matches!(
        approved.judge(&tool("rerun", true, "d"), &extra, TRUSTED),
        Verdict::NeedsApproval(_)
    ));
    let mut with_approver = call.clone();
    with_approver["approved_by"] = json!("someone");
    assert_eq!(
        approved.judge(&tool("rerun", true, "d"), &with_approver, TRUSTED),
        Verdict::PreApproved
    );
    assert!(
        matches!(
            approved.judge(&tool("rerun", true, "d"), &call, TRUSTED),
            Verdict::NeedsApproval(_)
        ),
        "an approval is used once"
    );
    let mut server_ro = ApprovalPolicy::new(false, vec![pre(exact)]);
    let standing = Standing {
        read_only: true,
        ..TRUSTED
    };
    assert!(matches!(
        server_ro.judge(&tool("rerun", true, "d"), &call, standing),
        Verdict::Refuse(_)
    ));
}

#[test]
fn a_bare_tool_name_is_not_an_approval() {
    let err = "rerun_pipeline".parse::<PreApproval>().unwrap_err();
    assert!(
        err.contains("any arguments") && err.contains("rerun_pipeline:{"),
        "{err}"
    );
    assert!("rerun:[1]".parse::<PreApproval>().is_err());
    assert!("rerun:{nope".parse::<PreApproval>().is_err());
    assert!(":{}".parse::<PreApproval>().is_err());
}

#[test]
fn a_changed_definition_needs_approval_again_even_when_pre_approved() {
    let mut policy = ApprovalPolicy::new(false, vec![pre("read:{}")]);
    assert_eq!(
        policy.judge(&tool("read", false, "v1"), &json!({}), TRUSTED),
        Verdict::Allow
    );
    let v2 = tool("read", false, "v2");
    let verdict = policy.judge(&v2, &json!({}), TRUSTED);
    assert!(
        matches!(&verdict, Verdict::NeedsApproval(a) if a.reason.contains("changed its definition"))
    );
    assert!(
        matches!(
            policy.judge(&v2, &json!({}), TRUSTED),
            Verdict::NeedsApproval(_)
        ),
        "still asked until a person approves the new definition"
    );
    policy.approved(&v2, false);
    assert_eq!(policy.judge(&v2, &json!({}), TRUSTED), Verdict::Allow);
}
