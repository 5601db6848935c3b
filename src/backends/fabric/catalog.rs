//! The catalogue with what the definitions say: each data pipeline's
//! activities (and so which items it starts) from `getDefinition`, read a few
//! at a time within [`FabricLimits::definition_reads`](super::limits::FabricLimits).
//! A definition that cannot be read leaves that pipeline's dependencies
//! unknown, and says so; the catalogue stands without it.
//!
//! Definitions are kept between loads ([`definition_cache`](super::definition_cache)):
//! a load asks only for those not kept, never-asked ones first, then those
//! asked longest ago, so a load cut by its deadline or by
//! [`MAX_DEFINITION_LOOKUPS`] is finished by the next ones. The first
//! definition is asked for alone: a 401 or 403 means the identity lacks the
//! role for all of them, and the rest of that load asks for none (said once,
//! in the catalogue's `unreadable` note, with the role needed).
//!
//! Dataflow Gen2 and copy job definitions are not read: they name data
//! sources and destinations (connections, a mashup), not the items that feed
//! them or that they start, so they show no dependency between items.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::definition::{
    ItemNames, PIPELINE_CONTENT, ParsedDefinition, parse_pipeline_content, part_json,
};
use super::{FabricBackend, PipelineItem};
use crate::backends::BackendError;
use crate::model::estate::{EstateCatalog, UnreadableDefinitions};

/// Most data pipelines whose definitions are asked for in one load.
const MAX_DEFINITION_LOOKUPS: usize = 200;
/// Definition reads in flight at once.
const DEFINITION_READS_AT_ONCE: usize = 4;
/// Who may call getDefinition (the swagger's "Permissions" and "Required
/// Delegated Scopes" for Get Data Pipeline Definition).
pub const DEFINITION_ROLE: &str = "read and write permission on the data pipeline (workspace Contributor or higher) and the scope DataPipeline.ReadWrite.All or Item.ReadWrite.All";

const NO_ITEM_DEPENDENCIES: &str = "dependencies: Fabric's definition of this item type names data sources, not other items; only a data pipeline that starts it shows one";

/// Runs `reads` a few at a time, started in order, until `limit` has passed;
/// each result is `Some`, and those not finished by then are `None` (one slow
/// read does not lose the ones that finished after it).
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
    let mut stream = futures::stream::iter(
        reads
            .into_iter()
            .enumerate()
            .map(|(index, read)| async move { (index, read.await) }),
    )
    .buffer_unordered(at_once.max(1));
    let mut done: Vec<Option<T>> = std::iter::repeat_with(|| None).take(total).collect();
    let mut finished = 0;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some((index, value))) => {
                if let Some(slot) = done.get_mut(index) {
                    *slot = Some(value);
                    finished += 1;
                }
            }
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    read = finished,
                    total,
                    "reading Fabric {what} took longer than {}s; the rest are left out",
                    limit.as_secs()
                );
                break;
            }
        }
    }
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

/// What became of one data pipeline's definition in a load.
enum Read {
    /// Read now, or kept from an earlier load.
    Known(ParsedDefinition),
    /// Asked for, and could not be read: why.
    Failed(String),
    /// Refused (401/403): the identity lacks the role. Why, as told.
    Refused(String),
    /// Not asked for: another was refused in this load.
    NotAsked,
    /// Not read within the load's deadline.
    NotInTime,
    /// Beyond [`MAX_DEFINITION_LOOKUPS`] for this load.
    NotReached,
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
            .collect();
        let mut found = self.definitions_of(&workspace, &pipelines).await;
        let mut catalog = estate.catalog.clone();
        let mut failures: Vec<String> = Vec::new();
        let mut refused: Option<String> = None;
        let mut not_asked = 0usize;
        for (item, info) in estate.items.iter().zip(catalog.pipelines.iter_mut()) {
            let notes: Vec<String> = if !item.item_type.eq_ignore_ascii_case("DataPipeline") {
                vec![NO_ITEM_DEPENDENCIES.to_string()]
            } else {
                match found.remove(item.id.as_str()).unwrap_or(Read::NotReached) {
                    Read::Known(parsed) => {
                        let definition = parsed.resolve(&board);
                        info.activities = definition.activities;
                        let mut notes = Vec::new();
                        if definition.skipped > 0 {
                            notes.push(format!(
                                "{} activities of its definition could not be read; its dependencies may be incomplete",
                                definition.skipped
                            ));
                        }
                        if !definition.unresolved.is_empty() {
                            notes.push(format!(
                                "it starts items not in this workspace's catalogue, not shown as dependencies: {}",
                                definition.unresolved.join("; ")
                            ));
                        }
                        notes
                    }
                    Read::Failed(why) => {
                        failures.push(format!("{}: {why}", item.name));
                        vec![format!(
                            "definition not read ({why}): its dependencies are unknown"
                        )]
                    }
                    Read::Refused(why) => {
                        refused.get_or_insert_with(|| format!("{}: {why}", item.name));
                        vec![format!(
                            "definition not read ({why}): its dependencies are unknown"
                        )]
                    }
                    Read::NotAsked => {
                        not_asked += 1;
                        vec![format!(
                            "definition not asked for: Fabric refused another pipeline's definition in this load, so this identity likely lacks {DEFINITION_ROLE}; its dependencies are unknown"
                        )]
                    }
                    Read::NotInTime => vec![format!(
                        "definition not read within {}s in this load (the next load reads it first): its dependencies are unknown",
                        self.limits.definition_reads.as_secs()
                    )],
                    Read::NotReached => vec![format!(
                        "definition not read in this load (at most {MAX_DEFINITION_LOOKUPS} are asked for per load; the next loads read the rest first): its dependencies are unknown"
                    )],
                }
            };
            if notes.is_empty() {
                continue;
            }
            let note = notes.join(" · ");
            info.description = Some(match info.description.take() {
                Some(own) => format!("{own} · {note}"),
                None => note,
            });
        }
        if let Some(why) = unreadable_why(refused, not_asked, &failures, pipelines.len()) {
            catalog.unreadable.push(UnreadableDefinitions {
                what: "data pipeline definitions".into(),
                why,
            });
        }
        Ok(catalog)
    }

    /// What became of each data pipeline's definition in this load, by item
    /// id: kept ones as kept, the rest asked for in fair order (see the
    /// module's documentation), the first alone.
    async fn definitions_of<'a>(
        &self,
        workspace: &str,
        pipelines: &[&'a PipelineItem],
    ) -> HashMap<&'a str, Read> {
        self.definitions
            .keep_only(pipelines.iter().map(|item| item.id.as_str()));
        let mut found: HashMap<&'a str, Read> = HashMap::new();
        let mut to_ask: Vec<&'a PipelineItem> = Vec::new();
        for item in pipelines {
            match self.definitions.fresh(&item.id, item.listing) {
                Some(parsed) => {
                    found.insert(item.id.as_str(), Read::Known(parsed));
                }
                None => to_ask.push(item),
            }
        }
        // Never asked first (None sorts first), then asked longest ago.
        to_ask.sort_by_key(|item| self.definitions.last_asked(&item.id));
        to_ask.truncate(MAX_DEFINITION_LOOKUPS);
        let Some((first, rest)) = to_ask.split_first() else {
            return found;
        };
        let deadline = tokio::time::Instant::now() + self.limits.definition_reads;
        let refused = AtomicBool::new(false);
        let probe =
            tokio::time::timeout_at(deadline, self.definition_of(workspace, first, &refused))
                .await
                .unwrap_or(Read::NotInTime);
        found.insert(first.id.as_str(), probe);
        let mut pending = Vec::new();
        for item in rest {
            pending.push(self.definition_of(workspace, item, &refused));
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let read = within(
            pending,
            DEFINITION_READS_AT_ONCE,
            left,
            "pipeline definitions",
        )
        .await;
        for (item, outcome) in rest.iter().zip(read) {
            found.insert(item.id.as_str(), outcome.unwrap_or(Read::NotInTime));
        }
        found
    }

    /// One data pipeline's definition, asked for unless another was refused
    /// in this load; what is read (or that it could not be) is kept.
    async fn definition_of(
        &self,
        workspace: &str,
        item: &PipelineItem,
        refused: &AtomicBool,
    ) -> Read {
        if refused.load(Ordering::SeqCst) {
            return Read::NotAsked;
        }
        let answer = match self
            .api
            .pipeline_definition(workspace, &item.id, &self.limits.operation)
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                let denied = matches!(e.status(), Some(401 | 403));
                let why = e
                    .about("pipeline definition", &item.name, DEFINITION_ROLE)
                    .to_string();
                if denied {
                    refused.store(true, Ordering::SeqCst);
                    return Read::Refused(why);
                }
                self.definitions.store(&item.id, item.listing, None);
                return Read::Failed(why);
            }
        };
        let parsed = part_json(&answer, PIPELINE_CONTENT)
            .and_then(|content| parse_pipeline_content(&content, workspace));
        match parsed {
            Ok(parsed) => {
                self.definitions
                    .store(&item.id, item.listing, Some(parsed.clone()));
                Read::Known(parsed)
            }
            Err(why) => {
                self.definitions.store(&item.id, item.listing, None);
                Read::Failed(why)
            }
        }
    }
}

/// The catalogue's one note on definitions it could not read, if any: a
/// refusal first (it names the role), then the other failures.
fn unreadable_why(
    refused: Option<String>,
    not_asked: usize,
    failures: &[String],
    pipelines: usize,
) -> Option<String> {
    let others = failures.first().map(|first| {
        format!(
            "{} of {pipelines} could not be read (first: {first})",
            failures.len()
        )
    });
    match (refused, others) {
        (None, None) => None,
        (None, Some(others)) => Some(format!("{others}; reading them needs {DEFINITION_ROLE}")),
        (Some(refusal), others) => Some(format!(
            "Fabric refused a pipeline definition ({refusal}); this identity lacks {DEFINITION_ROLE}, so the other {not_asked} were not asked for in this load{}",
            others.map(|o| format!("; {o}")).unwrap_or_default()
        )),
    }
}
