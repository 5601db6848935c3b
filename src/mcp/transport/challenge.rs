//! What to tell the user when a server refuses a request (401, 403) or no token
//! could be had: the advice first (a status line keeps about 300 characters),
//! then what the server said. The server's `WWW-Authenticate` parameters
//! (RFC 6750 §3: `error`, `error_description`, `scope`) are text from the peer:
//! only those three are read, each clipped, redacted and made terminal-safe.

use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::support::terminal::for_screen;
use crate::support::text::clip;

/// The most of a challenge header that is read (real ones are a few hundred bytes).
const MAX_HEADER_BYTES: usize = 2_048;
/// The most of one value from the server that is quoted.
const MAX_VALUE_CHARS: usize = 100;

/// How the server's entry in mcp.json says to authenticate.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::mcp) enum Configured {
    TokenScope(String),
    /// A fixed `Authorization` header.
    Header,
    Nothing,
}

/// A 401 or 403, with what the server's challenge said.
#[derive(Debug, Clone, Default, PartialEq)]
pub(in crate::mcp) struct Refusal {
    pub status: u16,
    pub error: Option<String>,
    pub description: Option<String>,
    pub scope: Option<String>,
}

/// The refusal in rmcp's error, if the server refused the request.
pub(in crate::mcp) fn refusal_of(error: &StreamableHttpError<reqwest::Error>) -> Option<Refusal> {
    match error {
        StreamableHttpError::AuthRequired(e) => Some(parse(401, &e.www_authenticate_header)),
        StreamableHttpError::InsufficientScope(e) => {
            let mut refusal = parse(403, &e.www_authenticate_header);
            if refusal.scope.is_none() {
                refusal.scope = e.required_scope.as_deref().map(shown);
            }
            Some(refusal)
        }
        // A 401/403 without a challenge: rmcp keeps only the status line.
        StreamableHttpError::UnexpectedServerResponse(text) => [401, 403]
            .into_iter()
            .find(|code| text.starts_with(&format!("HTTP {code}")))
            .map(|status| Refusal {
                status,
                ..Refusal::default()
            }),
        StreamableHttpError::Client(e) => e
            .status()
            .map(|s| s.as_u16())
            .filter(|code| matches!(code, 401 | 403))
            .map(|status| Refusal {
                status,
                ..Refusal::default()
            }),
        _ => None,
    }
}

/// Reads `error`, `error_description` and `scope` from a `Bearer` challenge.
pub(in crate::mcp) fn parse(status: u16, header: &str) -> Refusal {
    let header = crate::support::text::prefix_within(header, MAX_HEADER_BYTES);
    let mut refusal = Refusal {
        status,
        ..Refusal::default()
    };
    for (name, value) in parameters(header) {
        let slot = match name.to_ascii_lowercase().as_str() {
            "error" => &mut refusal.error,
            "error_description" => &mut refusal.description,
            "scope" => &mut refusal.scope,
            _ => continue,
        };
        if slot.is_none() && !value.trim().is_empty() {
            *slot = Some(shown(&value));
        }
    }
    refusal
}

/// `name=value` and `name="quoted \" value"` pairs, after the scheme.
fn parameters(header: &str) -> Vec<(String, String)> {
    let mut rest = header.trim_start();
    if let Some((scheme, after)) = rest.split_once(' ')
        && !scheme.contains('=')
    {
        rest = after;
    }
    let mut pairs = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',', '\t']);
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().to_string();
        let after = after.trim_start();
        let (value, remaining) = match after.strip_prefix('"') {
            Some(quoted) => unquote(quoted),
            None => match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            },
        };
        pairs.push((name, value));
        rest = remaining;
    }
    pairs
}

/// A quoted string's value (backslash escapes one character) and what follows it.
fn unquote(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match (escaped, c) {
            (true, c) => {
                value.push(c);
                escaped = false;
            }
            (false, '\\') => escaped = true,
            (false, '"') => return (value, &text[at + 1..]),
            (false, c) => value.push(c),
        }
    }
    (value, "")
}

/// A value from the server as it may be shown and logged: redacted (before
/// the cut, so a cut cannot break a secret out of its pattern), one line,
/// clipped, control characters shown.
fn shown(value: &str) -> String {
    let one_line = crate::support::redact::text(value).replace(['\n', '\t'], " ");
    for_screen(&clip(&one_line, MAX_VALUE_CHARS)).into_owned()
}

/// What the user should do about `refusal`, given how the server is
/// configured; what the server said comes last, where a cut costs least.
pub(in crate::mcp) fn advice(refusal: &Refusal, configured: &Configured) -> String {
    let said = said(refusal);
    if refusal.status == 403 {
        let needed: Vec<&str> = refusal
            .scope
            .as_deref()
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        let permission = match needed.as_slice() {
            [] => "a permission".to_string(),
            [one] => format!("the permission '{one}'"),
            many => format!(
                "one of the permissions this needs ('{}')",
                many.join("', '")
            ),
        };
        let again = match configured {
            Configured::TokenScope(scope) => {
                format!(", then sign in again (`az login --scope {scope}`)")
            }
            _ => String::new(),
        };
        return format!(
            "signed in, but your account lacks {permission} on this server: ask its owner to assign you that app role{again}. The server said: {said}"
        );
    }
    match configured {
        Configured::TokenScope(scope) => format!(
            "the server refused your token for {scope}: run `az login` as an account it accepts, and check tokenScope is its application ID URI + /.default. The server said: {said}"
        ),
        Configured::Header => format!(
            "the server refused the Authorization header from mcp.json: check it holds the server's current token, or use tokenScope to sign in. The server said: {said}"
        ),
        Configured::Nothing => format!(
            "the server needs sign-in: add \"tokenScope\": \"api://<server app>/.default\" to its mcp.json entry and run `az login`, or an Authorization header with its token. The server said: {said}"
        ),
    }
}

/// "HTTP 401, invalid_token: the token expired" — the status and what the challenge said.
fn said(refusal: &Refusal) -> String {
    let status = refusal.status;
    match (&refusal.error, &refusal.description) {
        (Some(error), Some(description)) => format!("HTTP {status}, {error}: {description}"),
        (Some(error), None) => format!("HTTP {status}, {error}"),
        (None, Some(description)) => format!("HTTP {status}: {description}"),
        (None, None) => format!("HTTP {status}"),
    }
}

/// No token for `scope`: what to do first, then the chain's reasons.
pub(in crate::mcp) fn no_token(scope: &str, why: &str) -> String {
    format!(
        "could not sign in for {scope}: run `az login` (or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET). {}",
        for_screen(&clip(&why.replace('\n', " "), 600))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenges_opsdeck_and_entra_send_are_read() {
        let refusal = parse(
            401,
            r#"Bearer resource_metadata="https://ops.example/.well-known/oauth-protected-resource", scope="opsdeck.read", error="invalid_token", error_description="the token expired at 10:02 \"UTC\"""#,
        );
        assert_eq!(refusal.error.as_deref(), Some("invalid_token"));
        assert_eq!(
            refusal.description.as_deref(),
            Some(r#"the token expired at 10:02 "UTC""#)
        );
        assert_eq!(refusal.scope.as_deref(), Some("opsdeck.read"));
        let bare = parse(401, r#"Bearer realm="opsdeck""#);
        assert_eq!(
            (bare.error, bare.description, bare.scope),
            (None, None, None)
        );
        let token_form = parse(
            403,
            "Bearer error=insufficient_scope,scope=opsdeck.remediate",
        );
        assert_eq!(token_form.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(token_form.scope.as_deref(), Some("opsdeck.remediate"));
    }

    #[test]
    fn hostile_challenges_are_bounded_and_made_safe() {
        let long = format!(r#"Bearer error_description="{}""#, "x".repeat(100_000));
        let refusal = parse(401, &long);
        assert!(refusal.description.unwrap().chars().count() <= MAX_VALUE_CHARS + 1);
        let refusal = parse(
            401,
            "Bearer error=\"\u{1b}]52;c;cm0gLXJmIH4=\u{7}\", error_description=\"a\nb\u{202e}c\"",
        );
        let error = refusal.error.unwrap();
        assert!(
            !error.contains('\u{1b}') && error.contains("\\x1b"),
            "{error}"
        );
        let description = refusal.description.unwrap();
        assert!(!description.contains('\n') && !description.contains('\u{202e}'));
        for junk in [
            "",
            "Bearer",
            "Bearer ,,,",
            "=",
            "Bearer a=\"unterminated",
            "ö=ü",
        ] {
            let _ = parse(401, junk);
        }
    }

    #[test]
    fn advice_says_what_to_do_for_each_set_up() {
        let invalid = Refusal {
            status: 401,
            error: Some("invalid_token".into()),
            description: Some("wrong audience".into()),
            scope: None,
        };
        let scope = Configured::TokenScope("api://opsdeck/.default".into());
        let text = advice(&invalid, &scope);
        assert!(
            text.contains("az login")
                && text.contains("api://opsdeck/.default")
                && text.contains("HTTP 401, invalid_token: wrong audience"),
            "{text}"
        );
        assert!(advice(&invalid, &Configured::Header).contains("Authorization header"));
        let text = advice(&invalid, &Configured::Nothing);
        assert!(
            text.contains("tokenScope") && text.contains("az login"),
            "{text}"
        );
        let forbidden = Refusal {
            status: 403,
            error: Some("insufficient_scope".into()),
            description: None,
            scope: Some("opsdeck.read".into()),
        };
        let text = advice(&forbidden, &scope);
        assert!(
            text.contains("lacks the permission 'opsdeck.read'")
                && text.contains("app role")
                && text.contains("az login --scope api://opsdeck/.default"),
            "{text}"
        );
        // The advice survives the 300-character cut of a status line, whatever
        // the server said.
        let wordy = Refusal {
            description: Some("d".repeat(MAX_VALUE_CHARS)),
            ..forbidden.clone()
        };
        for text in [advice(&invalid, &scope), advice(&wordy, &scope)] {
            let cut = clip(&text, 300);
            assert!(
                cut.contains("az login") && cut.contains("The server said"),
                "{cut}"
            );
        }
    }

    #[test]
    fn a_missing_token_says_to_sign_in_first() {
        let text = no_token(
            "api://opsdeck/.default",
            "no Azure credential could get a token.\nTried: azure_cli: Please run 'az login'",
        );
        assert!(text.starts_with("could not sign in for api://opsdeck/.default: run `az login`"));
        assert!(!text.contains('\n'));
    }
}
