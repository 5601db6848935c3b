//! The catalogue with what the definitions say: each data pipeline's
//! activities (and so which items it starts) from `getDefinition`, read a few
//! at a time within [`FabricLimits::definition_reads`](super::limits::FabricLimits).
//! A definition that cannot be read leaves that pipeline's dependencies
//! unknown, and says so; the catalogue stands without it.
//!
//! Dataflow Gen2 and copy job definitions are not read: they name data
//! sources and destinations (connections, a mashup), not the items that feed
//! them or that they start, so they show no dependency between items.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use super::definition::{
    ItemNames, PIPELINE_CONTENT, PipelineDefinition, part_json, pipeline_definition,
};
use super::{FabricBackend, PipelineItem};
use crate::backends::BackendError;
use crate::model::estate::{EstateCatalog, UnreadableDefinitions};

/// Most data pipelines whose definitions are read for one catalogue.
const MAX_DEFINITION_LOOKUPS: usize = 200;
/// Definition reads in flight at once.
const DEFINITION_READS_AT_ONCE: usize = 4;
/// Who may call getDefinition (the swagger's "Permissions" and "Required
/// Delegated Scopes" for Get Data Pipeline Definition).
pub const DEFINITION_ROLE: &str = "read and write permission on the data pipeline (workspace Contributor or higher) and the scope DataPipeline.ReadWrite.All or Item.ReadWrite.All";

const NO_ITEM_DEPENDENCIES: &str = "dependencies: Fabric's definition of this item type names data sources, not other items; only a data pipeline that starts it shows one";

/// Runs `reads` a few at a time, in order, until `limit` has passed; each
/// result is `Some`, and those not finished by then are `None`.
pub(super) async fn within<T, F>(
    reads: Vec<F>,
    at_once: usize,
    limit: Duration,
    what: &str,
) -> Vec<Option<T>>
where
    F: Future<Output = T>,
{
    use futures::StreamExt;
    let total = reads.len();
    let deadline = tokio::time::Instant::now() + limit;
    let mut stream = futures::stream::iter(reads).buffered(at_once.max(1));
    let mut done = Vec::with_capacity(total);
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(value)) => done.push(Some(value)),
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    read = done.len(),
                    total,
                    "reading Fabric {what} took longer than {}s; the rest are left out",
                    limit.as_secs()
                );
                break;
            }
        }
    }
    done.resize_with(total, || None);
    done
}

/// Item ids (any case) to board names.
struct Board(HashMap<String, String>);

impl ItemNames for Board {
    /// By id; else a reference that is already a board name (an
    /// ADF-style `ExecutePipeline` may name its child) is kept.
    fn name_of(&self, id: &str) -> Option<String> {
        self.0
            .get(&id.to_ascii_lowercase())
            .or_else(|| self.0.values().find(|name| name.as_str() == id))
            .cloned()
    }
}

impl FabricBackend {
    pub(super) async fn load_catalog(&self) -> Result<EstateCatalog, BackendError> {
        let estate = self.cached().await?;
        let workspace = estate.workspace.id.clone();
        let board = Board(
            estate
                .items
                .iter()
                .map(|i| (i.id.to_ascii_lowercase(), i.name.clone()))
                .collect(),
        );
        let pipelines: Vec<&PipelineItem> = estate
            .items
            .iter()
            .filter(|i| i.item_type.eq_ignore_ascii_case("DataPipeline"))
            .take(MAX_DEFINITION_LOOKUPS)
            .collect();
        let mut pending = Vec::new();
        for item in &pipelines {
            pending.push(self.definition_of(&workspace, item, &board));
        }
        let read = within(
            pending,
            DEFINITION_READS_AT_ONCE,
            self.limits.definition_reads,
            "pipeline definitions",
        )
        .await;
        let mut found: HashMap<&str, Option<Result<PipelineDefinition, String>>> =
            pipelines.iter().map(|i| i.id.as_str()).zip(read).collect();
        let mut catalog = estate.catalog.clone();
        let mut failures: Vec<String> = Vec::new();
        for (item, info) in estate.items.iter().zip(catalog.pipelines.iter_mut()) {
            let note = if !item.item_type.eq_ignore_ascii_case("DataPipeline") {
                NO_ITEM_DEPENDENCIES.to_string()
            } else {
                match found.remove(item.id.as_str()) {
                    Some(Some(Ok(definition))) => {
                        info.activities = definition.activities;
                        match definition.skipped {
                            0 => continue,
                            n => format!(
                                "{n} activities of its definition could not be read; its dependencies may be incomplete"
                            ),
                        }
                    }
                    Some(Some(Err(why))) => {
                        failures.push(format!("{}: {why}", item.name));
                        format!("definition not read ({why}): its dependencies are unknown")
                    }
                    Some(None) => format!(
                        "definition not read within {}s: its dependencies are unknown",
                        self.limits.definition_reads.as_secs()
                    ),
                    None => format!(
                        "definition not read (only the first {MAX_DEFINITION_LOOKUPS} pipelines' are): its dependencies are unknown"
                    ),
                }
            };
            info.description = Some(match info.description.take() {
                Some(own) => format!("{own} · {note}"),
                None => note,
            });
        }
        if let Some(first) = failures.first() {
            catalog.unreadable.push(UnreadableDefinitions {
                what: "data pipeline definitions".into(),
                why: format!(
                    "{} of {} could not be read (first: {first}); reading them needs {DEFINITION_ROLE}",
                    failures.len(),
                    pipelines.len()
                ),
            });
        }
        Ok(catalog)
    }

    /// One data pipeline's activities, or why they could not be read.
    async fn definition_of(
        &self,
        workspace: &str,
        item: &PipelineItem,
        board: &Board,
    ) -> Result<PipelineDefinition, String> {
        let answer = self
            .api
            .pipeline_definition(workspace, &item.id, &self.limits.operation)
            .await
            .map_err(|e| {
                e.about("pipeline definition", &item.name, DEFINITION_ROLE)
                    .to_string()
            })?;
        let content = part_json(&answer, PIPELINE_CONTENT)?;
        let definition = pipeline_definition(&content, workspace, board)?;
        if definition.skipped > 0 {
            tracing::warn!(
                pipeline = %item.name,
                skipped = definition.skipped,
                "some activities of a Fabric pipeline definition could not be read"
            );
        }
        Ok(definition)
    }
}
