//! What is rejected, with which message, and what is tolerated.

use serde_json::{Value, json};

use super::super::{PlanError, parse_plan};
use super::{BASIC_DELETE, REQUIRES_REPLACE, raw_fixture, read_fixture};

fn parse_value(value: &Value) -> Result<super::super::TerraformPlan, PlanError> {
    parse_plan(&value.to_string())
}

#[test]
fn human_readable_plan_text_is_not_json() {
    let err = parse_plan("Terraform will perform the following actions:\n").unwrap_err();
    assert!(matches!(err, PlanError::NotJson { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("not valid JSON"), "{message}");
    assert!(
        message.contains("terraform show -json PLANFILE"),
        "{message}"
    );
}

#[test]
fn empty_input_is_not_json() {
    assert!(matches!(parse_plan(""), Err(PlanError::NotJson { .. })));
}

#[test]
fn state_document_is_rejected_as_state() {
    // A real `terraform show -json` state document: the prior_state embedded
    // in a vendored plan.
    let state = raw_fixture(BASIC_DELETE)["prior_state"].clone();
    assert!(state.get("values").is_some() && state.get("format_version").is_some());
    let err = parse_value(&state).unwrap_err();
    assert_eq!(err, PlanError::LooksLikeState);
    let message = err.to_string();
    assert!(
        message.starts_with("this looks like Terraform state, not a plan"),
        "{message}"
    );
    assert!(
        message.contains("`terraform show -json PLANFILE`"),
        "{message}"
    );
}

#[test]
fn raw_tfstate_file_is_rejected() {
    let tfstate = json!({
        "version": 4, "terraform_version": "1.5.7", "serial": 3,
        "lineage": "0f6c1c2e-5c6b-4d8a-9a53-1b0d3a8e9b11", "outputs": {}, "resources": []
    });
    assert_eq!(parse_value(&tfstate).unwrap_err(), PlanError::RawStateFile);
}

#[test]
fn major_format_version_2_is_unsupported() {
    let mut plan = raw_fixture(REQUIRES_REPLACE);
    plan["format_version"] = json!("2.0");
    let err = parse_value(&plan).unwrap_err();
    assert_eq!(
        err,
        PlanError::UnsupportedFormatVersion {
            found: "2.0".into()
        }
    );
    assert!(err.to_string().contains("major versions 0 and 1"), "{err}");
}

#[test]
fn newer_minor_format_version_is_accepted() {
    let mut plan = raw_fixture(REQUIRES_REPLACE);
    plan["format_version"] = json!("1.9");
    assert_eq!(parse_value(&plan).unwrap().format_version, "1.9");
}

#[test]
fn empty_object_is_not_a_plan() {
    let err = parse_plan("{}").unwrap_err();
    assert_eq!(
        err,
        PlanError::NotAPlan {
            detail: "the object is empty".into()
        }
    );
    assert!(err.to_string().contains("not a Terraform plan"), "{err}");
}

#[test]
fn unrelated_json_object_names_its_keys() {
    let err = parse_plan(r#"{"kind": "Deployment", "spec": {}}"#).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("top-level keys: kind, spec"), "{message}");
}

#[test]
fn top_level_array_is_rejected() {
    let err = parse_plan("[1, 2]").unwrap_err();
    assert_eq!(err, PlanError::NotAnObject { found: "an array" });
}

#[test]
fn plan_without_format_version_is_rejected() {
    let mut plan = raw_fixture(REQUIRES_REPLACE);
    plan.as_object_mut().unwrap().remove("format_version");
    assert_eq!(
        parse_value(&plan).unwrap_err(),
        PlanError::MissingFormatVersion
    );
}

#[test]
fn non_numeric_format_version_is_rejected() {
    let mut plan = raw_fixture(REQUIRES_REPLACE);
    plan["format_version"] = json!("latest");
    assert!(matches!(
        parse_value(&plan),
        Err(PlanError::InvalidFormatVersion { .. })
    ));
}

#[test]
fn wrongly_typed_resource_changes_names_the_location() {
    let mut plan = raw_fixture(REQUIRES_REPLACE);
    plan["resource_changes"] = json!("oops");
    let err = parse_value(&plan).unwrap_err();
    assert!(
        matches!(&err, PlanError::Malformed { location, .. } if location == "resource_changes"),
        "{err:?}"
    );
}

#[test]
fn resource_change_without_change_block_names_entry_and_address() {
    let mut plan = raw_fixture(BASIC_DELETE);
    plan["resource_changes"][1]
        .as_object_mut()
        .unwrap()
        .remove("change");
    let err = parse_value(&plan).unwrap_err();
    let PlanError::Malformed { location, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(location, "resource_changes[1] (test_instance.test-delete)");
    assert!(detail.contains("change"), "{detail}");
}

#[test]
fn unknown_fields_and_nulls_are_tolerated() {
    let mut plan = raw_fixture(REQUIRES_REPLACE);
    plan["a_field_from_the_future"] = json!({"x": 1});
    plan["resource_drift"] = Value::Null;
    plan["resource_changes"][0]["change"]["replace_paths"] = Value::Null;
    plan["resource_changes"][0]["change"]["after_identity"] = json!({"id": "x"});
    let parsed = parse_value(&plan).unwrap();
    assert!(parsed.resource_drift.is_empty());
    assert!(parsed.resource_changes[0].replace_paths.is_empty());
}

#[test]
fn minimal_plan_with_only_planned_values_parses() {
    let parsed = parse_plan(r#"{"format_version":"1.2","planned_values":{}}"#).unwrap();
    assert!(parsed.resource_changes.is_empty() && parsed.prior_resources.is_empty());
    assert_eq!(parsed.terraform_version, None);
}

#[test]
fn truncated_plan_is_an_error_not_a_panic() {
    let text = read_fixture(BASIC_DELETE);
    for cut in (1..text.len()).step_by(37) {
        if let Some(prefix) = text.get(..cut) {
            assert!(parse_plan(prefix).is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn absurdly_deep_json_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(parse_plan(&deep), Err(PlanError::NotJson { .. })));
}
