//! One tool catalogue over every connected server. A tool name that more than
//! one server offers is exposed as `server__tool` for each of them, so the model
//! never has to guess which server it is calling.

use std::collections::BTreeMap;

use rmcp::model::Tool;
use serde::Serialize;

/// A tool as the agent sees it.
#[derive(Debug, Clone)]
pub struct CatalogTool {
    /// The name offered to the model (unique in the catalogue).
    pub exposed_name: String,
    pub server: String,
    /// The server's own definition (its `name` is the server's name for the tool).
    pub tool: Tool,
    /// Hash of name, description, input schema and annotations: a changed definition
    /// mid-session means calls need approval again.
    pub definition_hash: u64,
}

impl CatalogTool {
    pub fn server_tool_name(&self) -> &str {
        &self.tool.name
    }

    /// Annotated destructive, or carrying no annotations from a server not marked trusted.
    pub fn is_destructive(&self, server_trusted: bool) -> bool {
        match &self.tool.annotations {
            Some(a) if a.read_only_hint == Some(true) => false,
            // Per the spec, destructiveHint defaults to true when readOnlyHint is not true.
            Some(a) => a.destructive_hint.unwrap_or(true),
            None => !server_trusted,
        }
    }
}

/// A summary fit for status lines and traces.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CatalogEntry {
    pub name: String,
    pub server: String,
    pub definition_hash: String,
}

/// Builds the catalogue from each server's tools, in server order.
pub fn build(per_server: &[(String, Vec<Tool>)]) -> Vec<CatalogTool> {
    let mut owners: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, tools) in per_server {
        for tool in tools {
            *owners.entry(tool.name.as_ref()).or_default() += 1;
        }
    }
    per_server
        .iter()
        .flat_map(|(server, tools)| {
            tools.iter().map(|tool| {
                let shared = owners.get(tool.name.as_ref()).copied().unwrap_or(0) > 1;
                let exposed_name = if shared {
                    format!("{}__{}", sanitize(server), tool.name)
                } else {
                    tool.name.to_string()
                };
                CatalogTool {
                    exposed_name,
                    server: server.clone(),
                    definition_hash: definition_hash(tool),
                    tool: tool.clone(),
                }
            })
        })
        .collect()
}

/// Function names for LLM APIs allow `[A-Za-z0-9_-]`.
fn sanitize(server: &str) -> String {
    server
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a over the canonical JSON (sorted keys) of what defines a tool's behaviour.
pub fn definition_hash(tool: &Tool) -> u64 {
    let defining = serde_json::json!({
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema.as_ref(),
        "annotations": tool.annotations,
    });
    let text = defining.to_string();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ToolAnnotations;
    use std::sync::Arc;

    fn tool(name: &str, annotations: Option<ToolAnnotations>) -> Tool {
        let mut tool = Tool::new(
            name.to_string(),
            "does things",
            Arc::new(serde_json::Map::new()),
        );
        tool.annotations = annotations;
        tool
    }

    #[test]
    fn colliding_names_are_prefixed_with_their_server() {
        let catalog = build(&[
            ("a".into(), vec![tool("search", None), tool("only_a", None)]),
            ("b.remote".into(), vec![tool("search", None)]),
        ]);
        let names: Vec<&str> = catalog.iter().map(|t| t.exposed_name.as_str()).collect();
        assert_eq!(names, vec!["a__search", "only_a", "b_remote__search"]);
        assert_eq!(catalog[2].server_tool_name(), "search");
    }

    #[test]
    fn destructiveness_follows_annotations_and_trust() {
        let read_only = ToolAnnotations::from_raw(None, Some(true), None, None, None);
        let destructive = ToolAnnotations::from_raw(None, Some(false), Some(true), None, None);
        let additive = ToolAnnotations::from_raw(None, Some(false), Some(false), None, None);
        let entry = |a| build(&[("s".into(), vec![tool("t", a)])]).remove(0);
        assert!(!entry(Some(read_only)).is_destructive(false));
        assert!(entry(Some(destructive)).is_destructive(true));
        assert!(!entry(Some(additive)).is_destructive(false));
        assert!(
            entry(None).is_destructive(false),
            "unannotated from an untrusted server"
        );
        assert!(
            !entry(None).is_destructive(true),
            "unannotated from a trusted server"
        );
    }

    #[test]
    fn a_changed_definition_changes_the_hash() {
        let a = tool("t", None);
        let mut b = tool("t", None);
        assert_eq!(definition_hash(&a), definition_hash(&b));
        b.description = Some("does other things".into());
        assert_ne!(definition_hash(&a), definition_hash(&b));
    }
}
