//! `opsdeck serve`: the DataOps MCP tool server.
//!
//! One handler type, [`OpsdeckServer`], whose tools are grouped by domain in
//! `tools/` (each file contributes a router; they are added together here).

pub mod framing;
pub mod http;
pub mod reply;
pub mod stdio;
mod tools;
mod validate;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool_handler};

use crate::backends::Backends;
use crate::ops::policy;
use reply::{ToolError, error_result};

/// The server's state: the backends behind the tools, and the guardrails.
#[derive(Clone)]
pub struct OpsdeckServer {
    backends: Arc<Backends>,
    read_only: bool,
    policy: Arc<policy::PolicyGuard>,
    tool_router: ToolRouter<OpsdeckServer>,
}

impl OpsdeckServer {
    /// A server with the default remediation policy (everything allowed,
    /// audited to the log directory's `audit.jsonl`, never the temp directory).
    pub fn new(backends: Backends, read_only: bool) -> OpsdeckServer {
        OpsdeckServer {
            backends: Arc::new(backends),
            read_only,
            policy: Arc::new(policy::PolicyGuard::at_default_location(
                policy::RemediationPolicy::default(),
            )),
            tool_router: tools::router(),
        }
    }

    /// Replaces the remediation policy.
    pub fn with_policy(mut self, guard: policy::PolicyGuard) -> OpsdeckServer {
        self.policy = Arc::new(guard);
        self
    }

    pub fn policy(&self) -> &policy::PolicyGuard {
        &self.policy
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

/// The `_meta` key of the `initialize` result under which the server
/// describes its estate: `{"label", "read_only", "backends": [{"kind",
/// "environment"}]}`. opsdeck's host tells the model from it what it is looking at.
pub const ESTATE_META_KEY: &str = "opsdeck/estate";

impl OpsdeckServer {
    /// The estate as [`ESTATE_META_KEY`] carries it.
    fn estate_meta(&self) -> rmcp::model::MetaObject {
        let backends: Vec<serde_json::Value> = self
            .backends
            .pipelines
            .iter()
            .map(|b| serde_json::json!({"kind": b.kind().as_str(), "environment": b.environment()}))
            .collect();
        let mut meta = serde_json::Map::new();
        meta.insert(
            ESTATE_META_KEY.into(),
            serde_json::json!({
                "label": self.backends.label,
                "read_only": self.read_only,
                "backends": backends,
            }),
        );
        rmcp::model::MetaObject(meta)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for OpsdeckServer {
    fn get_info(&self) -> ServerConfig {
        let mut instructions = format!("{INSTRUCTIONS} Estate: {}.", self.backends.label);
        let backends: Vec<String> = self
            .backends
            .pipelines
            .iter()
            .map(|b| format!("{} ({})", b.kind().as_str(), b.environment()))
            .collect();
        if !backends.is_empty() {
            instructions.push_str(&format!(" Backends: {}.", backends.join(", ")));
        }
        if self.read_only {
            instructions.push_str(" This server is read-only: remediation is refused.");
        }
        let mut config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("opsdeck", env!("CARGO_PKG_VERSION")))
            .with_instructions(instructions);
        config.meta = Some(self.estate_meta());
        config
    }

    /// Arguments that do not match a tool's schema come back as a tool error the
    /// model can read and correct, not as a protocol error it never sees.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let Some(tool) = self.tool_router.get(&name) else {
            let names: Vec<String> = self
                .tool_router
                .list_all()
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            let message = format!(
                "there is no tool named '{name}'. Tools: {}",
                names.join(", ")
            );
            return Ok(error_result(&ToolError::invalid(message)).into());
        };
        if let Err(problems) =
            validate::check_arguments(&tool.input_schema, request.arguments.as_ref())
        {
            let message = format!("arguments for {name} are not valid: {problems}");
            return Ok(error_result(&ToolError::invalid(message)).into());
        }
        let started = std::time::Instant::now();
        let result = self
            .tool_router
            .call(ToolCallContext::new(self, request, context))
            .await;
        tracing::info!(tool = %name, ms = started.elapsed().as_millis() as u64, ok = result.is_ok(), "tool call");
        // A protocol error (say, from deserialising the arguments) may quote them.
        result.map_err(|mut error| {
            error.message = reply::clip_error_text(&error.message).into();
            error
        })
    }
}
