//! Azure Data Factory resource JSON (`{name, properties}`), as returned by the ARM
//! REST API (api-version 2018-06-01) and as stored in a factory's Git repository.
//!
//! Only what triage needs is typed; everything else is kept as raw JSON so that
//! unknown activity and linked-service types never fail to parse.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Any factory sub-resource: pipeline, linked service, dataset, trigger.
#[derive(Debug, Clone, Deserialize)]
pub struct FactoryResource<T> {
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    pub properties: T,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineProperties {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub activities: Vec<Activity>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
    #[serde(default)]
    pub folder: Option<Folder>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Folder {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub name: String,
    #[serde(rename = "type")]
    pub activity_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<ActivityDependencyJson>,
    #[serde(default)]
    pub policy: Option<ActivityPolicy>,
    #[serde(default)]
    pub linked_service_name: Option<Reference>,
    #[serde(default)]
    pub inputs: Vec<Reference>,
    #[serde(default)]
    pub outputs: Vec<Reference>,
    #[serde(default)]
    pub type_properties: Value,
    /// Name/value pairs shown in ADF monitoring; opsdeck reads lineage from
    /// entries named `inputs` / `outputs` (comma-separated dataset names) for
    /// activity types that cannot carry dataset references (notebooks, jobs).
    #[serde(default)]
    pub user_properties: Vec<UserProperty>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserProperty {
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

impl Activity {
    /// Dataset names listed in a user property (`inputs` or `outputs`).
    pub fn lineage(&self, property: &str) -> Vec<String> {
        self.user_properties
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case(property))
            .filter_map(|p| string_or_expression(&p.value))
            .flat_map(|list| {
                list.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDependencyJson {
    pub activity: String,
    #[serde(default)]
    pub dependency_conditions: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityPolicy {
    /// An integer, or an expression object in real factories.
    #[serde(default)]
    pub retry: Value,
    #[serde(default)]
    pub retry_interval_in_seconds: Option<u64>,
    #[serde(default)]
    pub timeout: Option<String>,
}

impl ActivityPolicy {
    pub fn retry_count(&self) -> u32 {
        match &self.retry {
            Value::Number(n) => n.as_u64().map_or(0, |n| n.min(u32::MAX as u64) as u32),
            Value::String(s) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }
}

/// `{"referenceName": "...", "type": "DatasetReference"}` and friends.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub reference_name: String,
    #[serde(default, rename = "type")]
    pub reference_type: Option<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedServiceProperties {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub type_properties: Value,
    #[serde(default)]
    pub connect_via: Option<Reference>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetProperties {
    #[serde(rename = "type")]
    pub dataset_type: String,
    #[serde(default)]
    pub description: Option<String>,
    pub linked_service_name: Reference,
    #[serde(default)]
    pub type_properties: Value,
    #[serde(default)]
    pub folder: Option<Folder>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerProperties {
    #[serde(rename = "type")]
    pub trigger_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub type_properties: Value,
    /// Multi-pipeline triggers (`ScheduleTrigger`, `BlobEventsTrigger`).
    #[serde(default)]
    pub pipelines: Vec<TriggerPipeline>,
    /// Single-pipeline triggers (`TumblingWindowTrigger`).
    #[serde(default)]
    pub pipeline: Option<TriggerPipeline>,
    #[serde(default)]
    pub runtime_state: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerPipeline {
    pub pipeline_reference: Reference,
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
}

impl TriggerProperties {
    /// Pipelines this trigger starts, whichever of the two shapes it uses.
    pub fn pipeline_names(&self) -> Vec<String> {
        self.pipelines
            .iter()
            .chain(self.pipeline.iter())
            .map(|p| p.pipeline_reference.reference_name.clone())
            .collect()
    }

    /// The recurrence of a schedule or tumbling-window trigger.
    pub fn recurrence(&self) -> Option<Recurrence> {
        let props = &self.type_properties;
        let source = props.get("recurrence").unwrap_or(props);
        let frequency = source.get("frequency")?.as_str()?.to_string();
        let interval = source
            .get("interval")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1);
        let start_time = source
            .get("startTime")
            .and_then(Value::as_str)
            .map(str::to_string);
        let minutes = source
            .pointer("/schedule/minutes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let hours = source
            .pointer("/schedule/hours")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        Some(Recurrence {
            frequency,
            interval,
            start_time,
            minutes,
            hours,
        })
    }
}

/// A trigger's recurrence, as ADF spells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    /// `Minute`, `Hour`, `Day`, `Week`, `Month`.
    pub frequency: String,
    pub interval: u64,
    pub start_time: Option<String>,
    /// `schedule.minutes`: the minutes past the hour at which it fires.
    pub minutes: Vec<u64>,
    /// `schedule.hours`: the hours of the day at which it fires.
    pub hours: Vec<u64>,
}

impl Recurrence {
    /// The period in seconds, when the frequency is a fixed length.
    pub fn period_seconds(&self) -> Option<i64> {
        let unit = match self.frequency.to_ascii_lowercase().as_str() {
            "minute" => 60,
            "hour" => 3_600,
            "day" => 86_400,
            "week" => 604_800,
            _ => return None,
        };
        i64::try_from(self.interval).ok().map(|i| i * unit)
    }

    pub fn describe(&self) -> String {
        let unit = self.frequency.to_ascii_lowercase();
        let every = if self.interval == 1 {
            format!("every {unit}")
        } else {
            format!("every {} {unit}s", self.interval)
        };
        match self.minutes.as_slice() {
            [] => every,
            minutes => {
                let at: Vec<String> = minutes.iter().map(|m| format!(":{m:02}")).collect();
                format!("{every} at {}", at.join(", "))
            }
        }
    }
}

/// Reads a string that may be given literally or as `{"value": "...", "type": "Expression"}`.
pub fn string_or_expression(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map.get("value").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}
