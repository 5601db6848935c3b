//! The refusals MCP authorization (2025-11-25) asks for, with RFC 6750's
//! `WWW-Authenticate: Bearer` challenge: 401 when there is no usable token
//! (with `error="invalid_token"` when one was sent), 403 with
//! `error="insufficient_scope"` when the token lacks a permission. Each names
//! the protected-resource metadata (RFC 9728) and the scope to ask for.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What was wrong with the request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No bearer token at all.
    NoToken,
    /// A token was sent and refused; the text says why.
    InvalidToken(String),
    /// A good token without the read permission every request needs.
    CannotRead(String),
    /// A good token without the permission a real rerun or cancel needs.
    CannotRemediate(String),
}

/// The response for `problem`; `scope` is what the client should ask for.
pub fn refuse(problem: &Problem, metadata_url: &str, scope: &str) -> Response {
    let (status, challenge, body) = match problem {
        Problem::NoToken => (
            StatusCode::UNAUTHORIZED,
            format!(
                "Bearer resource_metadata=\"{}\", scope=\"{}\"",
                quoted(metadata_url),
                quoted(scope)
            ),
            format!(
                "sign-in required: send `Authorization: Bearer <access token>` with a token for this server (scope {scope}); {metadata_url} says which issuer grants it\n"
            ),
        ),
        Problem::InvalidToken(why) => (
            StatusCode::UNAUTHORIZED,
            format!(
                "Bearer resource_metadata=\"{}\", scope=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(metadata_url),
                quoted(scope),
                quoted(why)
            ),
            format!(
                "the access token was refused: {why}. Get a new token for this server and retry\n"
            ),
        ),
        Problem::CannotRead(why) | Problem::CannotRemediate(why) => (
            StatusCode::FORBIDDEN,
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"{}\"",
                quoted(scope),
                quoted(metadata_url),
                quoted(why)
            ),
            format!(
                "{why}. Ask an administrator for the permission ({scope}), then sign in again\n"
            ),
        ),
    };
    let mut response = (status, body).into_response();
    // Every part is made header-safe by `quoted`, so this cannot fail; if it
    // ever did, a bare challenge still tells the client to authenticate.
    let value =
        HeaderValue::from_str(&challenge).unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, value);
    response
}

/// Text fit for a quoted-string in a header: visible ASCII and spaces only,
/// no quotes or backslashes, at most 300 characters.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c == ' ' || c.is_ascii_graphic() => c,
            _ => '?',
        })
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(problem: &Problem) -> (StatusCode, String) {
        let response = refuse(
            problem,
            "http://h/.well-known/oauth-protected-resource",
            "a.read",
        );
        let value = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_string();
        (response.status(), value)
    }

    #[test]
    fn no_token_gets_401_with_metadata_and_scope_only() {
        let (status, value) = challenge(&Problem::NoToken);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            value,
            "Bearer resource_metadata=\"http://h/.well-known/oauth-protected-resource\", scope=\"a.read\""
        );
    }

    #[test]
    fn a_bad_token_says_why_in_a_header_safe_way() {
        let (status, value) = challenge(&Problem::InvalidToken("bad \"x\"\n\u{7f}é".into()));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(value.contains("error=\"invalid_token\""), "{value}");
        assert!(
            value.ends_with("error_description=\"bad 'x'???\""),
            "{value}"
        );
    }

    #[test]
    fn a_missing_permission_is_403_insufficient_scope() {
        let (status, value) = challenge(&Problem::CannotRead("no".into()));
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            value.starts_with("Bearer error=\"insufficient_scope\", scope=\"a.read\""),
            "{value}"
        );
    }
}
