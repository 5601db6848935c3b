//! OAuth 2.0 Protected Resource Metadata (RFC 9728): what this server is,
//! which issuers grant tokens for it, and which scopes it knows. Served
//! without a token, since a client reads it to learn how to get one.

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use super::settings::AuthSettings;

/// The well-known path; also served with `/mcp` appended (RFC 9728 §3.1's
/// form for a resource with a path).
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// This server's resource identifier: the configured one, else
/// `scheme://Host/mcp` from the request (http on loopback names, https
/// elsewhere, as a proxy in front terminates TLS). Deriving it is only for a
/// loopback bind, where the Host is checked: `serve` refuses sign-in on any
/// other bind without `--oauth-resource` ([`AuthSettings::check_bind`]).
pub fn resource(settings: &AuthSettings, headers: &HeaderMap) -> String {
    if let Some(resource) = &settings.resource {
        return resource.as_str().to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| plausible_host(h))
        .unwrap_or("localhost");
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    let loopback =
        name.eq_ignore_ascii_case("localhost") || name.starts_with("127.") || name == "[::1]";
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{host}/mcp")
}

/// Where the metadata for `resource` is: its origin plus [`WELL_KNOWN`].
pub fn metadata_url(resource: &str) -> String {
    match url::Url::parse(resource) {
        Ok(url) => format!("{}{WELL_KNOWN}", url.origin().ascii_serialization()),
        Err(_) => WELL_KNOWN.to_string(),
    }
}

/// The metadata document.
pub fn document(settings: &AuthSettings, resource: &str) -> Value {
    let issuers: Vec<String> = settings
        .issuers
        .iter()
        .map(|issuer| issuer.as_str().trim_end_matches('/').to_string())
        .collect();
    json!({
        "resource": resource,
        "authorization_servers": issuers,
        "scopes_supported": [settings.read_permission, settings.remediate_permission],
        "bearer_methods_supported": ["header"],
        "resource_name": "opsdeck",
    })
}

/// A Host header that can be echoed into a URL: a name or address and port.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::http::auth::settings::OAuthFlags;

    fn settings(resource: Option<&str>) -> AuthSettings {
        AuthSettings::from_flags(&OAuthFlags {
            issuers: vec!["https://login.example.com/t/v2.0".into()],
            audiences: vec!["api://opsdeck".into()],
            resource: resource.map(str::to_string),
            ..OAuthFlags::default()
        })
        .unwrap()
        .unwrap()
    }

    fn host(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_resource_is_configured_or_taken_from_the_host() {
        let configured = settings(Some("https://ops.example.com/mcp"));
        assert_eq!(
            resource(&configured, &host("evil.example.com")),
            "https://ops.example.com/mcp"
        );
        let derived = settings(None);
        assert_eq!(
            resource(&derived, &host("127.0.0.1:8080")),
            "http://127.0.0.1:8080/mcp"
        );
        assert_eq!(
            resource(&derived, &host("ops.example.com")),
            "https://ops.example.com/mcp"
        );
        assert_eq!(resource(&derived, &host("a\"b")), "http://localhost/mcp");
    }

    #[test]
    fn metadata_lives_at_the_origin() {
        assert_eq!(
            metadata_url("https://ops.example.com/mcp"),
            "https://ops.example.com/.well-known/oauth-protected-resource"
        );
        let doc = document(&settings(None), "https://ops.example.com/mcp");
        assert_eq!(
            doc["authorization_servers"][0],
            "https://login.example.com/t/v2.0"
        );
        assert_eq!(doc["scopes_supported"][1], "opsdeck.remediate");
        assert_eq!(doc["bearer_methods_supported"][0], "header");
    }
}
