//! Data Factory's run history behind a [`FakeApi`]: reruns made through one
//! replica are listed to every other, as the real service does.

use serde_json::{Value, json};

use super::super::azure::{FakeApi, Reply, SALES_FACTORY_PATH, filter_runs, fixture};

/// Runs created through a [`FakeApi`]'s `createRun`, shared by every replica
/// that reaches it (as Data Factory's own run history is).
#[derive(Clone, Default)]
pub struct CreatedRuns(std::sync::Arc<std::sync::Mutex<Vec<Value>>>);

impl CreatedRuns {
    pub fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }
}

/// Ids handed out to new runs, in order (GET routes need fixed paths).
const NEW_RUN_IDS: [&str; 8] = [
    "5e0c0000-0000-4000-8000-000000000001",
    "5e0c0000-0000-4000-8000-000000000002",
    "5e0c0000-0000-4000-8000-000000000003",
    "5e0c0000-0000-4000-8000-000000000004",
    "5e0c0000-0000-4000-8000-000000000005",
    "5e0c0000-0000-4000-8000-000000000006",
    "5e0c0000-0000-4000-8000-000000000007",
    "5e0c0000-0000-4000-8000-000000000008",
];

/// Makes the sales estate's `pipeline` rerunnable with Data Factory's
/// documented run-group behaviour: `createRun?referencePipelineRunId=R&isRecovery=true`
/// makes a run in R's group (`runGroupId`, the first run's id), which
/// `queryPipelineRuns` (filters `PipelineName`, `Status`, `RunGroupId`, the
/// `lastUpdated` window) and `GET pipelineruns/{id}` then list, to every caller.
pub fn serve_reruns_statefully(fake: &FakeApi, pipeline: &str, now: &str) -> CreatedRuns {
    let created = CreatedRuns::default();
    let fixtures = fixture(fake, "runs.json");
    let all_runs = {
        let created = created.clone();
        let fixtures = fixtures.clone();
        move || -> Vec<Value> {
            let mut runs = fixtures["value"].as_array().cloned().unwrap_or_default();
            runs.extend(created.all());
            runs
        }
    };
    let factory = SALES_FACTORY_PATH;
    {
        let all_runs = all_runs.clone();
        fake.route_fn("POST", &format!("{factory}/queryPipelineRuns"), move |r| {
            let groups: Option<Vec<Value>> = r.body["filters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["operand"] == "RunGroupId")
                .map(|f| f["values"].as_array().cloned().unwrap_or_default());
            let runs: Vec<Value> = filter_runs(&json!({"value": all_runs()}), &r.body)
                .into_iter()
                .filter(|run| {
                    groups
                        .as_ref()
                        .is_none_or(|g| g.contains(&run["runGroupId"]))
                })
                .collect();
            Reply::json(200, json!({"value": runs}))
        });
    }
    for id in NEW_RUN_IDS {
        let created = created.clone();
        fake.route_fn(
            "GET",
            &format!("{factory}/pipelineruns/{id}"),
            move |_| match created.all().into_iter().find(|run| run["runId"] == id) {
                Some(run) => Reply::json(200, run),
                None => {
                    Reply::arm_error(404, "PipelineRunNotFound", &format!("run {id} not found"))
                }
            },
        );
    }
    let pipeline_name = pipeline.to_string();
    let now = now.to_string();
    let store = created.clone();
    fake.route_fn(
        "POST",
        &format!("{factory}/pipelines/{pipeline}/createRun"),
        move |r| {
            let runs = all_runs();
            let reference = r.query_param("referencePipelineRunId");
            let group = match &reference {
                Some(id) => match runs.iter().find(|run| run["runId"] == id.as_str()) {
                    Some(run) if r.query_param("isRecovery").as_deref() == Some("true") => {
                        run["runGroupId"].clone()
                    }
                    Some(_) => Value::Null,
                    None => {
                        return Reply::arm_error(
                            400,
                            "BadRequest",
                            &format!("reference run {id} not found"),
                        );
                    }
                },
                None => Value::Null,
            };
            let mut store = store.0.lock().unwrap();
            let Some(id) = NEW_RUN_IDS.get(store.len()) else {
                return Reply::arm_error(429, "TooManyRunsInTest", "out of test run ids");
            };
            let group = if group.is_null() { json!(id) } else { group };
            store.push(json!({
                "id": format!("{factory}/pipelineruns/{id}"),
                "runId": id,
                "runGroupId": group,
                "isLatest": true,
                "pipelineName": pipeline_name,
                "parameters": {},
                "invokedBy": {"id": "manual", "name": "Manual", "invokedByType": "Manual"},
                "runStart": now,
                "lastUpdated": now,
                "status": "InProgress",
                "message": ""
            }));
            Reply::json(200, json!({"runId": id}))
        },
    );
    created
}
