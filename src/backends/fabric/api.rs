//! The Fabric REST calls the backend reads through: listings followed by
//! `continuationToken` (the next page is asked of our own endpoint, never of
//! the `continuationUri` the service names, which could carry the token
//! elsewhere), bounded in pages and items.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::operation::{OperationError, OperationLimits, run_operation};
use super::schedule::{ItemSchedule, MAX_SCHEDULES};
use super::settings::{FABRIC_SCOPE, FabricSettings};
use super::wire::{Capacity, Item, JobInstance, Workspace};
use crate::backends::http::{
    Authorizer, Call, RestClient, RestError, RetryPolicy, Safety, url_with,
};
use crate::model::time::TimeWindow;

/// Most pages one listing follows.
const MAX_PAGES: usize = 50;
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct FabricApi {
    client: RestClient,
    /// `{endpoint}/v1`.
    base: Url,
}

impl FabricApi {
    pub fn new(
        settings: &FabricSettings,
        authorizer: Arc<dyn Authorizer>,
        retry: RetryPolicy,
    ) -> Result<FabricApi, String> {
        FabricApi::with_timeout(settings, authorizer, retry, TIMEOUT)
    }

    /// With a request timeout other than the default 30 s.
    pub fn with_timeout(
        settings: &FabricSettings,
        authorizer: Arc<dyn Authorizer>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<FabricApi, String> {
        Ok(FabricApi {
            client: RestClient::new("Fabric", authorizer, timeout, retry)?,
            base: url_with(&settings.endpoint, &["v1"], &[]),
        })
    }

    /// Which identity is in use (never a token).
    pub fn credential_status(&self) -> String {
        self.client.authorizer().status()
    }

    fn url(&self, segments: &[&str]) -> Url {
        url_with(&self.base, segments, &[])
    }

    /// `…/workspaces/{workspace}/items/{item}/jobs/{rest…}`: the job scheduler's paths.
    fn jobs_url(&self, workspace: &str, item: &str, rest: &[&str]) -> Url {
        let mut segments = vec!["workspaces", workspace, "items", item, "jobs"];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// Every entry of a listing, up to `max_items`, following continuation tokens.
    async fn list<T: DeserializeOwned>(
        &self,
        first: Url,
        max_items: usize,
    ) -> Result<Vec<T>, RestError> {
        let mut items = Vec::new();
        let mut url = first.clone();
        let mut tokens: Vec<String> = Vec::new();
        loop {
            let page = self.client.send(&Call::get(url, FABRIC_SCOPE)).await?;
            match page.get("value") {
                Some(Value::Array(values)) => {
                    for value in values {
                        let item = serde_json::from_value(value.clone()).map_err(|e| {
                            RestError::Unreadable(format!(
                                "a listed entry has an unexpected shape: {e}"
                            ))
                        })?;
                        items.push(item);
                    }
                }
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(RestError::Unreadable(
                        "the listing's `value` is not a list".into(),
                    ));
                }
            }
            if items.len() >= max_items {
                items.truncate(max_items);
                return Ok(items);
            }
            let Some(token) = page
                .get("continuationToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            else {
                return Ok(items);
            };
            if tokens.iter().any(|t| t == token) {
                return Err(RestError::Unreadable(
                    "the listing's continuation token repeats; stopping instead of looping".into(),
                ));
            }
            if tokens.len() + 1 >= MAX_PAGES {
                return Err(RestError::Unreadable(format!(
                    "the listing went on for more than {MAX_PAGES} pages"
                )));
            }
            tokens.push(token.to_string());
            url = with_token(&first, token);
        }
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, RestError> {
        let body = self.client.send(&Call::get(url, FABRIC_SCOPE)).await?;
        serde_json::from_value(body)
            .map_err(|e| RestError::Unreadable(format!("unexpected shape: {e}")))
    }

    pub async fn workspaces(&self) -> Result<Vec<Workspace>, RestError> {
        self.list(self.url(&["workspaces"]), 5_000).await
    }

    pub async fn workspace(&self, id: &str) -> Result<Workspace, RestError> {
        self.get(self.url(&["workspaces", id])).await
    }

    pub async fn items(&self, workspace: &str) -> Result<Vec<Item>, RestError> {
        self.list(self.url(&["workspaces", workspace, "items"]), 5_000)
            .await
    }

    /// A data pipeline's definition ("Get Data Pipeline Definition"), waited
    /// for as a long-running operation when the service answers 202. A read:
    /// sent again on throttling, never anything that changes the item.
    pub async fn pipeline_definition(
        &self,
        workspace: &str,
        item: &str,
        limits: &OperationLimits,
    ) -> Result<Value, OperationError> {
        let call = Call {
            method: reqwest::Method::POST,
            url: self.url(&[
                "workspaces",
                workspace,
                "dataPipelines",
                item,
                "getDefinition",
            ]),
            scope: FABRIC_SCOPE,
            body: None,
            safety: Safety::Read,
        };
        run_operation(&self.client, &self.base, &call, limits).await
    }

    pub async fn capacities(&self) -> Result<Vec<Capacity>, RestError> {
        self.list(self.url(&["capacities"]), 1_000).await
    }

    pub async fn job_instances(
        &self,
        workspace: &str,
        item: &str,
        max: usize,
    ) -> Result<Vec<JobInstance>, RestError> {
        let url = self.jobs_url(workspace, item, &["instances"]);
        self.list(url, max).await
    }

    /// An item's schedules for one job type ("List item schedules"), bounded:
    /// enough past those told to count the rest.
    pub async fn item_schedules(
        &self,
        workspace: &str,
        item: &str,
        job_type: &str,
    ) -> Result<Vec<ItemSchedule>, RestError> {
        let url = self.jobs_url(workspace, item, &[job_type, "schedules"]);
        self.list(url, MAX_SCHEDULES + 100).await
    }

    pub async fn job_instance(
        &self,
        workspace: &str,
        item: &str,
        job: &str,
    ) -> Result<JobInstance, RestError> {
        self.get(self.jobs_url(workspace, item, &["instances", job]))
            .await
    }

    /// Runs an item on demand (`POST …/items/{item}/jobs/{jobType}/instances`,
    /// the path the specification now documents; the older `?jobType=` query
    /// form is kept by Fabric only for backward compatibility), sent once and
    /// never retried: the answer is a 202 naming the new job instance only in
    /// its `Location` header, whose last path segment is returned. The job
    /// type is a path segment: the caller passes only letters and digits.
    pub async fn run_on_demand(
        &self,
        workspace: &str,
        item: &str,
        job_type: &str,
    ) -> Result<Option<String>, RestError> {
        let url = self.jobs_url(workspace, item, &[job_type, "instances"]);
        let (_, location) = self
            .client
            .send_action_once(&Call::action(url, FABRIC_SCOPE, None))
            .await?;
        Ok(location.as_deref().and_then(job_instance_of))
    }

    /// Asks for a job instance to be cancelled; sent once, never retried.
    pub async fn cancel_job(
        &self,
        workspace: &str,
        item: &str,
        job: &str,
    ) -> Result<(), RestError> {
        let url = self.jobs_url(workspace, item, &["instances", job, "cancel"]);
        self.client
            .send_action_once(&Call::action(url, FABRIC_SCOPE, None))
            .await?;
        Ok(())
    }

    /// A pipeline run's activity runs (`queryactivityruns`), as the ADF-shaped
    /// entries the service returns; the answer may be a bare list or `{value}`.
    pub async fn activity_runs(
        &self,
        workspace: &str,
        job: &str,
        window: TimeWindow,
    ) -> Result<Vec<Value>, RestError> {
        let url = self.url(&[
            "workspaces",
            workspace,
            "datapipelines",
            "pipelineruns",
            job,
            "queryactivityruns",
        ]);
        let body = json!({
            "filters": [],
            "orderBy": [{"orderBy": "ActivityRunStart", "order": "ASC"}],
            "lastUpdatedAfter": window.since.to_rfc3339(),
            "lastUpdatedBefore": window.until.to_rfc3339(),
        });
        let answer = self
            .client
            .send(&Call::query(url, FABRIC_SCOPE, &body))
            .await?;
        match answer {
            Value::Array(entries) => Ok(entries),
            Value::Object(mut map) => match map.remove("value") {
                Some(Value::Array(entries)) => Ok(entries),
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(_) => Err(RestError::Unreadable(
                    "activity runs' `value` is not a list".into(),
                )),
            },
            Value::Null => Ok(Vec::new()),
            _ => Err(RestError::Unreadable("activity runs are not a list".into())),
        }
    }
}

/// The job instance id a `Location` names: the segment after
/// `jobs/instances/`, when it is a GUID (anything else is not trusted).
fn job_instance_of(location: &str) -> Option<String> {
    let url = Url::parse(location).ok()?;
    let segments: Vec<&str> = url.path_segments()?.collect();
    let at = segments
        .windows(2)
        .rposition(|pair| pair[0] == "jobs" && pair[1] == "instances")?;
    let id = segments.get(at + 2)?;
    super::settings::is_guid(id).then(|| id.to_string())
}

/// `first` asking for the page after `token`. Fabric's tokens arrive already
/// percent-encoded (its `continuationUri` carries them unchanged), so a `%` is
/// kept as is and only what a query may not hold is encoded.
fn with_token(first: &Url, token: &str) -> Url {
    let mut encoded = String::with_capacity(token.len());
    for byte in token.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'%' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(byte as char)
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    let query = match first.query().filter(|q| !q.is_empty()) {
        Some(q) => format!("{q}&continuationToken={encoded}"),
        None => format!("continuationToken={encoded}"),
    };
    let mut url = first.clone();
    url.set_query(Some(&query));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_job_instance_is_read_from_location() {
        let id = "bbbbbbbb-1111-2222-3333-cccccccccccc";
        let location = format!(
            "https://api.fabric.microsoft.com/v1/workspaces/a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1/items/dddddddd-9999-0000-1111-eeeeeeeeeeee/jobs/instances/{id}"
        );
        assert_eq!(job_instance_of(&location).as_deref(), Some(id));
        assert_eq!(
            job_instance_of("https://x/v1/jobs/instances/not-a-guid"),
            None
        );
        assert_eq!(job_instance_of("https://x/v1/jobs/instances"), None);
        assert_eq!(job_instance_of("not a url"), None);
    }

    #[test]
    fn tokens_are_sent_as_the_continuation_uri_carries_them() {
        let first = Url::parse("https://api.fabric.microsoft.com/v1/workspaces/w/items").unwrap();
        let next = with_token(&first, "LDEsMTAwMDAwLDA%3D");
        assert_eq!(next.query(), Some("continuationToken=LDEsMTAwMDAwLDA%3D"));
        let raw = with_token(&first, "a+b/c=&x=y");
        assert_eq!(raw.query(), Some("continuationToken=a%2Bb%2Fc%3D%26x%3Dy"));
        let pairs: Vec<(String, String)> = raw.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![("continuationToken".into(), "a+b/c=&x=y".into())]
        );
    }
}
