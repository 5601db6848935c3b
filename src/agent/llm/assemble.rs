//! Streamed tool calls arrive in pieces: the id and name in the first delta of
//! each call, its `arguments` JSON split across many, interleaved by `index`.

use std::collections::BTreeMap;

use async_openai::types::chat::ChatCompletionMessageToolCallChunk;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssembledCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Default)]
pub struct ToolCallAssembler {
    calls: BTreeMap<u32, AssembledCall>,
}

impl ToolCallAssembler {
    pub fn push(&mut self, delta: &ChatCompletionMessageToolCallChunk) {
        let call = self.calls.entry(delta.index).or_default();
        if let Some(id) = &delta.id {
            call.id.push_str(id);
        }
        if let Some(function) = &delta.function {
            if let Some(name) = &function.name {
                call.name.push_str(name);
            }
            if let Some(arguments) = &function.arguments {
                call.arguments.push_str(arguments);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls in index order; a call without an id gets `{prefix}_{index}`
    /// (some servers omit it): the caller's prefix names the turn and round,
    /// so the id is not one an earlier round already used.
    pub fn finish(self, prefix: &str) -> Vec<AssembledCall> {
        self.calls
            .into_iter()
            .map(|(index, mut call)| {
                if call.id.is_empty() {
                    call.id = format!("{prefix}_{index}");
                }
                call
            })
            .collect()
    }
}

/// The calls with ids unique in the conversation: an id `taken` by an earlier
/// call, or repeated within this response (some local model servers number
/// every response's calls from 0), becomes `{prefix}_{n}`. Results are paired
/// with calls by id, so a repeat would pair a result with the wrong call.
pub fn unique_ids(
    mut calls: Vec<AssembledCall>,
    prefix: &str,
    taken: impl Fn(&str) -> bool,
) -> Vec<AssembledCall> {
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut n = 0usize;
    for call in &mut calls {
        while taken(&call.id) || seen.contains(&call.id) {
            n += 1;
            call.id = format!("{prefix}_dup{n}");
        }
        seen.insert(call.id.clone());
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(value: serde_json::Value) -> ChatCompletionMessageToolCallChunk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn interleaved_pieces_reassemble_by_index() {
        let mut a = ToolCallAssembler::default();
        a.push(&chunk(json!({"index": 0, "id": "c0", "type": "function", "function": {"name": "get_pipeline_status", "arguments": ""}})));
        a.push(&chunk(json!({"index": 1, "id": "c1", "type": "function", "function": {"name": "list_secrets", "arguments": "{\"min_"}})));
        a.push(&chunk(
            json!({"index": 0, "function": {"arguments": "{\"pipeline\":"}}),
        ));
        a.push(&chunk(
            json!({"index": 1, "function": {"arguments": "risk\":\"high\"}"}}),
        ));
        a.push(&chunk(
            json!({"index": 0, "function": {"arguments": "\"x\"}"}}),
        ));
        let calls = a.finish("call_t1_r1");
        assert_eq!(
            calls[0],
            AssembledCall {
                id: "c0".into(),
                name: "get_pipeline_status".into(),
                arguments: "{\"pipeline\":\"x\"}".into()
            }
        );
        assert_eq!(calls[1].arguments, "{\"min_risk\":\"high\"}");
    }

    #[test]
    fn ids_are_unique_across_rounds_and_within_a_response() {
        let mut a = ToolCallAssembler::default();
        a.push(&chunk(
            json!({"index": 0, "function": {"name": "x", "arguments": "{}"}}),
        ));
        a.push(&chunk(
            json!({"index": 1, "id": "same", "function": {"name": "y"}}),
        ));
        a.push(&chunk(
            json!({"index": 2, "id": "same", "function": {"name": "z"}}),
        ));
        a.push(&chunk(
            json!({"index": 3, "id": "old", "function": {"name": "w"}}),
        ));
        let calls = unique_ids(a.finish("call_t3_r2"), "call_t3_r2", |id| id == "old");
        let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids[0], "call_t3_r2_0",
            "a missing id names its turn and round"
        );
        assert_eq!(ids[1], "same");
        assert_ne!(ids[2], "same");
        assert_ne!(ids[3], "old");
        let distinct: std::collections::HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), 4, "{ids:?}");
        // Another round's fallback differs from this one's.
        let mut b = ToolCallAssembler::default();
        b.push(&chunk(json!({"index": 0, "function": {"name": "x"}})));
        assert_ne!(b.finish("call_t3_r3")[0].id, ids[0]);
    }
}
