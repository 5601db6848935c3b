//! Host and Origin checks for every route, health included: a page on another
//! site must not reach the server through DNS rebinding (a foreign name that
//! resolves to 127.0.0.1) or a cross-origin request from the browser.
//!
//! rmcp checks the same on `/mcp`; this layer covers the routes it does not
//! serve, with the same lists. An allowed origin without a port means the
//! scheme's default port (RFC 6454), `:*` any port.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The `Host` names and browser `Origin`s a request may carry.
#[derive(Debug, Clone)]
pub struct Allowlists {
    /// `None`: any host (a public bind behind a token, with no names given).
    hosts: Option<Vec<HostPattern>>,
    origins: Vec<OriginPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    host: String,
    /// `None`: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginPattern {
    Null,
    Site {
        scheme: String,
        host: String,
        /// `None`: any port (`:*`).
        port: Option<u16>,
    },
}

impl Allowlists {
    /// From the raw lists (`None` hosts: any). Entries that do not parse are
    /// dropped, so they allow nothing.
    pub fn new(hosts: Option<&[String]>, origins: &[String]) -> Allowlists {
        Allowlists {
            hosts: hosts.map(|list| list.iter().filter_map(|h| parse_host_pattern(h)).collect()),
            origins: origins
                .iter()
                .filter_map(|o| parse_origin_pattern(o))
                .collect(),
        }
    }

    /// Why the request must be turned away, if it must.
    pub fn refusal(&self, uri: &Uri, headers: &HeaderMap) -> Option<&'static str> {
        if let Some(hosts) = &self.hosts {
            let presented = match headers.get(header::HOST) {
                Some(value) => value
                    .to_str()
                    .ok()
                    .and_then(|v| Authority::try_from(v).ok()),
                None => uri.authority().cloned(),
            };
            let Some(authority) = presented else {
                return Some("Forbidden: missing or malformed Host header\n");
            };
            let host = normalize_host(authority.host());
            let port = authority.port_u16();
            let allowed = hosts
                .iter()
                .any(|p| p.host == host && p.port.is_none_or(|want| port == Some(want)));
            if !allowed {
                return Some("Forbidden: Host header is not allowed\n");
            }
        }
        // Clients other than browsers send no Origin; browsers always do cross-site.
        let origin = headers.get(header::ORIGIN)?;
        let allowed = origin
            .to_str()
            .ok()
            .and_then(parse_origin)
            .is_some_and(|o| self.origins.iter().any(|p| origin_matches(p, &o)));
        (!allowed).then_some("Forbidden: Origin header is not allowed\n")
    }
}

/// The middleware: 403 before any handler when the Host or Origin is foreign.
pub async fn reject_foreign_host_or_origin(
    State(lists): State<Arc<Allowlists>>,
    request: Request,
    next: Next,
) -> Response {
    match lists.refusal(request.uri(), request.headers()) {
        Some(why) => {
            tracing::warn!(
                "refused an HTTP request to {}: {}",
                request.uri().path(),
                why.trim()
            );
            (StatusCode::FORBIDDEN, why).into_response()
        }
        None => next.run(request).await,
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn parse_host_pattern(raw: &str) -> Option<HostPattern> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    // A bare IPv6 address (`::1`) is no authority; take it as a host, any port.
    Some(match Authority::try_from(raw) {
        Ok(authority) => HostPattern {
            host: normalize_host(authority.host()),
            port: authority.port_u16(),
        },
        Err(_) => HostPattern {
            host: normalize_host(raw),
            port: None,
        },
    })
}

/// An `Origin` as the browser sends it: `null`, or scheme://host[:port].
#[derive(Debug, PartialEq, Eq)]
enum Origin {
    Null,
    Site {
        scheme: String,
        host: String,
        port: Option<u16>,
    },
}

fn parse_origin(raw: &str) -> Option<Origin> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("null") {
        return Some(Origin::Null);
    }
    let uri = Uri::try_from(raw).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let port = authority.port_u16().or_else(|| default_port(&scheme));
    Some(Origin::Site {
        host: normalize_host(authority.host()),
        scheme,
        port,
    })
}

fn parse_origin_pattern(raw: &str) -> Option<OriginPattern> {
    let raw = raw.trim();
    if let Some(base) = raw.strip_suffix(":*") {
        let Origin::Site { scheme, host, .. } = parse_origin(base)? else {
            return None;
        };
        return Some(OriginPattern::Site {
            scheme,
            host,
            port: None,
        });
    }
    Some(match parse_origin(raw)? {
        Origin::Null => OriginPattern::Null,
        Origin::Site { scheme, host, port } => OriginPattern::Site { scheme, host, port },
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn origin_matches(pattern: &OriginPattern, origin: &Origin) -> bool {
    match (pattern, origin) {
        (OriginPattern::Null, Origin::Null) => true,
        (
            OriginPattern::Site { scheme, host, port },
            Origin::Site {
                scheme: o_scheme,
                host: o_host,
                port: o_port,
            },
        ) => scheme == o_scheme && host == o_host && port.is_none_or(|p| *o_port == Some(p)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lists() -> Allowlists {
        let hosts = ["localhost", "127.0.0.1", "::1", "ops.example:8443"].map(String::from);
        let origins = [
            "http://localhost:*",
            "http://[::1]:*",
            "https://console.example",
        ]
        .map(String::from);
        Allowlists::new(Some(&hosts), &origins)
    }

    fn refusal(
        lists: &Allowlists,
        host: Option<&str>,
        origin: Option<&str>,
    ) -> Option<&'static str> {
        let mut headers = HeaderMap::new();
        if let Some(h) = host {
            headers.insert(header::HOST, HeaderValue::from_str(h).unwrap());
        }
        if let Some(o) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        lists.refusal(&Uri::from_static("/health/ready"), &headers)
    }

    #[test]
    fn loopback_names_pass_and_a_rebound_name_does_not() {
        let l = lists();
        assert_eq!(refusal(&l, Some("127.0.0.1:8765"), None), None);
        assert_eq!(refusal(&l, Some("LOCALHOST:1"), None), None);
        assert_eq!(refusal(&l, Some("[::1]:8765"), None), None);
        assert_eq!(refusal(&l, Some("ops.example:8443"), None), None);
        assert!(refusal(&l, Some("ops.example:80"), None).is_some());
        assert!(refusal(&l, Some("attacker.example"), None).is_some());
        assert!(refusal(&l, Some("localhost.attacker.example"), None).is_some());
        assert!(refusal(&l, None, None).is_some(), "no Host at all");
        let any_host = Allowlists::new(None, &[]);
        assert_eq!(refusal(&any_host, Some("whatever.example"), None), None);
    }

    #[test]
    fn only_listed_browser_origins_pass() {
        let l = lists();
        let host = Some("localhost:8765");
        assert_eq!(refusal(&l, host, Some("http://localhost:6274")), None);
        assert_eq!(refusal(&l, host, Some("http://[::1]:3000")), None);
        assert_eq!(refusal(&l, host, Some("https://console.example")), None);
        assert_eq!(refusal(&l, host, Some("https://console.example:443")), None);
        assert!(refusal(&l, host, Some("https://console.example:8443")).is_some());
        assert!(refusal(&l, host, Some("https://evil.example")).is_some());
        assert!(refusal(&l, host, Some("https://localhost:6274")).is_some());
        assert!(refusal(&l, host, Some("null")).is_some());
        assert!(refusal(&l, host, Some("not an origin")).is_some());
    }
}
