//! Tests against the vendored Terraform fixtures (read from disk, never
//! copied) plus small inline plans for cases no fixture covers.

mod errors;
mod fixture_facts;
mod fixtures;
mod redaction;
mod risk_rules;

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{ResourceChange, TerraformPlan, parse_plan};

// The vendored plans, relative to the vendor directory.
const BASIC_DELETE: &str = "terraform/show-json/basic-delete/output.json";
const DRIFT: &str = "terraform/show-json/drift/output.json";
const REQUIRES_REPLACE: &str = "terraform/show-json/requires-replace/output.json";
const SENSITIVE_110: &str = "terraform-json/testdata/110_sensitive_values/plan.json";
const BASIC_120: &str = "terraform-json/testdata/120_basic/plan.json";
const ACTION_REASON: &str = "terraform-json/testdata/action_reason/plan.json";
const BASIC: &str = "terraform-json/testdata/basic/plan.json";
const DEPENDS_ON: &str = "terraform-json/testdata/config_resource_depends_on/plan.json";
const HAS_CHECKS: &str = "terraform-json/testdata/has_checks/plan.json";
const IDENTITY: &str = "terraform-json/testdata/identity/plan.json";
const MOVED: &str = "terraform-json/testdata/moved_block/plan.json";
const NO_CHANGES: &str = "terraform-json/testdata/no_changes/plan.json";

/// `<ancestor>/shared/fixtures/vendor` for the nearest ancestor of the
/// crate that has one, so the tests run both from a scratch crate and from
/// the main repository.
fn vendor_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("shared").join("fixtures").join("vendor"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("no shared/fixtures/vendor above {}", manifest.display()))
}

fn read_fixture(relative: &str) -> String {
    let path = vendor_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn raw_fixture(relative: &str) -> Value {
    serde_json::from_str(&read_fixture(relative)).expect("fixture is JSON")
}

fn plan_fixture(relative: &str) -> TerraformPlan {
    parse_plan(&read_fixture(relative)).unwrap_or_else(|e| panic!("{relative} should parse: {e}"))
}

fn change<'a>(plan: &'a TerraformPlan, address: &str) -> &'a ResourceChange {
    plan.resource_changes
        .iter()
        .find(|c| c.address == address)
        .unwrap_or_else(|| panic!("no resource change {address}"))
}

/// Every `plan.json` / `output.json` under the two Terraform vendor trees,
/// as paths relative to the vendor directory.
fn all_plan_fixtures() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).expect("readable fixture dir");
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("plan.json" | "output.json")
            ) {
                let relative = path.strip_prefix(root).expect("under vendor dir");
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    let root = vendor_dir();
    let mut out = Vec::new();
    for tree in ["terraform", "terraform-json"] {
        walk(&root.join(tree), &root, &mut out);
    }
    out.sort();
    out
}
