//! The `opsdeck-replica` response header of a stateless server: which replica
//! answered, so an operator (or a test) can see requests spread over replicas.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: HeaderName = HeaderName::from_static("opsdeck-replica");

/// The longest name sent; a Kubernetes pod name fits (63).
const MAX_NAME: usize = 63;

/// Checks a name given with `--replica-name`: what a host or pod may be called.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "--replica-name '{}' is not a usable name: give 1 to {MAX_NAME} letters, digits, '-', '.' or '_' (a pod or host name)",
            crate::support::terminal::for_screen(name)
        ))
    }
}

/// The header's value: the given name, else this host's name (a pod's name in
/// Kubernetes), made header-safe; "opsdeck" when neither is usable.
pub fn header_value(given: Option<&str>) -> HeaderValue {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok());
    let name = given.map(str::to_string).or(host).unwrap_or_default();
    let safe: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(MAX_NAME)
        .collect();
    HeaderValue::from_str(&safe)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or(HeaderValue::from_static("opsdeck"))
}

/// Adds the header to every answer.
pub async fn name_the_replica(
    State(value): State<HeaderValue>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_made_header_safe() {
        assert!(check_name("opsdeck-7f9c-abcde").is_ok());
        for bad in ["", "a b", "x\u{1b}[2J", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(header_value(Some("replica-1")), "replica-1");
        assert_eq!(header_value(Some(" \u{7} ")), "opsdeck");
        assert!(!header_value(None).is_empty());
    }
}
