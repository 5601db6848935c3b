//! Why a request failed, read from the service's own error formats and then
//! put in the words of what was asked for.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::backends::BackendError;
use crate::support::text::clip;

/// Why a request failed, before it is put in the words of the resource asked about.
#[derive(Debug, Clone)]
pub enum RestError {
    SignIn(String),
    /// The service answered with an error status.
    Status {
        /// `Azure`, `Airflow`, `Databricks`.
        service: &'static str,
        status: u16,
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer: the request may or may not have reached the service.
    Transport {
        service: &'static str,
        message: String,
        maybe_sent: bool,
    },
    /// An answer that is not what the API documents.
    Unreadable(String),
}

impl RestError {
    /// True when an action may have been carried out although it reported failure.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            RestError::Transport { maybe_sent, .. } => *maybe_sent,
            RestError::Status { status, .. } => *status >= 500,
            RestError::Unreadable(_) => true,
            RestError::SignIn(_) => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error in terms of what was asked for: `what` `name` (a factory, a
    /// run…), and the role that grants access, for 403s.
    pub fn about(self, what: &'static str, name: &str, role: &str) -> BackendError {
        match self {
            RestError::SignIn(message) => BackendError::Unavailable(message),
            RestError::Status {
                service,
                status: 404,
                code,
                message,
                ..
            } => BackendError::NotFound {
                what,
                name: name.to_string(),
                hint: format!("{service} says: {code}: {message}"),
            },
            RestError::Status {
                service,
                status: 401,
                code,
                message,
                ..
            } => BackendError::Unavailable(format!(
                "{service} did not accept the sign-in for {what} '{name}' (401 {code}: {message}). Check the credentials, and that they are for this {service}"
            )),
            RestError::Status {
                status: 403,
                code,
                message,
                ..
            } => BackendError::Refused(format!(
                "the signed-in identity may not do this on {what} '{name}' (403 {code}: {message}). It needs {role}"
            )),
            RestError::Status {
                service,
                status: 429,
                code,
                retry_after,
                ..
            } => BackendError::Unavailable(format!(
                "{service} is throttling requests for {what} '{name}' (429 {code}); try again in {}",
                retry_after
                    .map(|d| format!("{}s", d.as_secs().max(1)))
                    .unwrap_or_else(|| "a minute".into())
            )),
            RestError::Status {
                service,
                status,
                code,
                message,
                ..
            } if (400..500).contains(&status) => BackendError::InvalidArgument(format!(
                "{service} refused the request for {what} '{name}' ({status} {code}: {message})"
            )),
            RestError::Status {
                service,
                status,
                code,
                message,
                ..
            } => BackendError::Unavailable(format!(
                "{service} failed to answer for {what} '{name}' ({status} {code}: {message}); try again shortly"
            )),
            RestError::Transport {
                service, message, ..
            } => BackendError::Unavailable(format!(
                "could not reach {service} for {what} '{name}': {message}"
            )),
            RestError::Unreadable(message) => BackendError::Unavailable(format!(
                "the answer for {what} '{name}' could not be read: {message}"
            )),
        }
    }
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestError::SignIn(m) | RestError::Unreadable(m) => f.write_str(m),
            RestError::Status {
                status,
                code,
                message,
                ..
            } => write!(f, "{status} {code}: {message}"),
            RestError::Transport { message, .. } => f.write_str(message),
        }
    }
}

/// Code and message from the error formats opsdeck meets: ARM, Key Vault and
/// Log Analytics (`{"error": {"code", "message", "innererror"}}`), Databricks
/// (`{"error_code", "message"}`), Airflow (problem JSON: `{"title", "detail"}`);
/// else the status and the raw text.
pub(super) fn error_body(status: StatusCode, text: &str) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let top = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let fallback_code = || status.canonical_reason().unwrap_or("Error").to_string();
    if let Some(error) = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object())
    {
        let field = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_string);
        let inner = error
            .get("innererror")
            .and_then(|i| i.get("code"))
            .and_then(Value::as_str);
        let code = match (field("code"), inner) {
            (Some(code), Some(inner)) if inner != code => format!("{code}/{inner}"),
            (Some(code), _) => code,
            (None, _) => fallback_code(),
        };
        let message = field("message").unwrap_or_else(|| text.to_string());
        return (code, clean(&message));
    }
    // Databricks writes `error_code`, Fabric (`ErrorResponse`) `errorCode`.
    if let Some(code) = top("error_code").or_else(|| top("errorCode")) {
        return (code, clean(&top("message").unwrap_or_default()));
    }
    if let Some(detail) = top("detail") {
        return (top("title").unwrap_or_else(fallback_code), clean(&detail));
    }
    (fallback_code(), clean(text))
}

/// An error message from the network, flattened and clipped for one line.
fn clean(text: &str) -> String {
    let flat = one_line(text);
    if flat.is_empty() {
        "(no message)".into()
    } else {
        flat
    }
}

/// Text from elsewhere (an error body, an SDK's error) as one line: control
/// characters and line breaks become single spaces; clipped at 600 characters.
pub(crate) fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    clip(&flat, 600)
}

/// A failure with no answer, as one line: what kind, then reqwest's chain of causes.
pub(super) fn describe_transport(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    // reqwest's message includes the URL; ours never has secrets in it, but keep it short.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        detail = format!("{detail}: {inner}");
        source = inner.source();
    }
    format!("{kind} ({})", clean(&detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_and_key_vault_error_bodies_give_code_and_message() {
        let (code, message) = error_body(
            StatusCode::FORBIDDEN,
            r#"{"error":{"code":"AuthorizationFailed","message":"The client 'x' does not have authorization to perform action 'Microsoft.DataFactory/factories/read'."}}"#,
        );
        assert_eq!(code, "AuthorizationFailed");
        assert!(message.contains("Microsoft.DataFactory/factories/read"));
        let (code, _) = error_body(
            StatusCode::FORBIDDEN,
            r#"{"error":{"code":"Forbidden","message":"Caller is not authorized","innererror":{"code":"ForbiddenByRbac"}}}"#,
        );
        assert_eq!(code, "Forbidden/ForbiddenByRbac");
        let (code, message) = error_body(
            StatusCode::NOT_FOUND,
            r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run 42 does not exist."}"#,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("RESOURCE_DOES_NOT_EXIST", "Run 42 does not exist.")
        );
        let (code, message) = error_body(
            StatusCode::NOT_FOUND,
            r#"{"detail":"DAG with dag_id: 'x' not found","status":404,"title":"DAG not found","type":"https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html#section/Errors/NotFound"}"#,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("DAG not found", "DAG with dag_id: 'x' not found")
        );
        let (code, message) = error_body(StatusCode::BAD_GATEWAY, "<html>\n bad gateway</html>");
        assert_eq!(code, "Bad Gateway");
        assert_eq!(message, "<html> bad gateway</html>");
    }

    #[test]
    fn errors_read_as_what_was_asked_for() {
        let forbidden = RestError::Status {
            service: "Azure",
            status: 403,
            code: "AuthorizationFailed".into(),
            message: "no read".into(),
            retry_after: None,
        };
        let text = forbidden
            .about(
                "data factory",
                "adf-prod",
                "Data Factory Contributor or Reader",
            )
            .to_string();
        assert!(
            text.contains("adf-prod") && text.contains("Data Factory Contributor"),
            "{text}"
        );
        let missing = RestError::Status {
            service: "Azure",
            status: 404,
            code: "ResourceNotFound".into(),
            message: "gone".into(),
            retry_after: None,
        };
        assert!(matches!(
            missing.about("pipeline", "p", ""),
            BackendError::NotFound { .. }
        ));
        let throttled = RestError::Status {
            service: "Azure",
            status: 429,
            code: "TooManyRequests".into(),
            message: String::new(),
            retry_after: Some(Duration::from_secs(40)),
        };
        assert!(
            throttled
                .about("x", "y", "")
                .to_string()
                .contains("try again in 40s")
        );
    }
}
