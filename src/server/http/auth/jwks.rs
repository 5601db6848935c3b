//! An issuer's signing keys, cached by kid.
//!
//! The key set is found through the issuer's OpenID configuration unless a
//! JWKS URI is given. It is fetched on first use and again every
//! `keys_refresh_every`; a token whose kid is not known triggers one extra
//! fetch, at most every `unknown_key_refetch_every`, so a flood of made-up
//! kids cannot turn into a flood of requests to the issuer.
//!
//! While keys are held, the periodic refresh runs in the background: no
//! request waits for the issuer (which may hang for the whole fetch timeout)
//! when the keys it needs are already here. A fetch that fails keeps the
//! keys already held, so an issuer's hiccup does not sign everyone out — but
//! only for `max_age` after the last successful fetch: keys the issuer may
//! long since have revoked are not trusted forever.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use url::Url;

use super::fetch;
use super::settings::fetchable_url;

/// Keys beyond this many in one set are ignored (Entra publishes a handful).
const MAX_KEYS: usize = 64;

/// One usable public key and the one algorithm it verifies.
pub struct VerifyingKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `{issuer}/.well-known/openid-configuration`, then its `jwks_uri`.
    Discovery { issuer: Url },
    /// A JWKS URI given by the operator.
    Fixed(Url),
}

/// How often keys are fetched.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub unknown_key_refetch_every: Duration,
    pub refresh_every: Duration,
    pub fetch_timeout: Duration,
    /// Keys not refreshed successfully for this long are no longer used.
    pub max_age: Duration,
}

#[derive(Default)]
struct Cached {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
    /// Keys published without a kid (used only for tokens without one).
    unnamed: Vec<Arc<VerifyingKey>>,
    /// When keys last arrived.
    fetched_at: Option<Instant>,
    /// When a fetch was last tried, whatever came of it.
    tried_at: Option<Instant>,
    /// The key set's URL once discovery found it.
    jwks_uri: Option<Url>,
    /// Why the last fetch failed, while no later one succeeded.
    last_error: Option<String>,
}

/// Why no key was found for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The issuer's key set has no key with this kid (or none fit the algorithm).
    Unknown(String),
    /// No keys could be fetched at all.
    Unavailable(String),
}

/// One issuer's keys.
pub struct KeySet {
    source: KeySource,
    timing: Timing,
    http: reqwest::Client,
    cached: RwLock<Cached>,
    /// One fetch at a time; callers that waited use what it brought. Shared
    /// so a background refresh can hold it after the request has moved on.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

impl KeySet {
    pub fn new(source: KeySource, timing: Timing) -> Result<KeySet, String> {
        Ok(KeySet {
            source,
            timing,
            http: fetch::client(timing.fetch_timeout)?,
            cached: RwLock::new(Cached::default()),
            fetching: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The key for a token's `kid` and `alg`, fetching keys when the cache is
    /// stale or, rate-limited, when the kid is new. Only a request that has no
    /// usable key at all waits for the issuer because the cache is stale.
    pub async fn key_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<Arc<VerifyingKey>, KeyError> {
        if self.stale() {
            if self.holds_usable_keys() {
                self.refresh_in_background();
            } else {
                // A failure is kept in `last_error` and retried no more
                // often than an unknown kid's fetch.
                let _ = self.refresh(self.timing.unknown_key_refetch_every).await;
            }
        }
        if let Some(key) = self.lookup(kid, algorithm) {
            return Ok(key);
        }
        // Rate-limited inside; a failure is kept in `last_error`.
        let _ = self.refresh(self.timing.unknown_key_refetch_every).await;
        if let Some(key) = self.lookup(kid, algorithm) {
            return Ok(key);
        }
        if !self.holds_usable_keys() {
            return Err(KeyError::Unavailable(self.why_unavailable()));
        }
        Err(KeyError::Unknown(match kid {
            Some(kid) => format!(
                "the issuer publishes no {algorithm:?} key with kid {:?}",
                crate::support::text::clip(kid, 80)
            ),
            None => format!(
                "the token names no kid and the issuer does not publish exactly one {algorithm:?} key"
            ),
        }))
    }

    /// Fetches keys now, for a server warming up; the error says why not.
    /// A failure here does not hold back the first caller's own fetch.
    pub async fn prefetch(&self) -> Result<(), String> {
        let result = self.refresh(Duration::ZERO).await;
        if result.is_err() {
            self.write().tried_at = None;
        }
        result
    }

    /// Starts a refresh that no request waits for, unless one is running
    /// already or one was tried too recently.
    fn refresh_in_background(self: &Arc<Self>) {
        if self.tried_within(self.timing.unknown_key_refetch_every) {
            return;
        }
        let Ok(turn) = self.fetching.clone().try_lock_owned() else {
            return; // another fetch is under way; its keys will do
        };
        let keys = Arc::clone(self);
        tokio::spawn(async move {
            // Failures are logged and kept in `last_error` by the fetch itself.
            let _ = keys
                .refresh_holding(turn, keys.timing.unknown_key_refetch_every)
                .await;
        });
    }

    /// Whether keys are held that are young enough to be used.
    fn holds_usable_keys(&self) -> bool {
        let cached = self.read();
        (!cached.by_kid.is_empty() || !cached.unnamed.is_empty()) && self.young(&cached)
    }

    fn young(&self, cached: &Cached) -> bool {
        cached
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.timing.max_age)
    }

    /// The detail behind [`KeyError::Unavailable`], for the server's log.
    fn why_unavailable(&self) -> String {
        let cached = self.read();
        let last_error = cached
            .last_error
            .clone()
            .unwrap_or_else(|| "no fetch has succeeded yet".to_string());
        match cached.fetched_at {
            Some(at) if !cached.by_kid.is_empty() || !cached.unnamed.is_empty() => format!(
                "the keys held were fetched {} s ago, longer than the {} s they are trusted without a refresh, and refreshing failed: {last_error}",
                at.elapsed().as_secs(),
                self.timing.max_age.as_secs()
            ),
            _ => last_error,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cached> {
        self.cached
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn tried_within(&self, window: Duration) -> bool {
        self.read().tried_at.is_some_and(|at| at.elapsed() < window)
    }

    fn stale(&self) -> bool {
        self.read()
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.timing.refresh_every)
    }

    fn lookup(&self, kid: Option<&str>, algorithm: Algorithm) -> Option<Arc<VerifyingKey>> {
        let cached = self.read();
        if !self.young(&cached) {
            return None;
        }
        let key = match kid {
            Some(kid) => cached.by_kid.get(kid).cloned(),
            None => match cached.unnamed.as_slice() {
                [only] => Some(only.clone()),
                [] if cached.by_kid.len() == 1 => cached.by_kid.values().next().cloned(),
                _ => None,
            },
        }?;
        (key.algorithm == algorithm).then_some(key)
    }

    /// Fetches unless a fetch was tried less than `unless_tried_within` ago.
    async fn refresh(&self, unless_tried_within: Duration) -> Result<(), String> {
        let turn = self.fetching.clone().lock_owned().await;
        self.refresh_holding(turn, unless_tried_within).await
    }

    /// [`Self::refresh`] for the holder of the fetch turn.
    async fn refresh_holding(
        &self,
        _turn: tokio::sync::OwnedMutexGuard<()>,
        unless_tried_within: Duration,
    ) -> Result<(), String> {
        if self.tried_within(unless_tried_within) {
            return Ok(());
        }
        let known_uri = self.read().jwks_uri.clone();
        let result = self.fetch(known_uri).await;
        let mut cached = self.write();
        cached.tried_at = Some(Instant::now());
        match result {
            Ok((uri, by_kid, unnamed)) => {
                tracing::info!(jwks_uri = %uri, keys = by_kid.len() + unnamed.len(), "sign-in keys fetched");
                cached.by_kid = by_kid;
                cached.unnamed = unnamed;
                cached.fetched_at = Some(Instant::now());
                cached.jwks_uri = Some(uri);
                cached.last_error = None;
                Ok(())
            }
            Err(why) => {
                let why = crate::support::redact::text(&why).into_owned();
                tracing::warn!(
                    "sign-in keys could not be fetched, keeping the {} held: {}",
                    cached.by_kid.len() + cached.unnamed.len(),
                    crate::support::terminal::terminal_safe(&why)
                );
                // Discover again next time: the URI may be what changed.
                cached.jwks_uri = None;
                cached.last_error = Some(why.clone());
                Err(why)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn fetch(
        &self,
        known_uri: Option<Url>,
    ) -> Result<
        (
            Url,
            HashMap<String, Arc<VerifyingKey>>,
            Vec<Arc<VerifyingKey>>,
        ),
        String,
    > {
        let uri = match (&self.source, known_uri) {
            (KeySource::Fixed(uri), _) => uri.clone(),
            (KeySource::Discovery { .. }, Some(uri)) => uri,
            (KeySource::Discovery { issuer }, None) => self.discover(issuer).await?,
        };
        let document = fetch::json(
            &self.http,
            &uri,
            "key set (JWKS)",
            self.timing.fetch_timeout,
        )
        .await?;
        let (by_kid, unnamed) = parse_key_set(&document)
            .map_err(|why| format!("the key set (JWKS) from {uri} {why}"))?;
        Ok((uri, by_kid, unnamed))
    }

    async fn discover(&self, issuer: &Url) -> Result<Url, String> {
        let address = discovery_url(issuer)?;
        let document = fetch::json(
            &self.http,
            &address,
            "OpenID configuration",
            self.timing.fetch_timeout,
        )
        .await?;
        let named = document.get("issuer").and_then(Value::as_str);
        if named.map(trim_slash) != Some(trim_slash(issuer.as_str())) {
            return Err(format!(
                "the OpenID configuration at {address} is for issuer {:?}, not {issuer}: check --oauth-issuer (Entra v1 tokens: give --oauth-jwks-uri)",
                named.map(|n| crate::support::text::clip(n, 200))
            ));
        }
        let raw = document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the OpenID configuration at {address} has no jwks_uri"))?;
        fetchable_url("the issuer's jwks_uri", raw)
    }
}

fn trim_slash(s: &str) -> &str {
    s.trim_end_matches('/')
}

/// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4).
pub fn discovery_url(issuer: &Url) -> Result<Url, String> {
    let address = format!(
        "{}/.well-known/openid-configuration",
        trim_slash(issuer.as_str())
    );
    Url::parse(&address).map_err(|e| format!("cannot form the discovery URL {address}: {e}"))
}

#[allow(clippy::type_complexity)]
fn parse_key_set(
    document: &Value,
) -> Result<(HashMap<String, Arc<VerifyingKey>>, Vec<Arc<VerifyingKey>>), String> {
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("has no \"keys\" array")?;
    let mut by_kid = HashMap::new();
    let mut unnamed = Vec::new();
    // One odd key (an unknown type, an encryption key) must not hide the others.
    for entry in keys.iter().take(MAX_KEYS) {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            continue;
        };
        let Some(key) = verifying_key(&jwk) else {
            continue;
        };
        match jwk.common.key_id {
            Some(kid) => {
                by_kid.insert(kid, Arc::new(key));
            }
            None => unnamed.push(Arc::new(key)),
        }
    }
    if by_kid.is_empty() && unnamed.is_empty() {
        return Err("has no RSA or P-256 signing key".into());
    }
    Ok((by_kid, unnamed))
}

/// The key if it is a signing key this server verifies with: RSA for RS256,
/// P-256 for ES256. A key that names another algorithm is not used for these.
fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    if let Some(named) = jwk.common.key_algorithm
        && Algorithm::try_from(named).ok() != Some(algorithm)
    {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyingKey { key, algorithm })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_rsa_and_p256_signing_keys_are_kept() {
        let document = json!({"keys": [
            {"kty": "RSA", "kid": "a", "use": "sig", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "rs512", "alg": "RS512", "n": "sXch", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "weird"},
            "not even an object"
        ]});
        let (by_kid, unnamed) = parse_key_set(&document).unwrap();
        assert_eq!(by_kid.keys().collect::<Vec<_>>(), vec!["a"]);
        assert!(unnamed.is_empty());
        assert_eq!(by_kid["a"].algorithm, Algorithm::RS256);
    }

    #[test]
    fn a_key_set_without_usable_keys_is_an_error() {
        assert!(parse_key_set(&json!({"keys": []})).is_err());
        assert!(parse_key_set(&json!({"nokeys": 1})).is_err());
        assert!(parse_key_set(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_err());
    }

    #[test]
    fn discovery_sits_under_the_issuer() {
        let entra = Url::parse("https://login.microsoftonline.com/tid/v2.0").unwrap();
        assert_eq!(
            discovery_url(&entra).unwrap().as_str(),
            "https://login.microsoftonline.com/tid/v2.0/.well-known/openid-configuration"
        );
        let v1 = Url::parse("https://sts.windows.net/tid/").unwrap();
        assert_eq!(
            discovery_url(&v1).unwrap().as_str(),
            "https://sts.windows.net/tid/.well-known/openid-configuration"
        );
    }
}
