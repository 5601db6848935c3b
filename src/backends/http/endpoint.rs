//! The URLs a credential is sent to: checked before use, built without string
//! pasting.

use reqwest::Url;

/// An endpoint a credential will be sent to: HTTPS anywhere; plain HTTP only
/// to this machine, or anywhere when `allow_plain_http` (an operator's explicit
/// choice for a trusted network). `what` names it in errors.
pub fn checked_endpoint(what: &str, raw: &str, allow_plain_http: bool) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("{what} '{raw}' is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback || allow_plain_http => Ok(url),
        "http" => Err(format!(
            "{what} '{raw}' is plain HTTP to another machine; credentials would travel in clear text. Use https://, or http:// only to localhost"
        )),
        other => Err(format!("{what} '{raw}' has scheme '{other}'; use https://")),
    }
}

/// Adds path segments (percent-encoded) and the api-version to a URL.
pub fn url_with(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    // `query_pairs_mut` leaves a bare `?` even when nothing is appended.
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in query {
            pairs.append_pair(name, value);
        }
    }
    url
}
