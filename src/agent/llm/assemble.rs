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

    /// The calls in index order; a call without an id gets one (some servers omit it).
    pub fn finish(self) -> Vec<AssembledCall> {
        self.calls
            .into_iter()
            .map(|(index, mut call)| {
                if call.id.is_empty() {
                    call.id = format!("call_{index}");
                }
                call
            })
            .collect()
    }
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
        let calls = a.finish();
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
}
