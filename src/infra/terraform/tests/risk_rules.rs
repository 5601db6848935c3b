//! The generic risk rules, headline and serialisation, on small inline plans.

use serde_json::{Value, json};

use super::super::{
    ChangeKind, PlanSummary, RiskyChange, Severity, TerraformPlan, explain_action_reason,
    parse_plan, render_path, summarize,
};

/// A resource change entry; `extra` is merged over the defaults.
fn entry(address: &str, actions: &[&str], extra: Value) -> Value {
    let (mode, rest) = match address.strip_prefix("data.") {
        Some(rest) => ("data", rest),
        None => ("managed", address),
    };
    let (resource_type, name) = rest.split_once('.').unwrap();
    let mut e = json!({
        "address": address, "mode": mode, "type": resource_type, "name": name,
        "change": {"actions": actions, "before": {"id": "1", "tier": "a"},
                   "after": {"id": "1", "tier": "b"}, "after_unknown": {}}
    });
    if let (Value::Object(e), Value::Object(extra)) = (&mut e, extra) {
        e.extend(extra);
    }
    e
}

fn plan_of(entries: Vec<Value>) -> TerraformPlan {
    let doc = json!({"format_version": "1.2", "resource_changes": entries});
    parse_plan(&doc.to_string()).unwrap()
}

fn summary_of(entries: Vec<Value>) -> PlanSummary {
    summarize(&plan_of(entries))
}

fn risk_of(address: &str, actions: &[&str]) -> Option<RiskyChange> {
    summary_of(vec![entry(address, actions, json!({}))])
        .risky
        .into_iter()
        .next()
}

fn severity_of(address: &str, actions: &[&str]) -> Option<Severity> {
    risk_of(address, actions).map(|r| r.severity)
}

#[test]
fn destroying_or_replacing_a_data_store_is_high() {
    for address in [
        "aws_s3_bucket.raw",
        "azurerm_mssql_database.dw",
        "azurerm_storage_account.lake",
        "azurerm_managed_disk.data",
        "google_bigquery_dataset.events",
        "databricks_cluster.etl",
    ] {
        assert_eq!(
            severity_of(address, &["delete"]),
            Some(Severity::High),
            "{address}"
        );
        assert_eq!(
            severity_of(address, &["delete", "create"]),
            Some(Severity::High),
            "{address}"
        );
        assert_eq!(
            severity_of(address, &["create", "delete"]),
            Some(Severity::High),
            "{address}"
        );
    }
}

#[test]
fn destroying_or_replacing_other_managed_resources_is_medium() {
    assert_eq!(
        severity_of("aws_instance.web", &["delete"]),
        Some(Severity::Medium)
    );
    assert_eq!(
        severity_of("null_resource.x", &["delete", "create"]),
        Some(Severity::Medium)
    );
}

#[test]
fn access_rules_are_high_on_delete_and_medium_on_update() {
    for address in [
        "azurerm_role_assignment.reader",
        "azurerm_key_vault_access_policy.adf",
        "azurerm_private_endpoint.blob",
        "azurerm_mssql_firewall_rule.office",
        "azurerm_network_security_rule.https",
        "aws_iam_role_policy.etl",
        // Matches a store too; the access rule wins so updates are Medium.
        "azurerm_storage_account_network_rules.lake",
    ] {
        assert_eq!(
            severity_of(address, &["delete"]),
            Some(Severity::High),
            "{address}"
        );
        assert_eq!(
            severity_of(address, &["update"]),
            Some(Severity::Medium),
            "{address}"
        );
    }
}

#[test]
fn in_place_updates_are_low_for_stores_and_quiet_otherwise() {
    assert_eq!(
        severity_of("azurerm_storage_account.lake", &["update"]),
        Some(Severity::Low)
    );
    assert_eq!(severity_of("aws_instance.web", &["update"]), None);
    assert_eq!(severity_of("aws_s3_bucket.raw", &["create"]), None);
    assert_eq!(severity_of("aws_s3_bucket.raw", &["no-op"]), None);
}

#[test]
fn forgetting_a_resource_is_low() {
    let risk = risk_of("aws_s3_bucket.raw", &["forget"]).unwrap();
    assert_eq!(risk.severity, Severity::Low);
    assert!(risk.why.contains("keeps running"), "{}", risk.why);
}

#[test]
fn data_sources_are_never_risky() {
    let read = entry(
        "data.azurerm_storage_account.lake",
        &["read"],
        json!({"action_reason": "read_because_config_unknown"}),
    );
    let odd_delete = entry("data.aws_iam_policy_document.p", &["delete"], json!({}));
    let summary = summary_of(vec![read, odd_delete]);
    assert!(summary.risky.is_empty());
    assert_eq!(summary.counts.read, 1);
}

#[test]
fn storage_replacement_reads_like_a_sentence() {
    let lake = entry(
        "azurerm_storage_account.lake",
        &["delete", "create"],
        json!({"action_reason": "replace_because_cannot_update"}),
    );
    let mut lake = lake;
    lake["change"]["replace_paths"] = json!([["account_kind"]]);
    let risk = summary_of(vec![lake]).risky.remove(0);
    assert_eq!(risk.forced_by, ["account_kind"]);
    assert_eq!(
        risk.why,
        "replaces azurerm_storage_account.lake (forced by account_kind; the provider cannot \
         change some attributes in place): its data and endpoints are destroyed and recreated \
         (the old one is destroyed before the new one exists)"
    );
}

#[test]
fn create_before_destroy_is_visible_in_kind_and_why() {
    let risk = risk_of("azurerm_storage_account.lake", &["create", "delete"]).unwrap();
    assert_eq!(
        risk.kind,
        ChangeKind::Replace {
            create_before_destroy: true
        }
    );
    let json = serde_json::to_value(&risk).unwrap();
    assert_eq!(json["kind"], "replace_create_before_destroy");
    assert_eq!(json["severity"], "high");
    assert!(
        risk.why.contains("created first, but starts empty"),
        "{}",
        risk.why
    );
}

#[test]
fn risky_changes_sort_by_severity_then_address() {
    let summary = summary_of(vec![
        entry("aws_instance.b", &["delete"], json!({})),
        entry("azurerm_storage_account.z", &["update"], json!({})),
        entry("aws_s3_bucket.y", &["delete"], json!({})),
        entry("aws_instance.a", &["delete"], json!({})),
        entry("aws_s3_bucket.x", &["delete"], json!({})),
    ]);
    let order: Vec<&str> = summary.risky.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(
        order,
        [
            "aws_s3_bucket.x",
            "aws_s3_bucket.y",
            "aws_instance.a",
            "aws_instance.b",
            "azurerm_storage_account.z"
        ]
    );
    assert_eq!(
        summary.headline,
        "Plan: 0 to add, 1 to change, 4 to destroy. 5 risky changes (2 high)."
    );
}

#[test]
fn update_why_lists_changed_attributes() {
    let risk = risk_of("azurerm_role_assignment.reader", &["update"]).unwrap();
    assert_eq!(
        risk.why,
        "updates azurerm_role_assignment.reader (changing tier): who or what can reach the \
         resource may change"
    );
}

#[test]
fn deposed_object_is_named_in_why() {
    let summary = summary_of(vec![entry(
        "aws_s3_bucket.raw",
        &["delete"],
        json!({"deposed": "00000001"}),
    )]);
    assert!(
        summary.risky[0]
            .why
            .starts_with("destroys aws_s3_bucket.raw (deposed object 00000001)")
    );
}

#[test]
fn every_documented_action_reason_has_plain_english() {
    for reason in [
        "replace_because_tainted",
        "replace_because_cannot_update",
        "replace_by_request",
        "replace_by_triggers",
        "delete_because_no_resource_config",
        "delete_because_wrong_repetition",
        "delete_because_count_index",
        "delete_because_each_key",
        "delete_because_no_module",
        "delete_because_no_move_target",
        "read_because_config_unknown",
        "read_because_dependency_pending",
        "read_because_check_nested",
    ] {
        let text = explain_action_reason(reason);
        assert_ne!(
            text,
            reason.replace('_', " "),
            "{reason} has no explanation"
        );
        assert!(!text.contains(reason), "{reason}");
    }
    assert_eq!(
        explain_action_reason("replace_because_moon_phase"),
        "replace because moon phase"
    );
}

#[test]
fn unrecognised_actions_are_kept_counted_and_warned_about() {
    let summary = summary_of(vec![entry(
        "aws_instance.x",
        &["create", "forget"],
        json!({}),
    )]);
    assert_eq!(summary.counts.other, 1);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("aws_instance.x (create,forget)"))
    );
    let plan = plan_of(vec![entry(
        "aws_instance.x",
        &["create", "forget"],
        json!({}),
    )]);
    assert_eq!(
        serde_json::to_value(&plan.resource_changes[0].kind).unwrap(),
        "create,forget"
    );
}

#[test]
fn errored_and_incomplete_plans_say_so() {
    let doc = json!({"format_version": "1.2", "errored": true, "complete": false,
                     "applyable": false, "resource_changes": []});
    let summary = summarize(&parse_plan(&doc.to_string()).unwrap());
    assert!(
        summary.headline.starts_with("Planning FAILED part-way"),
        "{}",
        summary.headline
    );
    assert!(
        summary.headline.contains("Incomplete"),
        "{}",
        summary.headline
    );
    assert_eq!(summary.warnings.len(), 2);
}

#[test]
fn change_kind_labels_round_trip() {
    for actions in [
        vec!["no-op"],
        vec!["create"],
        vec!["read"],
        vec!["update"],
        vec!["delete"],
        vec!["delete", "create"],
        vec!["create", "delete"],
        vec!["forget"],
        vec!["create", "forget"],
    ] {
        let kind = ChangeKind::from_actions(&actions);
        let json = serde_json::to_value(&kind).unwrap();
        assert!(json.is_string());
        assert_eq!(serde_json::from_value::<ChangeKind>(json).unwrap(), kind);
    }
}

#[test]
fn replace_paths_render_as_terraform_paths() {
    assert_eq!(
        render_path(&[json!("network_interface"), json!(0), json!("subnet_id")]),
        "network_interface[0].subnet_id"
    );
    assert_eq!(render_path(&[json!("tags"), json!("env")]), "tags.env");
}

#[test]
fn json_schemas_generate_for_public_outputs() {
    let plan = serde_json::to_value(schemars::schema_for!(TerraformPlan)).unwrap();
    let summary = serde_json::to_value(schemars::schema_for!(PlanSummary)).unwrap();
    assert!(plan.to_string().contains("resource_changes"));
    assert!(
        summary
            .to_string()
            .contains("replace_create_before_destroy")
    );
    assert!(
        !plan.to_string().contains("\"values\""),
        "private values stay out of the schema"
    );
}
