//! Who may call what, decided before anything reaches a server.
//!
//! Tool annotations are hints the server writes about itself; the MCP
//! specification says to believe them only from a trusted server. So:
//! - a tool of an **untrusted** server needs a person's approval on every call,
//!   whatever it claims, unless the operator allowed that tool (`alwaysAllow` in
//!   mcp.json, or "allow for this session" in the console's dialog);
//! - a tool of a **trusted** server needs approval when its annotations say it
//!   is destructive (a trusted tool without annotations is taken as a read),
//!   except a `dry_run: true` preview of a tool that declares `dry_run`;
//! - a tool whose definition changed since it was first seen this session needs
//!   approval again, wherever it comes from;
//! - read-only mode (global or the server's) refuses whatever would need approval.
//!
//! One policy lives for the whole session (the console shares it across
//! questions), so what it has seen and allowed outlasts a turn.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::mcp::CatalogTool;

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Allow,
    /// Needs approval, and the operator gave it up front for exactly these
    /// arguments (`opsdeck ask --approve 'TOOL:{…}'`).
    PreApproved,
    NeedsApproval(Ask),
    Refuse(String),
}

/// Why a call needs a person, in words for the dialog and the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    pub reason: String,
    pub kind: AskKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskKind {
    /// The server is not trusted, so its annotations were not believed.
    Untrusted,
    /// The tool changes the estate (or may: it says nothing about itself).
    Destructive,
    /// The tool's definition changed since it was first seen.
    Changed,
}

impl Ask {
    /// Only an untrusted server's tool may be allowed for the rest of the session
    /// in one go: a destructive call or a changed definition is asked every time.
    pub fn session_allowable(&self) -> bool {
        self.kind == AskKind::Untrusted
    }
}

/// What the host's configuration says about the server a tool comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Standing<'a> {
    pub trusted: bool,
    pub read_only: bool,
    /// Tools the operator allowed without approval (mcp.json `alwaysAllow`).
    pub always_allow: &'a [String],
}

impl<'a> Standing<'a> {
    /// What a server's configuration says; an unknown server has no standing.
    pub fn of(spec: Option<&'a crate::mcp::ServerSpec>) -> Standing<'a> {
        spec.map_or_else(Standing::default, |s| Standing {
            trusted: s.trusted,
            read_only: s.read_only,
            always_allow: &s.always_allow,
        })
    }
}

/// One call approved up front, with the exact arguments it may carry. Used once:
/// a model that repeats the call (or an injected instruction that writes another)
/// is asked again — headless, that is a refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct PreApproval {
    /// The server whose tool this is (`SERVER/TOOL:…`); required when more than
    /// one server is configured (see [`PreApproval::bind`]).
    pub server: Option<String>,
    /// The server's own name for the tool.
    pub tool: String,
    pub arguments: Map<String, Value>,
}

impl std::str::FromStr for PreApproval {
    type Err = String;

    /// `TOOL:{"arg": …}`; a bare tool name would approve whatever arguments the
    /// model chooses, so it is refused with the form to use.
    fn from_str(text: &str) -> Result<PreApproval, String> {
        let example =
            r#"--approve 'rerun_pipeline:{"pipeline":"transform_sales","dry_run":false}'"#;
        let Some((tool, json)) = text.split_once(':') else {
            return Err(format!(
                "--approve {text:?} names no arguments: a bare tool name would approve any arguments the model (or an instruction injected into a tool result) chooses. Give the exact call: {example}"
            ));
        };
        let (server, tool) = match tool.trim().rsplit_once('/') {
            Some((server, tool)) => (Some(server.trim().to_string()), tool.trim()),
            None => (None, tool.trim()),
        };
        if tool.is_empty() || server.as_deref().is_some_and(str::is_empty) {
            return Err(format!("--approve {text:?} names no tool; e.g. {example}"));
        }
        let arguments = match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(format!(
                    "--approve {tool}: the arguments must be a JSON object, not {other}; e.g. {example}"
                ));
            }
            Err(e) => {
                return Err(format!(
                    "--approve {tool}: the arguments are not valid JSON ({e}); e.g. {example}"
                ));
            }
        };
        Ok(PreApproval {
            server,
            tool: tool.to_string(),
            arguments,
        })
    }
}

impl PreApproval {
    /// Ties the approval to one configured server: named, or the only one.
    /// Which server a bare name reaches depends on which servers are up, so
    /// with several configured the server must be named.
    pub fn bind(mut self, servers: &[&str]) -> Result<PreApproval, String> {
        match (&self.server, servers) {
            (Some(server), _) if servers.contains(&server.as_str()) => Ok(self),
            (Some(server), _) => Err(format!(
                "--approve names server '{server}', which is not configured; servers: {}",
                servers.join(", ")
            )),
            (None, [only]) => {
                self.server = Some((*only).to_string());
                Ok(self)
            }
            (None, _) => Err(format!(
                "--approve {}: {} servers are configured, so say whose tool it is: --approve 'SERVER/{}:{}' (servers: {})",
                self.tool,
                servers.len(),
                self.tool,
                Value::Object(self.arguments.clone()),
                servers.join(", ")
            )),
        }
    }

    /// The same server's tool and the same arguments (the host's own
    /// `approved_by` aside); an unbound approval matches no call.
    fn matches(&self, tool: &CatalogTool, arguments: &Value) -> bool {
        let named = self.server.as_deref() == Some(tool.server.as_str())
            && (self.tool == tool.server_tool_name() || self.tool == tool.exposed_name);
        let Some(given) = arguments.as_object() else {
            return false;
        };
        let mut given = given.clone();
        given.remove("approved_by");
        named && given == self.arguments
    }
}

#[derive(Debug, Default)]
pub struct ApprovalPolicy {
    /// Refuse everything that would need approval.
    pub read_only: bool,
    /// Calls approved up front, each used at most once.
    pre_approved: Vec<PreApproval>,
    /// Definition hash of each tool (`server/tool`) when first seen, or when a
    /// person last approved its changed definition.
    seen: HashMap<String, u64>,
    /// Untrusted tools a person allowed for the session, by key and definition.
    session_allowed: HashSet<(String, u64)>,
}

/// The session's one policy, shared by every turn.
#[derive(Debug, Clone, Default)]
pub struct SharedPolicy(Arc<Mutex<ApprovalPolicy>>);

impl From<ApprovalPolicy> for SharedPolicy {
    fn from(policy: ApprovalPolicy) -> SharedPolicy {
        SharedPolicy(Arc::new(Mutex::new(policy)))
    }
}

impl SharedPolicy {
    /// Runs `f` on the policy; a poisoned lock (a panic elsewhere) still holds
    /// consistent data: every change is a single insert.
    pub fn with<T>(&self, f: impl FnOnce(&mut ApprovalPolicy) -> T) -> T {
        let mut guard = crate::support::sync::lock(&self.0);
        f(&mut guard)
    }
}

fn key(tool: &CatalogTool) -> String {
    format!("{}/{}", tool.server, tool.server_tool_name())
}

impl ApprovalPolicy {
    pub fn new(read_only: bool, pre_approved: Vec<PreApproval>) -> ApprovalPolicy {
        ApprovalPolicy {
            read_only,
            pre_approved,
            ..ApprovalPolicy::default()
        }
    }

    /// Judges one call against the server's standing.
    pub fn judge(&mut self, tool: &CatalogTool, arguments: &Value, standing: Standing) -> Verdict {
        let Some(ask) = self.ask(tool, arguments, standing) else {
            return Verdict::Allow;
        };
        if self.read_only || standing.read_only {
            let mode = if self.read_only {
                "read-only mode"
            } else {
                "server is configured readOnly"
            };
            return Verdict::Refuse(format!("{}; refused ({mode})", ask.reason));
        }
        if ask.kind != AskKind::Changed
            && let Some(index) = self
                .pre_approved
                .iter()
                .position(|p| p.matches(tool, arguments))
        {
            self.pre_approved.remove(index);
            return Verdict::PreApproved;
        }
        Verdict::NeedsApproval(ask)
    }

    /// Notes every tool of the catalogue not seen before, so a definition that
    /// changes before its first call still counts as changed.
    pub fn observe(&mut self, catalog: &[CatalogTool]) {
        for tool in catalog {
            self.seen.entry(key(tool)).or_insert(tool.definition_hash);
        }
    }

    /// Whether the tool is as it was first seen (a tool never seen is noted now).
    pub fn unchanged(&mut self, tool: &CatalogTool) -> bool {
        *self.seen.entry(key(tool)).or_insert(tool.definition_hash) == tool.definition_hash
    }

    /// A person approved the call: a changed definition becomes the one known,
    /// and "allow for this session" covers this tool's current definition.
    pub fn approved(&mut self, tool: &CatalogTool, for_session: bool) {
        self.seen.insert(key(tool), tool.definition_hash);
        if for_session {
            self.session_allowed
                .insert((key(tool), tool.definition_hash));
        }
    }

    fn ask(&mut self, tool: &CatalogTool, arguments: &Value, standing: Standing) -> Option<Ask> {
        let first_hash = *self.seen.entry(key(tool)).or_insert(tool.definition_hash);
        if first_hash != tool.definition_hash {
            return Some(Ask {
                reason: format!(
                    "{} changed its definition since it was first seen this session",
                    tool.exposed_name
                ),
                kind: AskKind::Changed,
            });
        }
        let allowed_for_session = self
            .session_allowed
            .contains(&(key(tool), tool.definition_hash));
        standing_ask(tool, arguments, standing, allowed_for_session)
    }
}

/// Whether a call may run with nobody asked, on the configuration alone: what
/// opsdeck's own background reads (the board, run details, the offline agent's
/// look-ups) check before calling a server.
pub fn runs_without_asking(tool: &CatalogTool, arguments: &Value, standing: Standing) -> bool {
    standing_ask(tool, arguments, standing, false).is_none()
}

/// Why the server's standing asks for a person, definition changes aside.
fn standing_ask(
    tool: &CatalogTool,
    arguments: &Value,
    standing: Standing,
    allowed_for_session: bool,
) -> Option<Ask> {
    let name = &tool.exposed_name;
    // An untrusted server's annotations may make a call stricter, never looser.
    let says_destructive = tool
        .tool
        .annotations
        .as_ref()
        .is_some_and(|a| a.destructive_hint == Some(true));
    let destructive = Some(Ask {
        reason: format!("{name} is marked destructive"),
        kind: AskKind::Destructive,
    });
    if !standing.trusted {
        let operator_allowed = allowed_for_session
            || standing
                .always_allow
                .iter()
                .any(|t| t == tool.server_tool_name() || t == name);
        return match (operator_allowed, says_destructive) {
            (true, false) => None,
            (true, true) => destructive,
            (false, _) => Some(Ask {
                reason: format!(
                    "{name} comes from server '{}', which is not marked trusted: its annotations are not believed, so each call is asked",
                    tool.server
                ),
                kind: AskKind::Untrusted,
            }),
        };
    }
    if !tool.is_destructive(true) || is_dry_run(tool, arguments) {
        return None;
    }
    destructive
}

/// A call with `dry_run: true` to a tool that declares a `dry_run` parameter is a
/// preview. Only asked of trusted servers' tools: an untrusted one may ignore it.
pub fn is_dry_run(tool: &CatalogTool, arguments: &Value) -> bool {
    let Some(declared) = declared_dry_run(tool) else {
        return false;
    };
    let defaults_true = declared
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.to_lowercase().contains("default true"))
        || declared.get("default") == Some(&Value::Bool(true));
    arguments
        .get("dry_run")
        .map_or(defaults_true, |v| v == &Value::Bool(true))
}

/// The `dry_run` parameter a tool declares in its input schema, if any.
pub fn declared_dry_run(tool: &CatalogTool) -> Option<&Value> {
    tool.tool
        .input_schema
        .get("properties")
        .and_then(|p| p.get("dry_run"))
}

#[cfg(test)]
mod tests;
