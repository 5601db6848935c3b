//! Translates factory JSON into the estate model: which datasets an activity reads
//! and writes, which connections it uses, which Key Vault secrets those read.

use serde_json::Value;

use super::Factory;
use super::resources::{
    Activity, DatasetProperties, FactoryResource, LinkedServiceProperties, string_or_expression,
};
use crate::model::estate::{
    ActivityDependency, ActivityInfo, DatasetInfo, EstateCatalog, LinkedServiceInfo, PipelineInfo,
    SecretRef,
};
use crate::model::run::BackendKind;

impl Factory {
    /// The estate model of this factory.
    pub fn catalog(&self, backend: BackendKind, environment: &str) -> EstateCatalog {
        EstateCatalog {
            pipelines: self
                .pipelines
                .iter()
                .map(|p| PipelineInfo {
                    name: p.name.clone(),
                    backend,
                    environment: environment.to_string(),
                    folder: p.properties.folder.as_ref().map(|f| f.name.clone()),
                    description: p.properties.description.clone(),
                    schedule: self.schedule_of(&p.name),
                    parameters: p.properties.parameters.keys().cloned().collect(),
                    activities: flatten(&p.properties.activities)
                        .iter()
                        .map(activity_info)
                        .collect(),
                })
                .collect(),
            linked_services: self
                .linked_services
                .iter()
                .map(linked_service_info)
                .collect(),
            datasets: self.datasets.iter().map(dataset_info).collect(),
            load_errors: vec![],
            unreadable: vec![],
        }
    }

    fn schedule_of(&self, pipeline: &str) -> Option<String> {
        let described: Vec<String> = self
            .triggers_of(pipeline)
            .into_iter()
            .map(|t| match t.properties.recurrence() {
                Some(r) => format!("{} (trigger {})", r.describe(), t.name),
                None => format!("{} {}", t.properties.trigger_type, t.name),
            })
            .collect();
        if !described.is_empty() {
            return Some(described.join("; "));
        }
        // No trigger of its own: it runs when a parent pipeline starts it.
        let parents: Vec<String> = self
            .pipelines
            .iter()
            .flat_map(|parent| {
                flatten(&parent.properties.activities)
                    .into_iter()
                    .filter(|a| {
                        a.activity_type == "ExecutePipeline"
                            && a.type_properties
                                .pointer("/pipeline/referenceName")
                                .and_then(Value::as_str)
                                == Some(pipeline)
                    })
                    .map(|a| format!("{} ({})", parent.name, a.name))
                    .collect::<Vec<_>>()
            })
            .collect();
        (!parents.is_empty()).then(|| format!("started by {}", parents.join(", ")))
    }
}

/// Activities in definition order, with the bodies of containers
/// (`ForEach`, `IfCondition`, `Until`, `Switch`) after their container.
pub fn flatten(activities: &[Activity]) -> Vec<Activity> {
    let mut out = Vec::new();
    for activity in activities {
        out.push(activity.clone());
        let props = &activity.type_properties;
        for key in [
            "activities",
            "ifTrueActivities",
            "ifFalseActivities",
            "defaultActivities",
        ] {
            out.extend(flatten(&nested_activities(props.get(key))));
        }
        for case in props
            .get("cases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(flatten(&nested_activities(case.get("activities"))));
        }
    }
    out
}

/// Container bodies stay raw JSON in `typeProperties`; parse them when asked.
/// A malformed nested activity is skipped rather than hiding the whole pipeline.
fn nested_activities(list: Option<&Value>) -> Vec<Activity> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|a| serde_json::from_value(a.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The estate view of one activity.
pub fn activity_info(activity: &Activity) -> ActivityInfo {
    let props = &activity.type_properties;
    let mut inputs: Vec<String> = activity
        .inputs
        .iter()
        .map(|r| r.reference_name.clone())
        .collect();
    // Lookup / GetMetadata / Validation / Delete name their dataset in typeProperties.
    if let Some(ds) = props
        .pointer("/dataset/referenceName")
        .and_then(Value::as_str)
    {
        inputs.push(ds.to_string());
    }
    inputs.extend(activity.lineage("inputs"));
    let mut outputs: Vec<String> = activity
        .outputs
        .iter()
        .map(|r| r.reference_name.clone())
        .collect();
    outputs.extend(activity.lineage("outputs"));
    let mut linked_services: Vec<String> = activity
        .linked_service_name
        .iter()
        .map(|r| r.reference_name.clone())
        .collect();
    // Web activities list the connections they authenticate with in typeProperties.
    for reference in props
        .get("linkedServices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = reference.get("referenceName").and_then(Value::as_str) {
            linked_services.push(name.to_string());
        }
    }
    let executes_pipeline = (activity.activity_type == "ExecutePipeline")
        .then(|| {
            props
                .pointer("/pipeline/referenceName")
                .and_then(Value::as_str)
        })
        .flatten()
        .map(str::to_string);
    let target = [
        "notebookPath",
        "jobId",
        "pythonFile",
        "mainClassName",
        "storedProcedureName",
        "url",
        "scriptPath",
    ]
    .iter()
    .find_map(|key| props.get(*key).and_then(string_or_expression));
    ActivityInfo {
        name: activity.name.clone(),
        activity_type: activity.activity_type.clone(),
        depends_on: activity
            .depends_on
            .iter()
            .map(|d| ActivityDependency {
                activity: d.activity.clone(),
                conditions: d.dependency_conditions.clone(),
            })
            .collect(),
        linked_services,
        inputs,
        outputs,
        executes_pipeline,
        retries: activity.policy.as_ref().map_or(0, |p| p.retry_count()),
        target,
    }
}

fn linked_service_info(ls: &FactoryResource<LinkedServiceProperties>) -> LinkedServiceInfo {
    let mut secrets = Vec::new();
    collect_secret_refs(&ls.properties.type_properties, "", &mut secrets);
    let mut uses: Vec<String> = secrets
        .iter()
        .filter(|s| !s.store.starts_with("secret-scope:"))
        .map(|s| s.store.clone())
        .collect();
    uses.sort();
    uses.dedup();
    LinkedServiceInfo {
        name: ls.name.clone(),
        service_type: ls.properties.service_type.clone(),
        secrets,
        endpoint: endpoint_of(&ls.properties.type_properties),
        uses_linked_services: uses,
    }
}

/// Finds every `{"type": "AzureKeyVaultSecret", "store": {...}, "secretName": ...}`
/// under a linked service's properties, remembering which property it fills.
fn collect_secret_refs(value: &Value, property: &str, out: &mut Vec<SecretRef>) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("AzureKeyVaultSecret") {
                let store = map
                    .get("store")
                    .and_then(|s| s.get("referenceName"))
                    .and_then(Value::as_str);
                let secret = map.get("secretName").and_then(string_or_expression);
                if let (Some(store), Some(secret_name)) = (store, secret) {
                    out.push(SecretRef {
                        store: store.to_string(),
                        secret_name,
                        property: property.to_string(),
                    });
                }
                return;
            }
            for (key, child) in map {
                collect_secret_refs(child, key, out);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_secret_refs(item, property, out)),
        Value::String(text) => collect_secret_scope_refs(text, property, out),
        _ => {}
    }
}

/// Databricks reads secrets through secret scopes: `{{secrets/<scope>/<key>}}` in Spark
/// configuration. An Azure Key Vault-backed scope exposes the vault's secrets by name.
fn collect_secret_scope_refs(text: &str, property: &str, out: &mut Vec<SecretRef>) {
    let mut rest = text;
    while let Some(start) = rest.find("{{secrets/") {
        let after = &rest[start + "{{secrets/".len()..];
        let Some(end) = after.find("}}") else { break };
        if let Some((scope, key)) = after[..end].split_once('/') {
            out.push(SecretRef {
                store: format!("secret-scope:{scope}"),
                secret_name: key.to_string(),
                property: property.to_string(),
            });
        }
        rest = &after[end..];
    }
}

/// The host or URL a linked service connects to, from whichever property its type uses.
fn endpoint_of(props: &Value) -> Option<String> {
    for key in [
        "url",
        "baseUrl",
        "domain",
        "host",
        "server",
        "serviceEndpoint",
        "endpoint",
        "accountName",
    ] {
        if let Some(v) = props.get(key).and_then(string_or_expression) {
            return Some(v);
        }
    }
    let conn = props
        .get("connectionString")
        .and_then(string_or_expression)?;
    conn.split(';').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        let k = k.trim().to_ascii_lowercase();
        matches!(
            k.as_str(),
            "server" | "data source" | "host" | "accountname" | "endpoint"
        )
        .then(|| v.trim().trim_start_matches("tcp:").to_string())
    })
}

fn dataset_info(ds: &FactoryResource<DatasetProperties>) -> DatasetInfo {
    DatasetInfo {
        name: ds.name.clone(),
        dataset_type: ds.properties.dataset_type.clone(),
        linked_service: ds.properties.linked_service_name.reference_name.clone(),
        location: location_of(&ds.properties.type_properties),
    }
}

fn location_of(props: &Value) -> Option<String> {
    if let Some(location) = props.get("location") {
        let parts: Vec<String> = [
            "container",
            "fileSystem",
            "bucketName",
            "folderPath",
            "fileName",
        ]
        .iter()
        .filter_map(|k| location.get(*k).and_then(string_or_expression))
        .collect();
        if !parts.is_empty() {
            return Some(parts.join("/"));
        }
    }
    let schema = props.get("schema").and_then(string_or_expression);
    let table = props
        .get("table")
        .or_else(|| props.get("tableName"))
        .and_then(string_or_expression);
    match (schema, table) {
        (Some(s), Some(t)) => Some(format!("{s}.{t}")),
        (None, Some(t)) => Some(t),
        _ => props.get("relativeUrl").and_then(string_or_expression),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_vault_references_are_found_with_their_property() {
        let ls: FactoryResource<LinkedServiceProperties> = serde_json::from_value(json!({
            "name": "ls_sql",
            "properties": {
                "type": "AzureSqlDatabase",
                "typeProperties": {
                    "connectionString": "Server=tcp:sql-crm.database.windows.net,1433;Database=crm",
                    "password": {
                        "type": "AzureKeyVaultSecret",
                        "store": {"referenceName": "ls_kv", "type": "LinkedServiceReference"},
                        "secretName": "sql-crm-password"
                    }
                }
            }
        }))
        .unwrap();
        let info = linked_service_info(&ls);
        assert_eq!(info.secrets.len(), 1);
        assert_eq!(info.secrets[0].secret_name, "sql-crm-password");
        assert_eq!(info.secrets[0].property, "password");
        assert_eq!(info.uses_linked_services, vec!["ls_kv"]);
        assert_eq!(
            info.endpoint.as_deref(),
            Some("sql-crm.database.windows.net,1433")
        );
    }

    #[test]
    fn databricks_secret_scope_references_count_as_secret_use() {
        let mut refs = Vec::new();
        collect_secret_refs(
            &json!({"newClusterSparkConf": {"fs.azure.secret": "{{secrets/kv-dataops/adls-sp-client-secret}}"}}),
            "",
            &mut refs,
        );
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].store, "secret-scope:kv-dataops");
        assert_eq!(refs[0].secret_name, "adls-sp-client-secret");
        assert_eq!(refs[0].property, "fs.azure.secret");
    }

    #[test]
    fn notebook_lineage_comes_from_user_properties() {
        let activity: Activity = serde_json::from_value(json!({
            "name": "CleanSales", "type": "DatabricksNotebook",
            "userProperties": [{"name": "inputs", "value": "a, b"}, {"name": "outputs", "value": "c"}]
        }))
        .unwrap();
        let info = activity_info(&activity);
        assert_eq!(info.inputs, vec!["a", "b"]);
        assert_eq!(info.outputs, vec!["c"]);
    }

    #[test]
    fn nested_activities_of_containers_are_flattened() {
        let activities: Vec<Activity> = serde_json::from_value(json!([
            {"name": "ForEachFile", "type": "ForEach", "typeProperties": {
                "activities": [{"name": "CopyOne", "type": "Copy"}]}},
            {"name": "Check", "type": "IfCondition", "typeProperties": {
                "ifTrueActivities": [{"name": "Fail", "type": "Fail"}]}}
        ]))
        .unwrap();
        let names: Vec<_> = flatten(&activities)
            .iter()
            .map(|a| a.name.clone())
            .collect();
        assert_eq!(names, vec!["ForEachFile", "CopyOne", "Check", "Fail"]);
    }

    #[test]
    fn execute_pipeline_and_lookup_dataset_are_read() {
        let activity: Activity = serde_json::from_value(json!({
            "name": "RunChild", "type": "ExecutePipeline",
            "typeProperties": {"pipeline": {"referenceName": "child", "type": "PipelineReference"}}
        }))
        .unwrap();
        assert_eq!(
            activity_info(&activity).executes_pipeline.as_deref(),
            Some("child")
        );
        let lookup: Activity = serde_json::from_value(json!({
            "name": "Watermark", "type": "Lookup", "policy": {"retry": 2},
            "typeProperties": {"dataset": {"referenceName": "ds_watermark", "type": "DatasetReference"}}
        }))
        .unwrap();
        let info = activity_info(&lookup);
        assert_eq!(info.inputs, vec!["ds_watermark"]);
        assert_eq!(info.retries, 2);
    }
}
