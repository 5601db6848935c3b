//! Which MCP servers to use, in the `mcpServers` JSON format that Claude Desktop,
//! VS Code and Cursor users already have, plus a few opsdeck keys per server:
//!
//! ```json
//! { "mcpServers": {
//!     "opsdeck": { "command": "opsdeck", "args": ["serve"], "trusted": true },
//!     "remote":  { "url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"},
//!                  "readOnly": true, "deniedTools": ["drop_table"], "timeoutSeconds": 30 } } }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The default time a tool call may take.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
struct ConfigFile {
    #[serde(rename = "mcpServers", alias = "servers")]
    servers: BTreeMap<String, ServerEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerEntry {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    cwd: Option<PathBuf>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    trusted: Option<bool>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    allowed_tools: Option<Vec<String>>,
    #[serde(default)]
    denied_tools: Vec<String>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
    #[serde(default)]
    disabled: bool,
}

/// How to reach a server.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerTransport {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
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
    pub call_timeout: Duration,
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

    /// The built-in DataOps server: this same executable running `serve` over stdio.
    pub fn builtin(executable: PathBuf, extra_args: Vec<String>) -> ServerSpec {
        let mut args = vec!["serve".to_string()];
        args.extend(extra_args);
        ServerSpec {
            name: "opsdeck".into(),
            transport: ServerTransport::Stdio {
                command: executable.display().to_string(),
                args,
                env: BTreeMap::new(),
                cwd: None,
            },
            trusted: true,
            read_only: false,
            allowed_tools: None,
            denied_tools: Vec::new(),
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }
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

/// Reads a config file.
pub fn load_file(path: &Path) -> Result<Vec<ServerSpec>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read MCP config {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string(), &|name| {
        std::env::var(name).ok()
    })
}

/// Parses config text; `lookup` resolves `${VAR}` / `${env:VAR}` in env values, URLs and headers.
pub fn parse(
    text: &str,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ServerSpec>, ConfigError> {
    let file: ConfigFile = serde_json::from_str(text).map_err(|e| {
        ConfigError(format!(
            "{origin} is not a valid MCP config ({e}); expected {{\"mcpServers\": {{\"name\": {{\"command\": …}} or {{\"url\": …}}}}}}"
        ))
    })?;
    let mut specs = Vec::new();
    for (name, entry) in file.servers {
        if entry.disabled {
            continue;
        }
        let where_ = format!("{origin}: server '{name}'");
        let expand = |value: &str| {
            expand_vars(value, lookup).map_err(|var| {
                ConfigError(format!(
                    "{where_}: ${{{var}}} is not set in the environment"
                ))
            })
        };
        let transport = match (entry.command, entry.url, entry.kind.as_deref()) {
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
            (Some(command), None, None | Some("stdio")) => ServerTransport::Stdio {
                command,
                args: entry.args,
                env: entry
                    .env
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), expand(v)?)))
                    .collect::<Result<_, ConfigError>>()?,
                cwd: entry.cwd,
            },
            (
                None,
                Some(url),
                None | Some("http") | Some("streamable-http") | Some("streamableHttp"),
            ) => ServerTransport::Http {
                url: expand(&url)?,
                headers: entry
                    .headers
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), expand(v)?)))
                    .collect::<Result<_, ConfigError>>()?,
            },
            (_, _, Some("sse")) => {
                return Err(ConfigError(format!(
                    "{where_} uses the legacy SSE transport, which opsdeck does not speak; use the server's streamable HTTP endpoint (usually /mcp)"
                )));
            }
            (_, _, Some(other)) => {
                return Err(ConfigError(format!(
                    "{where_} has type '{other}'; use \"stdio\" or \"http\""
                )));
            }
        };
        let call_timeout = match entry.timeout_seconds {
            Some(0) => {
                return Err(ConfigError(format!(
                    "{where_}: timeoutSeconds must be at least 1"
                )));
            }
            Some(secs) => Duration::from_secs(secs),
            None => DEFAULT_CALL_TIMEOUT,
        };
        specs.push(ServerSpec {
            trusted: entry.trusted.unwrap_or(false),
            read_only: entry.read_only,
            allowed_tools: entry.allowed_tools,
            denied_tools: entry.denied_tools,
            call_timeout,
            transport,
            name,
        });
    }
    if specs.is_empty() {
        return Err(ConfigError(format!(
            "{origin} configures no enabled server"
        )));
    }
    Ok(specs)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "t0k3n".to_string())
    }

    #[test]
    fn claude_desktop_style_config_parses_with_opsdeck_keys() {
        let text = r#"{"mcpServers": {
            "files": {"command": "npx", "args": ["-y", "server"], "env": {"KEY": "${TOKEN}"}},
            "remote": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer ${env:TOKEN}"},
                       "trusted": true, "readOnly": true, "deniedTools": ["drop"], "timeoutSeconds": 5},
            "off": {"command": "x", "disabled": true}
        }}"#;
        let specs = parse(text, "test.json", &env).unwrap();
        assert_eq!(specs.len(), 2);
        let files = &specs[0];
        assert!(!files.trusted);
        assert_eq!(files.call_timeout, DEFAULT_CALL_TIMEOUT);
        let ServerTransport::Stdio { env, .. } = &files.transport else {
            panic!()
        };
        assert_eq!(env["KEY"], "t0k3n");
        let remote = &specs[1];
        assert!(remote.trusted && remote.read_only);
        assert_eq!(remote.call_timeout, Duration::from_secs(5));
        assert!(!remote.offers("drop") && remote.offers("list"));
        let ServerTransport::Http { headers, .. } = &remote.transport else {
            panic!()
        };
        assert_eq!(headers["Authorization"], "Bearer t0k3n");
    }

    #[test]
    fn mistakes_are_named_with_the_server() {
        let err = parse(
            r#"{"mcpServers": {"a": {"command": "x", "url": "y"}}}"#,
            "f.json",
            &env,
        )
        .unwrap_err();
        assert!(
            err.0.contains("server 'a'") && err.0.contains("both"),
            "{err}"
        );
        let err = parse(
            r#"{"mcpServers": {"a": {"url": "${NOPE}/mcp"}}}"#,
            "f.json",
            &env,
        )
        .unwrap_err();
        assert!(err.0.contains("${NOPE}"), "{err}");
        let err = parse(
            r#"{"mcpServers": {"a": {"type": "sse", "url": "http://x/sse"}}}"#,
            "f.json",
            &env,
        )
        .unwrap_err();
        assert!(err.0.contains("streamable HTTP"), "{err}");
        let err = parse("not json", "f.json", &env).unwrap_err();
        assert!(
            err.0.contains("f.json") && err.0.contains("mcpServers"),
            "{err}"
        );
    }

    #[test]
    fn allow_list_limits_the_offered_tools() {
        let specs = parse(
            r#"{"mcpServers": {"a": {"command": "x", "allowedTools": ["one"]}}}"#,
            "f",
            &env,
        )
        .unwrap();
        assert!(specs[0].offers("one") && !specs[0].offers("two"));
    }
}
