//! What depends on what: a pipeline's neighbours up- and downstream (through
//! shared datasets and ExecutePipeline), the datasets it reads and writes, its
//! connections and the secrets they use.

use crate::backends::Backends;
use crate::model::contract::{DependenciesResult, LinkedServiceBrief};
use crate::model::graph::Reached;
use crate::ops::error::{OpsError, Outcome};

/// What `pipeline` reads, writes and connects with, and the pipelines up to
/// `depth` hops up- and downstream of it.
pub async fn dependencies(
    backends: &Backends,
    pipeline: &str,
    depth: u32,
) -> Outcome<DependenciesResult> {
    backends.backend_for_pipeline(pipeline).await?;
    let catalog = backends.catalog().await?;
    let Some(info) = catalog.pipeline(pipeline) else {
        return Err(OpsError::not_found(format!(
            "pipeline '{}' not found",
            pipeline
        )));
    };
    let mut read: Vec<String> = info
        .activities
        .iter()
        .flat_map(|a| a.inputs.clone())
        .collect();
    let mut written: Vec<String> = info
        .activities
        .iter()
        .flat_map(|a| a.outputs.clone())
        .collect();
    read.sort();
    read.dedup();
    written.sort();
    written.dedup();
    let linked_services: Vec<LinkedServiceBrief> = catalog
        .linked_services_of(info)
        .iter()
        .filter_map(|name| catalog.linked_service(name))
        .map(|ls| LinkedServiceBrief {
            name: ls.name.clone(),
            service_type: ls.service_type.clone(),
            endpoint: ls.endpoint.clone(),
            secrets: ls.secrets.iter().map(|s| s.secret_name.clone()).collect(),
        })
        .collect();
    let secrets: Vec<String> = catalog.secrets_of(info).into_iter().collect();
    let upstream = catalog.upstream_of(pipeline, depth);
    let downstream = catalog.downstream_of(pipeline, depth);
    let names = |r: &[Reached]| {
        r.iter()
            .map(|x| x.pipeline.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let summary = format!(
        "[{}] {}: upstream [{}]; downstream [{}]; reads {}; writes {}; uses {} connections and {} secrets",
        backends.label,
        pipeline,
        names(&upstream),
        names(&downstream),
        read.join(", "),
        written.join(", "),
        linked_services.len(),
        secrets.len()
    );
    Ok((
        summary,
        DependenciesResult {
            pipeline: pipeline.to_string(),
            upstream,
            downstream,
            datasets_read: read,
            datasets_written: written,
            linked_services,
            secrets,
            schedule: info.schedule.clone(),
        },
    ))
}
