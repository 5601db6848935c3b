//! Which MCP servers to use, in the `mcpServers` JSON format that Claude Desktop,
//! VS Code and Cursor users already have, plus a few opsdeck keys per server:
//!
//! ```json
//! { "mcpServers": {
//!     "opsdeck": { "command": "opsdeck", "args": ["serve"], "trusted": true },
//!     "files":   { "command": "npx", "args": ["-y", "server"], "env": {"KEY": "${TOKEN}"},
//!                  "passEnv": ["AZURE_TENANT_ID", "DATABRICKS_*"], "initTimeoutSeconds": 10 },
//!     "remote":  { "url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"},
//!                  "readOnly": true, "deniedTools": ["drop_table"], "timeoutSeconds": 30 },
//!     "team":    { "url": "https://opsdeck.contoso.com/mcp", "tokenScope": "api://opsdeck/.default" } } }
//! ```
//!
//! `tokenScope` signs the console in with the Azure identity chain (see
//! [`token_scope`]); it replaces an `Authorization` header, so both are refused.
//!
//! Keys are read whatever their case and `_`/`-` (see `entry`); a misspelt or
//! mistyped safety key refuses the file, other unknown keys come back as warnings.

mod entry;
mod members;
pub mod token_scope;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use members::{Members, TopLevel};

use super::child_env;
use crate::support::exit::ExitError;

/// The default time a tool call may take.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The default time a server has to answer `initialize` and its first `tools/list`.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest `timeoutSeconds` accepted (a day).
pub const MAX_CALL_TIMEOUT_SECS: u64 = 86_400;
/// The largest `initTimeoutSeconds` accepted (ten minutes).
pub const MAX_INIT_TIMEOUT_SECS: u64 = 600;

/// How to reach a server.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerTransport {
    Stdio {
        command: String,
        args: Vec<String>,
        /// Values set for the child (after `${VAR}` expansion).
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
        /// Variables passed through from opsdeck's environment, beyond the defaults
        /// (`NAME`, `PREFIX*`, `!NAME` to exclude); see [`child_env`].
        pass_env: Vec<String>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
        /// Sign in with the Azure identity chain and send a token for this scope.
        token_scope: Option<String>,
    },
}

/// One configured server and the guardrails around it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub name: String,
    pub transport: ServerTransport,
    /// A trusted server's tools without annotations are taken as read-only.
    pub trusted: bool,
    /// Refuse every destructive tool of this server.
    pub read_only: bool,
    /// When set, only these tools are offered.
    pub allowed_tools: Option<Vec<String>>,
    pub denied_tools: Vec<String>,
    /// Tools of this (untrusted) server the operator allows without approval;
    /// a tool whose definition changes is asked again all the same.
    pub always_allow: Vec<String>,
    pub call_timeout: Duration,
    /// How long `initialize` and the first `tools/list` may take before the attempt
    /// counts as failed (and a stdio child is killed).
    pub init_timeout: Duration,
}

impl ServerSpec {
    /// Whether the configuration lets this tool be offered at all.
    pub fn offers(&self, tool: &str) -> bool {
        !self.denied_tools.iter().any(|t| t == tool)
            && self
                .allowed_tools
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|t| t == tool))
    }

    /// An untrusted stdio server with the default timeouts and environment.
    pub fn stdio(name: &str, command: &str, args: Vec<String>) -> ServerSpec {
        ServerSpec::with_transport(
            name,
            ServerTransport::Stdio {
                command: command.to_string(),
                args,
                env: BTreeMap::new(),
                cwd: None,
                pass_env: Vec::new(),
            },
        )
    }

    /// An untrusted streamable HTTP server with the default timeouts.
    pub fn http(name: &str, url: &str) -> ServerSpec {
        ServerSpec::with_transport(
            name,
            ServerTransport::Http {
                url: url.to_string(),
                headers: BTreeMap::new(),
                token_scope: None,
            },
        )
    }

    fn with_transport(name: &str, transport: ServerTransport) -> ServerSpec {
        ServerSpec {
            name: name.to_string(),
            transport,
            trusted: false,
            read_only: false,
            allowed_tools: None,
            denied_tools: Vec::new(),
            always_allow: Vec::new(),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            init_timeout: DEFAULT_INIT_TIMEOUT,
        }
    }

    /// The built-in DataOps server: this same executable running `serve` over stdio,
    /// given the variables `serve` reads (its backend credentials) and no others.
    pub fn builtin(executable: PathBuf, extra_args: Vec<String>) -> ServerSpec {
        let mut args = vec!["serve".to_string()];
        args.extend(extra_args);
        let mut spec = ServerSpec::stdio("opsdeck", &executable.display().to_string(), args);
        if let ServerTransport::Stdio { pass_env, .. } = &mut spec.transport {
            *pass_env = child_env::OPSDECK_SERVE_PASS_ENV
                .iter()
                .map(|p| p.to_string())
                .collect();
        }
        spec.trusted = true;
        spec
    }
}

/// A configuration file, read: its servers, and what the user should be told about
/// it (keys that were ignored), one line each, naming the file and the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConfig {
    pub servers: Vec<ServerSpec>,
    pub warnings: Vec<String>,
}

/// Why a configuration could not be used. Each message names the file and the server.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// `$XDG_CONFIG_HOME/opsdeck/mcp.json`, else `~/.config/opsdeck/mcp.json`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("opsdeck").join("mcp.json"))
}

/// Reads a config file, with its warnings (show them to the user).
pub fn load(path: &Path) -> Result<ParsedConfig, ConfigError> {
    check_private(path)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read MCP config {}: {e}", path.display())))?;
    parse_config(&text, &path.display().to_string(), &|name| {
        std::env::var(name).ok()
    })
}

/// Whoever can write the config can run any program as you (`command`) and
/// hand it your secrets (`env`, `passEnv`), or mark a server trusted: as
/// OpenSSH does with its own files, a config that someone else owns, or that
/// group or others may write, is refused.
fn check_private(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| ConfigError(format!("cannot read MCP config {}: {e}", path.display())))?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(ConfigError(format!(
            "MCP config {} belongs to user id {}, not you ({me}): whoever owns it decides which programs opsdeck starts as you; use a config of your own",
            path.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(ConfigError(format!(
            "MCP config {} may be written by group or others (mode {:o}): whoever can write it decides which programs opsdeck starts as you; run chmod go-w {}",
            path.display(),
            meta.mode() & 0o777,
            path.display()
        )));
    }
    Ok(())
}

/// Reads a config file; its warnings go to the log only (prefer [`load`]).
pub fn load_file(path: &Path) -> Result<Vec<ServerSpec>, ConfigError> {
    load(path).map(|parsed| parsed.servers)
}

/// Parses config text; warnings go to the log only (prefer [`parse_config`]).
pub fn parse(
    text: &str,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ServerSpec>, ConfigError> {
    parse_config(text, origin, lookup).map(|parsed| parsed.servers)
}

/// Parses config text; `lookup` resolves `${VAR}` / `${env:VAR}` in env values, URLs and headers.
pub fn parse_config(
    text: &str,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ParsedConfig, ConfigError> {
    let file: TopLevel = serde_json::from_str(text).map_err(|e| {
        ConfigError(format!(
            "{origin} is not a valid MCP config ({e}); expected {{\"mcpServers\": {{\"name\": {{\"command\": …}} or {{\"url\": …}}}}}}"
        ))
    })?;
    let mut warnings = Vec::new();
    for (raw, _) in &file.others {
        let normalised = entry::normalise(raw);
        if let Some(meant) =
            entry::known(&normalised).or_else(|| entry::meant_safety_key(&normalised))
        {
            return Err(ConfigError(format!(
                "{origin}: {} at the top level applies to no server; put {} inside each server's entry under mcpServers",
                entry::quoted(raw),
                meant.documented()
            )));
        }
        if !matches!(normalised.as_str(), "schema" | "inputs" | "comment") {
            warnings.push(format!(
                "{origin}: {} is not a key opsdeck knows and was ignored",
                entry::quoted(raw)
            ));
        }
    }
    let servers_key = match file.servers.as_slice() {
        [] => {
            return Err(ConfigError(format!(
                "{origin} has no \"mcpServers\"; expected {{\"mcpServers\": {{\"name\": {{\"command\": …}} or {{\"url\": …}}}}}}"
            )));
        }
        [(_, servers)] => servers,
        [(first, _), (second, _), ..] => {
            return Err(ConfigError(format!(
                "{origin} lists servers twice ({} and {}); keep one",
                entry::quoted(first),
                entry::quoted(second)
            )));
        }
    };
    let mut seen_names = std::collections::BTreeSet::new();
    let mut specs = Vec::new();
    for (name, Members(members)) in &servers_key.0 {
        if !seen_names.insert(name.as_str()) {
            return Err(ConfigError(format!(
                "{origin}: server '{name}' is configured twice; keep one"
            )));
        }
        let where_ = format!("{origin}: server '{name}'");
        let entry = entry::read(members.clone(), &where_, &mut warnings)?;
        if entry.disabled {
            continue;
        }
        specs.push(build_spec(name, entry, &where_, lookup, &mut warnings)?);
    }
    if specs.is_empty() {
        return Err(ConfigError(format!(
            "{origin} configures no enabled server"
        )));
    }
    // Server order decides collision prefixes; keep it independent of file order.
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    Ok(ParsedConfig {
        servers: specs,
        warnings,
    })
}

fn build_spec(
    name: &str,
    entry: entry::Entry,
    where_: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<ServerSpec, ConfigError> {
    let expand = |value: &str| {
        expand_vars(value, lookup).map_err(|var| {
            ConfigError(format!(
                "{where_}: ${{{var}}} is not set in the environment"
            ))
        })
    };
    let expand_map = |map: &BTreeMap<String, String>| {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), expand(v)?)))
            .collect::<Result<BTreeMap<_, _>, ConfigError>>()
    };
    let kind = entry.kind.as_deref().map(entry::normalise);
    let transport = match (entry.command, entry.url, kind.as_deref()) {
        (Some(_), Some(_), _) => {
            return Err(ConfigError(format!(
                "{where_} has both command and url; give one"
            )));
        }
        (None, None, _) => {
            return Err(ConfigError(format!(
                "{where_} has neither command (stdio) nor url (HTTP)"
            )));
        }
        (Some(command), None, None | Some("stdio")) => {
            for pattern in &entry.pass_env {
                child_env::check_pattern(pattern)
                    .map_err(|e| ConfigError(format!("{where_}: passEnv {e}")))?;
            }
            if !entry.headers.is_empty() {
                warnings.push(format!(
                    "{where_}: headers apply to HTTP servers only and were ignored"
                ));
            }
            if entry.token_scope.is_some() {
                warnings.push(format!(
                    "{where_}: tokenScope applies to HTTP servers only and was ignored"
                ));
            }
            ServerTransport::Stdio {
                command,
                args: entry.args,
                env: expand_map(&entry.env)?,
                cwd: entry.cwd,
                pass_env: entry.pass_env,
            }
        }
        (None, Some(url), None | Some("http") | Some("streamablehttp")) => {
            if !entry.env.is_empty() || !entry.pass_env.is_empty() {
                warnings.push(format!(
                    "{where_}: env and passEnv apply to stdio servers only and were ignored"
                ));
            }
            let url = expand(&url)?;
            let headers = expand_map(&entry.headers)?;
            let token_scope = entry
                .token_scope
                .as_deref()
                .map(|scope| checked_token_scope(scope, &url, &headers, where_, &expand))
                .transpose()?;
            ServerTransport::Http {
                url,
                headers,
                token_scope,
            }
        }
        (_, _, Some("sse")) => {
            return Err(ConfigError(format!(
                "{where_} uses the legacy SSE transport, which opsdeck does not speak; use the server's streamable HTTP endpoint (usually /mcp)"
            )));
        }
        (_, _, Some(_)) => {
            return Err(ConfigError(format!(
                "{where_} has type {}; use \"stdio\" (with command) or \"http\" (with url)",
                entry::quoted(entry.kind.as_deref().unwrap_or_default())
            )));
        }
    };
    let seconds = |value: Option<u64>, key: &str, max: u64, default: Duration| match value {
        None => Ok(default),
        Some(secs) if (1..=max).contains(&secs) => Ok(Duration::from_secs(secs)),
        Some(secs) => Err(ConfigError(format!(
            "{where_}: {key} is {secs}; it must be between 1 and {max}"
        ))),
    };
    Ok(ServerSpec {
        name: name.to_string(),
        transport,
        trusted: entry.trusted,
        read_only: entry.read_only,
        allowed_tools: entry.allowed_tools,
        denied_tools: entry.denied_tools,
        always_allow: entry.always_allow,
        call_timeout: seconds(
            entry.timeout_seconds,
            "timeoutSeconds",
            MAX_CALL_TIMEOUT_SECS,
            DEFAULT_CALL_TIMEOUT,
        )?,
        init_timeout: seconds(
            entry.init_timeout_seconds,
            "initTimeoutSeconds",
            MAX_INIT_TIMEOUT_SECS,
            DEFAULT_INIT_TIMEOUT,
        )?,
    })
}

/// The scope, expanded and checked: one scope, not with an Authorization
/// header (which of the two would be sent?), only to HTTPS or this machine.
fn checked_token_scope(
    raw: &str,
    url: &str,
    headers: &BTreeMap<String, String>,
    where_: &str,
    expand: &dyn Fn(&str) -> Result<String, ConfigError>,
) -> Result<String, ConfigError> {
    let scope = expand(raw)?;
    token_scope::check(&scope).map_err(|e| ConfigError(format!("{where_}: {e}")))?;
    if headers
        .keys()
        .any(|name| name.trim().eq_ignore_ascii_case("authorization"))
    {
        return Err(ConfigError(format!(
            "{where_} has both tokenScope and an Authorization header; keep one (tokenScope signs you in and sends the token itself)"
        )));
    }
    token_scope::check_url(url).map_err(|e| ConfigError(format!("{where_}: {e}")))?;
    Ok(scope)
}

/// Replaces `${VAR}` and `${env:VAR}`; an unset variable is an error naming it.
fn expand_vars(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim_start_matches("env:");
        out.push_str(&lookup(name).ok_or_else(|| name.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The config file in force: `--mcp-config`, else the user's `mcp.json` when it exists.
fn config_file(explicit: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    explicit
        .map(std::path::Path::to_path_buf)
        .or_else(|| default_path().filter(|p| p.exists()))
}

/// True when servers come from a config file rather than the built-in sandbox.
pub fn configured(explicit: Option<&std::path::Path>) -> bool {
    config_file(explicit).is_some()
}

/// The servers to use: `--mcp-config`, else the user's config file, else the
/// built-in server (`opsdeck serve` with `builtin_args`).
pub fn server_specs(
    explicit: Option<&std::path::Path>,
    builtin_args: Vec<String>,
) -> Result<Vec<ServerSpec>, ExitError> {
    if let Some(path) = config_file(explicit) {
        let parsed = load(&path).map_err(|e| ExitError::usage(e.0))?;
        // A key the config reader could not use is said where the user looks.
        for warning in &parsed.warnings {
            eprintln!("opsdeck: {}", crate::support::terminal::for_screen(warning));
        }
        return Ok(parsed.servers);
    }
    let executable = std::env::current_exe().map_err(|e| {
        ExitError::failed(format!(
            "cannot find this executable to start the built-in server: {e}"
        ))
    })?;
    Ok(vec![ServerSpec::builtin(executable, builtin_args)])
}

#[cfg(test)]
mod tests;
