//! `tokenScope`: the console signs in to an HTTP server with the Azure identity
//! chain (`az login`, a service principal, a managed identity) and sends the
//! token it gets for this scope as a bearer token.
//!
//! The scope ends up as an argument of `az account get-access-token --scope`,
//! run through a shell, so only the characters azure_identity itself accepts
//! (ASCII letters and digits, `.`, `-`, `_`, `:`, `/`) pass, one scope, bounded.

/// The longest scope accepted; real ones (`api://<app>/.default`) are far shorter.
pub const MAX_SCOPE_CHARS: usize = 256;

const EXAMPLE: &str = "api://opsdeck/.default (the server's application ID URI and /.default)";

/// Why `scope` cannot be asked for, or `Ok` when it can.
pub fn check(scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Err(format!(
            "tokenScope is empty; give one scope such as {EXAMPLE}"
        ));
    }
    if scope.chars().count() > MAX_SCOPE_CHARS {
        return Err(format!(
            "tokenScope is {} characters long; at most {MAX_SCOPE_CHARS} are accepted (a scope such as {EXAMPLE})",
            scope.chars().count()
        ));
    }
    // Every control character, line ends included, shown escaped.
    let shown = scope.escape_debug().to_string();
    if let Some(bad) = scope.chars().find(|c| c.is_control()) {
        return Err(format!(
            "tokenScope '{shown}' contains the control character U+{:04X}; give one scope such as {EXAMPLE}",
            u32::from(bad)
        ));
    }
    if scope.chars().any(char::is_whitespace) {
        return Err(format!(
            "tokenScope '{shown}' contains spaces; the console asks for exactly one scope, such as {EXAMPLE}"
        ));
    }
    if let Some(bad) = scope.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "tokenScope '{shown}' contains '{bad}'; a scope is made of ASCII letters, digits and . - _ : /, such as {EXAMPLE}"
        ));
    }
    if scope.starts_with('-') {
        return Err(format!(
            "tokenScope '{shown}' starts with '-'; give a scope such as {EXAMPLE}"
        ));
    }
    match scope.rsplit_once('/') {
        Some((resource, permission))
            if !resource.trim_end_matches('/').is_empty() && !permission.is_empty() =>
        {
            Ok(())
        }
        _ => Err(format!(
            "tokenScope '{shown}' names no application: give the server's application and the permission, such as {EXAMPLE}"
        )),
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/')
}

/// Why a token may not be sent to `url`, or `Ok`: HTTPS anywhere, plain HTTP
/// only to this machine (a token would otherwise cross the network readable).
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url)
        .map_err(|e| format!("url is not a URL ({e}); tokenScope needs one"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(
            "url is not https:// and not on this machine; with tokenScope your token would cross the network readable: use the server's https:// address"
                .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_scopes_pass() {
        for scope in [
            "api://opsdeck/.default",
            "api://0b1f6471-1bf0-4dda-aec3-cb9272f09590/.default",
            "0b1f6471-1bf0-4dda-aec3-cb9272f09590/.default",
            "https://opsdeck.contoso.com/.default",
            "api://opsdeck/opsdeck.read",
        ] {
            assert_eq!(check(scope), Ok(()), "{scope}");
        }
    }

    #[test]
    fn anything_else_is_refused_saying_why() {
        let cases: [(String, &str); 10] = [
            (String::new(), "empty"),
            ("a/".repeat(200), "at most 256"),
            ("api://x/.default\n".into(), "control character U+000A"),
            ("api://x/\u{1b}[2J".into(), "\\u{1b}"),
            ("api://x/.default api://y/.default".into(), "spaces"),
            ("api://x/.default;rm&&id".into(), "contains ';'"),
            ("api://x/$(id)".into(), "contains '$'"),
            ("api://ö/.default".into(), "contains 'ö'"),
            ("--tenant/.default".into(), "starts with '-'"),
            ("opsdeck.read".into(), "names no application"),
        ];
        for (scope, expected) in cases {
            let err = check(&scope).unwrap_err();
            assert!(err.contains(expected), "{scope:?}: {err}");
            assert!(err.len() < 400, "{err}");
            assert!(!err.contains('\u{1b}') && !err.contains('\n'), "{err:?}");
        }
        assert!(check("/.default").is_err());
        assert!(check("api://x/").is_err());
    }

    #[test]
    fn tokens_go_over_https_or_to_this_machine_only() {
        for url in [
            "https://mcp.example.com/mcp",
            "http://127.0.0.1:8080/mcp",
            "http://localhost/mcp",
            "http://[::1]:9/mcp",
        ] {
            assert_eq!(check_url(url), Ok(()), "{url}");
        }
        for url in ["http://mcp.example.com/mcp", "ftp://x/mcp", "not a url"] {
            assert!(check_url(url).is_err(), "{url}");
        }
    }
}
