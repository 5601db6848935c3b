//! The console's HTTP client for MCP servers: rmcp's reqwest client, plus
//! signing in. For a server with `tokenScope`, every request (POST, GET, DELETE)
//! carries a bearer token the Azure identity chain gives for that scope — cached
//! and renewed five minutes before it expires by [`AzureCredential`], dropped
//! when the server refuses it. A 401 or 403 from any server becomes a message
//! that says what to do (sign in, the scope, the permission missing).
//!
//! Every method of rmcp's client trait is forwarded to the same method of the
//! reqwest client, so its response and SSE event size limits still apply.
//! Token values are never logged or put in a message.
//!
//! (Not `token.rs`: rmcp names the transport by its client's type path, which
//! lands in error text, and the redactor rightly hides whatever follows `token:`.)

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::common::client_side_sse::BoxedSseResponse;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};

use super::challenge::{self, Configured};
use crate::backends::azure::cloud::AzureCloud;
use crate::backends::azure::credential::{AzureCredential, CredentialKind, candidates_from_env};
use crate::config::env::env_value;

/// How long one credential of the chain may take (the Azure CLI starts Python).
const CREDENTIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// A token source for one scope.
pub(in crate::mcp) struct SignIn {
    pub scope: String,
    pub credential: Arc<AzureCredential>,
}

/// Why a request was not made or not accepted. Shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Http(reqwest::Error),
    /// No token could be had for the scope.
    #[error("{0}")]
    NoToken(String),
    /// The server answered 401 or 403; the text says what to do.
    #[error("{0}")]
    Refused(String),
}

impl SignInError {
    /// The sign-in failure in `error`'s chain, if that is why it failed.
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a SignInError> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(found) = error.downcast_ref::<SignInError>()
                && !matches!(found, SignInError::Http(_))
            {
                return Some(found);
            }
            if let Some(StreamableHttpError::Client(found)) =
                error.downcast_ref::<StreamableHttpError<SignInError>>()
                && !matches!(found, SignInError::Http(_))
            {
                return Some(found);
            }
            current = error.source();
        }
        None
    }
}

type Failure = StreamableHttpError<SignInError>;

/// Why a request in a session failed: a sign-in failure as it is (it says what
/// to do, and rmcp's wrapping names the transport by its whole generic type,
/// which would push the advice past a status line's length); else rmcp's text.
pub fn call_failure(error: &rmcp::ServiceError) -> String {
    match SignInError::find(error) {
        Some(sign_in) => sign_in.to_string(),
        None => error.to_string(),
    }
}

/// The client the streamable HTTP transport uses for one server.
#[derive(Clone)]
pub(in crate::mcp) struct SignedInClient {
    http: reqwest::Client,
    sign_in: Option<Arc<SignIn>>,
    configured: Arc<Configured>,
}

impl SignedInClient {
    pub fn new(
        http: reqwest::Client,
        sign_in: Option<SignIn>,
        authorization_header: bool,
    ) -> SignedInClient {
        let configured = match (&sign_in, authorization_header) {
            (Some(s), _) => Configured::TokenScope(s.scope.clone()),
            (None, true) => Configured::Header,
            (None, false) => Configured::Nothing,
        };
        SignedInClient {
            http,
            sign_in: sign_in.map(Arc::new),
            configured: Arc::new(configured),
        }
    }

    /// The token to send: a fresh one for the scope, else what rmcp was given.
    async fn bearer(&self, given: Option<String>) -> Result<Option<String>, Failure> {
        let Some(sign_in) = &self.sign_in else {
            return Ok(given);
        };
        match sign_in.credential.token(&sign_in.scope).await {
            Ok(token) => Ok(Some(token)),
            Err(why) => Err(StreamableHttpError::Client(SignInError::NoToken(
                challenge::no_token(&sign_in.scope, &why),
            ))),
        }
    }

    /// A call's answer, its error explained (see [`Self::explain`]).
    async fn explained<T>(
        &self,
        answer: Result<T, StreamableHttpError<reqwest::Error>>,
        keep_variant: bool,
    ) -> Result<T, Failure> {
        match answer {
            Ok(value) => Ok(value),
            Err(error) => Err(self.explain(error, keep_variant).await),
        }
    }

    /// rmcp's error, with a 401/403 turned into advice. `keep_variant` keeps
    /// rmcp's own auth variants (a GET stream must end on them, not retry).
    async fn explain(
        &self,
        error: StreamableHttpError<reqwest::Error>,
        keep_variant: bool,
    ) -> Failure {
        let refusal = challenge::refusal_of(&error);
        if let Some(refusal) = &refusal {
            let advice = challenge::advice(refusal, &self.configured);
            tracing::warn!(
                status = refusal.status,
                "the server refused the request: {advice}"
            );
            if let Some(sign_in) = &self.sign_in {
                // Ask the chain again next time: the user may have signed in since.
                sign_in.credential.forget(&sign_in.scope).await;
            }
            if !keep_variant {
                return StreamableHttpError::Client(SignInError::Refused(advice));
            }
        }
        lift(error)
    }
}

/// rmcp's error over reqwest, as the same error over [`SignInError`]: every
/// variant rmcp acts on (session expired, no SSE, auth) keeps its meaning.
fn lift(error: StreamableHttpError<reqwest::Error>) -> Failure {
    use StreamableHttpError as E;
    match error {
        E::Client(e) => E::Client(SignInError::Http(e)),
        E::Sse(e) => E::Sse(e),
        E::Io(e) => E::Io(e),
        E::HttpStatus(e) => E::HttpStatus(e),
        E::UnexpectedEndOfStream => E::UnexpectedEndOfStream,
        E::UnexpectedServerResponse(e) => E::UnexpectedServerResponse(e),
        E::ResponseBodyTooLarge { max_size } => E::ResponseBodyTooLarge { max_size },
        E::UnexpectedContentType(e) => E::UnexpectedContentType(e),
        E::ServerDoesNotSupportSse => E::ServerDoesNotSupportSse,
        E::ServerDoesNotSupportDeleteSession => E::ServerDoesNotSupportDeleteSession,
        E::TokioJoinError(e) => E::TokioJoinError(e),
        E::Deserialize(e) => E::Deserialize(e),
        E::TransportChannelClosed => E::TransportChannelClosed,
        E::MissingSessionIdInResponse => E::MissingSessionIdInResponse,
        E::AuthRequired(e) => E::AuthRequired(e),
        E::InsufficientScope(e) => E::InsufficientScope(e),
        E::ReservedHeaderConflict(e) => E::ReservedHeaderConflict(e),
        E::SessionExpired => E::SessionExpired,
        E::SessionRecoveryTimeout => E::SessionRecoveryTimeout,
        E::ReinitializationFailed(e) => E::ReinitializationFailed(e),
        E::ControlRequestTimeout => E::ControlRequestTimeout,
        other => E::UnexpectedServerResponse(Cow::Owned(other.to_string())),
    }
}

impl StreamableHttpClient for SignedInClient {
    type Error = SignInError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        let bearer = self.bearer(auth_header).await?;
        self.explained(
            self.http
                .post_message(uri, message, session_id, bearer, custom_headers)
                .await,
            false,
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        let bearer = self.bearer(auth_header).await?;
        self.explained(
            self.http
                .post_message_with_max_sse_event_size(
                    uri,
                    message,
                    session_id,
                    bearer,
                    custom_headers,
                    max_sse_event_size,
                )
                .await,
            false,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        let bearer = self.bearer(auth_header).await?;
        self.explained(
            self.http
                .post_message_with_response_limits(
                    uri,
                    message,
                    session_id,
                    bearer,
                    custom_headers,
                    limits,
                )
                .await,
            false,
        )
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Failure> {
        let bearer = self.bearer(auth_header).await?;
        self.explained(
            self.http
                .delete_session(uri, session_id, bearer, custom_headers)
                .await,
            true,
        )
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxedSseResponse, Failure> {
        let bearer = self.bearer(auth_header).await?;
        self.explained(
            self.http
                .get_stream(uri, session_id, last_event_id, bearer, custom_headers)
                .await,
            true,
        )
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxedSseResponse, Failure> {
        let bearer = self.bearer(auth_header).await?;
        self.explained(
            self.http
                .get_stream_with_max_sse_event_size(
                    uri,
                    session_id,
                    last_event_id,
                    bearer,
                    custom_headers,
                    max_sse_event_size,
                )
                .await,
            true,
        )
        .await
    }
}

/// The console's one credential chain (built on first use from the
/// environment: `OPSDECK_AZURE_CREDENTIALS` picks and orders the credentials,
/// `OPSDECK_AZURE_CLOUD` the cloud), shared by every server that signs in, so
/// the credential that worked is kept and each scope's token fetched once.
pub(in crate::mcp) fn console_credential() -> Result<Arc<AzureCredential>, String> {
    static CHAIN: OnceLock<Result<Arc<AzureCredential>, String>> = OnceLock::new();
    CHAIN
        .get_or_init(|| chain_from(&|name: &str| std::env::var(name).ok()))
        .clone()
}

fn chain_from(lookup: crate::config::env::Lookup) -> Result<Arc<AzureCredential>, String> {
    let kinds = match env_value(lookup, "OPSDECK_AZURE_CREDENTIALS") {
        None => CredentialKind::DEFAULT_ORDER.to_vec(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(CredentialKind::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("OPSDECK_AZURE_CREDENTIALS: {e}"))?,
    };
    if kinds.is_empty() {
        return Err(format!(
            "OPSDECK_AZURE_CREDENTIALS names no credential; name at least one of {}",
            CredentialKind::NAMES
        ));
    }
    let cloud_name = env_value(lookup, "OPSDECK_AZURE_CLOUD");
    let cloud = AzureCloud::named(cloud_name.as_deref().unwrap_or("AzurePublic"))
        .map_err(|e| format!("OPSDECK_AZURE_CLOUD: {e}"))?;
    let candidates = candidates_from_env(&kinds, &cloud, lookup);
    Ok(Arc::new(AzureCredential::new(
        candidates,
        CREDENTIAL_TIMEOUT,
    )))
}

#[cfg(test)]
mod tests;
