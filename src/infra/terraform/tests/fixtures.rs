//! Every vendored plan parses, and agrees with its raw JSON.

use serde_json::Value;

use super::super::summarize;
use super::*;

fn raw_len(raw: &Value, key: &str) -> usize {
    match raw.get(key) {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Object(map)) => map.len(),
        _ => 0,
    }
}

fn raw_state_resource_count(module: &Value) -> usize {
    let own = module
        .get("resources")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let children = module.get("child_modules").and_then(Value::as_array);
    own + children.map_or(0, |c| c.iter().map(raw_state_resource_count).sum())
}

#[test]
fn every_vendor_plan_parses_and_agrees_with_the_raw_json() {
    let files = all_plan_fixtures();
    assert_eq!(
        files.len(),
        12,
        "expected the 12 vendored plans, found {files:?}"
    );
    for file in files {
        let raw = raw_fixture(&file);
        let plan = plan_fixture(&file);
        assert_eq!(
            Some(plan.format_version.as_str()),
            raw["format_version"].as_str(),
            "{file}"
        );
        assert_eq!(
            plan.resource_changes.len(),
            raw_len(&raw, "resource_changes"),
            "{file}"
        );
        assert_eq!(
            plan.resource_drift.len(),
            raw_len(&raw, "resource_drift"),
            "{file}"
        );
        assert_eq!(
            plan.output_changes.len(),
            raw_len(&raw, "output_changes"),
            "{file}"
        );
        let root = raw
            .pointer("/prior_state/values/root_module")
            .unwrap_or(&Value::Null);
        assert_eq!(
            plan.prior_resources.len(),
            raw_state_resource_count(root),
            "{file}"
        );

        for (parsed, raw_change) in plan
            .resource_changes
            .iter()
            .zip(raw["resource_changes"].as_array().unwrap())
        {
            assert_eq!(
                parsed.address,
                raw_change["address"].as_str().unwrap(),
                "{file}"
            );
            let raw_actions: Vec<&str> = raw_change["change"]["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(parsed.actions, raw_actions, "{file}");
        }

        let summary = summarize(&plan);
        let c = summary.counts;
        let total =
            c.create + c.update + c.delete + c.replace + c.read + c.no_op + c.forget + c.other;
        assert_eq!(
            total,
            plan.resource_changes.len(),
            "{file}: every change counted once"
        );
        let order: Vec<_> = summary
            .risky
            .iter()
            .map(|r| (r.severity, r.address.clone()))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(
            order, sorted,
            "{file}: risky sorted by severity then address"
        );
        for risky in &summary.risky {
            assert!(
                change(&plan, &risky.address).is_managed(),
                "{file}: {}",
                risky.address
            );
        }
        assert!(
            !summary.headline.contains('\n'),
            "{file}: headline is one line"
        );
        serde_json::to_string(&plan).expect("plan serialises");
        serde_json::to_string(&summary).expect("summary serialises");
    }
}

#[test]
fn action_counts_match_each_vendor_plan() {
    // (file, create, update, delete, replace, read, no_op, moved, imported),
    // counted by hand from each file's resource_changes.
    let table = [
        (BASIC_DELETE, 0, 1, 1, 0, 0, 0, 0, 0),
        (DRIFT, 0, 2, 0, 0, 0, 0, 0, 0),
        (REQUIRES_REPLACE, 0, 0, 0, 1, 0, 0, 0, 0),
        (SENSITIVE_110, 7, 0, 0, 0, 0, 0, 0, 0),
        (BASIC_120, 7, 0, 0, 0, 0, 0, 0, 0),
        (ACTION_REASON, 0, 0, 0, 1, 0, 0, 0, 0),
        (BASIC, 7, 0, 0, 0, 1, 0, 0, 0),
        (DEPENDS_ON, 0, 0, 0, 1, 0, 1, 0, 0),
        (HAS_CHECKS, 2, 0, 0, 0, 0, 0, 0, 0),
        (IDENTITY, 0, 1, 0, 0, 0, 0, 0, 1),
        (MOVED, 0, 0, 0, 0, 0, 1, 1, 0),
        (NO_CHANGES, 0, 0, 0, 0, 0, 6, 0, 0),
    ];
    for (file, create, update, delete, replace, read, no_op, moved, imported) in table {
        let c = summarize(&plan_fixture(file)).counts;
        let got = (
            c.create, c.update, c.delete, c.replace, c.read, c.no_op, c.moved, c.imported,
        );
        assert_eq!(
            got,
            (
                create, update, delete, replace, read, no_op, moved, imported
            ),
            "{file}"
        );
        assert_eq!((c.forget, c.other), (0, 0), "{file}");
    }
}
