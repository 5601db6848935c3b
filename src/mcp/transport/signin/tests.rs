//! The signing-in client against a local server that wants one bearer token,
//! with a scripted credential in place of the Azure CLI.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::OffsetDateTime;
use futures::StreamExt;

use super::*;
use crate::backends::azure::credential::Candidate;

const SCOPE: &str = "api://opsdeck/.default";

/// Hands out the token in `next`, valid for `lifetime_secs`, or fails when it is empty.
#[derive(Debug)]
struct Scripted {
    next: Mutex<String>,
    lifetime_secs: i64,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenCredential for Scripted {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let token = self.next.lock().unwrap().clone();
        if token.is_empty() {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "AzureCliCredential authentication failed. Please run 'az login' to setup account.",
            ));
        }
        Ok(AccessToken::new(
            token,
            OffsetDateTime::now_utc() + azure_core::time::Duration::seconds(self.lifetime_secs),
        ))
    }
}

fn scripted(token: &str, lifetime_secs: i64) -> Arc<Scripted> {
    Arc::new(Scripted {
        next: Mutex::new(token.to_string()),
        lifetime_secs,
        calls: AtomicUsize::new(0),
    })
}

fn chain(credential: Arc<Scripted>) -> Arc<AzureCredential> {
    Arc::new(AzureCredential::new(
        vec![Candidate {
            kind: CredentialKind::AzureCli,
            credential: Ok(credential),
        }],
        Duration::from_secs(5),
    ))
}

/// What the server does with a request that carries the right token.
#[derive(Clone, Copy)]
enum Answer {
    Pong,
    /// A JSON body of this many bytes.
    BigJson(usize),
    /// One SSE event of this many bytes.
    BigEvent(usize),
    Forbidden,
}

#[derive(Clone)]
struct Server {
    answer: Answer,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

async fn mcp(
    axum::extract::State(server): axum::extract::State<Server>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    server.seen.lock().unwrap().push(authorization.clone());
    if authorization.as_deref() != Some("Bearer right") {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                r#"Bearer scope="opsdeck.read", error="invalid_token", error_description="signature does not verify""#,
            )],
        )
            .into_response();
    }
    let pong = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
    match server.answer {
        Answer::Pong => ([(header::CONTENT_TYPE, "application/json")], pong).into_response(),
        Answer::BigJson(size) => {
            let padding = "x".repeat(size);
            let body =
                format!(r#"{{"jsonrpc":"2.0","id":1,"result":{{"_meta":{{"pad":"{padding}"}}}}}}"#);
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Answer::BigEvent(size) => {
            let padding = "x".repeat(size);
            let body = format!(
                "data: {{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{{\"_meta\":{{\"pad\":\"{padding}\"}}}}}}\n\n"
            );
            ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
        }
        Answer::Forbidden => (
            StatusCode::FORBIDDEN,
            [(
                header::WWW_AUTHENTICATE,
                r#"Bearer error="insufficient_scope", scope="opsdeck.read opsdeck.remediate""#,
            )],
        )
            .into_response(),
    }
}

async fn start(answer: Answer) -> (Arc<str>, Arc<Mutex<Vec<Option<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/mcp", axum::routing::post(mcp).get(mcp))
        .with_state(Server {
            answer,
            seen: seen.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/mcp").into(), seen)
}

fn ping() -> ClientJsonRpcMessage {
    serde_json::from_value(serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .unwrap()
}

fn signed_in(credential: Arc<Scripted>) -> SignedInClient {
    SignedInClient::new(
        reqwest::Client::new(),
        Some(SignIn {
            scope: SCOPE.to_string(),
            credential: chain(credential),
        }),
        false,
    )
}

async fn post(
    client: &SignedInClient,
    uri: &Arc<str>,
) -> Result<StreamableHttpPostResponse, Failure> {
    client
        .post_message(uri.clone(), ping(), None, None, HashMap::new())
        .await
}

fn refusal_text(result: Result<StreamableHttpPostResponse, Failure>) -> String {
    match result {
        Err(StreamableHttpError::Client(SignInError::Refused(text))) => text,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn every_request_carries_the_token_and_it_is_fetched_once_while_fresh() {
    let (uri, seen) = start(Answer::Pong).await;
    let credential = scripted("right", 3_600);
    let client = signed_in(credential.clone());
    for _ in 0..3 {
        post(&client, &uri).await.unwrap();
    }
    // The GET stream is signed in too (the server answers it with JSON, not SSE,
    // which rmcp refuses; what matters is the header it carried).
    let _ = client
        .get_stream(uri.clone(), None, None, None, HashMap::new())
        .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, vec![Some("Bearer right".to_string()); 4]);
    assert_eq!(credential.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_within_five_minutes_of_expiry_is_renewed_before_use() {
    let (uri, _) = start(Answer::Pong).await;
    let credential = scripted("right", 299);
    let client = signed_in(credential.clone());
    for _ in 0..3 {
        post(&client, &uri).await.unwrap();
    }
    assert_eq!(credential.calls.load(Ordering::SeqCst), 3);
    let fresh = scripted("right", 301);
    let client = signed_in(fresh.clone());
    for _ in 0..3 {
        post(&client, &uri).await.unwrap();
    }
    assert_eq!(fresh.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_token_says_what_to_do_and_is_asked_for_again() {
    let (uri, _) = start(Answer::Pong).await;
    let credential = scripted("wrong-token-value", 3_600);
    let client = signed_in(credential.clone());
    let text = refusal_text(post(&client, &uri).await);
    assert!(
        text.contains("az login")
            && text.contains(SCOPE)
            && text.contains("HTTP 401, invalid_token: signature does not verify"),
        "{text}"
    );
    assert!(!text.contains("wrong-token-value"), "{text}");
    // Signed in again (as someone the server accepts): the next request asks
    // the chain again instead of resending the cached, refused token.
    *credential.next.lock().unwrap() = "right".to_string();
    post(&client, &uri).await.unwrap();
    assert_eq!(credential.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_missing_permission_names_it() {
    let (uri, _) = start(Answer::Forbidden).await;
    let client = signed_in(scripted("right", 3_600));
    let text = refusal_text(post(&client, &uri).await);
    assert!(
        text.contains("HTTP 403")
            && text.contains(
                "one of the permissions this needs ('opsdeck.read', 'opsdeck.remediate')"
            )
            && text.contains("app role"),
        "{text}"
    );
}

#[tokio::test]
async fn no_token_no_request() {
    let (uri, seen) = start(Answer::Pong).await;
    let client = signed_in(scripted("", 3_600));
    match post(&client, &uri).await {
        Err(StreamableHttpError::Client(SignInError::NoToken(text))) => {
            assert!(text.contains("az login") && text.contains(SCOPE), "{text}")
        }
        other => panic!("expected no token, got {other:?}"),
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_token_scope_a_401_suggests_it_and_the_given_header_passes() {
    let (uri, seen) = start(Answer::Pong).await;
    let client = SignedInClient::new(reqwest::Client::new(), None, false);
    let text = refusal_text(post(&client, &uri).await);
    assert!(
        text.contains("tokenScope") && text.contains("az login"),
        "{text}"
    );
    client
        .post_message(
            uri.clone(),
            ping(),
            None,
            Some("right".into()),
            HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap()[1].as_deref(), Some("Bearer right"));
}

#[tokio::test]
async fn rmcp_size_limits_still_apply_through_the_wrapper() {
    let (uri, _) = start(Answer::BigJson(64 * 1024)).await;
    let client = signed_in(scripted("right", 3_600));
    let mut limits = StreamableHttpResponseLimits::default();
    limits.max_json_response_size = 8 * 1024;
    let result = client
        .post_message_with_response_limits(uri.clone(), ping(), None, None, HashMap::new(), limits)
        .await;
    assert!(
        matches!(
            result,
            Err(StreamableHttpError::ResponseBodyTooLarge { .. })
        ),
        "{result:?}"
    );
    post(&client, &uri).await.unwrap();

    let (uri, _) = start(Answer::BigEvent(64 * 1024)).await;
    let response = client
        .post_message_with_max_sse_event_size(
            uri.clone(),
            ping(),
            None,
            None,
            HashMap::new(),
            8 * 1024,
        )
        .await
        .unwrap();
    let StreamableHttpPostResponse::Sse(mut events, _) = response else {
        panic!("expected an event stream, got {response:?}");
    };
    let first = events.next().await.expect("an item");
    assert!(first.is_err(), "a 64 KiB event passed an 8 KiB limit");
}

#[test]
fn the_chain_follows_the_environment() {
    let lookup = |name: &str| match name {
        "OPSDECK_AZURE_CREDENTIALS" => Some("azure_cli".to_string()),
        _ => None,
    };
    let chain = chain_from(&lookup).unwrap();
    assert!(
        chain.status().contains("will try azure_cli"),
        "{}",
        chain.status()
    );
    let bad = |name: &str| (name == "OPSDECK_AZURE_CREDENTIALS").then(|| "kerberos".to_string());
    assert!(
        chain_from(&bad)
            .err()
            .unwrap()
            .contains("OPSDECK_AZURE_CREDENTIALS")
    );
    let cloud = |name: &str| (name == "OPSDECK_AZURE_CLOUD").then(|| "mars".to_string());
    assert!(
        chain_from(&cloud)
            .err()
            .unwrap()
            .contains("OPSDECK_AZURE_CLOUD")
    );
}

#[test]
fn a_refusal_in_a_session_is_told_without_rmcps_wrapping() {
    let refused: Failure = StreamableHttpError::Client(SignInError::Refused(
        "the server refused your token for api://opsdeck/.default (HTTP 401): run `az login`"
            .into(),
    ));
    let error =
        rmcp::ServiceError::TransportSend(rmcp::transport::DynamicTransportError::from_parts(
            "streamable-http",
            std::any::TypeId::of::<SignedInClient>(),
            Box::new(refused),
        ));
    assert_eq!(
        call_failure(&error),
        "the server refused your token for api://opsdeck/.default (HTTP 401): run `az login`"
    );
    let other = rmcp::ServiceError::TransportClosed;
    assert_eq!(call_failure(&other), "Transport closed");
}

/// A session through rmcp's own worker: the token is fetched for each request,
/// so a renewal mid-session is used at once, and a refused one is explained.
mod session {
    use super::*;
    use axum::extract::{Request, State};
    use axum::middleware::Next;
    use rmcp::ServiceExt;
    use rmcp::model::{ClientRequest, PingRequest};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

    #[derive(Clone)]
    struct Quiet;
    impl rmcp::ServerHandler for Quiet {}

    async fn require(
        State(accepted): State<Arc<Mutex<String>>>,
        request: Request,
        next: Next,
    ) -> Response {
        let want = format!("Bearer {}", accepted.lock().unwrap());
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given == Some(want.as_str()) {
            return next.run(request).await;
        }
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)],
        )
            .into_response()
    }

    async fn ping(peer: &rmcp::Peer<rmcp::RoleClient>) -> Result<(), rmcp::ServiceError> {
        peer.send_request(ClientRequest::PingRequest(PingRequest::default()))
            .await
            .map(|_| ())
    }

    #[tokio::test]
    async fn a_token_renewed_mid_session_is_used_and_a_refused_one_explained() {
        let accepted = Arc::new(Mutex::new("first".to_string()));
        let service = StreamableHttpService::new(
            || Ok(Quiet),
            LocalSessionManager::default().into(),
            StreamableHttpServerConfig::default(),
        );
        let app = axum::Router::new().nest_service("/mcp", service).layer(
            axum::middleware::from_fn_with_state(accepted.clone(), require),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        // Within five minutes of expiry: every request asks for a token.
        let credential = scripted("first", 299);
        let transport = StreamableHttpClientTransport::with_client(
            signed_in(credential.clone()),
            StreamableHttpClientTransportConfig::with_uri(format!("http://{address}/mcp")),
        );
        let running = tokio::time::timeout(Duration::from_secs(10), ().serve(transport))
            .await
            .unwrap()
            .unwrap();
        let peer = running.peer().clone();
        ping(&peer).await.unwrap();
        let before = credential.calls.load(Ordering::SeqCst);
        assert!(
            before >= 3,
            "initialize, initialized and ping each signed: {before}"
        );

        *credential.next.lock().unwrap() = "second".to_string();
        let error = ping(&peer).await.unwrap_err();
        let text = call_failure(&error);
        assert!(
            text.starts_with(
                "the server refused your token for api://opsdeck/.default: run `az login`"
            ),
            "{text}"
        );

        *accepted.lock().unwrap() = "second".to_string();
        ping(&peer).await.unwrap();
        running.cancel().await.unwrap();
    }
}
