//! Access-token validation: a JWT signed (RS256 or ES256, never `none` or an
//! HMAC) by a trusted issuer's published key, for this server's audience,
//! within its `nbf`..`exp` window (60 s leeway for clock skew). The result is
//! the [`Caller`]: who it is and what it may do. An OpenID ID token is not
//! an access token (it proves a sign-in to a client, not a grant for this
//! server) and is refused, by its claims and by its header's `typ`.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::Caller;
use super::jwks::{KeyError, KeySet, KeySource, Timing};
use super::settings::AuthSettings;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 60;
/// Real access tokens are a few KiB; anything far larger is not one.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Names and ids longer than this are clipped before they reach the audit log.
const MAX_NAME_CHARS: usize = 256;
/// Permissions read from one token at most.
const MAX_PERMISSIONS: usize = 256;
/// Claims only an OpenID ID token carries (OpenID Connect Core 1.0 §2, §3.1.3.6, §3.3.2.11).
const ID_TOKEN_CLAIMS: [&str; 3] = ["nonce", "at_hash", "c_hash"];
/// Header `typ` values of an access token: a plain JWT or RFC 9068's `at+jwt`
/// (RFC 7515 §4.1.9: with or without the `application/` prefix).
const ACCESS_TOKEN_TYPES: [&str; 4] = ["jwt", "at+jwt", "application/jwt", "application/at+jwt"];
/// What a caller is told when an issuer's keys cannot be had; the detail
/// (URLs, network errors) goes to the server's log only.
pub const KEYS_UNAVAILABLE: &str = "the issuer's signing keys are unavailable; try again later";

/// Why a token was refused: said to the caller in `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Checks tokens against the trusted issuers.
pub struct Verifier {
    settings: Arc<AuthSettings>,
    /// One key set per trusted issuer, in the settings' order.
    keys: Vec<Arc<KeySet>>,
}

impl Verifier {
    pub fn new(settings: Arc<AuthSettings>) -> Result<Verifier, String> {
        let timing = Timing {
            unknown_key_refetch_every: settings.unknown_key_refetch_every,
            refresh_every: settings.keys_refresh_every,
            fetch_timeout: settings.fetch_timeout,
            max_age: settings.keys_max_age,
        };
        let keys = settings
            .issuers
            .iter()
            .map(|issuer| {
                let source = match &settings.jwks_uri {
                    Some(uri) => KeySource::Fixed(uri.clone()),
                    None => KeySource::Discovery {
                        issuer: issuer.clone(),
                    },
                };
                KeySet::new(source, timing).map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Verifier { settings, keys })
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Fetches every issuer's keys now, all at once and within
    /// `prefetch_within` together; the errors say which could not be. An
    /// issuer left out is fetched when a token needs its keys.
    pub async fn prefetch(&self) -> Vec<String> {
        let bound = self.settings.prefetch_within;
        let fetches =
            self.settings
                .issuers
                .iter()
                .zip(&self.keys)
                .map(|(issuer, keys)| async move {
                    match tokio::time::timeout(bound, keys.prefetch()).await {
                        Ok(Ok(())) => None,
                        Ok(Err(why)) => Some(format!("{issuer}: {why}")),
                        Err(_) => Some(format!(
                            "{issuer}: the keys did not arrive within {} ms of start",
                            bound.as_millis()
                        )),
                    }
                });
        futures::future::join_all(fetches)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// The caller a bearer token stands for, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Caller, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refuse("the token is larger than any access token"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            refuse("the bearer token is not a JWT access token signed with RS256 or ES256")
        })?;
        if let Some(typ) = &header.typ
            && !ACCESS_TOKEN_TYPES
                .iter()
                .any(|accepted| typ.eq_ignore_ascii_case(accepted))
        {
            return Err(Refusal(format!(
                "the token's header says typ {}, not an access token (JWT or at+jwt)",
                shown(typ)
            )));
        }
        let algorithm = match header.alg {
            Algorithm::RS256 | Algorithm::ES256 => header.alg,
            other => {
                return Err(Refusal(format!(
                    "the token is signed with {other:?}; this server accepts only tokens signed with RS256 or ES256"
                )));
            }
        };
        let unverified: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| refuse("the token's claims are not a JSON object"))?;
        if ID_TOKEN_CLAIMS
            .iter()
            .any(|claim| unverified.get(claim).is_some())
        {
            return Err(refuse(
                "an ID token is not an access token: ask the issuer for an access token for this server",
            ));
        }
        // The issuer is read before the signature is checked only to pick
        // whose keys check it; only a signature by that issuer's key passes.
        let claimed_issuer = unverified
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| refuse("the token names no issuer (iss)"))?;
        let (issuer_index, issuer) = self
            .settings
            .issuers
            .iter()
            .enumerate()
            .find(|(_, trusted)| same_issuer(trusted.as_str(), claimed_issuer))
            .ok_or_else(|| {
                Refusal(format!(
                    "the token is from issuer {}, which this server does not trust",
                    shown(claimed_issuer)
                ))
            })?;
        let key = self.keys[issuer_index]
            .key_for(header.kid.as_deref(), algorithm)
            .await
            .map_err(|e| match e {
                KeyError::Unknown(why) => Refusal(why),
                KeyError::Unavailable(why) => {
                    tracing::warn!(
                        issuer = %crate::support::terminal::terminal_safe(issuer.as_str()),
                        "a token was refused because the issuer's signing keys are unavailable: {}",
                        crate::support::terminal::terminal_safe(&crate::support::redact::text(&why))
                    );
                    refuse(KEYS_UNAVAILABLE)
                }
            })?;
        let validation = self.validation(algorithm, claimed_issuer);
        let data = jsonwebtoken::decode::<Value>(token, &key.key, &validation)
            .map_err(|e| self.explain(e.kind(), &unverified))?;
        self.caller(&data.claims, issuer.as_str())
    }

    fn validation(&self, algorithm: Algorithm, issuer: &str) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&self.settings.audiences);
        // Without these in the list an absent claim would pass unchecked.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation
    }

    fn explain(&self, kind: &ErrorKind, claims: &Value) -> Refusal {
        let text = match kind {
            ErrorKind::ExpiredSignature => "the token has expired: sign in again".to_string(),
            ErrorKind::ImmatureSignature => {
                "the token is not valid yet (nbf is in the future): check the clock".to_string()
            }
            ErrorKind::InvalidAudience => format!(
                "the token is for audience {}, not this server (accepted: {})",
                claims
                    .get("aud")
                    .map_or_else(|| "(none)".to_string(), |aud| shown(&aud.to_string())),
                self.settings.audiences.join(", ")
            ),
            ErrorKind::InvalidIssuer => "the token's issuer is not trusted".to_string(),
            ErrorKind::InvalidSignature => {
                "the token's signature does not verify with the issuer's key".to_string()
            }
            ErrorKind::MissingRequiredClaim(claim) => {
                format!("the token has no {claim} claim")
            }
            ErrorKind::InvalidClaimFormat(claim) => {
                format!("the token's {claim} claim is malformed")
            }
            ErrorKind::InvalidAlgorithm => {
                "the token's algorithm does not match the issuer's key".to_string()
            }
            _ => "the token could not be verified".to_string(),
        };
        Refusal(text)
    }

    fn caller(&self, claims: &Value, issuer: &str) -> Result<Caller, Refusal> {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        // Entra's `oid` is the person across apps; `sub` differs per app.
        let subject = text("oid")
            .or_else(|| text("sub"))
            .ok_or_else(|| refuse("the token names no subject (sub or oid)"))?;
        let name = ["preferred_username", "upn", "email", "azp", "appid"]
            .iter()
            .find_map(|claim| text(claim))
            .unwrap_or(subject);
        let permissions = permissions(claims);
        Ok(Caller {
            subject: clean(subject),
            name: clean(name),
            issuer: clean(issuer.trim_end_matches('/')),
            may_read: permissions.contains(&self.settings.read_permission.as_str()),
            may_remediate: permissions.contains(&self.settings.remediate_permission.as_str()),
        })
    }
}

/// Permissions from `scp` (delegated scopes: one space-separated string, or
/// an array from some issuers) and `roles` (app roles: an array).
fn permissions(claims: &Value) -> Vec<&str> {
    let mut found = Vec::new();
    for claim in ["scp", "scope", "roles"] {
        match claims.get(claim) {
            Some(Value::String(words)) => found.extend(words.split_whitespace()),
            Some(Value::Array(items)) => found.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    found.truncate(MAX_PERMISSIONS);
    found
}

fn same_issuer(trusted: &str, claimed: &str) -> bool {
    trusted.trim_end_matches('/') == claimed.trim_end_matches('/')
}

fn refuse(text: &str) -> Refusal {
    Refusal(text.to_string())
}

/// A value from the token as it may be shown back: clipped, no control characters.
fn shown(value: &str) -> String {
    format!("{:?}", crate::support::text::clip(value, 120))
}

/// A name from the token as it is kept: clipped, control characters made visible.
fn clean(value: &str) -> String {
    let clipped = crate::support::text::clip(value, MAX_NAME_CHARS);
    crate::support::terminal::terminal_safe(&clipped).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permissions_come_from_scopes_and_roles() {
        let claims = json!({"scp": "opsdeck.read  other", "roles": ["opsdeck.remediate", 3]});
        assert_eq!(
            permissions(&claims),
            vec!["opsdeck.read", "other", "opsdeck.remediate"]
        );
        assert!(permissions(&json!({"scp": 5})).is_empty());
    }

    #[test]
    fn issuers_match_with_or_without_a_trailing_slash() {
        assert!(same_issuer(
            "https://sts.windows.net/t/",
            "https://sts.windows.net/t"
        ));
        assert!(!same_issuer(
            "https://sts.windows.net/t/",
            "https://sts.windows.net/u/"
        ));
    }
}
