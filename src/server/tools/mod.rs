//! The tool catalogue, one file per domain. Each tool checks its arguments,
//! calls the domain (`crate::ops`) and responds; nothing else happens here.

mod changes;
mod infra;
mod logs;
mod pipelines;
mod remediation;
mod runs;
mod secrets;
mod triage;

use rmcp::handler::server::router::tool::ToolRouter;

use super::OpsdeckServer;
use super::reply::ToolError;
use crate::model::run::RunStatus;
use crate::model::time::TimeWindow;

pub fn router() -> ToolRouter<OpsdeckServer> {
    OpsdeckServer::pipeline_tools()
        + OpsdeckServer::run_tools()
        + OpsdeckServer::log_tools()
        + OpsdeckServer::secret_tools()
        + OpsdeckServer::infra_tools()
        + OpsdeckServer::triage_tools()
        + OpsdeckServer::remediation_tools()
        + OpsdeckServer::change_tools()
}

pub const STATUS_NAMES: &str = "Queued, InProgress, Succeeded, Failed, Canceling, Cancelled";

/// Parses "Failed" or "failed,InProgress" into statuses, rejecting unknown names.
pub fn parse_statuses(raw: Option<&str>) -> Result<Vec<RunStatus>, ToolError> {
    let Some(raw) = raw.filter(|s| !s.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(|part| match RunStatus::parse(part) {
            RunStatus::Other(other) => Err(ToolError::invalid(format!(
                "status '{other}' is not a run status; use one of {STATUS_NAMES} (comma-separated for several)"
            ))),
            status => Ok(status),
        })
        .collect()
}

impl OpsdeckServer {
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.backends().clock.now()
    }

    /// A window from optional `since`/`until` arguments, defaulting to `default_hours` back.
    pub(crate) fn window(
        &self,
        since: Option<&str>,
        until: Option<&str>,
        default_hours: i64,
    ) -> Result<TimeWindow, ToolError> {
        TimeWindow::parse(
            since,
            until,
            self.now(),
            chrono::Duration::hours(default_hours),
        )
        .map_err(ToolError::invalid)
    }
}
