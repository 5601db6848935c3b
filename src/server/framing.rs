//! Screening of incoming JSON-RPC messages before rmcp sees them, so that every
//! request gets an answer, however malformed: rmcp ignores an unparsable line,
//! drops a line over its size cap without a word (the caller waits out its
//! timeout), and answers a `tools/call` whose `arguments` is not an object with
//! "method not found".
//!
//! Pure functions over bytes: `serve --stdio` calls them per line (see
//! `stdio.rs`); an HTTP transport can call [`screen_request`] on a POST body.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

/// The largest request accepted, in bytes (one line over stdio).
pub const MAX_REQUEST_BYTES: usize = 4 << 20;

/// The most JSON values (objects, arrays, strings, numbers…) one request may
/// hold: parsed, each costs far more than its bytes, so a 4 MiB `[0,0,…]`
/// would otherwise become hundreds of megabytes.
pub const MAX_JSON_VALUES: usize = 100_000;

/// How much of an oversized line's start is kept to find its id.
pub const OVERSIZED_HEAD_BYTES: usize = 64 << 10;
/// How much of an oversized line's end is kept to find its id (some clients
/// write `id` after `params`).
pub const OVERSIZED_TAIL_BYTES: usize = 1 << 10;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;

/// A JSON-RPC error response this layer sends itself.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRpcErrorReply {
    /// The request's id when it could be read, else null.
    pub id: Value,
    pub code: i64,
    pub message: String,
}

impl JsonRpcErrorReply {
    pub fn to_json(&self) -> Value {
        json!({
            "jsonrpc": "2.0",
            "id": self.id,
            "error": {"code": self.code, "message": self.message},
        })
    }

    /// The response as one newline-terminated line, members in the usual order.
    pub fn to_line(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Wire<'a> {
            jsonrpc: &'static str,
            id: &'a Value,
            error: WireError<'a>,
        }
        #[derive(serde::Serialize)]
        struct WireError<'a> {
            code: i64,
            message: &'a str,
        }
        let wire = Wire {
            jsonrpc: "2.0",
            id: &self.id,
            error: WireError {
                code: self.code,
                message: &self.message,
            },
        };
        // Serialising strings, numbers and a Value into memory cannot fail.
        let mut line = serde_json::to_vec(&wire).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// `Ok` for a message rmcp can be trusted with (or one that wants no answer: a
/// notification, a blank line); otherwise the error response to send instead.
pub fn screen_request(bytes: &[u8]) -> Result<(), JsonRpcErrorReply> {
    if bytes.len() > MAX_REQUEST_BYTES {
        let head = &bytes[..OVERSIZED_HEAD_BYTES.min(bytes.len())];
        let tail = &bytes[bytes.len().saturating_sub(OVERSIZED_TAIL_BYTES)..];
        return Err(oversized_request_reply(head, tail, bytes.len()));
    }
    let text = message_text(bytes);
    if text.is_empty() {
        return Ok(());
    }
    let mut envelope = Envelope::default();
    if let Err(error) = read_envelope(text, &mut envelope) {
        if text.starts_with(b"[") && serde_json::from_slice::<IgnoredAny>(text).is_ok() {
            return Err(reply(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: batches are not supported; send one message at a time".into(),
            ));
        }
        return Err(match error.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                reply(Value::Null, PARSE_ERROR, format!("Parse error: {error}"))
            }
            _ => reply(
                envelope.usable_id(),
                INVALID_REQUEST,
                format!("Invalid Request: {error}"),
            ),
        });
    }
    if let Err(error) = count_values(text) {
        // Only running out of the count is "too many values"; anything else
        // the counter trips on (bad UTF-8, a lone surrogate, nesting past
        // serde's depth limit) is a message that does not parse.
        return Err(if error.to_string().starts_with(TOO_MANY_VALUES) {
            reply(
                envelope.usable_id(),
                INVALID_REQUEST,
                format!(
                    "Invalid Request: more than {MAX_JSON_VALUES} JSON values in one message; send smaller arguments"
                ),
            )
        } else {
            reply(Value::Null, PARSE_ERROR, format!("Parse error: {error}"))
        });
    }
    if let Some(IdShape::Unusable(kind)) = &envelope.id {
        return Err(reply(
            Value::Null,
            INVALID_REQUEST,
            format!("Invalid Request: id must be a string or a number, not {kind}"),
        ));
    }
    let Some(IdShape::Usable(id)) = envelope.id else {
        // A notification: JSON-RPC forbids answering it, whatever is wrong with it.
        return Ok(());
    };
    if envelope.method.as_deref() == Some("tools/call") {
        check_tool_call_params(envelope.params.as_ref())
            .map_err(|message| reply(id, INVALID_PARAMS, message))?;
    }
    Ok(())
}

/// The answer to a request over [`MAX_REQUEST_BYTES`], of which only the first
/// and last bytes were kept: its id when either shows it, else null.
pub fn oversized_request_reply(head: &[u8], tail: &[u8], total_bytes: usize) -> JsonRpcErrorReply {
    let mut envelope = Envelope::default();
    // The head is cut short, so this fails; it records the id if it passed one.
    let _ = read_envelope(message_text(head), &mut envelope);
    let id = match envelope.id {
        Some(IdShape::Usable(id)) => id,
        _ => trailing_id(tail).unwrap_or(Value::Null),
    };
    reply(
        id,
        INVALID_REQUEST,
        format!(
            "Invalid Request: the message is {total_bytes} bytes, over this server's limit of {MAX_REQUEST_BYTES} bytes; send smaller arguments (plans by name rather than inline)"
        ),
    )
}

fn reply(id: Value, code: i64, message: String) -> JsonRpcErrorReply {
    JsonRpcErrorReply { id, code, message }
}

/// The message without a byte-order mark and surrounding whitespace.
fn message_text(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.trim_ascii()
}

fn check_tool_call_params(params: Option<&ParamsShape>) -> Result<(), String> {
    match params {
        None => Err(
            "Invalid params: tools/call needs params {\"name\": TOOL, \"arguments\": {...}}".into(),
        ),
        Some(ParamsShape::Other(kind)) => Err(format!(
            "Invalid params: tools/call params must be an object {{\"name\": TOOL, \"arguments\": {{...}}}}, not {kind}"
        )),
        Some(ParamsShape::Object { name, arguments }) => {
            if *name != Some(Kind::String) {
                return Err(
                    "Invalid params: tools/call params.name must be the tool's name, as a string"
                        .into(),
                );
            }
            match arguments {
                None | Some(Kind::Object) | Some(Kind::Null) => Ok(()),
                Some(kind) => Err(format!(
                    "Invalid params: tools/call arguments must be an object of the tool's parameters, not {kind}"
                )),
            }
        }
    }
}

/// What kind of JSON value something is, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        })
    }
}

/// The parts of a message the screen looks at; the rest is skipped unread.
#[derive(Debug, Default)]
struct Envelope {
    id: Option<IdShape>,
    method: Option<String>,
    params: Option<ParamsShape>,
}

impl Envelope {
    fn usable_id(&self) -> Value {
        match &self.id {
            Some(IdShape::Usable(id)) => id.clone(),
            _ => Value::Null,
        }
    }
}

#[derive(Debug)]
enum IdShape {
    /// A string, a number or null: can be echoed back.
    Usable(Value),
    Unusable(Kind),
}

#[derive(Debug)]
enum ParamsShape {
    Object {
        name: Option<Kind>,
        arguments: Option<Kind>,
    },
    Other(Kind),
}

/// Reads `text` as one JSON-RPC message into `out`, filling it as it goes, so
/// that even a message cut short leaves the id it had passed.
fn read_envelope(text: &[u8], out: &mut Envelope) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    EnvelopeSeed(out).deserialize(&mut deserializer)?;
    deserializer.end()
}

struct EnvelopeSeed<'a>(&'a mut Envelope);

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON-RPC message object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "id" => self.0.id = Some(map.next_value_seed(IdSeed)?),
                "method" => self.0.method = Some(map.next_value()?),
                "params" => self.0.params = Some(map.next_value_seed(ParamsSeed)?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `visit_*` methods for every value but an object, answering `wrap(kind)`.
macro_rules! visit_all_but_objects {
    ($wrap:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($wrap(Kind::Bool))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($wrap(Kind::Number))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($wrap(Kind::Number))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($wrap(Kind::Number))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($wrap(Kind::String))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Kind::Null))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrap(Kind::Array))
        }
    };
}

/// The kind of a value, its content skipped.
struct KindSeed;

impl<'de> DeserializeSeed<'de> for KindSeed {
    type Value = Kind;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Kind, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KindSeed {
    type Value = Kind;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    visit_all_but_objects!(|kind| kind);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Kind::Object)
    }
}

struct ParamsSeed;

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = ParamsShape;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ParamsShape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ParamsSeed {
    type Value = ParamsShape;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request params")
    }
    visit_all_but_objects!(ParamsShape::Other);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParamsShape, A::Error> {
        let (mut name, mut arguments) = (None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "name" => name = Some(map.next_value_seed(KindSeed)?),
                "arguments" => arguments = Some(map.next_value_seed(KindSeed)?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(ParamsShape::Object { name, arguments })
    }
}

struct IdSeed;

impl<'de> DeserializeSeed<'de> for IdSeed {
    type Value = IdShape;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<IdShape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdSeed {
    type Value = IdShape;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a request id")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<IdShape, E> {
        Ok(IdShape::Unusable(Kind::Bool))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<IdShape, E> {
        Ok(IdShape::Usable(n.into()))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<IdShape, E> {
        Ok(IdShape::Usable(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<IdShape, E> {
        Ok(IdShape::Usable(n.into()))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<IdShape, E> {
        Ok(IdShape::Usable(text.into()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<IdShape, E> {
        Ok(IdShape::Usable(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<IdShape, A::Error> {
        KindSeed.visit_seq(seq).map(IdShape::Unusable)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<IdShape, A::Error> {
        KindSeed.visit_map(map).map(IdShape::Unusable)
    }
}

/// The counter's own error, told apart from parse errors.
const TOO_MANY_VALUES: &str = "too many values";

/// Counts the values of `text` without building them; `Err` past [`MAX_JSON_VALUES`].
fn count_values(text: &[u8]) -> Result<(), serde_json::Error> {
    let mut left = MAX_JSON_VALUES;
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    CountSeed(&mut left).deserialize(&mut deserializer)
}

struct CountSeed<'a>(&'a mut usize);

impl CountSeed<'_> {
    fn take<E: de::Error>(&mut self) -> Result<(), E> {
        *self.0 = self
            .0
            .checked_sub(1)
            .ok_or_else(|| E::custom(TOO_MANY_VALUES))?;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for CountSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CountSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.take()
    }
    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        self.take()
    }
    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        self.take()
    }
    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        self.take()
    }
    fn visit_str<E: de::Error>(mut self, _: &str) -> Result<(), E> {
        self.take()
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.take()
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.take()?;
        while seq.next_element_seed(CountSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.take()?;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(CountSeed(&mut *self.0))?;
        }
        Ok(())
    }
}

/// The id of a message from its last bytes, when it is the last member of the
/// top-level object: `…,"id":7}` or `…,"id":"a"}`. The final `}` closes the
/// top-level object, so the member just before it is one of its own.
fn trailing_id(tail: &[u8]) -> Option<Value> {
    let body = tail.trim_ascii_end().strip_suffix(b"}")?.trim_ascii_end();
    let value_start = if body.ends_with(b"\"") {
        opening_quote(body)?
    } else {
        body.iter()
            .rposition(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))?
            + 1
    };
    let key = body[..value_start]
        .trim_ascii_end()
        .strip_suffix(b":")?
        .trim_ascii_end()
        .strip_suffix(b"\"id\"")?
        .trim_ascii_end();
    if !(key.ends_with(b",") || key.ends_with(b"{")) {
        return None;
    }
    match serde_json::from_slice::<Value>(&body[value_start..]).ok()? {
        id @ (Value::String(_) | Value::Number(_)) => Some(id),
        _ => None,
    }
}

/// Where the string ending `body` starts: the nearest `"` before its closing
/// one that is not escaped (preceded by an even number of backslashes).
fn opening_quote(body: &[u8]) -> Option<usize> {
    let inner = &body[..body.len() - 1];
    (0..inner.len()).rev().find(|&i| {
        inner[i] == b'"' && inner[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screened(line: &str) -> Result<(), JsonRpcErrorReply> {
        screen_request(line.as_bytes())
    }

    #[test]
    fn what_does_not_parse_is_a_parse_error_not_too_many_values() {
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"x","arguments":{{"a":{}1{}}}}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let surrogate = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":"\ud800"}}}"#;
        for line in [deep.as_str(), surrogate] {
            let reply = screened(line).unwrap_err();
            assert_eq!(reply.code, PARSE_ERROR, "{line}: {}", reply.message);
        }
        let mut bad_utf8 = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":""#.to_vec();
        bad_utf8.extend_from_slice(&[0xff, 0xfe]);
        bad_utf8.extend_from_slice(br#""}}}"#);
        assert_eq!(screen_request(&bad_utf8).unwrap_err().code, PARSE_ERROR);
        let many = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"x","arguments":{{"a":[{}0]}}}}}}"#,
            "0,".repeat(MAX_JSON_VALUES + 1)
        );
        assert_eq!(screened(&many).unwrap_err().code, INVALID_REQUEST);
    }

    #[test]
    fn good_messages_pass() {
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fetch_logs","arguments":{"since":"2d"}}}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"list_pipelines"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            "",
            "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\r",
        ] {
            assert_eq!(screened(line), Ok(()), "{line}");
        }
    }

    #[test]
    fn non_object_arguments_are_invalid_params_with_the_id() {
        for (arguments, kind) in [
            ("\"oops\"", "a string"),
            ("[1]", "an array"),
            ("7", "a number"),
        ] {
            let line = format!(
                r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"fetch_logs","arguments":{arguments}}}}}"#
            );
            let reply = screened(&line).unwrap_err();
            assert_eq!((reply.code, reply.id.clone()), (INVALID_PARAMS, json!(9)));
            assert!(reply.message.contains(kind), "{}", reply.message);
        }
        let reply =
            screened(r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":"x"}"#).unwrap_err();
        assert_eq!(reply.code, INVALID_PARAMS);
        let reply =
            screened(r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":5}}"#)
                .unwrap_err();
        assert_eq!(reply.code, INVALID_PARAMS);
    }

    #[test]
    fn unparsable_lines_are_parse_errors_with_a_null_id() {
        for line in [
            "this is not json",
            r#"{"jsonrpc":"2.0","id":4,"method":"#,
            "{} {}",
        ] {
            let reply = screened(line).unwrap_err();
            assert_eq!((reply.code, reply.id), (PARSE_ERROR, Value::Null), "{line}");
        }
    }

    #[test]
    fn a_message_that_is_not_an_object_is_an_invalid_request() {
        let reply = screened(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).unwrap_err();
        assert_eq!(reply.code, INVALID_REQUEST);
        assert!(reply.message.contains("batches"), "{}", reply.message);
        let reply = screened("5").unwrap_err();
        assert_eq!((reply.code, reply.id), (INVALID_REQUEST, Value::Null));
        let reply = screened(r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#).unwrap_err();
        assert_eq!((reply.code, reply.id), (INVALID_REQUEST, Value::Null));
    }

    #[test]
    fn too_many_values_are_refused_before_anything_builds_them() {
        let zeros = vec!["0"; MAX_JSON_VALUES].join(",");
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"t","arguments":{{"a":[{zeros}]}}}}}}"#
        );
        let reply = screened(&line).unwrap_err();
        assert_eq!((reply.code, reply.id), (INVALID_REQUEST, json!(5)));
    }

    #[test]
    fn an_oversized_message_is_answered_with_the_id_from_its_start_or_end() {
        let filler = "x".repeat(MAX_REQUEST_BYTES);
        let id_first = format!(
            r#"{{"jsonrpc":"2.0","id":"first","method":"tools/call","params":{{"name":"t","arguments":{{"a":"{filler}"}}}}}}"#
        );
        let reply = screened(&id_first).unwrap_err();
        assert_eq!((reply.code, reply.id), (INVALID_REQUEST, json!("first")));
        assert!(reply.message.contains(&MAX_REQUEST_BYTES.to_string()));
        let id_last = format!(
            r#"{{"method":"tools/call","params":{{"name":"t","arguments":{{"a":"{filler}"}}}},"jsonrpc":"2.0","id":42}}"#
        );
        assert_eq!(screened(&id_last).unwrap_err().id, json!(42));
        let no_id = format!(r#"{{"method":"tools/call","params":{{"a":"{filler}"}}}}"#);
        assert_eq!(screened(&no_id).unwrap_err().id, Value::Null);
    }

    #[test]
    fn a_trailing_id_is_only_taken_from_the_top_level() {
        assert_eq!(
            trailing_id(br#"..."x":1,"id":"a\"b"}"#),
            Some(json!("a\"b"))
        );
        assert_eq!(trailing_id(br#"...,"id" : -3 } "#), Some(json!(-3)));
        assert_eq!(trailing_id(br#"...{"x":"\"id\":7}"}"#), None);
        assert_eq!(trailing_id(br#"..."id":7}}"#), None);
        assert_eq!(trailing_id(br#"...xid":7}"#), None);
    }

    #[test]
    fn replies_are_one_json_rpc_line() {
        let line = reply(json!(3), INVALID_PARAMS, "bad".into()).to_line();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        let value: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["error"]["code"], json!(INVALID_PARAMS));
        assert_eq!(value["id"], json!(3));
    }
}
