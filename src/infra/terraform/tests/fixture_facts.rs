//! Specific facts read from each vendored plan.

use serde_json::json;

use super::super::{ChangeKind, Severity, summarize};
use super::*;

#[test]
fn removed_resource_block_is_a_risky_delete_with_reason() {
    let plan = plan_fixture(BASIC_DELETE);
    let deleted = change(&plan, "test_instance.test-delete");
    assert_eq!(deleted.kind, ChangeKind::Delete);
    assert_eq!(
        deleted.action_reason.as_deref(),
        Some("delete_because_no_resource_config")
    );
    assert_eq!(deleted.after_redacted(), None);
    assert_eq!(
        deleted.before_redacted(),
        Some(json!({"ami": "foo", "id": "placeholder"}))
    );

    let updated = change(&plan, "test_instance.test");
    let names: Vec<&str> = updated
        .changed_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["ami"]);

    let summary = summarize(&plan);
    assert_eq!(summary.risky.len(), 1);
    let risky = &summary.risky[0];
    assert_eq!(risky.address, "test_instance.test-delete");
    assert_eq!(
        risky.severity,
        Severity::Medium,
        "test_instance is not a data store"
    );
    assert!(
        risky.why.starts_with("destroys test_instance.test-delete"),
        "{}",
        risky.why
    );
    assert!(
        risky
            .why
            .contains("resource block was removed from the configuration")
    );
    assert_eq!(
        summary.headline,
        "Plan: 0 to add, 1 to change, 1 to destroy. 1 risky change (0 high)."
    );
    assert_eq!(plan.output_changes[0].name, "test");
    assert_eq!(plan.output_changes[0].after_redacted, Some(json!("bar")));
}

#[test]
fn forced_replacement_names_the_forcing_attribute() {
    let plan = plan_fixture(REQUIRES_REPLACE);
    let replaced = change(&plan, "test_instance.test");
    assert_eq!(
        replaced.kind,
        ChangeKind::Replace {
            create_before_destroy: false
        }
    );
    assert_eq!(replaced.replace_paths, vec![vec![json!("ami")]]);
    assert_eq!(
        replaced.action_reason.as_deref(),
        Some("replace_because_cannot_update")
    );

    let ami = &replaced.changed_attributes[0];
    assert_eq!(
        (ami.name.as_str(), ami.forces_replacement, ami.unknown_after),
        ("ami", true, false)
    );
    let id = &replaced.changed_attributes[1];
    assert_eq!(
        (id.name.as_str(), id.forces_replacement, id.unknown_after),
        ("id", false, true)
    );
    assert_eq!(
        replaced.after_redacted(),
        Some(json!({"ami": "force-replace", "id": "(known after apply)"}))
    );

    let summary = summarize(&plan);
    let risky = &summary.risky[0];
    assert_eq!(risky.forced_by, ["ami"]);
    assert!(
        risky
            .why
            .starts_with("replaces test_instance.test (forced by ami;"),
        "{}",
        risky.why
    );
    assert_eq!(serde_json::to_value(&risky.kind).unwrap(), json!("replace"));
    assert_eq!(
        summary.headline,
        "Plan: 1 to add, 0 to change, 1 to destroy (1 replacement). 1 risky change (0 high)."
    );
}

#[test]
fn drift_lists_the_change_made_outside_terraform() {
    let plan = plan_fixture(DRIFT);
    assert_eq!(plan.resource_drift.len(), 1);
    let drifted = &plan.resource_drift[0];
    assert_eq!(drifted.address, "test_instance.should_refresh");
    assert_eq!(drifted.kind, ChangeKind::Update);
    assert_eq!(
        drifted.before_redacted(),
        Some(json!({"ami": "refresh-me", "id": "placeholder"}))
    );
    assert_eq!(
        drifted.after_redacted(),
        Some(json!({"ami": "refreshed", "id": "placeholder"}))
    );

    let summary = summarize(&plan);
    assert_eq!(summary.drift.len(), 1);
    assert_eq!(summary.drift[0].address, "test_instance.should_refresh");
    let names: Vec<&str> = summary.drift[0]
        .changed_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["ami"]);
    assert!(
        summary.risky.is_empty(),
        "updates of plain resources are not risky"
    );
    assert!(
        summary
            .headline
            .ends_with("1 resource changed outside Terraform."),
        "{}",
        summary.headline
    );
    // The planned change starts from the refreshed value, not the stale one.
    let planned = change(&plan, "test_instance.should_refresh");
    assert_eq!(planned.before_redacted().unwrap()["ami"], "refreshed");
}

#[test]
fn tainted_resource_replacement_is_explained() {
    let plan = plan_fixture(ACTION_REASON);
    assert_eq!(plan.format_version, "1.2");
    assert_eq!(plan.terraform_version.as_deref(), Some("1.15.0"));
    assert_eq!(plan.timestamp.as_deref(), Some("2026-06-16T10:21:47Z"));
    assert_eq!(plan.complete, Some(true));
    assert_eq!((plan.applyable, plan.errored), (None, None));
    assert!(plan.prior_resources[0].tainted);

    let summary = summarize(&plan);
    let risky = &summary.risky[0];
    assert_eq!(risky.address, "null_resource.example");
    assert_eq!(
        risky.action_reason.as_deref(),
        Some("replace_because_tainted")
    );
    assert!(risky.why.contains("it is tainted"), "{}", risky.why);
    assert!(risky.forced_by.is_empty());
}

#[test]
fn replacement_without_reason_in_format_0_1_is_still_flagged() {
    let plan = plan_fixture(DEPENDS_ON);
    assert_eq!(change(&plan, "null_resource.foo").kind, ChangeKind::NoOp);
    assert!(
        change(&plan, "null_resource.foo")
            .changed_attributes
            .is_empty()
    );
    let bar = change(&plan, "null_resource.bar");
    assert_eq!(
        bar.kind,
        ChangeKind::Replace {
            create_before_destroy: false
        }
    );
    assert_eq!(bar.action_reason, None);

    let summary = summarize(&plan);
    let addresses: Vec<&str> = summary.risky.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, ["null_resource.bar"]);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("predates sensitivity markings"))
    );
}

#[test]
fn data_source_read_is_counted_but_never_risky() {
    let plan = plan_fixture(BASIC);
    let read = change(&plan, "data.null_data_source.baz");
    assert_eq!(
        (read.mode.as_str(), &read.kind),
        ("data", &ChangeKind::Read)
    );
    // Partially unknown: the map exists but both of its values are unknown.
    let after = read.after_redacted().unwrap();
    assert_eq!(
        after["inputs"],
        json!({"bar_id": "(known after apply)", "foo_id": "(known after apply)"})
    );
    assert_eq!(after["outputs"], "(known after apply)");
    assert!(summarize(&plan).risky.is_empty());
}

#[test]
fn module_and_index_details_are_kept() {
    for file in [SENSITIVE_110, BASIC_120, BASIC] {
        let plan = plan_fixture(file);
        let aliased = change(&plan, "module.foo.null_resource.aliased");
        assert_eq!(
            aliased.module_address.as_deref(),
            Some("module.foo"),
            "{file}"
        );
        for i in 0..3 {
            let baz = change(&plan, &format!("null_resource.baz[{i}]"));
            assert_eq!(
                (baz.name.as_str(), baz.index.clone()),
                ("baz", Some(json!(i))),
                "{file}"
            );
        }
    }
    let plan = plan_fixture(HAS_CHECKS);
    let file1 = change(&plan, "module.files.local_file.foo[\"file1.txt\"]");
    assert_eq!(file1.index, Some(json!("file1.txt")));
    assert_eq!(
        file1.provider_name.as_deref(),
        Some("registry.terraform.io/hashicorp/local")
    );
}

#[test]
fn format_0_1_prior_state_addresses_gain_module_and_index() {
    let plan = plan_fixture(NO_CHANGES);
    let addresses: Vec<&str> = plan
        .prior_resources
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(
        addresses,
        [
            "data.null_data_source.baz",
            "null_resource.bar",
            "null_resource.baz[0]",
            "null_resource.baz[1]",
            "null_resource.baz[2]",
            "null_resource.foo",
            "module.foo.null_resource.foo",
        ]
    );
    assert_eq!(plan.prior_resources[0].mode, "data");
    assert_eq!(
        plan.prior_resources[6].values_redacted["id"],
        "705267318028962447"
    );
    assert_eq!(
        summarize(&plan).headline,
        "No changes to resources. No risky changes."
    );
}

#[test]
fn import_is_detected_and_counted() {
    let plan = plan_fixture(IDENTITY);
    let user = change(&plan, "corner_user_identity.user");
    assert!(user.importing);
    let names: Vec<&str> = user
        .changed_attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["age", "name"]);
    assert_eq!(
        summarize(&plan).headline,
        "Plan: 1 to import, 0 to add, 1 to change, 0 to destroy. No risky changes."
    );
}

#[test]
fn moved_resource_keeps_its_previous_address() {
    let plan = plan_fixture(MOVED);
    let moved = change(&plan, "random_id.test2");
    assert_eq!(moved.previous_address.as_deref(), Some("random_id.test"));
    assert!(moved.is_moved());
    assert_eq!(moved.kind, ChangeKind::NoOp);
    assert_eq!(
        summarize(&plan).headline,
        "Plan: 0 to add, 0 to change, 0 to destroy. 1 resource moved. No risky changes."
    );
}

#[test]
fn check_results_and_timestamp_are_read() {
    let plan = plan_fixture(HAS_CHECKS);
    assert_eq!(plan.timestamp.as_deref(), Some("2023-08-30T10:38:39Z"));
    assert_eq!(plan.checks.len(), 1);
    assert_eq!(plan.checks[0].address, "module.files.local_file.foo");
    assert_eq!(plan.checks[0].status, "pass");
    assert!(
        summarize(&plan).warnings.is_empty(),
        "passing checks raise no warning"
    );
}

#[test]
fn output_changes_are_sorted_and_flag_the_sensitive_output() {
    // 110 and 120 mark `foo` sensitive in output_changes; format 0.1 (basic)
    // only says so in prior_state/configuration, which must be honoured too.
    for file in [SENSITIVE_110, BASIC_120, BASIC, NO_CHANGES] {
        let plan = plan_fixture(file);
        let names: Vec<&str> = plan
            .output_changes
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "foo",
                "interpolated",
                "interpolated_deep",
                "list",
                "map",
                "referenced",
                "referenced_deep",
                "string"
            ],
            "{file}"
        );
        let sensitive: Vec<&str> = plan
            .output_changes
            .iter()
            .filter(|o| o.sensitive)
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(sensitive, ["foo"], "{file}");
        assert!(
            plan.output_changes
                .iter()
                .all(|o| o.kind == ChangeKind::Create),
            "{file}"
        );
    }
}
