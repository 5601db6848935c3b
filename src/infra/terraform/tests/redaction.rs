//! Sensitive values must never come out of this module.

use serde_json::{Value, json};

use super::super::{SENSITIVE, TerraformPlan, parse_plan, summarize};
use super::{HAS_CHECKS, SENSITIVE_110, all_plan_fixtures, change, plan_fixture, raw_fixture};

/// Everything the public API can hand to a client, as one JSON document.
fn emitted(plan: &TerraformPlan) -> String {
    let mut values = vec![
        serde_json::to_value(plan).unwrap(),
        serde_json::to_value(summarize(plan)).unwrap(),
    ];
    for change in plan.resource_changes.iter().chain(&plan.resource_drift) {
        values.extend(change.before_redacted());
        values.extend(change.after_redacted());
    }
    format!("{}\n{:?}", Value::Array(values), plan)
}

/// String leaves of `value` that `mask` marks sensitive.
fn marked_strings(value: &Value, mask: &Value, out: &mut Vec<String>) {
    match (value, mask) {
        (_, Value::Bool(true)) => string_leaves(value, out),
        (Value::Object(map), Value::Object(mask)) => {
            for (key, item) in map {
                marked_strings(item, mask.get(key).unwrap_or(&Value::Null), out);
            }
        }
        (Value::Array(items), Value::Array(mask)) => {
            for (item, m) in items.iter().zip(mask) {
                marked_strings(item, m, out);
            }
        }
        _ => {}
    }
}

fn string_leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| string_leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| string_leaves(v, out)),
        _ => {}
    }
}

#[test]
fn sensitive_output_in_110_is_redacted() {
    let raw = raw_fixture(SENSITIVE_110);
    // Collect what the raw file itself marks sensitive, so the test follows
    // the fixture rather than a hard-coded guess.
    let mut secrets = Vec::new();
    for change in raw["resource_changes"].as_array().unwrap() {
        let c = &change["change"];
        marked_strings(&c["before"], &c["before_sensitive"], &mut secrets);
        marked_strings(&c["after"], &c["after_sensitive"], &mut secrets);
    }
    let mut secret_outputs = Vec::new();
    for (name, output) in raw["output_changes"].as_object().unwrap() {
        let before = secrets.len();
        marked_strings(&output["after"], &output["after_sensitive"], &mut secrets);
        if secrets.len() > before {
            secret_outputs.push(name.clone());
        }
    }
    assert_eq!(
        secrets,
        ["bar"],
        "110's only sensitive value is output foo = \"bar\""
    );
    assert_eq!(secret_outputs, ["foo"]);

    let plan = plan_fixture(SENSITIVE_110);
    let foo = plan
        .output_changes
        .iter()
        .find(|o| o.name == "foo")
        .unwrap();
    assert!(foo.sensitive);
    assert_eq!(foo.after_redacted, Some(json!(SENSITIVE)));
    let foo_json = serde_json::to_string(foo).unwrap();
    assert!(!foo_json.contains("bar"), "{foo_json}");
    // "bar" as such cannot be searched for across the whole output: the same
    // fixture also uses it, unmarked, as the resource name null_resource.bar
    // and as non-sensitive trigger and output values. The inline plan below
    // uses unique secrets so that check is possible.
}

#[test]
fn marked_leaves_are_redacted_in_every_vendor_plan() {
    for file in all_plan_fixtures() {
        let raw = raw_fixture(&file);
        let plan = plan_fixture(&file);
        for (parsed, raw_change) in plan
            .resource_changes
            .iter()
            .zip(raw["resource_changes"].as_array().unwrap())
        {
            let c = &raw_change["change"];
            let mut raw_secrets = Vec::new();
            marked_strings(&c["after"], &c["after_sensitive"], &mut raw_secrets);
            let mut still_visible = Vec::new();
            if let Some(after) = parsed.after_redacted() {
                marked_strings(&after, &c["after_sensitive"], &mut still_visible);
            }
            assert!(
                still_visible.iter().all(|s| s == SENSITIVE),
                "{file} {}",
                parsed.address
            );
        }
    }
    // has_checks marks `sensitive_content` even though it is null: still masked.
    let plan = plan_fixture(HAS_CHECKS);
    let file1 = change(&plan, "module.files.local_file.foo[\"file1.txt\"]");
    assert_eq!(
        file1.after_redacted().unwrap()["sensitive_content"],
        SENSITIVE
    );
    assert_eq!(file1.after_redacted().unwrap()["content"], "Hello, World!");
}

const SECRETS: &[&str] = &[
    "SECRET-key-before-111",
    "SECRET-key-after-222",
    "SECRET-kv-333",
    "SECRET-conn-444",
    "SECRET-prior-555",
    "SECRET-output-666",
    "SECRET-drift-777",
    "SECRET-var-888",
    "SECRET-config-999",
    "SECRET-mismatch-000",
];

/// A plan with unique secrets in every place Terraform can put one.
fn plan_full_of_secrets() -> String {
    json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "variables": {"admin_password": {"value": "SECRET-var-888"}},
        "configuration": {"provider_config": {"azurerm": {"expressions": {
            "client_secret": {"constant_value": "SECRET-config-999"}}}}},
        "planned_values": {"outputs": {"sas": {"sensitive": true}}, "root_module": {}},
        "resource_drift": [{
            "address": "azurerm_key_vault_secret.db", "mode": "managed",
            "type": "azurerm_key_vault_secret", "name": "db",
            "change": {"actions": ["update"],
                "before": {"value": "SECRET-drift-777", "name": "db"},
                "after": {"value": "SECRET-kv-333", "name": "db"},
                "before_sensitive": {"value": true}, "after_sensitive": {"value": true},
                "after_unknown": {}}
        }],
        "resource_changes": [
            {"address": "azurerm_storage_account.lake", "mode": "managed",
             "type": "azurerm_storage_account", "name": "lake",
             "action_reason": "replace_because_cannot_update",
             "change": {"actions": ["create", "delete"],
                "before": {"account_kind": "StorageV2", "access_tier": "visible-tier-Hot",
                           "primary_access_key": "SECRET-key-before-111",
                           "connection_strings": [{"name": "conn-name-visible", "value": "SECRET-conn-444"}]},
                "after": {"account_kind": "BlockBlobStorage", "access_tier": "visible-tier-Hot",
                          "primary_access_key": "SECRET-key-after-222",
                          "connection_strings": [{"name": "conn-name-visible", "value": "SECRET-conn-444"}],
                          "network_rules": "SECRET-mismatch-000"},
                "before_sensitive": {"primary_access_key": true, "connection_strings": [{"value": true}]},
                "after_sensitive": {"primary_access_key": true, "connection_strings": [{"value": true}],
                                    "network_rules": {"ip_rules": [true]}},
                "after_unknown": {"id": true},
                "replace_paths": [["account_kind"]]}},
            {"address": "azurerm_key_vault_secret.db", "mode": "managed",
             "type": "azurerm_key_vault_secret", "name": "db",
             "change": {"actions": ["update"],
                "before": {"value": "SECRET-kv-333", "name": "db"},
                "after": {"value": "SECRET-key-after-222", "name": "db"},
                "before_sensitive": true, "after_sensitive": {"value": true},
                "after_unknown": {}}}
        ],
        "output_changes": {
            "sas": {"actions": ["update"], "before": "SECRET-output-666", "after": "SECRET-output-666",
                    "after_unknown": false}
        },
        "prior_state": {"format_version": "1.0", "values": {"root_module": {"child_modules": [{
            "address": "module.lake",
            "resources": [{"address": "module.lake.azurerm_storage_account.old", "mode": "managed",
                "type": "azurerm_storage_account", "name": "old",
                "values": {"name": "visible-old-name", "primary_access_key": "SECRET-prior-555"},
                "sensitive_values": {"primary_access_key": true}}]}]}}}
    })
    .to_string()
}

#[test]
fn unique_secrets_never_reach_any_serialized_output() {
    let text = plan_full_of_secrets();
    for secret in SECRETS {
        assert!(text.contains(secret), "test input carries {secret}");
    }
    let plan = parse_plan(&text).unwrap();
    let out = emitted(&plan);
    for secret in SECRETS {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    // The check is not vacuous: non-sensitive values do come through.
    for visible in [
        "visible-tier-Hot",
        "conn-name-visible",
        "visible-old-name",
        "BlockBlobStorage",
    ] {
        assert!(out.contains(visible), "{visible} missing:\n{out}");
    }
}

#[test]
fn redacted_values_keep_their_shape() {
    let plan = parse_plan(&plan_full_of_secrets()).unwrap();
    let lake = change(&plan, "azurerm_storage_account.lake");
    assert_eq!(
        lake.after_redacted().unwrap(),
        json!({
            "account_kind": "BlockBlobStorage",
            "access_tier": "visible-tier-Hot",
            "primary_access_key": SENSITIVE,
            "connection_strings": [{"name": "conn-name-visible", "value": SENSITIVE}],
            "network_rules": SENSITIVE,
            "id": "(known after apply)"
        })
    );
    // A wholly sensitive `before` hides the entire object.
    let kv = change(&plan, "azurerm_key_vault_secret.db");
    assert_eq!(kv.before_redacted(), Some(json!(SENSITIVE)));
    let value = kv
        .changed_attributes
        .iter()
        .find(|a| a.name == "value")
        .unwrap();
    assert!(value.sensitive);
    // Format 1.2 carries no per-output sensitivity here, but planned_values
    // declares `sas` sensitive, and that is enough to hide it.
    let sas = &plan.output_changes[0];
    assert!(sas.sensitive);
    assert_eq!(sas.after_redacted, Some(json!(SENSITIVE)));
    assert_eq!(
        plan.prior_resources[0].address,
        "module.lake.azurerm_storage_account.old"
    );
    assert_eq!(
        plan.prior_resources[0].values_redacted["primary_access_key"],
        SENSITIVE
    );
}
