//! What an estate is made of: pipelines, their activities, the connections
//! (linked services) and datasets they use, and the secrets behind those connections.
//!
//! Backends describe themselves in these terms; the dependency and blast-radius
//! questions are answered over them in [`crate::model::graph`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::run::BackendKind;

/// A pipeline (ADF pipeline, Airflow DAG, Databricks job) and what it touches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineInfo {
    pub name: String,
    pub backend: BackendKind,
    pub environment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Human-readable schedule, e.g. "every 15 minutes (trigger tr_ingest_15m)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub parameters: Vec<String>,
    pub activities: Vec<ActivityInfo>,
}

/// One step of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActivityInfo {
    pub name: String,
    pub activity_type: String,
    /// Activities that must finish first, with the condition (`Succeeded`, `Failed`, …).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub depends_on: Vec<ActivityDependency>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub linked_services: Vec<String>,
    /// Datasets read.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub inputs: Vec<String>,
    /// Datasets written.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub outputs: Vec<String>,
    /// Child pipeline started by an `ExecutePipeline` activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executes_pipeline: Option<String>,
    /// Retry count from the activity policy.
    #[serde(default)]
    pub retries: u32,
    /// Notebook path, job id, stored procedure… whatever identifies the work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActivityDependency {
    pub activity: String,
    pub conditions: Vec<String>,
}

/// A connection definition (ADF linked service, Airflow connection, Databricks workspace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LinkedServiceInfo {
    pub name: String,
    pub service_type: String,
    /// Secrets the connection reads at run time.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub secrets: Vec<SecretRef>,
    /// Host or URL it connects to, used to match it with cloud resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Another linked service this one depends on (e.g. the Key Vault linked service).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub uses_linked_services: Vec<String>,
}

/// A reference from a connection to a secret in a vault (an ADF `AzureKeyVaultSecret`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct SecretRef {
    /// The linked service that points at the vault.
    pub store: String,
    pub secret_name: String,
    /// The property of the connection the secret fills (`password`, `servicePrincipalKey`, …).
    pub property: String,
}

/// A dataset: a named location a pipeline reads or writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatasetInfo {
    pub name: String,
    pub dataset_type: String,
    pub linked_service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// The static shape of an estate: everything but the runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EstateCatalog {
    pub pipelines: Vec<PipelineInfo>,
    pub linked_services: Vec<LinkedServiceInfo>,
    pub datasets: Vec<DatasetInfo>,
    /// Definitions the orchestrator could not load (Airflow's DAG import
    /// errors): their pipelines are missing from `pipelines`, and a lookup that
    /// finds nothing says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_errors: Vec<LoadError>,
    /// Kinds of definition the backend could not read at all (no permission,
    /// gone, unreachable): what is built on this catalogue lacks them, and says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableDefinitions>,
}

/// A kind of definition that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnreadableDefinitions {
    /// `linked services`, `datasets`, `triggers`.
    pub what: String,
    /// `403 Forbidden: the identity lacks Microsoft.DataFactory/factories/linkedservices/read`.
    pub why: String,
}

/// A definition file that failed to load, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadError {
    pub file: String,
    /// The error's last line (`ModuleNotFoundError: No module named 'x'`).
    pub error: String,
}

impl EstateCatalog {
    pub fn pipeline(&self, name: &str) -> Option<&PipelineInfo> {
        self.pipelines.iter().find(|p| p.name == name)
    }

    pub fn linked_service(&self, name: &str) -> Option<&LinkedServiceInfo> {
        self.linked_services.iter().find(|l| l.name == name)
    }

    pub fn dataset(&self, name: &str) -> Option<&DatasetInfo> {
        self.datasets.iter().find(|d| d.name == name)
    }

    /// Merges another backend's catalogue into this one.
    pub fn extend(&mut self, other: EstateCatalog) {
        self.pipelines.extend(other.pipelines);
        self.linked_services.extend(other.linked_services);
        self.datasets.extend(other.datasets);
        self.load_errors.extend(other.load_errors);
        self.unreadable.extend(other.unreadable);
    }

    /// For a pipeline that is not in the catalogue: the load errors that may
    /// explain it, the file named like the pipeline first. Empty when none.
    pub fn missing_pipeline_hint(&self, name: &str) -> String {
        if self.load_errors.is_empty() {
            return String::new();
        }
        let stem = |file: &str| {
            let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
            base.split('.').next().unwrap_or(base).to_string()
        };
        if let Some(own) = self.load_errors.iter().find(|e| stem(&e.file) == name) {
            return format!(
                " {name} is probably defined in {}, which failed to load: {}. Fix that error; the pipeline appears once the file loads.",
                own.file, own.error
            );
        }
        let listed: Vec<String> = self
            .load_errors
            .iter()
            .take(5)
            .map(|e| format!("{} ({})", e.file, e.error))
            .collect();
        format!(
            " {} definition file(s) failed to load, and {name} may be in one: {}{}.",
            self.load_errors.len(),
            listed.join("; "),
            if self.load_errors.len() > 5 {
                "; …"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_pipeline_is_explained_by_the_file_that_failed_to_load() {
        let mut catalog = EstateCatalog::default();
        assert_eq!(catalog.missing_pipeline_hint("orders_backfill"), "");
        catalog.load_errors = vec![
            LoadError {
                file: "/dags/other.py".into(),
                error: "SyntaxError: invalid syntax".into(),
            },
            LoadError {
                file: "/dags/orders_backfill.py".into(),
                error: "ModuleNotFoundError: No module named 'airflow.providers.databricks'".into(),
            },
        ];
        let own = catalog.missing_pipeline_hint("orders_backfill");
        assert!(
            own.contains(
                "defined in /dags/orders_backfill.py, which failed to load: ModuleNotFoundError"
            ),
            "{own}"
        );
        assert!(
            !own.contains("other.py"),
            "only the file named like it: {own}"
        );
        let any = catalog.missing_pipeline_hint("weekly_refunds");
        assert!(
            any.contains("2 definition file(s) failed to load")
                && any.contains("/dags/other.py (SyntaxError: invalid syntax)"),
            "{any}"
        );
    }
}
