//! What sign-in is told from outside: the trusted issuers, this server's
//! audience and resource URL, where the signing keys are, and the names of the
//! read and remediate permissions. Every value is checked here, at start, so a
//! typo is a clear refusal to start rather than every caller's 401.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use url::Url;

/// The permission that lets a caller use the tools at all.
pub const DEFAULT_READ_PERMISSION: &str = "opsdeck.read";
/// The permission that lets a caller rerun and cancel for real.
pub const DEFAULT_REMEDIATE_PERMISSION: &str = "opsdeck.remediate";

/// More issuers than anyone trusts at once is a mistake, not a set-up.
const MAX_ISSUERS: usize = 16;
const MAX_AUDIENCES: usize = 16;
const MAX_VALUE_CHARS: usize = 2_048;

/// The `--oauth-*` flags (or `OPSDECK_OAUTH_*`) as given, unchecked.
#[derive(Debug, Clone, Default)]
pub struct OAuthFlags {
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub resource: Option<String>,
    pub jwks_uri: Option<String>,
    pub read_permission: Option<String>,
    pub remediate_permission: Option<String>,
}

/// Checked sign-in settings.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Issuers whose tokens are accepted, as their `iss` claim spells them.
    pub issuers: Vec<Url>,
    /// Accepted `aud` values (Entra v2: the app's client id; v1: `api://…`).
    pub audiences: Vec<String>,
    /// This server's resource identifier (`https://host/mcp`); when absent it
    /// is derived from each request's `Host`.
    pub resource: Option<Url>,
    /// Where the keys are; when absent, each issuer's OpenID configuration says.
    pub jwks_uri: Option<Url>,
    pub read_permission: String,
    pub remediate_permission: String,
    /// A token signed by a key not yet seen triggers a key fetch at most this often.
    pub unknown_key_refetch_every: Duration,
    /// Keys are fetched again this often even when every kid is known.
    pub keys_refresh_every: Duration,
    /// Every discovery or key fetch gives up after this long.
    pub fetch_timeout: Duration,
    /// Keys kept after failed refreshes are used until this long after the
    /// last successful fetch, then refused: the issuer may have revoked them.
    pub keys_max_age: Duration,
    /// The keys of all issuers are fetched at start within this long together.
    pub prefetch_within: Duration,
}

impl AuthSettings {
    /// Sign-in settings from the flags: `Ok(None)` when no issuer and no
    /// audience, resource or JWKS URI is given (sign-in off; the permission
    /// names have defaults, so they alone change nothing), an error naming the
    /// flag when anything is wrong.
    pub fn from_flags(flags: &OAuthFlags) -> Result<Option<AuthSettings>, String> {
        let any_other =
            !flags.audiences.is_empty() || flags.resource.is_some() || flags.jwks_uri.is_some();
        if flags.issuers.is_empty() {
            if any_other {
                return Err("--oauth-audience, --oauth-resource and --oauth-jwks-uri only mean something with sign-in on: add --oauth-issuer URL (e.g. https://login.microsoftonline.com/<tenant-id>/v2.0)".into());
            }
            return Ok(None);
        }
        AuthSettings::new(flags).map(Some)
    }

    fn new(flags: &OAuthFlags) -> Result<AuthSettings, String> {
        if flags.issuers.len() > MAX_ISSUERS {
            return Err(format!(
                "--oauth-issuer was given {} times; at most {MAX_ISSUERS} issuers can be trusted",
                flags.issuers.len()
            ));
        }
        let issuers = flags
            .issuers
            .iter()
            .map(|raw| fetchable_url("--oauth-issuer", raw))
            .collect::<Result<Vec<_>, _>>()?;
        let jwks_uri = flags
            .jwks_uri
            .as_deref()
            .map(|raw| fetchable_url("--oauth-jwks-uri", raw))
            .transpose()?;
        let resource = flags.resource.as_deref().map(resource_url).transpose()?;
        let audiences = audiences(&flags.audiences, resource.as_ref())?;
        let read_permission = permission(
            "--oauth-read-permission",
            flags.read_permission.as_deref(),
            DEFAULT_READ_PERMISSION,
        )?;
        let remediate_permission = permission(
            "--oauth-remediate-permission",
            flags.remediate_permission.as_deref(),
            DEFAULT_REMEDIATE_PERMISSION,
        )?;
        if read_permission == remediate_permission {
            return Err(format!(
                "--oauth-read-permission and --oauth-remediate-permission are both {read_permission:?}: then every reader could rerun and cancel. Give remediation its own scope or app role"
            ));
        }
        Ok(AuthSettings {
            issuers,
            audiences,
            resource,
            jwks_uri,
            read_permission,
            remediate_permission,
            unknown_key_refetch_every: Duration::from_secs(30),
            keys_refresh_every: Duration::from_secs(3_600),
            fetch_timeout: Duration::from_secs(5),
            keys_max_age: Duration::from_secs(24 * 3_600),
            // Discovery plus the key set, each within the fetch timeout.
            prefetch_within: Duration::from_secs(10),
        })
    }

    /// Refuses sign-in on `bind` when it needs a configured resource: off
    /// loopback the `Host` header is whatever a caller sends, so the resource
    /// (and the metadata URL clients are sent to) cannot be derived from it.
    pub fn check_bind(&self, bind: SocketAddr) -> Result<(), String> {
        if self.resource.is_some() || bind.ip().is_loopback() {
            return Ok(());
        }
        Err(format!(
            "sign-in on {bind} needs this server's resource URL: set --oauth-resource (or OPSDECK_OAUTH_RESOURCE) to the https:// URL clients use to reach /mcp, e.g. https://opsdeck.example.com/mcp. Off loopback it cannot be taken from the Host header, which any caller can set"
        ))
    }
}

/// Whether `url` names this machine, the one place plain `http://` is safe.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A URL keys may be fetched from: https, or http on loopback only (a
/// network in between could otherwise swap the keys), no credentials, no fragment.
pub fn fetchable_url(flag: &str, raw: &str) -> Result<Url, String> {
    let url = parse(flag, raw)?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "{flag} {raw:?} is plain http on another machine: keys fetched that way could be swapped by anyone on the network. Use its https:// address (http:// is accepted on loopback only, for local testing)"
            ));
        }
        other => {
            return Err(format!(
                "{flag} {raw:?} has scheme {other:?}; give an https:// URL"
            ));
        }
    }
    Ok(url)
}

fn resource_url(raw: &str) -> Result<Url, String> {
    let url = parse("--oauth-resource", raw)?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!(
            "--oauth-resource {raw:?} must be the http(s) URL clients use to reach /mcp, e.g. https://opsdeck.example.com/mcp"
        ));
    }
    Ok(url)
}

fn parse(flag: &str, raw: &str) -> Result<Url, String> {
    let shown = crate::support::text::clip(raw, 200);
    if raw.chars().count() > MAX_VALUE_CHARS {
        return Err(format!(
            "{flag} is longer than {MAX_VALUE_CHARS} characters"
        ));
    }
    let url = Url::parse(raw.trim())
        .map_err(|e| format!("{flag} {shown:?} is not a URL ({e}); give e.g. https://login.microsoftonline.com/<tenant-id>/v2.0"))?;
    if url.host().is_none() {
        return Err(format!("{flag} {shown:?} names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{flag} must not carry a user name or password in the URL"
        ));
    }
    if url.fragment().is_some() || url.query().is_some() {
        return Err(format!(
            "{flag} {shown:?} must not have a ?query or #fragment"
        ));
    }
    Ok(url)
}

fn audiences(given: &[String], resource: Option<&Url>) -> Result<Vec<String>, String> {
    if given.len() > MAX_AUDIENCES {
        return Err(format!(
            "--oauth-audience was given {} times; at most {MAX_AUDIENCES} are accepted",
            given.len()
        ));
    }
    let mut audiences = Vec::new();
    for value in given {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > MAX_VALUE_CHARS {
            return Err(format!(
                "--oauth-audience must be 1 to {MAX_VALUE_CHARS} characters: the app's client id (Entra v2 tokens) or its App ID URI such as api://opsdeck (v1)"
            ));
        }
        audiences.push(value.to_string());
    }
    if audiences.is_empty() {
        match resource {
            Some(resource) => audiences.push(resource.as_str().to_string()),
            None => {
                return Err("sign-in needs this server's audience: set --oauth-audience to the app registration's client id (Entra v2 tokens) or App ID URI such as api://opsdeck (v1), or --oauth-resource to the URL tokens are issued for".into());
            }
        }
    }
    Ok(audiences)
}

/// A permission name goes into `WWW-Authenticate` headers and is matched
/// against token claims: one word of visible ASCII, no quotes.
fn permission(flag: &str, given: Option<&str>, default: &str) -> Result<String, String> {
    let name = given.map(str::trim).unwrap_or(default);
    let fits = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
    if !fits {
        return Err(format!(
            "{flag} {:?} is not a scope or app-role name: one word of letters, digits and .-_:/ (e.g. {default})",
            crate::support::text::clip(name, 100)
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(issuer: &str) -> OAuthFlags {
        OAuthFlags {
            issuers: vec![issuer.to_string()],
            audiences: vec!["api://opsdeck".to_string()],
            ..OAuthFlags::default()
        }
    }

    #[test]
    fn no_flags_means_sign_in_is_off() {
        assert!(
            AuthSettings::from_flags(&OAuthFlags::default())
                .unwrap()
                .is_none()
        );
        let stray = OAuthFlags {
            audiences: vec!["x".into()],
            ..OAuthFlags::default()
        };
        let err = AuthSettings::from_flags(&stray).unwrap_err();
        assert!(err.contains("--oauth-issuer"), "{err}");
    }

    #[test]
    fn plain_http_is_accepted_on_loopback_only() {
        for ok in [
            "https://login.microsoftonline.com/t/v2.0",
            "http://127.0.0.1:9000",
            "http://localhost:9000/realm",
            "http://[::1]:9000",
        ] {
            assert!(
                AuthSettings::from_flags(&flags(ok)).is_ok(),
                "{ok} should be accepted"
            );
        }
        for bad in [
            "http://issuer.example.com",
            "ftp://127.0.0.1",
            "not a url",
            "https://user:pw@issuer.example.com",
            "https://issuer.example.com/#x",
        ] {
            let err = AuthSettings::from_flags(&flags(bad)).unwrap_err();
            assert!(err.contains("--oauth-issuer"), "{bad}: {err}");
        }
        let mut jwks = flags("https://issuer.example.com");
        jwks.jwks_uri = Some("http://keys.example.com/jwks".into());
        let err = AuthSettings::from_flags(&jwks).unwrap_err();
        assert!(err.contains("--oauth-jwks-uri"), "{err}");
    }

    #[test]
    fn the_audience_is_given_or_taken_from_the_resource() {
        let mut f = flags("https://issuer.example.com");
        f.audiences.clear();
        let err = AuthSettings::from_flags(&f).unwrap_err();
        assert!(err.contains("--oauth-audience"), "{err}");
        f.resource = Some("https://opsdeck.example.com/mcp".into());
        let settings = AuthSettings::from_flags(&f).unwrap().unwrap();
        assert_eq!(settings.audiences, vec!["https://opsdeck.example.com/mcp"]);
    }

    #[test]
    fn off_loopback_the_resource_must_be_configured() {
        let without = AuthSettings::from_flags(&flags("https://i.example.com"))
            .unwrap()
            .unwrap();
        for loopback in ["127.0.0.1:8080", "[::1]:0"] {
            assert!(without.check_bind(loopback.parse().unwrap()).is_ok());
        }
        for public in ["0.0.0.0:0", "10.1.2.3:8080", "[::]:443"] {
            let err = without.check_bind(public.parse().unwrap()).unwrap_err();
            assert!(err.contains("--oauth-resource"), "{err}");
            assert!(err.contains("OPSDECK_OAUTH_RESOURCE"), "{err}");
        }
        let mut with = flags("https://i.example.com");
        with.resource = Some("https://opsdeck.example.com/mcp".into());
        let with = AuthSettings::from_flags(&with).unwrap().unwrap();
        assert!(with.check_bind("0.0.0.0:0".parse().unwrap()).is_ok());
    }

    #[test]
    fn permissions_default_and_must_differ() {
        let settings = AuthSettings::from_flags(&flags("https://i.example.com"))
            .unwrap()
            .unwrap();
        assert_eq!(settings.read_permission, DEFAULT_READ_PERMISSION);
        assert_eq!(settings.remediate_permission, DEFAULT_REMEDIATE_PERMISSION);
        let mut same = flags("https://i.example.com");
        same.remediate_permission = Some(DEFAULT_READ_PERMISSION.into());
        assert!(AuthSettings::from_flags(&same).is_err());
        let mut quoted = flags("https://i.example.com");
        quoted.read_permission = Some("a\" b".into());
        let err = AuthSettings::from_flags(&quoted).unwrap_err();
        assert!(err.contains("--oauth-read-permission"), "{err}");
    }
}
