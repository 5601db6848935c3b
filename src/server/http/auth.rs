//! Sign-in per engineer: `serve --http` as an OAuth 2.1 resource server
//! (MCP authorization, 2025-11-25).
//!
//! [`require_token`] checks the `Authorization: Bearer` access token of every
//! `/mcp` request ([`token`]), answers the challenges of [`challenge`], strips
//! the token (it goes no further: backends use their own credentials) and puts
//! the [`Caller`] into the request's extensions, where screening and the
//! remediation tools read it. [`routes`] serves the protected-resource
//! metadata ([`metadata`]) without a token.
//!
//! Wiring, in `http.rs`: `auth::guard(mcp_router, sign_in)` in place of the
//! shared-token layer, outside screening (which needs the caller), and
//! `.merge(auth::routes(sign_in))`.

mod challenge;
mod fetch;
mod jwks;
mod metadata;
pub mod settings;
mod token;

pub use challenge::Problem;
pub use settings::{AuthSettings, OAuthFlags};

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use token::Verifier;

/// The signed-in caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Stable id: Entra's `oid`, else `sub`.
    pub subject: String,
    /// Who it is in words: `preferred_username`, `upn`, `email`, else the client (`azp`).
    pub name: String,
    /// The trusted issuer that signed the token.
    pub issuer: String,
    /// Holds the read permission (needed for every `/mcp` request).
    pub may_read: bool,
    /// Holds the remediate permission (needed for a real rerun or cancel).
    pub may_remediate: bool,
}

/// Sign-in for one server: its settings and the issuers' cached keys.
pub struct SignIn {
    verifier: Verifier,
}

impl SignIn {
    pub fn new(settings: AuthSettings) -> Result<Arc<SignIn>, String> {
        Ok(Arc::new(SignIn {
            verifier: Verifier::new(Arc::new(settings))?,
        }))
    }

    pub fn settings(&self) -> &AuthSettings {
        self.verifier.settings()
    }

    /// Fetches the issuers' keys now (at start, so the first caller does not
    /// wait), all issuers at once within `prefetch_within`; the problems are
    /// logged and returned, and never fatal (an issuer down at start must not
    /// keep the server, and the other issuers' callers, from starting): keys
    /// are fetched again when a token needs them.
    pub async fn prefetch(&self) -> Vec<String> {
        let problems = self.verifier.prefetch().await;
        for problem in &problems {
            tracing::warn!(
                "sign-in keys not fetched yet: {}",
                crate::support::terminal::terminal_safe(&crate::support::redact::text(problem))
            );
        }
        problems
    }

    /// The caller behind `Authorization: Bearer …`, or the problem.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Problem> {
        let token = bearer_token(headers).ok_or(Problem::NoToken)?;
        let caller = self
            .verifier
            .verify(token)
            .await
            .map_err(|refusal| Problem::InvalidToken(refusal.0))?;
        if !caller.may_read {
            return Err(Problem::CannotRead(format!(
                "{} is signed in but lacks the {} permission every request needs",
                caller.name,
                self.settings().read_permission
            )));
        }
        Ok(caller)
    }

    /// The refusal for `problem`, naming the metadata of the resource the
    /// request was for.
    pub fn refuse(&self, problem: &Problem, headers: &HeaderMap) -> Response {
        let settings = self.settings();
        let resource = metadata::resource(settings, headers);
        // The scopes to ask for: all that the refused request needs.
        let scope = match problem {
            Problem::CannotRemediate(_) => format!(
                "{} {}",
                settings.read_permission, settings.remediate_permission
            ),
            _ => settings.read_permission.clone(),
        };
        challenge::refuse(problem, &metadata::metadata_url(&resource), &scope)
    }

    /// The 403 for a reader asking for a real rerun or cancel.
    pub fn refuse_remediation(&self, caller: &Caller, tool: &str, headers: &HeaderMap) -> Response {
        let problem = Problem::CannotRemediate(format!(
            "{} may read but not remediate: a real {tool} needs the {} permission (dry_run=true works without it)",
            caller.name,
            self.settings().remediate_permission
        ));
        self.refuse(&problem, headers)
    }
}

/// `Bearer <token>` from the Authorization header (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The middleware for `/mcp`: refuses without a good token, otherwise passes
/// the request on with the [`Caller`] in its extensions and without the token.
pub async fn require_token(
    State(sign_in): State<Arc<SignIn>>,
    mut request: Request,
    next: Next,
) -> Response {
    match sign_in.authenticate(request.headers()).await {
        Ok(caller) => {
            tracing::debug!(
                subject = %caller.subject,
                name = %crate::support::terminal::terminal_safe(&caller.name),
                remediate = caller.may_remediate,
                "signed-in request"
            );
            request.headers_mut().remove(header::AUTHORIZATION);
            request.extensions_mut().insert(caller);
            // Screening, which sees the body, refuses a reader's real remediation with it.
            request.extensions_mut().insert(sign_in.clone());
            next.run(request).await
        }
        Err(problem) => {
            if let Problem::InvalidToken(why) = &problem {
                tracing::info!(
                    "access token refused: {}",
                    crate::support::terminal::terminal_safe(why)
                );
            }
            sign_in.refuse(&problem, request.headers())
        }
    }
}

/// `router` (the `/mcp` routes) behind [`require_token`].
pub fn guard(router: Router, sign_in: Arc<SignIn>) -> Router {
    router.layer(middleware::from_fn_with_state(sign_in, require_token))
}

/// The protected-resource metadata routes, open to everyone.
pub fn routes(sign_in: Arc<SignIn>) -> Router {
    Router::new()
        .route(metadata::WELL_KNOWN, get(serve_metadata))
        .route(
            &format!("{}/mcp", metadata::WELL_KNOWN),
            get(serve_metadata),
        )
        .with_state(sign_in)
}

async fn serve_metadata(State(sign_in): State<Arc<SignIn>>, headers: HeaderMap) -> Response {
    let settings = sign_in.settings();
    let resource = metadata::resource(settings, &headers);
    axum::Json(metadata::document(settings, &resource)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_a_bearer_scheme_gives_a_token() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert_eq!(bearer_token(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&with("bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&with("Basic abc")), None);
        assert_eq!(bearer_token(&with("Bearer ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
