//! `opsdeck serve`: the DataOps MCP tool server.
//!
//! One handler type, [`OpsdeckServer`], whose tools are grouped by domain in
//! `tools/` (each file contributes a router; they are added together here).

pub mod http;
pub mod reply;
pub mod stdio;
mod tools;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorCode, Implementation, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool_handler};

use crate::backends::Backends;
use reply::{ToolError, error_result};

/// The server's state: the backends behind the tools, and the guardrails.
#[derive(Clone)]
pub struct OpsdeckServer {
    backends: Arc<Backends>,
    read_only: bool,
    tool_router: ToolRouter<OpsdeckServer>,
}

impl OpsdeckServer {
    pub fn new(backends: Backends, read_only: bool) -> OpsdeckServer {
        OpsdeckServer {
            backends: Arc::new(backends),
            read_only,
            tool_router: tools::router(),
        }
    }

    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Every tool definition, as `tools/list` returns them.
    pub fn tool_definitions(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }
}

const INSTRUCTIONS: &str = "opsdeck DataOps tools for incident triage across Azure Data Factory, Airflow and Databricks: \
pipeline runs and their activity runs, failures grouped by error, dependencies between pipelines, logs and their \
error templates, Key Vault secret metadata (never values), Terraform plans and drift, cloud resources, and guarded \
remediation. Start with list_pipeline_runs or get_pipeline_status, then triage_run on a failed run. \
rerun_pipeline and cancel_run default to dry_run=true; a real action needs dry_run=false and the user's approval.";

#[tool_handler(router = self.tool_router)]
impl ServerHandler for OpsdeckServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("opsdeck", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!("{INSTRUCTIONS} Estate: {}.", self.backends.label));
        if self.read_only {
            info = info.with_instructions(format!(
                "{INSTRUCTIONS} Estate: {}. This server is read-only: remediation is refused.",
                self.backends.label
            ));
        }
        info
    }

    /// Arguments that do not match a tool's schema come back as a tool error the
    /// model can read and correct, not as a protocol error it never sees.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let started = std::time::Instant::now();
        let context = ToolCallContext::new(self, request, context);
        let result = match self.tool_router.call(context).await {
            Err(error) if error.code == ErrorCode::INVALID_PARAMS => {
                let schema_hint = self
                    .tool_router
                    .get(&name)
                    .map(|tool| describe_parameters(&tool.input_schema))
                    .unwrap_or_default();
                let known = self.tool_router.get(&name).is_some();
                let message = if known {
                    format!("arguments for {name} are not valid: {}. {schema_hint}", error.message)
                } else {
                    let names: Vec<String> = self.tool_router.list_all().into_iter().map(|t| t.name.to_string()).collect();
                    format!("there is no tool named '{name}'. Tools: {}", names.join(", "))
                };
                Ok(error_result(&ToolError::invalid(message)).into())
            }
            other => other,
        };
        tracing::info!(tool = %name, ms = started.elapsed().as_millis() as u64, ok = result.is_ok(), "tool call");
        result
    }
}

/// "Parameters: pipeline (string, required), limit (integer)…" from an input schema.
fn describe_parameters(schema: &serde_json::Map<String, serde_json::Value>) -> String {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
        return "This tool takes no parameters.".to_string();
    };
    let parts: Vec<String> = properties
        .iter()
        .map(|(name, spec)| {
            let kind = spec
                .get("type")
                .map(|t| match t {
                    serde_json::Value::Array(types) => types
                        .iter()
                        .filter_map(|v| v.as_str())
                        .filter(|t| *t != "null")
                        .collect::<Vec<_>>()
                        .join("|"),
                    other => other.as_str().unwrap_or("value").to_string(),
                })
                .unwrap_or_else(|| "value".into());
            let flag = if required.contains(&name.as_str()) { ", required" } else { "" };
            format!("{name} ({kind}{flag})")
        })
        .collect();
    format!("Parameters: {}.", parts.join(", "))
}
