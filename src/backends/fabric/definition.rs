//! Item definitions (`getDefinition`): parts with base64 payloads, of which a
//! data pipeline's `pipeline-content.json` holds `properties.activities` in
//! ADF's shape. The activities are read with the ADF parser; what Fabric adds
//! is how a pipeline starts other items: `ExecutePipeline` (a pipeline
//! reference), `InvokePipeline` (`pipelineId`, `workspaceId`),
//! `RefreshDataFlow` (`dataflowId`) and `InvokeCopyJob` (`copyJobId`), all by
//! id. Those become the child the dependency graph follows, by board name.

use base64::Engine;
use serde_json::Value;

use crate::backends::adf_definitions::{Activity, activity_info, flatten};
use crate::model::estate::ActivityInfo;

/// The most a definition part may hold once decoded.
pub const MAX_PART_BYTES: usize = 8 * 1024 * 1024;
/// The part of a data pipeline's definition that holds its activities.
pub const PIPELINE_CONTENT: &str = "pipeline-content.json";
/// Longest id or name taken from a definition.
const MAX_REF_CHARS: usize = 256;

/// Finds an item: by id (a GUID in this workspace) to its board name.
pub trait ItemNames {
    fn name_of(&self, id: &str) -> Option<String>;
}

/// A data pipeline's activities, read from a `getDefinition` answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PipelineDefinition {
    pub activities: Vec<ActivityInfo>,
    /// Activities left out because they could not be read.
    pub skipped: usize,
}

/// One part of a definition, decoded: its JSON.
pub fn part_json(answer: &Value, path: &str) -> Result<Value, String> {
    let parts = answer
        .pointer("/definition/parts")
        .and_then(Value::as_array)
        .ok_or("the definition has no `definition.parts` list")?;
    let part = parts
        .iter()
        .find(|p| p.get("path").and_then(Value::as_str) == Some(path))
        .ok_or_else(|| {
            let names: Vec<String> = parts
                .iter()
                .filter_map(|p| p.get("path").and_then(Value::as_str))
                .take(10)
                .map(|p| p.chars().take(80).collect())
                .collect();
            format!(
                "the definition has no part `{path}` (it has: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })?;
    if let Some(kind) = part.get("payloadType").and_then(Value::as_str)
        && !kind.eq_ignore_ascii_case("InlineBase64")
    {
        let kind: String = kind.chars().take(40).collect();
        return Err(format!(
            "part `{path}` has payloadType `{kind}`; only InlineBase64 is documented"
        ));
    }
    let payload = part
        .get("payload")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("part `{path}` has no payload text"))?;
    // Base64 is 4 characters per 3 bytes: refuse before decoding what is too big.
    if payload.len() > MAX_PART_BYTES / 3 * 4 + 4 {
        return Err(format!(
            "part `{path}` is larger than {} MiB; not read",
            MAX_PART_BYTES / (1024 * 1024)
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| format!("part `{path}` is not valid base64 ({e})"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("part `{path}` is not valid JSON ({e})"))
}

/// The activities of a `pipeline-content.json`, containers' bodies included,
/// each child item named as the board names it.
pub fn pipeline_definition(
    content: &Value,
    workspace: &str,
    names: &dyn ItemNames,
) -> Result<PipelineDefinition, String> {
    let listed = match content.pointer("/properties/activities") {
        None | Some(Value::Null) => return Ok(PipelineDefinition::default()),
        Some(Value::Array(listed)) => listed,
        Some(_) => return Err("`properties.activities` is not a list".into()),
    };
    let mut skipped = 0;
    let mut activities = Vec::new();
    for raw in listed {
        match serde_json::from_value::<Activity>(raw.clone()) {
            Ok(activity) => activities.push(activity),
            Err(_) => skipped += 1,
        }
    }
    let activities = flatten(&activities)
        .iter()
        .map(|activity| {
            let mut info = activity_info(activity);
            info.executes_pipeline = child_of(activity, workspace, names);
            info
        })
        .collect();
    Ok(PipelineDefinition {
        activities,
        skipped,
    })
}

/// The item an activity starts, by board name; one in another workspace or
/// not on the board is named by its id and where it is. A child chosen at run
/// time (an expression) is not guessed.
fn child_of(activity: &Activity, workspace: &str, names: &dyn ItemNames) -> Option<String> {
    let props = &activity.type_properties;
    let id_field = match activity.activity_type.as_str() {
        "ExecutePipeline" => "/pipeline/referenceName",
        "InvokePipeline" => "/pipelineId",
        "RefreshDataFlow" | "RefreshDataflow" => "/dataflowId",
        "InvokeCopyJob" => "/copyJobId",
        _ => return None,
    };
    let id = literal(props.pointer(id_field))?;
    let elsewhere = literal(props.get("workspaceId"))
        .filter(|ws| !ws.eq_ignore_ascii_case(workspace) && !ws.is_empty());
    if let Some(ws) = elsewhere {
        return Some(format!("{id} (in workspace {ws})"));
    }
    Some(
        names
            .name_of(&id)
            .unwrap_or_else(|| format!("{id} (not in this workspace's catalogue)")),
    )
}

/// A literal text value, bounded and without control characters; `None`
/// for an expression (`@…`) or anything else.
fn literal(value: Option<&Value>) -> Option<String> {
    let text = value?.as_str()?.trim();
    if text.is_empty() || text.starts_with('@') {
        return None;
    }
    Some(
        text.chars()
            .filter(|c| !c.is_control())
            .take(MAX_REF_CHARS)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    const WS: &str = "6e335e92-a2a2-4b5a-970a-bd6a89fbb765";

    struct Names(HashMap<&'static str, &'static str>);

    impl ItemNames for Names {
        fn name_of(&self, id: &str) -> Option<String> {
            self.0.get(id).map(|s| s.to_string())
        }
    }

    fn encoded(value: &Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(value.to_string())
    }

    fn answer(parts: Value) -> Value {
        json!({"definition": {"parts": parts}})
    }

    #[test]
    fn bad_parts_give_clear_errors() {
        let none = answer(json!([]));
        assert!(
            part_json(&none, PIPELINE_CONTENT)
                .unwrap_err()
                .contains("no part")
        );
        let bad = answer(
            json!([{"path": PIPELINE_CONTENT, "payload": "@@@", "payloadType": "InlineBase64"}]),
        );
        assert!(
            part_json(&bad, PIPELINE_CONTENT)
                .unwrap_err()
                .contains("base64")
        );
        let not_json = answer(json!([{"path": PIPELINE_CONTENT, "payload": "bm90IGpzb24="}]));
        assert!(
            part_json(&not_json, PIPELINE_CONTENT)
                .unwrap_err()
                .contains("JSON")
        );
        let odd =
            answer(json!([{"path": PIPELINE_CONTENT, "payload": "e30=", "payloadType": "Url"}]));
        assert!(
            part_json(&odd, PIPELINE_CONTENT)
                .unwrap_err()
                .contains("payloadType")
        );
        let huge = "A".repeat(MAX_PART_BYTES / 3 * 4 + 8);
        let big = answer(json!([{"path": PIPELINE_CONTENT, "payload": huge}]));
        assert!(
            part_json(&big, PIPELINE_CONTENT)
                .unwrap_err()
                .contains("MiB")
        );
        assert!(
            part_json(&json!({"x": 1}), PIPELINE_CONTENT)
                .unwrap_err()
                .contains("definition.parts")
        );
        let listed = json!({"properties": {"activities": {"a": 1}}});
        let names = Names(HashMap::new());
        assert!(pipeline_definition(&listed, WS, &names).is_err());
    }

    #[test]
    fn children_are_named_by_id_and_expressions_are_not_guessed() {
        let content = json!({"properties": {"activities": [
            {"name": "Run child", "type": "InvokePipeline", "dependsOn": [],
             "typeProperties": {"operationType": "InvokeFabricPipeline", "pipelineId": "p-1", "workspaceId": WS, "waitOnCompletion": true}},
            {"name": "Legacy child", "type": "ExecutePipeline",
             "dependsOn": [{"activity": "Run child", "dependencyConditions": ["Succeeded"]}],
             "typeProperties": {"pipeline": {"referenceName": "p-2", "type": "PipelineReference"}}},
            {"name": "Refresh", "type": "RefreshDataFlow", "typeProperties": {"dataflowId": "d-1", "workspaceId": WS}},
            {"name": "Copy", "type": "InvokeCopyJob", "typeProperties": {"copyJobId": "c-9", "workspaceId": "other-ws"}},
            {"name": "Dynamic", "type": "InvokePipeline", "typeProperties": {"pipelineId": {"value": "@pipeline().parameters.child", "type": "Expression"}}},
            {"name": "Loop", "type": "ForEach", "typeProperties": {"activities": [
                {"name": "Inner", "type": "InvokePipeline", "typeProperties": {"pipelineId": "p-1"}}]}},
            {"type": "no name: skipped"}
        ]}});
        let names = Names(HashMap::from([("p-1", "child"), ("d-1", "clean")]));
        let read = pipeline_definition(&content, WS, &names).unwrap();
        assert_eq!(read.skipped, 1);
        let children: Vec<(&str, Option<&str>)> = read
            .activities
            .iter()
            .map(|a| (a.name.as_str(), a.executes_pipeline.as_deref()))
            .collect();
        assert_eq!(
            children,
            [
                ("Run child", Some("child")),
                (
                    "Legacy child",
                    Some("p-2 (not in this workspace's catalogue)")
                ),
                ("Refresh", Some("clean")),
                ("Copy", Some("c-9 (in workspace other-ws)")),
                ("Dynamic", None),
                ("Loop", None),
                ("Inner", Some("child")),
            ]
        );
        assert_eq!(read.activities[1].depends_on[0].activity, "Run child");
    }

    #[test]
    fn an_encoded_pipeline_content_round_trips() {
        let content = json!({"properties": {"activities": []}});
        let parts = answer(
            json!([{"path": PIPELINE_CONTENT, "payload": encoded(&content), "payloadType": "InlineBase64"}]),
        );
        assert_eq!(part_json(&parts, PIPELINE_CONTENT).unwrap(), content);
    }
}
