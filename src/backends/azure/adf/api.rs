//! The Data Factory REST operations opsdeck uses (ARM, api-version 2018-06-01),
//! each one request (or one paged listing) returning the service's own shapes.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::wire::{QueryPage, WireActivityRun, WirePipelineRun};
use crate::backends::adf_definitions::{
    DatasetProperties, Factory, FactoryResource, LinkedServiceProperties, PipelineProperties,
    TriggerProperties,
};
use crate::backends::http::{Call, RestClient, RestError, url_with};

pub const API_VERSION: &str = "2018-06-01";
/// Most definitions of one kind read from a factory.
const MAX_DEFINITIONS: usize = 10_000;

/// One factory's address and the client to reach it.
#[derive(Clone)]
pub struct AdfApi {
    client: Arc<RestClient>,
    scope: String,
    /// `…/providers/Microsoft.DataFactory/factories/{name}`
    factory_url: Url,
    pub factory: String,
}

/// What [`AdfApi::definitions`] could read of a factory.
pub struct Definitions {
    pub factory: Factory,
    /// Entries that did not parse, as `kind/name: why`.
    pub skipped: Vec<String>,
    /// Kinds that could not be listed at all (`linked services`…), and why.
    pub unreadable: Vec<(&'static str, RestError)>,
}

/// The listed definitions of an optional kind, or none and the error noted.
fn optional<T>(
    what: &'static str,
    listed: Result<(Vec<T>, Vec<String>), RestError>,
    skipped: &mut Vec<String>,
    unreadable: &mut Vec<(&'static str, RestError)>,
) -> Vec<T> {
    match listed {
        Ok((items, bad)) => {
            skipped.extend(bad);
            items
        }
        Err(e) => {
            unreadable.push((what, e));
            Vec::new()
        }
    }
}

/// A `RunFilterParameters` body.
#[derive(Debug, Clone)]
pub struct RunFilter {
    pub last_updated_after: DateTime<Utc>,
    pub last_updated_before: DateTime<Utc>,
    pub pipelines: Vec<String>,
    pub statuses: Vec<String>,
    /// `RunGroupId`: the runs of these rerun groups (a first run and its recovery runs).
    pub run_groups: Vec<String>,
    pub continuation_token: Option<String>,
}

impl RunFilter {
    fn body(&self) -> Value {
        let mut filters = Vec::new();
        if !self.pipelines.is_empty() {
            filters.push(
                json!({"operand": "PipelineName", "operator": "In", "values": self.pipelines}),
            );
        }
        if !self.statuses.is_empty() {
            filters.push(json!({"operand": "Status", "operator": "In", "values": self.statuses}));
        }
        if !self.run_groups.is_empty() {
            filters.push(
                json!({"operand": "RunGroupId", "operator": "In", "values": self.run_groups}),
            );
        }
        let mut body = json!({
            "lastUpdatedAfter": instant(self.last_updated_after),
            "lastUpdatedBefore": instant(self.last_updated_before),
            "filters": filters,
            "orderBy": [{"orderBy": "RunStart", "order": "DESC"}],
        });
        if let Some(token) = &self.continuation_token {
            body["continuationToken"] = json!(token);
        }
        body
    }
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `…/resourceGroups/{group}/providers/Microsoft.DataFactory/factories[/{name}]`.
fn factories_url(
    resource_manager: &Url,
    subscription: &str,
    resource_group: &str,
    factory: Option<&str>,
    query: &[(&str, &str)],
) -> Url {
    let mut segments = vec![
        "subscriptions",
        subscription,
        "resourceGroups",
        resource_group,
        "providers",
        "Microsoft.DataFactory",
        "factories",
    ];
    segments.extend(factory);
    url_with(resource_manager, &segments, query)
}

impl AdfApi {
    pub fn new(
        client: Arc<RestClient>,
        resource_manager: &Url,
        scope: &str,
        subscription: &str,
        resource_group: &str,
        factory: &str,
    ) -> AdfApi {
        let factory_url = factories_url(
            resource_manager,
            subscription,
            resource_group,
            Some(factory),
            &[],
        );
        AdfApi {
            client,
            scope: scope.to_string(),
            factory_url,
            factory: factory.to_string(),
        }
    }

    /// Factory names in a resource group (when the config names none).
    pub async fn list_factories(
        client: &RestClient,
        resource_manager: &Url,
        scope: &str,
        subscription: &str,
        resource_group: &str,
    ) -> Result<Vec<String>, RestError> {
        let url = factories_url(
            resource_manager,
            subscription,
            resource_group,
            None,
            &[("api-version", API_VERSION)],
        );
        let prefix = url.path().to_string();
        let items = client
            .list(url, scope, &|u: &Url| u.path() == prefix, 1_000)
            .await?;
        Ok(items
            .iter()
            .filter_map(|f| f.get("name").and_then(Value::as_str).map(str::to_string))
            .collect())
    }

    /// Which credential the client signed in with (never a token).
    pub fn credential_status(&self) -> String {
        self.client.authorizer().status()
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut all = vec![("api-version", API_VERSION)];
        all.extend_from_slice(query);
        url_with(&self.factory_url, segments, &all)
    }

    /// The factory itself (to check access and existence).
    pub async fn get_factory(&self) -> Result<Value, RestError> {
        self.client
            .send(&Call::get(self.url(&[], &[]), &self.scope))
            .await
    }

    /// Pipelines, linked services, datasets and triggers, read in parallel.
    /// Only the pipelines are required: the other kinds enrich them, and an
    /// identity allowed to read runs but not (say) linked services still gets
    /// the pipelines, with what it could not list in `unreadable`.
    pub async fn definitions(&self) -> Result<Definitions, RestError> {
        let (pipelines, linked, datasets, triggers) = tokio::join!(
            self.list_kind::<PipelineProperties>("pipelines"),
            self.list_kind::<LinkedServiceProperties>("linkedservices"),
            self.list_kind::<DatasetProperties>("datasets"),
            self.list_kind::<TriggerProperties>("triggers"),
        );
        let (pipelines, mut skipped) = pipelines?;
        let mut unreadable = Vec::new();
        let linked_services = optional("linked services", linked, &mut skipped, &mut unreadable);
        let datasets = optional("datasets", datasets, &mut skipped, &mut unreadable);
        let triggers = optional("triggers", triggers, &mut skipped, &mut unreadable);
        let factory = Factory {
            name: self.factory.clone(),
            pipelines,
            linked_services,
            datasets,
            triggers,
        };
        Ok(Definitions {
            factory,
            skipped,
            unreadable,
        })
    }

    /// One kind of definition; entries that do not parse are skipped and named
    /// (one odd pipeline must not hide the whole factory).
    async fn list_kind<T: DeserializeOwned>(
        &self,
        kind: &str,
    ) -> Result<(Vec<FactoryResource<T>>, Vec<String>), RestError> {
        let url = self.url(&[kind], &[]);
        let path = url.path().to_string();
        let items = self
            .client
            .list(
                url,
                &self.scope,
                &|u: &Url| u.path() == path,
                MAX_DEFINITIONS,
            )
            .await?;
        let mut parsed = Vec::new();
        let mut skipped = Vec::new();
        for item in items {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            match serde_json::from_value::<FactoryResource<T>>(item) {
                Ok(resource) => parsed.push(resource),
                Err(e) => {
                    tracing::warn!("{} {kind} {name} skipped: {e}", self.factory);
                    skipped.push(format!("{kind}/{name}: {e}"));
                }
            }
        }
        Ok((parsed, skipped))
    }

    /// One page of `queryPipelineRuns`.
    pub async fn query_pipeline_runs(
        &self,
        filter: &RunFilter,
    ) -> Result<QueryPage<WirePipelineRun>, RestError> {
        let body = filter.body();
        let page = self
            .client
            .send(&Call::query(
                self.url(&["queryPipelineRuns"], &[]),
                &self.scope,
                &body,
            ))
            .await?;
        parse(page, "queryPipelineRuns")
    }

    pub async fn get_pipeline_run(&self, run_id: &str) -> Result<WirePipelineRun, RestError> {
        let body = self
            .client
            .send(&Call::get(
                self.url(&["pipelineruns", run_id], &[]),
                &self.scope,
            ))
            .await?;
        parse(body, "pipeline run")
    }

    /// Every activity run of a pipeline run (all pages).
    pub async fn query_activity_runs(
        &self,
        run_id: &str,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> Result<Vec<WireActivityRun>, RestError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..100 {
            let mut body = json!({
                "lastUpdatedAfter": instant(after),
                "lastUpdatedBefore": instant(before),
            });
            if let Some(t) = &token {
                body["continuationToken"] = json!(t);
            }
            let page: QueryPage<WireActivityRun> = parse(
                self.client
                    .send(&Call::query(
                        self.url(&["pipelineruns", run_id, "queryActivityruns"], &[]),
                        &self.scope,
                        &body,
                    ))
                    .await?,
                "queryActivityruns",
            )?;
            token = page.next_token();
            all.extend(page.value);
            if token.is_none() {
                return Ok(all);
            }
        }
        Err(RestError::Unreadable(
            "queryActivityruns kept returning continuation tokens after 100 pages".into(),
        ))
    }

    /// One page of `queryTriggerRuns`.
    pub async fn query_trigger_runs(
        &self,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
        continuation_token: Option<&str>,
    ) -> Result<QueryPage<Value>, RestError> {
        let mut body = json!({
            "lastUpdatedAfter": instant(after),
            "lastUpdatedBefore": instant(before),
        });
        if let Some(t) = continuation_token {
            body["continuationToken"] = json!(t);
        }
        let page = self
            .client
            .send(&Call::query(
                self.url(&["queryTriggerRuns"], &[]),
                &self.scope,
                &body,
            ))
            .await?;
        parse(page, "queryTriggerRuns")
    }

    /// `createRun`: sent once, never retried. Returns the new run id.
    pub async fn create_run(
        &self,
        pipeline: &str,
        reference_run_id: Option<&str>,
        from_failed_activity: bool,
    ) -> Result<String, RestError> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(reference) = reference_run_id {
            query.push(("referencePipelineRunId", reference));
            // Recovery mode puts the new run in the reference's run group
            // (`runGroupId`), so every rerun of a chain is found by one filter
            // and counted against the rerun limit; from the start unless asked.
            query.push(("isRecovery", "true"));
            if from_failed_activity {
                query.push(("startFromFailure", "true"));
            }
        }
        // With a reference run, ADF takes that run's parameters; an empty body keeps them.
        let body = json!({});
        let answer = self
            .client
            .send(&Call::action(
                self.url(&["pipelines", pipeline, "createRun"], &query),
                &self.scope,
                Some(&body),
            ))
            .await?;
        answer
            .get("runId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| RestError::Unreadable("createRun answered without a runId".into()))
    }

    /// `cancel` (recursively: child pipeline runs too); sent once, never retried.
    pub async fn cancel_run(&self, run_id: &str) -> Result<(), RestError> {
        self.client
            .send(&Call::action(
                self.url(
                    &["pipelineruns", run_id, "cancel"],
                    &[("isRecursive", "true")],
                ),
                &self.scope,
                None,
            ))
            .await
            .map(|_| ())
    }
}

fn parse<T: DeserializeOwned>(body: Value, what: &str) -> Result<T, RestError> {
    serde_json::from_value(body).map_err(|e| {
        RestError::Unreadable(format!("the {what} answer has an unexpected shape: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_into_single_path_segments() {
        let base = Url::parse("https://management.azure.com").unwrap();
        let url = url_with(
            &base,
            &[
                "factories",
                "f",
                "pipelines",
                "load sales/2024",
                "createRun",
            ],
            &[("api-version", API_VERSION)],
        );
        assert_eq!(
            url.as_str(),
            "https://management.azure.com/factories/f/pipelines/load%20sales%2F2024/createRun?api-version=2018-06-01"
        );
    }

    #[test]
    fn the_run_filter_is_adfs_shape() {
        let filter = RunFilter {
            last_updated_after: DateTime::parse_from_rfc3339("2018-06-16T00:36:44Z")
                .unwrap()
                .with_timezone(&Utc),
            last_updated_before: DateTime::parse_from_rfc3339("2018-06-16T00:49:48Z")
                .unwrap()
                .with_timezone(&Utc),
            pipelines: vec!["examplePipeline".into()],
            statuses: vec!["Failed".into()],
            run_groups: vec!["root-run".into()],
            continuation_token: Some("tok".into()),
        };
        let body = filter.body();
        assert_eq!(body["lastUpdatedAfter"], "2018-06-16T00:36:44.000Z");
        assert_eq!(body["filters"][0]["operand"], "PipelineName");
        assert_eq!(body["filters"][1]["values"][0], "Failed");
        assert_eq!(body["filters"][2]["operand"], "RunGroupId");
        assert_eq!(body["filters"][2]["values"][0], "root-run");
        assert_eq!(body["orderBy"][0]["order"], "DESC");
        assert_eq!(body["continuationToken"], "tok");
    }
}
