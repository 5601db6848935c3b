//! A local OpenID issuer (tests/peers/issuer.py, in venv-mcp2 with PyJWT and
//! cryptography): real RSA and P-256 keys, a JWKS endpoint, an OpenID
//! configuration, and token minting for sign-in tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::process::{ChildGuard, peer_script, python};

/// The audience sign-in tests configure the server with.
pub const AUDIENCE: &str = "api://opsdeck-test";

pub struct Issuer {
    child: Option<ChildGuard>,
    /// The issuer URL, as its tokens' `iss` says (`http://127.0.0.1:PORT`).
    pub url: String,
    http: reqwest::Client,
}

impl Issuer {
    pub fn start() -> Issuer {
        Issuer::start_on(0)
    }

    /// An issuer on `port` (0: any free port).
    pub fn start_on(port: u16) -> Issuer {
        let mut child = Command::new(python("venv-mcp2"))
            .arg(peer_script("issuer.py"))
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the issuer starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let guard = ChildGuard(child);
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the issuer prints its address");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("issuer said {line:?}, not its address: {e}"));
        Issuer {
            child: Some(guard),
            url: ready["issuer"].as_str().unwrap().to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Mints a token from a full `/mint` request (claims, kid, alg, sign_with).
    pub async fn mint_with(&self, request: Value) -> String {
        let answer: Value = self
            .http
            .post(format!("{}/mint", self.url))
            .json(&request)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["token"].as_str().unwrap().to_string()
    }

    /// An RS256 token with exactly these claims.
    pub async fn mint(&self, claims: Value) -> String {
        self.mint_with(json!({ "claims": claims })).await
    }

    /// Claims of a good token for `name` with `permissions` (as `scp`),
    /// valid for an hour from now; tests change what they test.
    pub fn claims(&self, name: &str, permissions: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": format!("sub-{name}"),
            "oid": format!("oid-{name}"),
            "preferred_username": format!("{name}@example.com"),
            "scp": permissions,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        })
    }

    /// Rotates the signing key; the old one leaves the JWKS. Returns the new kid.
    pub async fn rotate(&self) -> String {
        let answer: Value = self
            .http
            .post(format!("{}/rotate", self.url))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["kid"].as_str().unwrap().to_string()
    }

    /// Stops the issuer: its endpoints stop answering.
    pub fn stop(&mut self) {
        self.child = None;
    }

    /// How many times the JWKS was fetched.
    pub async fn jwks_fetches(&self) -> u64 {
        let stats: Value = self
            .http
            .get(format!("{}/stats", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["jwks_fetches"].as_u64().unwrap()
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// What a [`KeyRelay`] does with the connections it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    /// Passes each connection on to the issuer.
    Forward,
    /// Accepts and never answers: an issuer that hangs.
    Hang,
    /// Closes each connection at once: an issuer that is down.
    Drop,
}

/// A TCP relay in front of an issuer (for `--oauth-jwks-uri`), switchable
/// between passing connections on, hanging them and dropping them, counting
/// every connection it accepts.
pub struct KeyRelay {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: std::sync::Arc<std::sync::Mutex<(RelayMode, u64)>>,
}

impl KeyRelay {
    /// A relay to `upstream` (`http://host:port`), started in `mode`.
    pub async fn start(upstream: &str, mode: RelayMode) -> KeyRelay {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = std::sync::Arc::new(std::sync::Mutex::new((mode, 0)));
        let shared = state.clone();
        tokio::spawn(async move {
            // Hung connections are kept open here for the relay's lifetime.
            let mut hung = Vec::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mode = {
                    let mut state = shared.lock().unwrap();
                    state.1 += 1;
                    state.0
                };
                match mode {
                    RelayMode::Forward => {
                        let upstream = upstream.clone();
                        tokio::spawn(async move {
                            if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await
                            {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                            }
                        });
                    }
                    RelayMode::Hang => hung.push(inbound),
                    RelayMode::Drop => drop(inbound),
                }
            }
        });
        KeyRelay { url, state }
    }

    pub fn set(&self, mode: RelayMode) {
        self.state.lock().unwrap().0 = mode;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.lock().unwrap().1
    }
}

/// A listener that accepts connections and never answers, like an issuer
/// that hangs: `http://127.0.0.1:PORT`. It lives as long as the test's runtime.
pub async fn hanging_issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut hung = Vec::new();
        while let Ok((inbound, _)) = listener.accept().await {
            hung.push(inbound);
        }
    });
    url
}
