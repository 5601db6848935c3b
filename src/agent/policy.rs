//! Who may call what. A call needs approval when its tool is destructive, or when
//! it carries no annotations and comes from a server not marked trusted, or when
//! its definition changed since first seen this session. Read-only mode refuses
//! all of those outright.

use std::collections::HashMap;

use serde_json::Value;

use crate::mcp::CatalogTool;

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Allow,
    /// Needs approval, and the operator gave it up front (`--approve TOOL`).
    PreApproved,
    NeedsApproval(String),
    Refuse(String),
}

#[derive(Debug, Default)]
pub struct ApprovalPolicy {
    /// Refuse everything that would need approval.
    pub read_only: bool,
    /// Tools approved up front (`opsdeck ask --approve TOOL`).
    pub pre_approved: Vec<String>,
    /// Definition hash of each tool when first seen.
    seen: HashMap<String, u64>,
}

impl ApprovalPolicy {
    pub fn new(read_only: bool, pre_approved: Vec<String>) -> ApprovalPolicy {
        ApprovalPolicy {
            read_only,
            pre_approved,
            seen: HashMap::new(),
        }
    }

    /// Judges one call. `server_trusted` and `server_read_only` come from the server's config.
    pub fn judge(
        &mut self,
        tool: &CatalogTool,
        arguments: &Value,
        server_trusted: bool,
        server_read_only: bool,
    ) -> Verdict {
        let key = format!("{}/{}", tool.server, tool.server_tool_name());
        let first_hash = *self.seen.entry(key).or_insert(tool.definition_hash);
        let changed = first_hash != tool.definition_hash;
        let preview = server_trusted && is_dry_run(tool, arguments);
        let destructive = tool.is_destructive(server_trusted) && !preview;
        let reason = match (destructive, changed) {
            (_, true) => format!(
                "{} changed its definition since it was first seen this session",
                tool.exposed_name
            ),
            (true, _) if tool.tool.annotations.is_none() => {
                format!(
                    "{} has no annotations and server '{}' is not marked trusted",
                    tool.exposed_name, tool.server
                )
            }
            (true, _) => format!("{} is marked destructive", tool.exposed_name),
            (false, false) => return Verdict::Allow,
        };
        if self.read_only || server_read_only {
            let mode = if self.read_only {
                "read-only mode"
            } else {
                "server is configured readOnly"
            };
            return Verdict::Refuse(format!("{reason}; refused ({mode})"));
        }
        if !changed
            && self
                .pre_approved
                .iter()
                .any(|t| t == &tool.exposed_name || t == tool.server_tool_name())
        {
            return Verdict::PreApproved;
        }
        Verdict::NeedsApproval(reason)
    }
}

/// A call with `dry_run: true` to a tool that declares a boolean `dry_run` is a preview.
fn is_dry_run(tool: &CatalogTool, arguments: &Value) -> bool {
    let declares = tool
        .tool
        .input_schema
        .get("properties")
        .and_then(|p| p.get("dry_run"))
        .is_some();
    let defaults_true = tool
        .tool
        .input_schema
        .get("properties")
        .and_then(|p| p.get("dry_run"))
        .and_then(|d| d.get("description"))
        .and_then(Value::as_str)
        .is_some_and(|d| d.to_lowercase().contains("default true"));
    declares
        && arguments
            .get("dry_run")
            .map_or(defaults_true, |v| v == &Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::catalog::build;
    use rmcp::model::{Tool, ToolAnnotations};
    use serde_json::json;
    use std::sync::Arc;

    fn tool(name: &str, destructive: bool, description: &str) -> CatalogTool {
        let schema = json!({"type": "object", "properties": {"dry_run": {"type": "boolean", "description": "Default true"}}});
        let mut t = Tool::new(
            name.to_string(),
            description.to_string(),
            Arc::new(schema.as_object().cloned().unwrap()),
        );
        t.annotations = Some(ToolAnnotations::from_raw(
            None,
            Some(!destructive),
            Some(destructive),
            None,
            None,
        ));
        build(&[("srv".into(), vec![t])]).remove(0)
    }

    #[test]
    fn reads_are_allowed_and_destructive_calls_need_approval() {
        let mut policy = ApprovalPolicy::new(false, vec![]);
        assert_eq!(
            policy.judge(&tool("read", false, "d"), &json!({}), false, false),
            Verdict::Allow
        );
        let verdict = policy.judge(
            &tool("rerun", true, "d"),
            &json!({"dry_run": false}),
            true,
            false,
        );
        assert!(matches!(verdict, Verdict::NeedsApproval(r) if r.contains("destructive")));
    }

    #[test]
    fn a_dry_run_on_a_trusted_server_is_a_preview() {
        let mut policy = ApprovalPolicy::new(false, vec![]);
        assert_eq!(
            policy.judge(
                &tool("rerun", true, "d"),
                &json!({"dry_run": true}),
                true,
                false
            ),
            Verdict::Allow
        );
        assert_eq!(
            policy.judge(&tool("rerun", true, "d"), &json!({}), true, false),
            Verdict::Allow,
            "dry_run defaults to true"
        );
        let untrusted = policy.judge(
            &tool("rerun", true, "d"),
            &json!({"dry_run": true}),
            false,
            false,
        );
        assert!(
            matches!(untrusted, Verdict::NeedsApproval(_)),
            "an untrusted server's word is not taken"
        );
    }

    #[test]
    fn read_only_refuses_and_pre_approval_allows() {
        let mut read_only = ApprovalPolicy::new(true, vec!["rerun".into()]);
        assert!(matches!(
            read_only.judge(
                &tool("rerun", true, "d"),
                &json!({"dry_run": false}),
                true,
                false
            ),
            Verdict::Refuse(_)
        ));
        let mut approved = ApprovalPolicy::new(false, vec!["rerun".into()]);
        assert_eq!(
            approved.judge(
                &tool("rerun", true, "d"),
                &json!({"dry_run": false}),
                true,
                false
            ),
            Verdict::PreApproved
        );
        let mut server_ro = ApprovalPolicy::new(false, vec!["rerun".into()]);
        assert!(matches!(
            server_ro.judge(
                &tool("rerun", true, "d"),
                &json!({"dry_run": false}),
                true,
                true
            ),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn a_changed_definition_needs_approval_again_even_when_pre_approved() {
        let mut policy = ApprovalPolicy::new(false, vec!["read".into()]);
        assert_eq!(
            policy.judge(&tool("read", false, "v1"), &json!({}), true, false),
            Verdict::Allow
        );
        let verdict = policy.judge(&tool("read", false, "v2"), &json!({}), true, false);
        assert!(
            matches!(verdict, Verdict::NeedsApproval(r) if r.contains("changed its definition"))
        );
    }
}
