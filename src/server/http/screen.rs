//! The HTTP side of request screening: a POST to `/mcp` is read with a cap and
//! checked by the same pure functions `serve --stdio` uses, so a body that is
//! not JSON, too large, or a `tools/call` whose `arguments` is not an object
//! gets its JSON-RPC error instead of rmcp's silence or "method not found".
//! A body that does not arrive within the limit's time gets 408, so a slow
//! sender cannot hold one of the few request slots for ever.

use axum::body::{Body, Bytes};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::server::framing::{
    self, INVALID_PARAMS, JsonRpcErrorReply, MAX_REQUEST_BYTES, OVERSIZED_HEAD_BYTES,
};

/// A body read up to the cap: whole, or only its head when it ran over.
enum Read {
    Whole(Bytes),
    Oversized { head: Vec<u8>, seen: usize },
    Broken(String),
}

/// Reads at most one byte past [`MAX_REQUEST_BYTES`]; memory stays bounded
/// however much the client sends.
async fn read_capped(body: Body) -> Read {
    let mut stream = body.into_data_stream();
    let mut kept: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return Read::Broken(e.to_string()),
        };
        if kept.len() + chunk.len() > MAX_REQUEST_BYTES {
            let seen = kept.len() + chunk.len();
            kept.extend_from_slice(&chunk[..chunk.len().min(OVERSIZED_HEAD_BYTES)]);
            kept.truncate(OVERSIZED_HEAD_BYTES);
            return Read::Oversized { head: kept, seen };
        }
        kept.extend_from_slice(&chunk);
    }
    Read::Whole(Bytes::from(kept))
}

fn answer(status: StatusCode, reply: &JsonRpcErrorReply) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        reply.to_json().to_string(),
    )
        .into_response()
}

/// Screens POST bodies to `/mcp`, each read within `read_within`; everything
/// else passes untouched.
pub async fn screen_mcp_request(
    State(read_within): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(read) = tokio::time::timeout(read_within, read_capped(body)).await else {
        return (
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s\n",
                read_within.as_secs()
            ),
        )
            .into_response();
    };
    let bytes = match read {
        Read::Whole(bytes) => bytes,
        Read::Oversized { head, seen } => {
            let reply = framing::oversized_request_reply(&head, &[], seen);
            return answer(StatusCode::PAYLOAD_TOO_LARGE, &reply);
        }
        Read::Broken(reason) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("the request body could not be read: {reason}\n"),
            )
                .into_response();
        }
    };
    if let Err(reply) = framing::screen_request(&bytes) {
        // Wrong parameters are a JSON-RPC answer to a well-formed request.
        let status = if reply.code == INVALID_PARAMS {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        return answer(status, &reply);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
