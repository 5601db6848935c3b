//! Item definitions (`getDefinition`): parts with base64 payloads, of which a
//! data pipeline's `pipeline-content.json` holds `properties.activities` in
//! ADF's shape. The activities are read with the ADF parser; what Fabric adds
//! is how a pipeline starts other items: `ExecutePipeline` (a pipeline
//! reference), `InvokePipeline` (`pipelineId`, `workspaceId`),
//! `RefreshDataFlow` (`dataflowId`) and `InvokeCopyJob` (`copyJobId`), all by
//! id. Those become the child the dependency graph follows, by board name.
//!
//! A definition is read in two steps: [`parse_pipeline_content`] keeps the
//! children as the definition names them ([`ParsedDefinition`], what is
//! cached between catalogue loads), and [`ParsedDefinition::resolve`] names
//! them by the board of the moment, so a renamed item is never named by a
//! stale cache. A child in this workspace that is not on the board (deleted,
//! or an item type the board does not show) is not an edge: a walk over
//! edges takes every target for a pipeline. It is told in the pipeline's
//! description instead ([`PipelineDefinition::unresolved`]).

use base64::Engine;
use serde_json::Value;

use super::prose;
use crate::backends::adf_definitions::{Activity, activity_info, flatten};
use crate::model::estate::ActivityInfo;

/// The most a definition part may hold once decoded.
pub const MAX_PART_BYTES: usize = 8 * 1024 * 1024;
/// The part of a data pipeline's definition that holds its activities.
pub const PIPELINE_CONTENT: &str = "pipeline-content.json";
/// Longest id or name taken from a definition.
const MAX_REF_CHARS: usize = 256;
/// Most children not on the board told for one pipeline; the rest are counted.
const MAX_UNRESOLVED_TOLD: usize = 10;

/// Finds an item: by id (a GUID in this workspace) to its board name.
pub trait ItemNames {
    fn name_of(&self, id: &str) -> Option<String>;
}

/// A data pipeline's activities, read from a `getDefinition` answer, each
/// child named by the board.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PipelineDefinition {
    pub activities: Vec<ActivityInfo>,
    /// Activities left out because they could not be read.
    pub skipped: usize,
    /// Children in this workspace that are not on the board, as
    /// "'activity' starts id" (made safe to show; at most
    /// [`MAX_UNRESOLVED_TOLD`], then a count): not edges, only words.
    pub unresolved: Vec<String>,
}

/// The item an activity starts, as the definition names it.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildRef {
    /// In this workspace: an item id (or an ADF-style pipeline name).
    Here(String),
    /// In another workspace, which the board does not hold.
    Elsewhere { id: String, workspace: String },
}

/// What a definition says before its children are named: the part kept
/// between catalogue loads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedDefinition {
    /// Each activity, with no child named yet.
    activities: Vec<ActivityInfo>,
    /// The child each activity starts, in the activities' order.
    children: Vec<Option<ChildRef>>,
    skipped: usize,
}

impl ParsedDefinition {
    /// The activities with their children named by `names`; a child in this
    /// workspace that `names` does not know is told, not linked.
    pub fn resolve(&self, names: &dyn ItemNames) -> PipelineDefinition {
        let mut unresolved = Vec::new();
        let mut untold = 0usize;
        let activities = self
            .activities
            .iter()
            .zip(&self.children)
            .map(|(activity, child)| {
                let mut info = activity.clone();
                info.executes_pipeline = match child {
                    None => None,
                    Some(ChildRef::Elsewhere { id, workspace }) => {
                        Some(format!("{id} (in workspace {workspace})"))
                    }
                    Some(ChildRef::Here(id)) => {
                        let named = names.name_of(id);
                        if named.is_none() {
                            if unresolved.len() < MAX_UNRESOLVED_TOLD {
                                unresolved.push(format!(
                                    "'{}' starts {}",
                                    prose::name(&activity.name),
                                    prose::name(id)
                                ));
                            } else {
                                untold += 1;
                            }
                        }
                        named
                    }
                };
                info
            })
            .collect();
        if untold > 0 {
            unresolved.push(format!("{untold} more"));
        }
        PipelineDefinition {
            activities,
            skipped: self.skipped,
            unresolved,
        }
    }
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
                .map(|p| prose::shown(p, 80))
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
        let kind = prose::shown(kind, 40);
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
    Ok(parse_pipeline_content(content, workspace)?.resolve(names))
}

/// The activities of a `pipeline-content.json`, containers' bodies included,
/// with the children as the definition names them.
pub fn parse_pipeline_content(
    content: &Value,
    workspace: &str,
) -> Result<ParsedDefinition, String> {
    let listed = match content.pointer("/properties/activities") {
        None | Some(Value::Null) => return Ok(ParsedDefinition::default()),
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
    let (activities, children) = flatten(&activities)
        .iter()
        .map(|activity| {
            let mut info = activity_info(activity);
            info.executes_pipeline = None;
            (info, child_of(activity, workspace))
        })
        .unzip();
    Ok(ParsedDefinition {
        activities,
        children,
        skipped,
    })
}

/// The item an activity starts, as the definition names it. A child chosen
/// at run time (an expression) is not guessed.
fn child_of(activity: &Activity, workspace: &str) -> Option<ChildRef> {
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
    Some(match elsewhere {
        Some(workspace) => ChildRef::Elsewhere { id, workspace },
        None => ChildRef::Here(id),
    })
}

/// A literal text value, bounded and without control characters; `None`
/// for an expression (`@…`) or anything else.
fn literal(value: Option<&Value>) -> Option<String> {
    let text = value?.as_str()?.trim();
    if text.is_empty() || text.starts_with('@') {
        return None;
    }
    Some(prose::shown(text, MAX_REF_CHARS))
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
                ("Legacy child", None),
                ("Refresh", Some("clean")),
                ("Copy", Some("c-9 (in workspace other-ws)")),
                ("Dynamic", None),
                ("Loop", None),
                ("Inner", Some("child")),
            ]
        );
        assert_eq!(read.activities[1].depends_on[0].activity, "Run child");
        assert_eq!(read.unresolved, ["'Legacy child' starts p-2"]);
    }

    #[test]
    fn children_are_named_by_the_board_of_the_moment_and_unknown_ones_only_told() {
        let mut listed = Vec::new();
        for n in 0..(MAX_UNRESOLVED_TOLD + 3) {
            listed.push(
                json!({"name": format!("Run {n}\u{1b}[2J"), "type": "InvokePipeline",
                "typeProperties": {"pipelineId": format!("gone-{n}"), "workspaceId": WS}}),
            );
        }
        let content = json!({"properties": {"activities": listed}});
        let parsed = parse_pipeline_content(&content, WS).unwrap();
        let nobody = parsed.resolve(&Names(HashMap::new()));
        assert!(
            nobody
                .activities
                .iter()
                .all(|a| a.executes_pipeline.is_none())
        );
        assert_eq!(nobody.unresolved.len(), MAX_UNRESOLVED_TOLD + 1);
        assert_eq!(nobody.unresolved.last().unwrap(), "3 more");
        assert!(
            nobody.unresolved[0].starts_with("'Run 0\\x1b[2J' starts gone-0"),
            "{:?}",
            nobody.unresolved
        );
        // The same parse, named by a board that now holds one of them.
        let renamed = parsed.resolve(&Names(HashMap::from([("gone-1", "publish v2")])));
        assert_eq!(
            renamed.activities[1].executes_pipeline.as_deref(),
            Some("publish v2")
        );
        assert_eq!(renamed.unresolved.len(), MAX_UNRESOLVED_TOLD + 1);
        assert_eq!(renamed.unresolved.last().unwrap(), "2 more");
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
