//! One bounded GET for the issuer's documents (OpenID configuration, JWKS):
//! a deadline for the whole exchange, a size cap read chunk by chunk, no
//! redirects (they could lead from https to anywhere), and a message that
//! says which document failed and how.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use url::Url;

/// No key set or OpenID configuration comes near this; a larger answer is not one.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The client every fetch goes through.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client for sign-in keys: {e}"))
}

/// GETs `url` and parses it as JSON, within `timeout` and [`MAX_DOCUMENT_BYTES`].
pub async fn json(
    client: &reqwest::Client,
    url: &Url,
    what: &str,
    timeout: Duration,
) -> Result<Value, String> {
    let exchange = async {
        let response = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot fetch the {what} from {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "the {what} at {url} answered HTTP {status}; check the issuer URL (or --oauth-jwks-uri)"
            ));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large(what, url));
        }
        let mut body = Vec::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| format!("the {what} from {url} broke off: {e}"))?;
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large(what, url));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("the {what} from {url} is not JSON: {e}"))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the {what} from {url} did not arrive within {} s",
                timeout.as_secs()
            ))
        })
}

fn too_large(what: &str, url: &Url) -> String {
    format!(
        "the {what} from {url} is larger than {} KiB, which no real one is; refusing to read it",
        MAX_DOCUMENT_BYTES / 1024
    )
}
