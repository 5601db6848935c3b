//! Public data model of a parsed plan.
//!
//! These are the shapes handed to MCP clients, so every field is meant to
//! read well as JSON. Raw attribute values are deliberately not serialised:
//! they may hold secrets, and callers get them only through the `*_redacted`
//! accessors.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::redact;

/// A `terraform show -json PLANFILE` document, reduced to what matters for
/// reviewing a change.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TerraformPlan {
    pub format_version: String,
    pub terraform_version: Option<String>,
    pub timestamp: Option<String>,
    pub applyable: Option<bool>,
    pub complete: Option<bool>,
    pub errored: Option<bool>,
    pub resource_changes: Vec<ResourceChange>,
    /// Changes Terraform noticed outside of Terraform since the last apply.
    pub resource_drift: Vec<ResourceChange>,
    /// Sorted by output name.
    pub output_changes: Vec<OutputChange>,
    /// Every resource in `prior_state`, root module and all child modules.
    pub prior_resources: Vec<StateResource>,
    /// Results of `check` blocks and custom conditions (plan format 1.1+).
    pub checks: Vec<CheckResult>,
}

/// One planned (or drifted) change to a resource instance.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ResourceChange {
    pub address: String,
    pub module_address: Option<String>,
    /// `managed` or `data`.
    pub mode: String,
    pub resource_type: String,
    pub name: String,
    /// `count` index (number) or `for_each` key (string), if any.
    pub index: Option<Value>,
    pub provider_name: Option<String>,
    /// Set when this change is about a deposed object left behind by an
    /// interrupted create-before-destroy replacement.
    pub deposed: Option<String>,
    /// The actions exactly as Terraform wrote them.
    pub actions: Vec<String>,
    pub kind: ChangeKind,
    pub action_reason: Option<String>,
    pub replace_paths: Vec<Vec<Value>>,
    pub previous_address: Option<String>,
    pub importing: bool,
    pub changed_attributes: Vec<AttributeChange>,
    #[serde(skip)]
    #[schemars(skip)]
    pub(super) values: ChangeValues,
}

/// The raw before/after values and their masks. Kept private so that
/// nothing serialises an unredacted value by accident.
#[derive(Clone, PartialEq, Default)]
pub(super) struct ChangeValues {
    pub before: Value,
    pub after: Value,
    pub before_sensitive: Value,
    pub after_sensitive: Value,
    pub after_unknown: Value,
}

/// Hand-written so that logging a plan with `{:?}` cannot print secrets.
impl fmt::Debug for ChangeValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangeValues { .. (use before_redacted/after_redacted) }")
    }
}

impl ResourceChange {
    /// The prior value with sensitive parts replaced by `"(sensitive)"`;
    /// `None` when the object does not exist yet.
    pub fn before_redacted(&self) -> Option<Value> {
        let v = &self.values;
        (!v.before.is_null()).then(|| redact::redact(&v.before, &v.before_sensitive, &Value::Null))
    }

    /// The planned value with sensitive parts replaced by `"(sensitive)"` and
    /// values only known after apply by `"(known after apply)"`; `None` when
    /// the object is being deleted.
    pub fn after_redacted(&self) -> Option<Value> {
        let v = &self.values;
        if v.after.is_null() && !redact::marks_any(&v.after_unknown) {
            return None;
        }
        Some(redact::redact(
            &v.after,
            &v.after_sensitive,
            &v.after_unknown,
        ))
    }

    pub fn is_managed(&self) -> bool {
        self.mode == "managed"
    }

    /// True when the resource is moving to a new address (a `moved` block or
    /// `terraform state mv` equivalent).
    pub fn is_moved(&self) -> bool {
        self.previous_address
            .as_deref()
            .is_some_and(|prev| prev != self.address)
    }
}

/// What happens to a resource, derived from Terraform's `actions` list.
///
/// Serialises as one string so an LLM reading the JSON sees e.g.
/// `"replace"` or `"replace_create_before_destroy"` rather than a nested
/// object; unrecognised action lists are kept verbatim, joined with `,`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    NoOp,
    Create,
    Read,
    Update,
    Delete,
    /// `["delete","create"]` is `create_before_destroy: false` (the old object
    /// is gone before the new one exists); `["create","delete"]` is `true`.
    Replace {
        create_before_destroy: bool,
    },
    /// Removed from state without destroying the real object (Terraform 1.7+).
    Forget,
    Other(String),
}

impl ChangeKind {
    pub fn from_actions<S: AsRef<str>>(actions: &[S]) -> Self {
        let actions: Vec<&str> = actions.iter().map(AsRef::as_ref).collect();
        match actions.as_slice() {
            ["no-op"] => Self::NoOp,
            ["create"] => Self::Create,
            ["read"] => Self::Read,
            ["update"] => Self::Update,
            ["delete"] => Self::Delete,
            ["delete", "create"] => Self::Replace {
                create_before_destroy: false,
            },
            ["create", "delete"] => Self::Replace {
                create_before_destroy: true,
            },
            ["forget"] => Self::Forget,
            [] => Self::Other("none".to_owned()),
            other => Self::Other(other.join(",")),
        }
    }

    /// The label this kind serialises to.
    pub fn as_str(&self) -> &str {
        match self {
            Self::NoOp => "no_op",
            Self::Create => "create",
            Self::Read => "read",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Replace {
                create_before_destroy: false,
            } => "replace",
            Self::Replace {
                create_before_destroy: true,
            } => "replace_create_before_destroy",
            Self::Forget => "forget",
            Self::Other(raw) => raw,
        }
    }

    /// Inverse of [`ChangeKind::as_str`]; unknown labels become `Other`.
    pub fn from_label(label: &str) -> Self {
        match label {
            "no_op" => Self::NoOp,
            "create" => Self::Create,
            "read" => Self::Read,
            "update" => Self::Update,
            "delete" => Self::Delete,
            "replace" => Self::Replace {
                create_before_destroy: false,
            },
            "replace_create_before_destroy" => Self::Replace {
                create_before_destroy: true,
            },
            "forget" => Self::Forget,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn is_replace(&self) -> bool {
        matches!(self, Self::Replace { .. })
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ChangeKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ChangeKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let label = Cow::<str>::deserialize(deserializer)?;
        Ok(Self::from_label(&label))
    }
}

impl JsonSchema for ChangeKind {
    fn schema_name() -> Cow<'static, str> {
        "ChangeKind".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // Not a closed enum: unknown Terraform actions pass through verbatim.
        json_schema!({
            "type": "string",
            "description": "What happens to the object: no_op, create, read, update, delete, \
                replace (old object destroyed first), replace_create_before_destroy \
                (new object created first), forget (dropped from state, left running), \
                or Terraform's raw actions joined by ',' for anything else.",
            "examples": ["create", "update", "replace", "replace_create_before_destroy", "delete"]
        })
    }
}

/// A top-level attribute whose value changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttributeChange {
    pub name: String,
    /// Some or all of the value is marked sensitive, before or after.
    pub sensitive: bool,
    /// Listed in `replace_paths`: changing it forces a replacement.
    pub forces_replacement: bool,
    /// The new value is only known after apply.
    pub unknown_after: bool,
}

/// A resource instance as it was recorded in state before this plan.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StateResource {
    /// Full address including module path and index, even for old plan
    /// formats that wrote them separately.
    pub address: String,
    pub mode: String,
    pub resource_type: String,
    pub name: String,
    pub index: Option<Value>,
    pub provider_name: Option<String>,
    pub tainted: bool,
    /// Attribute values with `sensitive_values` applied.
    pub values_redacted: Value,
}

/// A planned change to a root module output.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OutputChange {
    pub name: String,
    pub kind: ChangeKind,
    pub sensitive: bool,
    /// The planned value, redacted like resource values; `None` when the
    /// output is being removed.
    pub after_redacted: Option<Value>,
}

/// The outcome of one `check` block, precondition or postcondition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    pub address: String,
    /// `pass`, `fail`, `error` or `unknown`.
    pub status: String,
}
