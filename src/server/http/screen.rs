//! The HTTP side of request screening: a POST to `/mcp` is read with a cap and
//! checked by the same pure functions `serve --stdio` uses, so a body that is
//! not JSON, too large, or a `tools/call` whose `arguments` is not an object
//! gets its JSON-RPC error instead of rmcp's silence or "method not found".
//! A body that does not arrive within the limit's time gets 408, so a slow
//! sender cannot hold one of the few request slots for ever. With sign-in on,
//! a real `rerun_pipeline` or `cancel_run` from a caller who may read but not
//! remediate gets 403 `insufficient_scope` here, before any tool runs.

use axum::body::{Body, Bytes};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;
use std::sync::Arc;

use super::auth::{Caller, SignIn};

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
    if let Some(refusal) = refuse_reader_remediation(&parts, &bytes) {
        return refusal;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The tools that change things when called with `dry_run: false`.
const REMEDIATION_TOOLS: [&str; 2] = ["rerun_pipeline", "cancel_run"];

/// 403 for a signed-in caller without the remediate permission whose body
/// asks for a real remediation; `None` for everything else.
fn refuse_reader_remediation(parts: &axum::http::request::Parts, body: &[u8]) -> Option<Response> {
    let caller = parts.extensions.get::<Caller>()?;
    if caller.may_remediate {
        return None;
    }
    let sign_in = parts.extensions.get::<Arc<SignIn>>()?;
    let tool = real_remediation(body)?;
    Some(sign_in.refuse_remediation(caller, tool, &parts.headers))
}

/// The remediation tool a body calls for real (`dry_run: false`), looking
/// into a batch too. A dry run (the default) is a read.
fn real_remediation(body: &[u8]) -> Option<&'static str> {
    let message: Value = serde_json::from_slice(body).ok()?;
    let messages = match &message {
        Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    messages.into_iter().find_map(|message| {
        if message.get("method")?.as_str()? != "tools/call" {
            return None;
        }
        let params = message.get("params")?;
        let name = params.get("name")?.as_str()?;
        let tool = REMEDIATION_TOOLS.into_iter().find(|t| *t == name)?;
        let dry_run = params.get("arguments")?.get("dry_run")?;
        (dry_run == &Value::Bool(false)).then_some(tool)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    fn call(name: &str, arguments: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": name, "arguments": arguments}})
    }

    #[test]
    fn only_real_reruns_and_cancels_are_remediation() {
        let real = |name, args| real_remediation(&body(call(name, args)));
        assert_eq!(
            real("rerun_pipeline", json!({"pipeline": "p", "dry_run": false})),
            Some("rerun_pipeline")
        );
        assert_eq!(
            real("cancel_run", json!({"run_id": "r", "dry_run": false})),
            Some("cancel_run")
        );
        assert_eq!(real("rerun_pipeline", json!({"pipeline": "p"})), None);
        assert_eq!(
            real("rerun_pipeline", json!({"pipeline": "p", "dry_run": true})),
            None
        );
        assert_eq!(
            real(
                "get_pipeline_status",
                json!({"pipeline": "p", "dry_run": false})
            ),
            None
        );
        let batch = json!([
            call("list_pipelines", json!({})),
            call("cancel_run", json!({"run_id": "r", "dry_run": false}))
        ]);
        assert_eq!(real_remediation(&body(batch)), Some("cancel_run"));
        assert_eq!(real_remediation(b"not json"), None);
    }
}
