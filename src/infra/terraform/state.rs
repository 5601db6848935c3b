//! `prior_state` resources, `checks`, and resource addresses.

use serde::Deserialize;
use serde_json::Value;

use super::error::PlanError;
use super::json::typed;
use super::model::{CheckResult, StateResource};
use super::redact;

/// `mode` for entries that omit it, read off the address
/// (`data.x.y` or `module.m.data.x.y`).
pub(super) fn infer_mode(address: Option<&str>) -> String {
    let is_data = address.is_some_and(|a| a.starts_with("data.") || a.contains(".data."));
    if is_data { "data" } else { "managed" }.to_owned()
}

/// Build `module.x.type.name[index]`, the form Terraform uses since 0.12
/// in `resource_changes` and since format 0.2 in state values.
pub(super) fn full_address(
    module: Option<&str>,
    mode: &str,
    resource_type: &str,
    name: &str,
    index: Option<&Value>,
) -> String {
    let mut address = String::new();
    if let Some(module) = module {
        address.push_str(module);
        address.push('.');
    }
    if mode == "data" {
        address.push_str("data.");
    }
    address.push_str(resource_type);
    address.push('.');
    address.push_str(name);
    if let Some(index) = index {
        address.push_str(&index_suffix(index));
    }
    address
}

fn index_suffix(index: &Value) -> String {
    // `Value`'s Display writes strings JSON-quoted, which is exactly
    // Terraform's `["key"]` syntax.
    format!("[{index}]")
}

#[derive(Deserialize)]
struct RawModule {
    address: Option<String>,
    resources: Option<Vec<RawStateResource>>,
    child_modules: Option<Vec<RawModule>>,
}

#[derive(Deserialize)]
struct RawStateResource {
    address: Option<String>,
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    index: Option<Value>,
    provider_name: Option<String>,
    #[serde(default)]
    values: Value,
    #[serde(default)]
    sensitive_values: Value,
    tainted: Option<bool>,
}

pub(super) fn prior_resources(root: &Value) -> Result<Vec<StateResource>, PlanError> {
    const LOCATION: &str = "prior_state.values.root_module";
    let Some(module) = root.pointer("/prior_state/values/root_module") else {
        return Ok(Vec::new());
    };
    if module.is_null() {
        return Ok(Vec::new());
    }
    let module: RawModule = typed(module, || LOCATION.to_owned())?;
    let mut out = Vec::new();
    flatten_module(module, &mut out);
    Ok(out)
}

/// Depth is bounded by serde_json's parse recursion limit, so plain
/// recursion is safe here.
fn flatten_module(module: RawModule, out: &mut Vec<StateResource>) {
    let module_address = module.address;
    for raw in module.resources.unwrap_or_default() {
        out.push(state_resource(raw, module_address.as_deref()));
    }
    for child in module.child_modules.unwrap_or_default() {
        flatten_module(child, out);
    }
}

fn state_resource(raw: RawStateResource, module: Option<&str>) -> StateResource {
    let mode = raw
        .mode
        .unwrap_or_else(|| infer_mode(raw.address.as_deref()));
    // Format 0.1 wrote addresses without the module path and without the
    // index; normalise so they match `resource_changes` addresses.
    let address = match raw.address {
        Some(mut address) => {
            if let Some(module) = module.filter(|_| !address.starts_with("module.")) {
                address = format!("{module}.{address}");
            }
            if let Some(index) = raw.index.as_ref().filter(|_| !address.ends_with(']')) {
                address.push_str(&index_suffix(index));
            }
            address
        }
        None => full_address(
            module,
            &mode,
            &raw.resource_type,
            &raw.name,
            raw.index.as_ref(),
        ),
    };
    StateResource {
        address,
        values_redacted: redact::redact(&raw.values, &raw.sensitive_values, &Value::Null),
        mode,
        resource_type: raw.resource_type,
        name: raw.name,
        index: raw.index,
        provider_name: raw.provider_name,
        tainted: raw.tainted.unwrap_or(false),
    }
}

/// Check results are advisory, so malformed entries are skipped rather
/// than failing the whole plan.
pub(super) fn checks(root: &Value) -> Vec<CheckResult> {
    let Some(Value::Array(items)) = root.get("checks") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let address = item.pointer("/address/to_display")?.as_str()?;
            let status = item
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            Some(CheckResult {
                address: address.to_owned(),
                status: status.to_owned(),
            })
        })
        .collect()
}
