//! Starting a trace for a session: the header from the live MCP host, the
//! file from `--trace` / `--no-trace` or the default place.

use std::path::PathBuf;

use chrono::Utc;

use super::recorder::{self, Recorder};
use super::schema::{Header, SCHEMA_VERSION, ServerInfo, ToolInfo};
use crate::mcp::McpHost;

/// What the session is, for the header.
pub struct SessionInfo<'a> {
    pub process: &'a str,
    pub agent_mode: &'a str,
    pub read_only: bool,
    pub backend: &'a str,
    pub scenario: Option<&'a str>,
}

/// Where to record: an explicit file, the default file, or nowhere.
pub enum TraceTarget {
    Off,
    Default,
    File(PathBuf),
}

impl TraceTarget {
    pub fn from_flags(file: Option<PathBuf>, off: bool) -> TraceTarget {
        match (file, off) {
            (_, true) => TraceTarget::Off,
            (Some(path), false) => TraceTarget::File(path),
            (None, false) => TraceTarget::Default,
        }
    }
}

pub async fn header(host: &McpHost, info: &SessionInfo<'_>) -> Header {
    let catalog = host.catalog().await;
    let mut servers: Vec<ServerInfo> = host
        .states()
        .into_iter()
        .map(|(name, _)| ServerInfo {
            name,
            tools: Vec::new(),
        })
        .collect();
    for entry in &catalog {
        let trusted = host.spec(&entry.server).is_some_and(|s| s.trusted);
        if let Some(server) = servers.iter_mut().find(|s| s.name == entry.server) {
            server.tools.push(ToolInfo {
                name: entry.exposed_name.clone(),
                definition_hash: format!("{:016x}", entry.definition_hash),
                destructive: entry.is_destructive(trusted),
                read_only: super::verify::believed_read_only(entry, trusted),
            });
        }
    }
    Header {
        kind: "header".into(),
        schema: SCHEMA_VERSION,
        opsdeck_version: env!("CARGO_PKG_VERSION").into(),
        started_at: Utc::now(),
        host: hostname(),
        process: info.process.into(),
        agent_mode: info.agent_mode.into(),
        read_only: info.read_only,
        backend: info.backend.into(),
        scenario: info.scenario.map(str::to_string),
        servers,
    }
}

/// Opens the recorder; a trace that cannot be written is reported, not fatal —
/// the question still gets answered.
pub async fn start(
    target: TraceTarget,
    host: &McpHost,
    info: &SessionInfo<'_>,
) -> Result<Option<Recorder>, String> {
    let header = header(host, info).await;
    open(target, info.process, &header)
}

/// Opens the recorder with a header already made.
pub fn open(
    target: TraceTarget,
    process: &str,
    header: &Header,
) -> Result<Option<Recorder>, String> {
    let path = match target {
        TraceTarget::Off => return Ok(None),
        TraceTarget::File(path) => path,
        TraceTarget::Default => recorder::default_path(process, Utc::now())
            .ok_or("no state directory (set XDG_STATE_HOME or HOME), so no trace is recorded")?,
    };
    Recorder::create(&path, header)
        .map(Some)
        .map_err(|e| format!("cannot record the trace at {}: {e}", path.display()))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
