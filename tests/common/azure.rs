//! A local stand-in for REST services on one loopback port: Azure (Resource
//! Manager, Data Factory, Key Vault data plane, Log Analytics Query API) and
//! Databricks' Jobs API.
//!
//! It serves Microsoft's own published examples (../shared/fixtures/vendor/
//! azure-rest-api-specs) at the paths and api-versions their specs give, and
//! whatever a test adds on top (paging, throttling, error bodies), and records
//! every request so tests can check what was (and was never) asked for.
//!
//! Entra ID cannot run here, so in-process tests sign in with [`StaticToken`],
//! a credential that hands out one token per scope.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use opsdeck::backends::Backends;
use opsdeck::backends::azure::config::AzureSettings;
use opsdeck::backends::azure::credential::{AzureCredential, Candidate, CredentialKind};
use opsdeck::backends::http::RetryPolicy;
use opsdeck::model::time::SharedClock;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
    pub authorization: Option<String>,
}

impl Recorded {
    pub fn query_param(&self, name: &str) -> Option<String> {
        url_pairs(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: if body.is_null() {
                String::new()
            } else {
                body.to_string()
            },
            delay: Duration::ZERO,
        }
    }

    /// An error in ARM's format (Key Vault and Log Analytics use the same).
    pub fn arm_error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(status, json!({"error": {"code": code, "message": message}}))
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Answers only after `delay` (longer than the client's timeout: no answer).
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Predicate = Arc<dyn Fn(&Recorded) -> bool + Send + Sync>;
type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

struct Route {
    method: String,
    /// Compared case-insensitively, as ARM compares paths.
    path: String,
    api_version: Option<String>,
    when: Option<Predicate>,
    /// Served in order; the last one repeats.
    replies: Vec<Reply>,
    served: usize,
    /// Computes the answer from the request instead (filters, paging).
    responder: Option<Responder>,
}

#[derive(Default)]
struct Inner {
    routes: Vec<Route>,
    requests: Vec<Recorded>,
    in_flight: usize,
    /// The most requests the server was answering at once.
    max_in_flight: usize,
}

#[derive(Clone)]
pub struct FakeApi {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeApi { base, inner }
    }

    /// Adds a route; later routes win over earlier ones for the same request.
    pub fn route(&self, method: &str, path: &str, when: Option<Predicate>, replies: Vec<Reply>) {
        self.inner.lock().unwrap().routes.push(Route {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            api_version: None,
            when,
            replies,
            served: 0,
            responder: None,
        });
    }

    /// Adds a route whose answer is computed from the request.
    pub fn route_fn(
        &self,
        method: &str,
        path: &str,
        responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) {
        self.inner.lock().unwrap().routes.push(Route {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            api_version: None,
            when: None,
            replies: vec![],
            served: 0,
            responder: Some(Arc::new(responder)),
        });
    }

    /// The most requests in progress at the same time so far.
    pub fn max_in_flight(&self) -> usize {
        self.inner.lock().unwrap().max_in_flight
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn requests_to(&self, path_part: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.contains(path_part))
            .collect()
    }

    /// Serves every example of the specs opsdeck reads, each at the path its
    /// operation's template gives with the example's own parameters. Returns
    /// how many were registered, by spec.
    pub fn serve_vendor_examples(&self) -> HashMap<&'static str, usize> {
        let specs = [
            (
                "datafactory",
                "azure-rest-api-specs/datafactory/2018-06-01/datafactory.json",
            ),
            ("keyvault", "azure-rest-api-specs/keyvault/7.4/secrets.json"),
            (
                "loganalytics",
                "azure-rest-api-specs/operationalinsights/2022-10-27/OperationalInsights.json",
            ),
            (
                "resources",
                "azure-rest-api-specs/resources/2021-04-01/resources.json",
            ),
        ];
        let mut counts = HashMap::new();
        for (name, spec_path) in specs {
            let spec_file = super::vendor_dir().join(spec_path);
            let spec: Value = serde_json::from_str(&std::fs::read_to_string(&spec_file).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", spec_file.display()));
            let base_path = spec["basePath"]
                .as_str()
                .unwrap_or("")
                .trim_end_matches('/');
            let dir = spec_file.parent().unwrap().to_path_buf();
            let mut registered = 0;
            for (template, operations) in spec["paths"].as_object().unwrap() {
                for (method, operation) in operations.as_object().unwrap() {
                    let Some(examples) = operation["x-ms-examples"].as_object() else {
                        continue;
                    };
                    for reference in examples.values() {
                        let file =
                            dir.join(reference["$ref"].as_str().unwrap().trim_start_matches("./"));
                        // Only the examples of the operations opsdeck uses were saved.
                        let Ok(text) = std::fs::read_to_string(&file) else {
                            continue;
                        };
                        let example: Value = serde_json::from_str(&text)
                            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                        let Some(path) = fill_template(template, &example["parameters"]) else {
                            continue;
                        };
                        let Some(reply) = example_reply(&example, &self.base) else {
                            continue;
                        };
                        let api_version = example["parameters"]["api-version"]
                            .as_str()
                            .map(str::to_string);
                        self.inner.lock().unwrap().routes.push(Route {
                            method: method.to_ascii_uppercase(),
                            path: format!("{base_path}{path}"),
                            api_version,
                            when: None,
                            replies: vec![reply],
                            served: 0,
                            responder: None,
                        });
                        registered += 1;
                    }
                }
            }
            counts.insert(name, registered);
        }
        // The Resources spec names no examples; the two listing examples saved
        // beside it (empty placeholder bodies) go at their operations' paths.
        let resources =
            super::vendor_dir().join("azure-rest-api-specs/resources/2021-04-01/examples");
        for (file, template) in [
            (
                "ListResources.json",
                "/subscriptions/{subscriptionId}/resources",
            ),
            (
                "ListResourceGroups.json",
                "/subscriptions/{subscriptionId}/resourcegroups",
            ),
        ] {
            let text = std::fs::read_to_string(resources.join(file)).unwrap();
            let example: Value = serde_json::from_str(&text).unwrap();
            let path = fill_template(template, &example["parameters"]).unwrap();
            self.inner.lock().unwrap().routes.push(Route {
                method: "GET".into(),
                path,
                api_version: Some("2021-04-01".into()),
                when: None,
                replies: vec![example_reply(&example, &self.base).unwrap()],
                served: 0,
                responder: None,
            });
            *counts.entry("resources").or_default() += 1;
        }
        counts
    }
}

/// A path template with `{name}` filled from an example's parameters; `None`
/// when a parameter is missing or is itself a path (resource-centric queries).
fn fill_template(template: &str, parameters: &Value) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let name = &rest[open + 1..close];
        let value = parameters.get(name)?.as_str()?;
        if value.contains('/') {
            return None;
        }
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The example's success answer, with `nextLink`s moved onto this server.
fn example_reply(example: &Value, base: &str) -> Option<Reply> {
    let responses = example["responses"].as_object()?;
    let (status, response) = responses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .min_by_key(|(code, _)| code.to_string())?;
    let mut body = response.get("body").cloned().unwrap_or(Value::Null);
    rebase_next_links(&mut body, base);
    let mut reply = Reply::json(status.parse().ok()?, body);
    if let Some(headers) = response.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if let Some(v) = value.as_str() {
                reply = reply.header(name, v);
            }
        }
    }
    Some(reply)
}

fn rebase_next_links(value: &mut Value, base: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "nextLink"
                    && let Some(link) = v.as_str()
                    && let Ok(url) = reqwest::Url::parse(link)
                {
                    let rest = &link[link.find(url.path()).unwrap_or(link.len())..];
                    *v = Value::String(format!("{base}{rest}"));
                } else {
                    rebase_next_links(v, base);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rebase_next_links(v, base)),
        _ => {}
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let reply = {
        let mut inner = inner.lock().unwrap();
        inner.requests.push(recorded.clone());
        inner.in_flight += 1;
        inner.max_in_flight = inner.max_in_flight.max(inner.in_flight);
        let api_version = recorded.query_param("api-version");
        let route = inner.routes.iter_mut().rev().find(|route| {
            route.method == recorded.method
                && route.path.eq_ignore_ascii_case(&recorded.path)
                && route
                    .api_version
                    .as_ref()
                    .is_none_or(|v| api_version.as_ref() == Some(v))
                && route.when.as_ref().is_none_or(|when| when(&recorded))
        });
        match route {
            Some(route) => {
                route.served += 1;
                match &route.responder {
                    Some(respond) => respond(&recorded),
                    None => route.replies[(route.served - 1).min(route.replies.len() - 1)].clone(),
                }
            }
            None => Reply::arm_error(
                404,
                "NoRouteInFakeApi",
                &format!(
                    "no route for {} {}?{}",
                    recorded.method, recorded.path, recorded.query
                ),
            ),
        }
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    inner.lock().unwrap().in_flight -= 1;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A credential that hands out `token-for:{scope}` (Entra ID cannot run here).
#[derive(Debug)]
pub struct StaticToken;

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            format!("token-for:{}", scopes[0]),
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

pub fn static_credential() -> Arc<AzureCredential> {
    Arc::new(AzureCredential::new(
        vec![Candidate {
            kind: CredentialKind::AzureCli,
            credential: Ok(Arc::new(StaticToken)),
        }],
        Duration::from_secs(5),
    ))
}

/// Fast retries for tests (the policy is the same, the waits shorter).
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        retries: 3,
        base_delay: Duration::from_millis(10),
        max_wait: Duration::from_secs(5),
    }
}

/// Settings from `vars` (as the AZURE_* variables) with every endpoint on `fake`.
pub fn settings(fake: &FakeApi, vars: &[(&str, &str)]) -> AzureSettings {
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for var in [
        "OPSDECK_AZURE_RESOURCE_MANAGER_ENDPOINT",
        "OPSDECK_AZURE_KEY_VAULT_ENDPOINT",
        "OPSDECK_AZURE_LOG_ANALYTICS_ENDPOINT",
    ] {
        map.entry(var.to_string())
            .or_insert_with(|| fake.base.clone());
    }
    let mut settings = AzureSettings::from_env(&|name| map.get(name).cloned()).expect("settings");
    settings.request_timeout = Duration::from_secs(2);
    settings
}

pub async fn backends(settings: &AzureSettings, clock: SharedClock) -> Backends {
    opsdeck::backends::azure::build(settings, clock, static_credential(), quick_retries())
        .await
        .expect("azure backends build")
}

pub const SALES_SUBSCRIPTION: &str = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";
pub const SALES_WORKSPACE: &str = "5b1e2f9c-8a3d-4c6e-9f10-2a7b3c4d5e6f";
pub const SALES_FACTORY_PATH: &str = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-data-prod/providers/Microsoft.DataFactory/factories/adf-sales-prod";
pub const FAILED_RUN: &str = "9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
pub const RUNNING_RUN: &str = "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910";
pub const OK_RUN: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e";

/// The clock the sales estate's fixtures were written for.
pub const SALES_NOW: &str = "2026-11-23T03:42:00Z";

/// A fixture of `fixtures/azure/`, with `{base}` replaced by the server's address.
pub fn fixture(fake: &FakeApi, name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/azure")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("{base}", &fake.base);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl FakeApi {
    /// Serves the sales estate of `fixtures/azure/` at the real paths.
    pub fn serve_sales_estate(&self) {
        let factory = SALES_FACTORY_PATH;
        let ok = |name: &str| vec![Reply::json(200, fixture(self, name))];
        self.route("GET", factory, None, ok("factory.json"));
        self.route(
            "GET",
            &format!("{factory}/pipelines"),
            None,
            ok("pipelines.page1.json"),
        );
        self.route(
            "GET",
            &format!("{factory}/pipelines"),
            Some(Arc::new(|r: &Recorded| r.query.contains("page2"))),
            ok("pipelines.page2.json"),
        );
        for kind in ["linkedservices", "datasets", "triggers"] {
            self.route(
                "GET",
                &format!("{factory}/{kind}"),
                None,
                ok(&format!("{kind}.json")),
            );
        }
        self.route(
            "POST",
            &format!("{factory}/queryTriggerRuns"),
            None,
            ok("trigger-runs.json"),
        );
        let all_runs = fixture(self, "runs.json");
        self.route_fn("POST", &format!("{factory}/queryPipelineRuns"), move |r| {
            Reply::json(200, json!({"value": filter_runs(&all_runs, &r.body)}))
        });
        let runs = fixture(self, "runs.json");
        for run in runs["value"].as_array().unwrap() {
            let id = run["runId"].as_str().unwrap();
            self.route(
                "GET",
                &format!("{factory}/pipelineruns/{id}"),
                None,
                vec![Reply::json(200, run.clone())],
            );
            self.route(
                "POST",
                &format!("{factory}/pipelineruns/{id}/queryActivityruns"),
                None,
                ok(&format!("activityruns.{id}.json")),
            );
        }
        self.route("GET", "/secrets", None, ok("secrets.page1.json"));
        self.route(
            "GET",
            "/secrets",
            Some(Arc::new(|r: &Recorded| r.query.contains("skiptoken"))),
            ok("secrets.page2.json"),
        );
        self.route(
            "GET",
            "/secrets/sql-orders-password/versions",
            None,
            ok("secret-versions.sql-orders-password.json"),
        );
        self.route(
            "GET",
            &format!("/subscriptions/{SALES_SUBSCRIPTION}/resourceGroups/rg-data-prod/resources"),
            None,
            ok("resources.json"),
        );
        // The Activity Log: nothing changed in the sales estate's resource group.
        self.route(
            "GET",
            &format!(
                "/subscriptions/{SALES_SUBSCRIPTION}/providers/Microsoft.Insights/eventtypes/management/values"
            ),
            None,
            vec![Reply::json(200, json!({"value": []}))],
        );
        let workspace = format!("/v1/workspaces/{SALES_WORKSPACE}/query");
        // Counts for the window ending now; the baseline window before it is quiet.
        let counts = fixture(self, "la-counts.json");
        let events = fixture(self, "la-events.json");
        self.route_fn("POST", &workspace, move |r| {
            let query = r.body["query"].as_str().unwrap_or("");
            let timespan = r.body["timespan"].as_str().unwrap_or("");
            if !query.contains("summarize Count") {
                return Reply::json(200, events.clone());
            }
            if timespan.ends_with(SALES_NOW) {
                Reply::json(200, counts.clone())
            } else {
                let mut empty = counts.clone();
                empty["tables"][0]["rows"] = json!([]);
                Reply::json(200, empty)
            }
        });
    }
}

/// The runs of a `queryPipelineRuns` answer that pass the request's filters
/// (`PipelineName`/`Status` with `Equals`/`In`, and the lastUpdated window), as ADF applies them.
pub fn filter_runs(runs: &Value, body: &Value) -> Vec<Value> {
    let instant = |v: &Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let after = instant(&body["lastUpdatedAfter"]);
    let before = instant(&body["lastUpdatedBefore"]);
    runs["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| {
            let updated = instant(&run["lastUpdated"]);
            let in_window = match (updated, after, before) {
                (Some(u), Some(a), Some(b)) => u >= a && u <= b,
                _ => true,
            };
            let passes = body["filters"].as_array().into_iter().flatten().all(|f| {
                let field = match f["operand"].as_str() {
                    Some("PipelineName") => &run["pipelineName"],
                    Some("Status") => &run["status"],
                    _ => return true,
                };
                f["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|v| v == field)
            });
            in_window && passes
        })
        .cloned()
        .collect()
}

/// The AZURE_* variables of the sales estate.
pub fn sales_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AZURE_SUBSCRIPTION_ID", SALES_SUBSCRIPTION),
        ("AZURE_RESOURCE_GROUP", "rg-data-prod"),
        ("AZURE_DATA_FACTORY_NAME", "adf-sales-prod"),
        ("AZURE_KEY_VAULT_NAME", "kv-sales-prod"),
        ("AZURE_LOG_ANALYTICS_WORKSPACE_ID", SALES_WORKSPACE),
        ("OPSDECK_ENVIRONMENT", "prod"),
    ]
}

pub fn sales_clock() -> SharedClock {
    let at = chrono::DateTime::parse_from_rfc3339(SALES_NOW)
        .unwrap()
        .with_timezone(&chrono::Utc);
    Arc::new(opsdeck::model::time::FixedClock(at))
}

/// A directory holding an `az` that answers `az account get-access-token` the
/// way the Azure CLI documents it (the CLI itself needs a signed-in account,
/// which cannot exist here). Put it first on PATH.
pub fn fake_az_dir() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = super::process::tempdir("fake-az");
    let script = dir.join("az");
    std::fs::write(
        &script,
        r#"#!/bin/sh
# Stand-in for `az account get-access-token -o json --scope SCOPE`.
scope=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--scope" ]; then scope="$2"; fi
  shift
done
echo "$scope" >> "$(dirname "$0")/scopes.log"
now=$(date +%s)
cat <<JSON
{
  "accessToken": "cli-token:$scope",
  "expiresOn": "2099-01-01 00:00:00.000000",
  "expires_on": $((now + 3600)),
  "subscription": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
  "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "tokenType": "Bearer"
}
JSON
"#,
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// PATH with `dir` first.
pub fn path_with(dir: &std::path::Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// An Azure config file for the sales estate with every endpoint on `fake`
/// and the Azure CLI as the only credential.
pub fn sales_config_file(fake: &FakeApi, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("azure.toml");
    std::fs::write(
        &path,
        format!(
            r#"credentials = ["azure_cli"]
request_timeout_secs = 5

[endpoints]
resource_manager = "{base}"
key_vault = "{base}"
log_analytics = "{base}"

[[environments]]
name = "prod"
subscription_id = "{SALES_SUBSCRIPTION}"
resource_group = "rg-data-prod"
data_factories = ["adf-sales-prod"]
key_vault = "kv-sales-prod"
log_analytics_workspace = "{SALES_WORKSPACE}"
"#,
            base = fake.base
        ),
    )
    .unwrap();
    path
}

/// A fixture of `fixtures/databricks/`.
pub fn databricks_fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/databricks")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl FakeApi {
    /// Serves the Databricks workspace of `fixtures/databricks/` (Jobs API 2.1).
    pub fn serve_databricks_workspace(&self) {
        let jobs = "/api/2.1/jobs";
        self.route(
            "GET",
            &format!("{jobs}/list"),
            None,
            vec![Reply::json(200, databricks_fixture("jobs-list.json"))],
        );
        let page1 = databricks_fixture("runs-list.page1.json");
        let page2 = databricks_fixture("runs-list.page2.json");
        self.route_fn("GET", &format!("{jobs}/runs/list"), move |r| {
            match r.query_param("offset").as_deref() {
                None | Some("0") => Reply::json(200, page1.clone()),
                Some("2") => Reply::json(200, page2.clone()),
                Some(other) => Reply::json(
                    400,
                    json!({"error_code": "INVALID_PARAMETER_VALUE", "message": format!("offset {other} is past the end")}),
                ),
            }
        });
        let runs: Vec<Value> = ["448812", "448900", "448700"]
            .iter()
            .map(|id| databricks_fixture(&format!("runs-get.{id}.json")))
            .collect();
        self.route_fn("GET", &format!("{jobs}/runs/get"), move |r| {
            let wanted = r.query_param("run_id").unwrap_or_default();
            match runs.iter().find(|run| run["run_id"].as_i64().map(|id| id.to_string()) == Some(wanted.clone())) {
                Some(run) => Reply::json(200, run.clone()),
                None => Reply::json(
                    404,
                    json!({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": format!("Run {wanted} does not exist.")}),
                ),
            }
        });
        let output = databricks_fixture("get-output.448814.json");
        self.route_fn("GET", &format!("{jobs}/runs/get-output"), move |r| {
            if r.query_param("run_id").as_deref() == Some("448814") {
                Reply::json(200, output.clone())
            } else {
                Reply::json(200, json!({"metadata": {}}))
            }
        });
        self.route(
            "POST",
            &format!("{jobs}/runs/repair"),
            None,
            vec![Reply::json(200, json!({"repair_id": 734650698524281_i64}))],
        );
        self.route(
            "POST",
            &format!("{jobs}/runs/cancel"),
            None,
            vec![Reply::json(200, json!({}))],
        );
    }
}

/// A Databricks backend on `fake`, signed in with a personal access token.
pub fn databricks_backend(fake: &FakeApi) -> Arc<opsdeck::backends::databricks::DatabricksBackend> {
    use opsdeck::backends::databricks::{DatabricksBackend, DatabricksSettings, PatAuth};
    let host = fake.base.clone();
    let settings = DatabricksSettings::from_env(&|name| match name {
        "DATABRICKS_HOST" => Some(host.clone()),
        "DATABRICKS_TOKEN" => Some("dapi-test-token".into()),
        "OPSDECK_DATABRICKS_ENVIRONMENT" => Some("prod".into()),
        _ => None,
    })
    .expect("settings");
    Arc::new(
        DatabricksBackend::new(
            &settings,
            Arc::new(PatAuth("dapi-test-token".into())),
            sales_clock(),
            quick_retries(),
        )
        .expect("backend"),
    )
}
