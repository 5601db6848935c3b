//! A Data Factory's definitions (pipelines, linked services, datasets, triggers)
//! in ADF's own JSON shape, and their translation into the estate model.
//!
//! The same parser reads the sandbox's `fixtures/sandbox/factory/` (laid out like
//! a factory's Git repository) and the bodies the ARM REST API returns.

mod catalog;
mod resources;

use std::path::Path;

pub use catalog::{activity_info, flatten};
pub use resources::*;

use serde::de::DeserializeOwned;

/// Everything defined in one factory.
#[derive(Debug, Clone, Default)]
pub struct Factory {
    pub name: String,
    pub pipelines: Vec<FactoryResource<PipelineProperties>>,
    pub linked_services: Vec<FactoryResource<LinkedServiceProperties>>,
    pub datasets: Vec<FactoryResource<DatasetProperties>>,
    pub triggers: Vec<FactoryResource<TriggerProperties>>,
}

impl Factory {
    /// Loads a factory laid out as in ADF Git integration:
    /// `pipeline/*.json`, `linkedService/*.json`, `dataset/*.json`, `trigger/*.json`.
    /// `read_folder` returns `(path, text)` for each file of a folder.
    pub fn load<F>(name: &str, read_folder: F) -> Result<Factory, String>
    where
        F: Fn(&str) -> Result<Vec<(String, String)>, String>,
    {
        Ok(Factory {
            name: name.to_string(),
            pipelines: parse_all(read_folder("pipeline")?)?,
            linked_services: parse_all(read_folder("linkedService")?)?,
            datasets: parse_all(read_folder("dataset")?)?,
            triggers: parse_all(read_folder("trigger")?)?,
        })
    }

    /// Loads a factory from a directory on disk (a clone of the factory's Git repository).
    pub fn load_dir(name: &str, dir: &Path) -> Result<Factory, String> {
        Factory::load(name, |folder| read_folder(&dir.join(folder)))
    }

    pub fn pipeline(&self, name: &str) -> Option<&FactoryResource<PipelineProperties>> {
        self.pipelines.iter().find(|p| p.name == name)
    }

    pub fn linked_service(&self, name: &str) -> Option<&FactoryResource<LinkedServiceProperties>> {
        self.linked_services.iter().find(|l| l.name == name)
    }

    pub fn dataset(&self, name: &str) -> Option<&FactoryResource<DatasetProperties>> {
        self.datasets.iter().find(|d| d.name == name)
    }

    /// Triggers that start `pipeline`.
    pub fn triggers_of(&self, pipeline: &str) -> Vec<&FactoryResource<TriggerProperties>> {
        self.triggers
            .iter()
            .filter(|t| t.properties.pipeline_names().iter().any(|p| p == pipeline))
            .collect()
    }
}

fn read_folder(dir: &Path) -> Result<Vec<(String, String)>, String> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        })
        .collect()
}

fn parse_all<T: DeserializeOwned>(
    files: Vec<(String, String)>,
) -> Result<Vec<FactoryResource<T>>, String> {
    files
        .iter()
        .map(|(path, text)| {
            serde_json::from_str(text)
                .map_err(|e| format!("{path} is not a valid factory resource: {e}"))
        })
        .collect()
}
