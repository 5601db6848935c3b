//! The one writer every log line passes through on its way out, whatever the
//! format and destination: secrets redacted, control characters shown, never obeyed.

use serde_json::Value;

use crate::support::{redact, terminal};

/// How the lines reaching the writer are shaped, which decides how they are cleaned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// Human text: redacted and made terminal-safe as a whole.
    Text,
    /// One JSON object a line: every string inside is redacted, then the
    /// object is written again, so a redaction can never break the JSON.
    Json,
}

/// Redacts every formatted log line before it reaches its destination, and
/// shows its control characters as `\xNN`: a secret in a tool result or an
/// error message must not end up in the logs, nor a server's escape sequences
/// reach whoever runs `tail -f` on them. One writer, so no log call can forget either.
pub(super) struct Redacting<M> {
    inner: M,
    shape: Shape,
}

impl<M> Redacting<M> {
    pub(super) fn new(inner: M, shape: Shape) -> Redacting<M> {
        Redacting { inner, shape }
    }
}

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for Redacting<M>
{
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            shape: self.shape,
        }
    }
}

pub(super) struct RedactingWriter<W> {
    inner: W,
    shape: Shape,
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    // The fmt layer writes each event as one buffer, so a secret is never split
    // across two calls, and a JSON line always arrives whole.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let clean = match self.shape {
            Shape::Text => terminal::for_screen(&text).into_owned(),
            Shape::Json => json_line(&text),
        };
        self.inner.write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A JSON log line with every string value (and key) redacted; a line that is
/// not JSON after all is cleaned as text rather than lost.
fn json_line(line: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(line.trim_end()) else {
        return terminal::for_screen(line).into_owned();
    };
    match &mut value {
        // The formatter's own fields name our code, not data: `target` is a
        // module path such as `opsdeck::server::http::auth::jwks`, which the
        // redactor would read as an `auth: secret` pair.
        Value::Object(fields) => {
            for (key, item) in fields.iter_mut() {
                if !matches!(key.as_str(), "target" | "level" | "timestamp") {
                    // Key-aware, as the text log's `name=value` pairs are:
                    // `{"client_secret": "…"}` is hidden by its key.
                    *item = redact::value(item);
                    redact_strings(item);
                }
            }
        }
        other => redact_strings(other),
    }
    let mut out = terminal::json_safe(&value.to_string()).into_owned();
    out.push('\n');
    out
}

/// Redacts in place; the depth is the formatter's (fields and spans), a few levels.
fn redact_strings(value: &mut Value) {
    match value {
        Value::String(text) => redact::in_place(text),
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(fields) => {
            let keys_need_redaction = fields
                .keys()
                .any(|k| matches!(redact::text(k), std::borrow::Cow::Owned(_)));
            if keys_need_redaction {
                let taken = std::mem::take(fields);
                for (key, item) in taken {
                    fields.insert(redact::text(&key).into_owned(), item);
                }
            }
            fields.values_mut().for_each(redact_strings);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_stay_readable_and_secrets_in_fields_do_not() {
        let line = r#"{"timestamp":"2026-12-06T01:00:00Z","level":"WARN","target":"opsdeck::server::http::auth::jwks","fields":{"message":"refetch","detail":"password=hunter2secret","client_secret":"plainvalue123"}}"#;
        let out = json_line(line);
        let value: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["target"], "opsdeck::server::http::auth::jwks");
        assert!(!out.contains("hunter2secret"), "{out}");
        assert!(
            !out.contains("plainvalue123"),
            "a secret named by its key: {out}"
        );
        assert!(out.ends_with('\n'));
    }
}
