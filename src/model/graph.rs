//! Dependency questions over an [`EstateCatalog`]: who feeds a pipeline, who it
//! feeds, and which pipelines a connection or a secret would take down.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::estate::{EstateCatalog, PipelineInfo};

/// Why one pipeline depends on another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum DependencyVia {
    /// The upstream pipeline writes a dataset the downstream one reads.
    Dataset { dataset: String },
    /// The parent pipeline starts the child with an `ExecutePipeline` activity.
    ExecutePipeline { activity: String },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct PipelineEdge {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub via: DependencyVia,
}

/// A pipeline reached while walking the graph, with how far away it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reached {
    pub pipeline: String,
    /// 1 = direct neighbour.
    pub distance: u32,
    /// The edge that first reached it.
    pub edge: PipelineEdge,
}

impl EstateCatalog {
    /// Every pipeline-to-pipeline edge, in a stable order.
    pub fn pipeline_edges(&self) -> Vec<PipelineEdge> {
        let mut writers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for pipeline in &self.pipelines {
            for activity in &pipeline.activities {
                for output in &activity.outputs {
                    writers.entry(output).or_default().insert(&pipeline.name);
                }
            }
        }
        let mut edges = BTreeSet::new();
        for pipeline in &self.pipelines {
            for activity in &pipeline.activities {
                for input in &activity.inputs {
                    for writer in writers.get(input.as_str()).into_iter().flatten() {
                        if *writer != pipeline.name {
                            edges.insert(PipelineEdge {
                                from: writer.to_string(),
                                to: pipeline.name.clone(),
                                via: DependencyVia::Dataset {
                                    dataset: input.clone(),
                                },
                            });
                        }
                    }
                }
                if let Some(child) = &activity.executes_pipeline {
                    edges.insert(PipelineEdge {
                        from: pipeline.name.clone(),
                        to: child.clone(),
                        via: DependencyVia::ExecutePipeline {
                            activity: activity.name.clone(),
                        },
                    });
                }
            }
        }
        edges.into_iter().collect()
    }

    /// Pipelines that feed `pipeline`, nearest first, up to `max_depth` hops.
    pub fn upstream_of(&self, pipeline: &str, max_depth: u32) -> Vec<Reached> {
        walk(&self.pipeline_edges(), pipeline, max_depth, Direction::Up)
    }

    /// Pipelines fed by `pipeline`, nearest first, up to `max_depth` hops.
    pub fn downstream_of(&self, pipeline: &str, max_depth: u32) -> Vec<Reached> {
        walk(&self.pipeline_edges(), pipeline, max_depth, Direction::Down)
    }

    /// Linked services an activity uses directly or through its datasets, and
    /// the ones those depend on (a SQL connection whose password lives in Key Vault
    /// also depends on the Key Vault connection).
    pub fn linked_services_of(&self, pipeline: &PipelineInfo) -> BTreeSet<String> {
        let mut direct = BTreeSet::new();
        for activity in &pipeline.activities {
            direct.extend(activity.linked_services.iter().cloned());
            for dataset in activity.inputs.iter().chain(&activity.outputs) {
                if let Some(ds) = self.dataset(dataset) {
                    direct.insert(ds.linked_service.clone());
                }
            }
        }
        self.close_over_linked_services(direct)
    }

    fn close_over_linked_services(&self, mut set: BTreeSet<String>) -> BTreeSet<String> {
        let mut queue: VecDeque<String> = set.iter().cloned().collect();
        while let Some(name) = queue.pop_front() {
            if let Some(ls) = self.linked_service(&name) {
                for used in &ls.uses_linked_services {
                    if set.insert(used.clone()) {
                        queue.push_back(used.clone());
                    }
                }
            }
        }
        set
    }

    /// Pipelines that use a linked service, directly or through a dataset.
    pub fn pipelines_using_linked_service(&self, linked_service: &str) -> Vec<String> {
        self.pipelines
            .iter()
            .filter(|p| self.linked_services_of(p).contains(linked_service))
            .map(|p| p.name.clone())
            .collect()
    }

    /// Linked services that read a secret, by secret name.
    pub fn linked_services_using_secret(&self, secret_name: &str) -> Vec<String> {
        self.linked_services
            .iter()
            .filter(|ls| {
                ls.secrets
                    .iter()
                    .any(|s| s.secret_name.eq_ignore_ascii_case(secret_name))
            })
            .map(|ls| ls.name.clone())
            .collect()
    }

    /// Secrets a pipeline depends on at run time, by secret name.
    pub fn secrets_of(&self, pipeline: &PipelineInfo) -> BTreeSet<String> {
        self.linked_services_of(pipeline)
            .iter()
            .filter_map(|name| self.linked_service(name))
            .flat_map(|ls| ls.secrets.iter().map(|s| s.secret_name.clone()))
            .collect()
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

fn walk(edges: &[PipelineEdge], start: &str, max_depth: u32, direction: Direction) -> Vec<Reached> {
    let mut seen: BTreeSet<String> = BTreeSet::from([start.to_string()]);
    let mut reached = Vec::new();
    let mut frontier = VecDeque::from([(start.to_string(), 0u32)]);
    while let Some((node, depth)) = frontier.pop_front() {
        if depth >= max_depth {
            continue;
        }
        for edge in edges {
            let (here, next) = match direction {
                Direction::Up => (&edge.to, &edge.from),
                Direction::Down => (&edge.from, &edge.to),
            };
            if *here == node && seen.insert(next.clone()) {
                reached.push(Reached {
                    pipeline: next.clone(),
                    distance: depth + 1,
                    edge: edge.clone(),
                });
                frontier.push_back((next.clone(), depth + 1));
            }
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::estate::{ActivityInfo, DatasetInfo, LinkedServiceInfo, SecretRef};
    use crate::model::run::BackendKind;

    fn activity(name: &str, inputs: &[&str], outputs: &[&str], ls: &[&str]) -> ActivityInfo {
        ActivityInfo {
            name: name.into(),
            activity_type: "Copy".into(),
            depends_on: vec![],
            linked_services: ls.iter().map(|s| s.to_string()).collect(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            executes_pipeline: None,
            retries: 0,
            target: None,
        }
    }

    fn pipeline(name: &str, activities: Vec<ActivityInfo>) -> PipelineInfo {
        PipelineInfo {
            name: name.into(),
            backend: BackendKind::Sandbox,
            environment: "test".into(),
            folder: None,
            description: None,
            schedule: None,
            parameters: vec![],
            activities,
        }
    }

    fn chain() -> EstateCatalog {
        EstateCatalog {
            pipelines: vec![
                pipeline(
                    "ingest",
                    vec![activity("copy", &["landing"], &["raw"], &[])],
                ),
                pipeline(
                    "transform",
                    vec![activity("nb", &["raw"], &["curated"], &["dbx"])],
                ),
                pipeline(
                    "publish",
                    vec![activity("copy", &["curated"], &["mart"], &[])],
                ),
            ],
            linked_services: vec![
                LinkedServiceInfo {
                    name: "lake".into(),
                    service_type: "AzureBlobFS".into(),
                    secrets: vec![SecretRef {
                        store: "kv".into(),
                        secret_name: "lake-sp-secret".into(),
                        property: "servicePrincipalKey".into(),
                    }],
                    endpoint: None,
                    uses_linked_services: vec!["kv".into()],
                },
                LinkedServiceInfo {
                    name: "kv".into(),
                    service_type: "AzureKeyVault".into(),
                    secrets: vec![],
                    endpoint: None,
                    uses_linked_services: vec![],
                },
            ],
            datasets: ["landing", "raw", "curated", "mart"]
                .iter()
                .map(|d| DatasetInfo {
                    name: d.to_string(),
                    dataset_type: "Parquet".into(),
                    linked_service: "lake".into(),
                    location: None,
                })
                .collect(),
            load_errors: vec![],
            unreadable: vec![],
        }
    }

    #[test]
    fn downstream_follows_datasets_transitively_nearest_first() {
        let reached = chain().downstream_of("ingest", 10);
        let names: Vec<_> = reached
            .iter()
            .map(|r| (r.pipeline.as_str(), r.distance))
            .collect();
        assert_eq!(names, vec![("transform", 1), ("publish", 2)]);
    }

    #[test]
    fn upstream_respects_depth_limit() {
        let reached = chain().upstream_of("publish", 1);
        assert_eq!(reached.len(), 1);
        assert_eq!(reached[0].pipeline, "transform");
    }

    #[test]
    fn secret_reaches_pipelines_through_dataset_linked_services() {
        let catalog = chain();
        assert_eq!(
            catalog.linked_services_using_secret("lake-sp-secret"),
            vec!["lake"]
        );
        assert_eq!(
            catalog.pipelines_using_linked_service("lake"),
            vec!["ingest", "transform", "publish"]
        );
        let transform = catalog.pipeline("transform").unwrap();
        assert!(catalog.linked_services_of(transform).contains("kv"));
    }
}
