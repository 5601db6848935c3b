//! Secret redaction, applied before anything leaves the process as text: the
//! session trace, the log file and exports. A secret is replaced by a marker
//! that says what kind of secret was removed, e.g. `[redacted: storage account key]`,
//! so a reader knows something was there without learning it.
//!
//! Two layers: patterns in free text (connection strings, SAS signatures,
//! bearer tokens, JWTs, OpenAI keys, Entra ID client secrets, passwords in
//! URLs, `password=…`-style pairs), and, in JSON, the values of keys named like
//! secrets (`password`, `client_secret`, `apiKey`, `accessToken`, …).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

use super::schema::TraceMessage;
use crate::agent::events::AgentEvent;

struct Rule {
    kind: &'static str,
    pattern: Regex,
    /// The capture group holding the secret; the rest of the match is kept.
    group: usize,
}

fn rule(kind: &'static str, pattern: &str, group: usize) -> Option<Rule> {
    match Regex::new(pattern) {
        Ok(pattern) => Some(Rule {
            kind,
            pattern,
            group,
        }),
        Err(e) => {
            // The patterns are constants covered by tests; this cannot happen at run time.
            tracing::error!(kind, "redaction pattern does not compile: {e}");
            None
        }
    }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    [
        // Storage connection strings: AccountKey=<base64>; and SharedAccessSignature=<sas>.
        rule("storage account key", r"(?i)\b(?:Account|Shared)Key\s*=\s*([A-Za-z0-9+/=]{16,})", 1),
        rule("shared access signature", r"(?i)\bSharedAccessSignature\s*=\s*([^;\s\x22']+)", 1),
        // SAS tokens in URLs and query strings: the signature is the secret part.
        rule("SAS signature", r"(?i)[?&]sig=([^&\s\x22'<>]+)", 1),
        // JWTs (Entra ID access tokens, id tokens, workload identity tokens).
        rule("JWT", r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)", 1),
        // Authorization: Bearer <token> (whatever its shape).
        rule("bearer token", r"(?i)\bBearer\s+([A-Za-z0-9\-._~+/]{8,}=*)", 1),
        // OpenAI API keys: sk-…, sk-proj-…, sk-svcacct-….
        rule("OpenAI key", r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})", 1),
        // Entra ID client secrets: three characters, a digit, `Q~`, then 31–34 more.
        rule("client secret", r"(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})", 1),
        // scheme://user:password@host
        rule("password in URL", r"(?i)\b[a-z][a-z0-9+.\-]*://[^/\s:@\x22']+:([^@\s/\x22']+)@", 1),
        // password=…, Pwd=…;, client_secret: …, api_key="…" in free text.
        rule(
            "password",
            r#"(?i)\b(?:password|passwd|pwd|client[_-]?secret|api[_-]?key|secret[_-]?value|access[_-]?token|refresh[_-]?token)\b\s*[=:]\s*"?([^\s;,"'&}]+)"#,
            1,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// Text with every secret it carries replaced by a marker; borrowed when there was none.
pub fn text(input: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(input);
    for rule in RULES.iter() {
        if !rule.pattern.is_match(&out) {
            continue;
        }
        let replaced = rule
            .pattern
            .replace_all(&out, |caps: &Captures| {
                let whole = caps.get(0).map_or("", |m| m.as_str());
                match caps.get(rule.group) {
                    Some(secret) if !is_marker(secret.as_str()) => {
                        let start = secret.start() - caps.get(0).map_or(0, |m| m.start());
                        let end = start + secret.as_str().len();
                        format!(
                            "{}[redacted: {}]{}",
                            &whole[..start],
                            rule.kind,
                            &whole[end..]
                        )
                    }
                    _ => whole.to_string(),
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

fn is_marker(text: &str) -> bool {
    text.starts_with("[redacted")
}

/// Keys whose string values are secrets, compared without case, `_` or `-`.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
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
    "connectionstring",
    "sastoken",
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

/// A JSON value with secret-named keys' string values replaced and every
/// string's text redacted.
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
                        other => value(other),
                    };
                    (key.clone(), redacted)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An agent event with every text and JSON payload redacted: what the screen,
/// the trace and exports get.
pub fn event(mut event: AgentEvent) -> AgentEvent {
    fn in_place(text: &mut String) {
        if let Cow::Owned(redacted) = self::text(text) {
            *text = redacted;
        }
    }
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
                        c.run.message = text(c.run.message);
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
mod tests {
    use super::*;
    use serde_json::json;

    /// Planted secrets of each kind, each with the marker that must replace it.
    pub const PLANTED: &[(&str, &str, &str)] = &[
        (
            "DefaultEndpointsProtocol=https;AccountName=stlake;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cQ==;EndpointSuffix=core.windows.net",
            "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4",
            "storage account key",
        ),
        (
            "BlobEndpoint=https://stlake.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-01T00:00:00Z&sig=AbCdEf0123456789%2BxyZ%3D",
            "AbCdEf0123456789",
            "shared access signature",
        ),
        (
            "https://stlake.blob.core.windows.net/raw/file.csv?sv=2022-11-02&se=2026-12-01&sr=b&sp=r&sig=QWxhZGRpbjpvcGVuIHNlc2FtZQ%3D%3D",
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ",
            "SAS signature",
        ),
        (
            "Server=tcp:sql-prod.database.windows.net,1433;User ID=etl;Password=Sup3r$ecret!2026;Encrypt=True",
            "Sup3r$ecret!2026",
            "password",
        ),
        (
            "Authorization: Bearer ya29.a0AfH6SMBx3kT9opaqueTokenValue1234567890",
            "ya29.a0AfH6SMBx3kT9opaqueTokenValue",
            "bearer token",
        ),
        (
            "token eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLWp3dA",
            "eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0",
            "JWT",
        ),
        (
            "OPENAI_API_KEY is sk-proj-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789",
            "Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789",
            "OpenAI key",
        ),
        (
            "the app's secret is Xy78Q~abcdefghijklmnopqrstuvwxyz0123456 (rotate it)",
            "Xy78Q~abcdefghijklmnopqrstuvwxyz0123456",
            "client secret",
        ),
        (
            "connecting to postgres://etl_user:hunter2pass@db.internal:5432/warehouse",
            "hunter2pass",
            "password in URL",
        ),
        (
            "config: api_key=\"abc123def456ghi789\" retries=3",
            "abc123def456ghi789",
            "password",
        ),
    ];

    #[test]
    fn every_planted_secret_is_replaced_by_a_marker_naming_its_kind() {
        for (input, secret, kind) in PLANTED {
            let out = text(input);
            assert!(!out.contains(secret), "{kind} survived: {out}");
            assert!(
                out.contains(&format!("[redacted: {kind}]")),
                "{kind}: {out}"
            );
        }
    }

    #[test]
    fn ordinary_text_is_left_alone_and_borrowed() {
        for input in [
            "Operation on target CopyClickstream failed: ErrorCode=2200",
            "secret adls-sp-client-secret expires in 3 days",
            "run 738623db-2602-48ac-a0af-12376af50b3e of ingest_web_events",
            "https://adb-4471920385162214.14.azuredatabricks.net/?o=4471920385162214#job/856584/run/58212623",
            "prompt_tokens: 120, tokens used",
        ] {
            assert!(
                matches!(text(input), Cow::Borrowed(_)),
                "{input} was changed: {}",
                text(input)
            );
        }
    }

    #[test]
    fn redaction_is_idempotent() {
        for (input, _, _) in PLANTED {
            let once = text(input).into_owned();
            assert_eq!(text(&once), once);
        }
    }

    #[test]
    fn json_values_under_secret_keys_are_replaced_and_metadata_kept() {
        let input = json!({
            "secret_name": "adls-sp-client-secret",
            "password": "p4ss",
            "clientSecret": "abc",
            "x-api-key": "k",
            "prompt_tokens": 12,
            "nested": [{"accessToken": "t0k", "message": "Bearer abcdefghijklmnop"}],
            "continuation_token": "page-2"
        });
        let out = value(&input);
        assert_eq!(out["secret_name"], "adls-sp-client-secret");
        assert_eq!(out["password"], "[redacted: value of password]");
        assert_eq!(out["clientSecret"], "[redacted: value of clientSecret]");
        assert_eq!(out["x-api-key"], "[redacted: value of x-api-key]");
        assert_eq!(out["prompt_tokens"], 12);
        assert_eq!(
            out["nested"][0]["accessToken"],
            "[redacted: value of accessToken]"
        );
        assert_eq!(
            out["nested"][0]["message"],
            "Bearer [redacted: bearer token]"
        );
        assert!(!out.to_string().contains("p4ss"));
    }

    #[test]
    fn agent_events_carry_no_planted_secret() {
        for (input, secret, _) in PLANTED {
            let events = [
                AgentEvent::TextDelta {
                    text: input.to_string(),
                },
                AgentEvent::Error {
                    message: input.to_string(),
                },
                AgentEvent::ToolCallStarted {
                    call_id: "c".into(),
                    server: "s".into(),
                    tool: "t".into(),
                    arguments: json!({"note": input}),
                },
                AgentEvent::ToolCallFinished {
                    call_id: "c".into(),
                    server: "s".into(),
                    tool: "t".into(),
                    duration_ms: 1,
                    is_error: false,
                    result: json!({"content": [input]}),
                    truncated: false,
                },
            ];
            for e in events {
                let out = serde_json::to_string(&event(e)).unwrap();
                assert!(!out.contains(secret), "{out}");
            }
        }
    }

    #[test]
    fn secret_key_names() {
        for key in [
            "password",
            "Password",
            "client_secret",
            "apiKey",
            "AccountKey",
            "connectionString",
            "sas_token",
            "Authorization",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "secret_name",
            "secrets",
            "prompt_tokens",
            "token_count",
            "pipeline",
            "expires_on",
            "key_vault",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
