//! Secret redaction, applied before anything leaves the process as text: the
//! session trace, the log file, the screen and exports. A secret is replaced by
//! a marker that says what kind of secret was removed, e.g.
//! `[redacted: storage account key]`, so a reader knows something was there
//! without learning it.
//!
//! Two layers: patterns in free text (connection strings, SAS signatures,
//! bearer tokens, JWTs, OpenAI, Databricks, GitHub, Slack and AWS keys, PEM
//! private keys, Entra ID client secrets, passwords in URLs, `password=…`-style
//! pairs and `NAME_TOKEN=…`-style variables), and, in JSON, the values of keys
//! named like secrets (`password`, `client_secret`, `apiKey`, `accessToken`, …).
//!
//! Each string is screened once by one [`RegexSet`] of every rule; only the
//! rules that matched rewrite it, and text with no secret is borrowed as is.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};
use serde_json::Value;

use super::schema::TraceMessage;
use crate::agent::events::AgentEvent;
use crate::model::run::PipelineRun;

pub use super::terminal::{for_screen, terminal_safe};

struct Rule {
    kind: &'static str,
    /// The secret is the first capture group that took part in the match; the
    /// rest of the match (a name, `=`, quotes) is kept.
    pattern: Regex,
}

/// The rules and one set of all their patterns, to screen a text in one pass.
struct Rules {
    rules: Vec<Rule>,
    /// `None` only if the set failed to build: then every rule is tried.
    screen: Option<RegexSet>,
}

/// Word boundaries are ASCII: secrets are ASCII, and a Unicode `\b` would make
/// the matcher leave its fast DFA on any non-ASCII text.
fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

fn rule(kind: &'static str, pattern: &str) -> Option<Rule> {
    match Regex::new(&ascii_boundaries(pattern)) {
        Ok(pattern) => Some(Rule { kind, pattern }),
        Err(e) => {
            // The patterns are constants covered by tests; this cannot happen at run time.
            tracing::error!(kind, "redaction pattern does not compile: {e}");
            None
        }
    }
}

/// A value after `=` or `:`: double-quoted (with `\"` escapes, as in JSON and
/// shells), single-quoted (spaces allowed), or bare.
const VALUE: &str = r#"(?:"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'|([^\s;,"'&}]+))"#;

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let rules: Vec<Rule> = [
        // PEM private keys (PKCS#1/#8, EC, OpenSSH, encrypted, PGP): the body
        // goes, up to the END line or, for a cut-off key, the end of the text.
        rule(
            "private key",
            r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(.+?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        ),
        // Storage / Event Hubs / Service Bus connection strings.
        rule(
            "storage account key",
            r#"(?i)\b(?:Account|Shared|SharedAccess)Key\s*=\s*["']?([A-Za-z0-9+/=]{16,})"#,
        ),
        rule(
            "shared access signature",
            r"(?i)\bSharedAccessSignature\s*=\s*([^;\s\x22']+)",
        ),
        // SAS tokens in URLs, query strings and log lines: the signature is the secret part.
        rule(
            "SAS signature",
            r"(?i)(?:\A|[?&;\s\x22'(,{]|%26)sig(?:=|\x22\s*:\s*\x22)([^&\s\x22'<>]+)",
        ),
        // Databricks personal access tokens (dapi + 32 hex, sometimes `-2`) and
        // service principals' OAuth secrets (dose + 32 hex).
        rule(
            "Databricks token",
            r"\b((?:dapi|dose)[0-9a-fA-F]{32}(?:-[0-9]+)?)\b",
        ),
        // AWS access key ids (long-term AKIA, temporary ASIA) and secret keys.
        rule("AWS access key id", r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b"),
        rule(
            "AWS secret key",
            r#"(?i)\b(?:aws_?)?(?:secret_?access_?key|session_?token)\b["']?\s*[=:]\s*["']?([A-Za-z0-9/+=]{16,})"#,
        ),
        // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
        rule(
            "GitHub token",
            r"\b((?:gh[pousr]_[A-Za-z0-9]{30,})|(?:github_pat_[A-Za-z0-9_]{30,}))",
        ),
        // Slack bot, user, app, refresh and session tokens, and incoming webhooks.
        rule(
            "Slack token",
            r"\b((?:xox[abeoprs]-[A-Za-z0-9-]{10,})|(?:xapp-[0-9]-[A-Za-z0-9-]{10,}))",
        ),
        rule(
            "Slack webhook",
            r"(?i)\bhooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]+)",
        ),
        // JWTs (Entra ID access tokens, id tokens, workload identity tokens).
        rule(
            "JWT",
            r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)",
        ),
        // Authorization: Bearer <token> (whatever its shape).
        rule("bearer token", r"(?i)\bBearer\s+([A-Za-z0-9\-._~+/]{8,}=*)"),
        // OpenAI API keys: sk-…, sk-proj-…, sk-svcacct-….
        rule(
            "OpenAI key",
            r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})",
        ),
        // Entra ID client secrets: three characters, a digit, `Q~`, then 31–34 more.
        rule(
            "client secret",
            r"(?:\A|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})",
        ),
        // scheme://user:password@host
        rule(
            "password in URL",
            r"(?i)\b[a-z][a-z0-9+.\-]*://[^/\s:@\x22']+:([^@\s/\x22']+)@",
        ),
        // password=…, Pwd=…;, client_secret: …, api_key="…", "password": "…" in free text.
        rule(
            "password",
            &format!(
                r#"(?i)\b(?:password|passwd|pwd|client[_-]?secret|api[_-]?key|secret[_-]?value|access[_-]?token|refresh[_-]?token)\b["']?\s*[=:]\s*{VALUE}"#
            ),
        ),
        // JSON as text (a tool result's text, a log line): a string field named
        // like a secret, the same names `value` knows (`"apiKey": "…"`).
        rule(
            "secret value",
            r#"(?i)"[A-Za-z0-9_\-]*?(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|account[_-]?key|storage[_-]?key|access[_-]?key|private[_-]?key|connection[_-]?string|credentials?|authorization)"\s*:\s*"((?:[^"\\\n]|\\.)*)""#,
        ),
        // Variables as task logs and environment dumps show them:
        // DATABRICKS_TOKEN=…, AZURE_CLIENT_SECRET=…, export STORAGE_KEY="…".
        rule(
            "secret variable",
            &format!(
                r#"\b(?:[A-Z0-9]+_)*(?:TOKEN|SECRET|KEY|PASSWORD|PASSWD|PWD|APIKEY|CREDENTIALS?)S?\b["']?\s*[=:]\s*{VALUE}"#
            ),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let screen = RegexSet::new(rules.iter().map(|r| r.pattern.as_str()))
        .map_err(|e| tracing::error!("the redaction screen does not build: {e}"))
        .ok();
    Rules { rules, screen }
});

/// Text with every secret it carries replaced by a marker; borrowed when there was none.
pub fn text(input: &str) -> Cow<'_, str> {
    let rules = &*RULES;
    let matched: Vec<usize> = match &rules.screen {
        Some(screen) => screen.matches(input).into_iter().collect(),
        None => (0..rules.rules.len()).collect(),
    };
    let mut out = Cow::Borrowed(input);
    for rule in matched.into_iter().filter_map(|i| rules.rules.get(i)) {
        if let Cow::Owned(replaced) = rule.pattern.replace_all(&out, |caps: &Captures| {
            let whole = caps.get(0).map_or("", |m| m.as_str());
            let secret = caps.iter().skip(1).flatten().next();
            match secret {
                Some(secret) if !secret.is_empty() && !is_marker(secret.as_str()) => {
                    let offset = caps.get(0).map_or(0, |m| m.start());
                    let start = secret.start() - offset;
                    let end = secret.end() - offset;
                    format!(
                        "{}[redacted: {}]{}",
                        &whole[..start],
                        rule.kind,
                        &whole[end..]
                    )
                }
                _ => whole.to_string(),
            }
        }) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

fn is_marker(text: &str) -> bool {
    text.starts_with("[redacted")
}

/// Keys whose values are secrets, compared without case, `_` or `-`.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secretvalue",
    "clientsecret",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "apikey",
    "accountkey",
    "storagekey",
    "sharedaccesskey",
    "secretaccesskey",
    "connectionstring",
    "sastoken",
    "sig",
    "privatekey",
    "credential",
    "credentials",
    "authorization",
];

/// True for keys like `password`, `client_secret`, `apiKey`, `AccountKey`,
/// `x-api-key` — but not `secret_name` or `prompt_tokens` (metadata, not secrets).
pub fn is_secret_key(key: &str) -> bool {
    let normal: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-' && *c != ' ')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEYS
        .iter()
        .any(|k| normal == *k || (normal.len() > k.len() && normal.ends_with(k) && k.len() >= 5))
}

/// A JSON value with secret-named keys' values (strings and numbers — a
/// numeric PIN is a secret too) replaced and every string's text redacted.
pub fn value(input: &Value) -> Value {
    match input {
        Value::String(s) => Value::String(text(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| {
                    let redacted = match v {
                        Value::String(s)
                            if is_secret_key(key) && !s.is_empty() && !is_marker(s) =>
                        {
                            Value::String(format!("[redacted: value of {key}]"))
                        }
                        Value::Number(_) if is_secret_key(key) => {
                            Value::String(format!("[redacted: value of {key}]"))
                        }
                        other => value(other),
                    };
                    (key.clone(), redacted)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A run as the board and the trace may hold it: its message, trigger name,
/// environment and every parameter redacted (a connection string or a storage
/// key is often a run parameter). Identifiers are kept: the console looks runs
/// up by them.
pub fn run(mut run: PipelineRun) -> PipelineRun {
    in_place(&mut run.message);
    in_place(&mut run.environment);
    in_place(&mut run.invoked_by.name);
    if !run.parameters.is_empty() {
        let parameters = Value::Object(std::mem::take(&mut run.parameters));
        if let Value::Object(clean) = value(&parameters) {
            run.parameters = clean;
        }
    }
    run
}

fn in_place(text: &mut String) {
    if let Cow::Owned(redacted) = self::text(text) {
        *text = redacted;
    }
}

/// An agent event with every text and JSON payload redacted: what the screen,
/// the trace and exports get.
pub fn event(mut event: AgentEvent) -> AgentEvent {
    match &mut event {
        AgentEvent::UserMessage { text }
        | AgentEvent::TextDelta { text }
        | AgentEvent::Error { message: text }
        | AgentEvent::TurnFinished { answer: text, .. } => in_place(text),
        AgentEvent::ToolCallStarted { arguments, .. } => *arguments = value(arguments),
        AgentEvent::ToolCallFinished { result, .. } => *result = value(result),
        AgentEvent::ApprovalNeeded {
            arguments, reason, ..
        } => {
            *arguments = value(arguments);
            in_place(reason);
        }
        AgentEvent::AgentMode { .. }
        | AgentEvent::ApprovalDecided { .. }
        | AgentEvent::Usage { .. } => {}
    }
    event
}

/// A trace message whose secrets are gone — the only kind the recorder writes.
/// Redacting a 1 MB tool result is real work, so it happens once: the console
/// and `ask` redact each agent event as it arrives (for the screen) and hand
/// that same event on with [`Clean::redacted_event`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clean(TraceMessage);

impl Clean {
    /// Redacts the message.
    pub fn new(message: TraceMessage) -> Clean {
        let text = |s: String| match self::text(&s) {
            Cow::Borrowed(_) => s,
            Cow::Owned(redacted) => redacted,
        };
        Clean(match message {
            TraceMessage::Agent { event: e } => TraceMessage::Agent { event: event(e) },
            TraceMessage::RunsChanged { changes, removed } => TraceMessage::RunsChanged {
                removed,
                changes: changes
                    .into_iter()
                    .map(|mut c| {
                        c.run = run(c.run);
                        c
                    })
                    .collect(),
            },
            TraceMessage::RunsStale { reason } => TraceMessage::RunsStale {
                reason: text(reason),
            },
            TraceMessage::Connection {
                server,
                ready,
                detail,
            } => TraceMessage::Connection {
                server,
                ready,
                detail: text(detail),
            },
            TraceMessage::SessionEnd { reason } => TraceMessage::SessionEnd {
                reason: text(reason),
            },
        })
    }

    /// An event that has already been through [`event`].
    pub fn redacted_event(event: AgentEvent) -> Clean {
        Clean(TraceMessage::Agent { event })
    }

    pub fn into_inner(self) -> TraceMessage {
        self.0
    }
}

#[cfg(test)]
mod tests;
