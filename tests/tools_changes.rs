//! `what_changed` and triage's use of changes: the sandbox's background and
//! incident changes, scoping to a pipeline, bad windows, the Azure Activity
//! Log against Microsoft's published example, and triage naming the change
//! behind each scenario that has one.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use common::azure::{FakeApi, Recorded, Reply, quick_retries, static_credential};
use opsdeck::backends::azure::activity_log::ActivityLog;
use opsdeck::backends::http::{Authorizer, RestClient};
use opsdeck::backends::sandbox::{FixtureFiles, Sandbox, SandboxOptions};
use opsdeck::backends::{Backends, ChangeSource, ChangeWindow};
use opsdeck::model::time::Clock;

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn summaries(result: &Value) -> Vec<String> {
    result["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["summary"].as_str().unwrap().to_string())
        .collect()
}

/// The embedded estate's background changes (`estate.json`).
fn background() -> Vec<Value> {
    let text = FixtureFiles::Embedded.read("estate.json").unwrap();
    let estate: Value = serde_json::from_str(&text).unwrap();
    estate["background_changes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_sandbox_lists_its_background_changes_newest_first() {
    let sandbox = common::start("none").await;
    let result = sandbox.ok("what_changed", json!({"since": "24h"})).await;
    let listed = summaries(&result);
    // Every background change placed well inside the last 24 hours is there
    // (the anchor is the start of the hour; jitter adds at most 10 minutes).
    let inside: Vec<Value> = background()
        .into_iter()
        .filter(|c| (60..23 * 60).contains(&c["minutes_before"].as_i64().unwrap()))
        .collect();
    assert!(inside.len() >= 15, "{}", inside.len());
    for change in &inside {
        let summary = change["summary"].as_str().unwrap();
        assert!(
            listed.iter().any(|s| s == summary),
            "{summary} missing from {listed:?}"
        );
    }
    let times: Vec<DateTime<Utc>> = result["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| instant(&c["at"]))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let now = common::pinned();
    assert!(
        times
            .iter()
            .all(|t| *t <= now && *t >= now - Duration::hours(24))
    );
    assert_eq!(result["more"], 0);
    assert!(result["gaps"].is_null(), "{result}");
    // Who, what, when in the summary line.
    let text = common::text_of(&sandbox.call("what_changed", json!({"since": "24h"})).await);
    let newest = &result["changes"][0];
    assert!(text.contains(newest["actor"].as_str().unwrap()), "{text}");
    assert!(text.contains(newest["summary"].as_str().unwrap()), "{text}");

    // A limit lists the newest and says how many more there were.
    let limited = sandbox
        .ok("what_changed", json!({"since": "24h", "limit": 3}))
        .await;
    assert_eq!(summaries(&limited), listed[..3].to_vec());
    assert_eq!(limited["more"].as_u64().unwrap() as usize, listed.len() - 3);
}

#[tokio::test]
async fn scoping_to_a_pipeline_keeps_only_what_it_touches() {
    let sandbox = common::start("none").await;
    let all = sandbox.ok("what_changed", json!({"since": "24h"})).await;
    for pipeline in [
        "ingest_crm_customers",
        "publish_finance_extract",
        "publish_sales_mart",
    ] {
        let scoped = sandbox
            .ok(
                "what_changed",
                json!({"since": "24h", "pipeline": pipeline}),
            )
            .await;
        let scope: Vec<String> = scoped["scope"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert!(scope.contains(&pipeline.to_string()), "{scope:?}");
        let kept = scoped["changes"].as_array().unwrap();
        assert!(!kept.is_empty(), "{pipeline}: nothing kept");
        assert!(kept.len() < all["changes"].as_array().unwrap().len());
        for change in kept {
            let mut names = vec![change["resource"].as_str().unwrap().to_lowercase()];
            names.extend(
                change["touches"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| t.as_str().unwrap().to_lowercase()),
            );
            if let Some(id) = change["resource_id"].as_str() {
                names.push(id.rsplit('/').next().unwrap().to_lowercase());
            }
            assert!(
                names.iter().any(|n| scope.contains(n)),
                "{pipeline}: {change} touches nothing in {scope:?}"
            );
        }
        // Changes to other teams' resources are never in a pipeline's list.
        let kept_text = scoped["changes"].to_string();
        for unrelated in [
            "nsg-bastion-prod",
            "func-contoso-alerts-prod",
            "ag-dataops-oncall",
        ] {
            assert!(all["changes"].to_string().contains(unrelated));
            assert!(!kept_text.contains(unrelated), "{pipeline}: {unrelated}");
        }
    }
    // The pipeline's own deployment is in its list and not in another's.
    let finance = sandbox
        .ok(
            "what_changed",
            json!({"since": "24h", "pipeline": "publish_finance_extract"}),
        )
        .await;
    let crm = sandbox
        .ok(
            "what_changed",
            json!({"since": "24h", "pipeline": "ingest_crm_customers"}),
        )
        .await;
    assert!(
        finance["changes"]
            .to_string()
            .contains("Deployed pipeline publish_finance_extract")
    );
    assert!(
        !crm["changes"]
            .to_string()
            .contains("Deployed pipeline publish_finance_extract")
    );
    // Through its storage account's host: the lake's tags touch every lake user.
    assert!(
        crm["changes"]
            .to_string()
            .contains("storage account stcontosolakeprod")
    );
}

#[tokio::test]
async fn bad_windows_and_arguments_are_refused_with_what_to_do() {
    let sandbox = common::start("none").await;
    let long = sandbox.err("what_changed", json!({"since": "40d"})).await;
    assert!(
        long.contains("31 days") && long.contains("narrow"),
        "{long}"
    );
    let empty = sandbox
        .err("what_changed", json!({"since": "1h", "until": "2h"}))
        .await;
    assert!(empty.contains("empty"), "{empty}");
    let garbage = sandbox
        .err("what_changed", json!({"since": "yesterday-ish"}))
        .await;
    assert!(garbage.contains("not a time"), "{garbage}");
    let both = sandbox
        .err("what_changed", json!({"since": "2h", "from": "3h"}))
        .await;
    assert!(both.contains("give one of them"), "{both}");
    for limit in [0, 501] {
        let bad = sandbox.err("what_changed", json!({"limit": limit})).await;
        assert!(bad.contains("1 to 500"), "{bad}");
    }
    let unknown = sandbox
        .err("what_changed", json!({"pipeline": "no_such_pipeline"}))
        .await;
    assert!(unknown.contains("ingest_crm_customers"), "{unknown}");
    let wrong_type = sandbox.err("what_changed", json!({"limit": "ten"})).await;
    assert!(wrong_type.contains("limit"), "{wrong_type}");
    // from/to in RFC 3339 work like since/until.
    let now = common::pinned();
    let explicit = sandbox
        .ok(
            "what_changed",
            json!({"from": (now - Duration::hours(6)).to_rfc3339(), "to": now.to_rfc3339()}),
        )
        .await;
    let six = sandbox.ok("what_changed", json!({"since": "6h"})).await;
    assert_eq!(explicit["changes"], six["changes"]);
}

/// A copy of the embedded fixtures on disk, with `edit` applied to `estate.json`.
fn copied_fixtures(edit: impl Fn(&mut Value)) -> std::path::PathBuf {
    let dir = common::process::tempdir("changes-fixtures");
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sandbox");
    copy_dir(&src, &dir);
    let path = dir.join("estate.json");
    let mut estate: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut estate);
    std::fs::write(&path, estate.to_string()).unwrap();
    dir
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn sandbox_at(files: FixtureFiles, seed: u64, clock: Arc<common::TestClock>) -> Arc<Sandbox> {
    let options = SandboxOptions {
        files,
        scenario: Some("none".into()),
        seed,
    };
    Arc::new(Sandbox::new(options, clock).unwrap())
}

async fn read_all(
    source: &dyn ChangeSource,
    now: DateTime<Utc>,
) -> Vec<opsdeck::model::change::Change> {
    let window = ChangeWindow {
        from: now - Duration::days(3),
        to: now + Duration::days(3),
        limit: 1_000,
    };
    source.changes(&window).await.unwrap()
}

#[tokio::test]
async fn changes_appear_when_the_clock_reaches_them_and_repeat_for_a_seed() {
    let dir = copied_fixtures(|estate| {
        estate["background_changes"]
            .as_array_mut()
            .unwrap()
            .push(json!({
                "minutes_before": -90, "actor": "future@contoso.com",
                "operation": "Microsoft.Storage/storageAccounts/write", "kind": "configuration",
                "resource": "stfuture", "resource_type": "storage account",
                "summary": "A change still to come", "source": "azure activity log"
            }));
    });
    let clock = common::TestClock::at(common::pinned());
    let sandbox = sandbox_at(FixtureFiles::Directory(dir.clone()), 7, clock.clone());
    let before = read_all(sandbox.as_ref(), clock.now()).await;
    assert!(!before.iter().any(|c| c.actor == "future@contoso.com"));
    assert!(before.iter().all(|c| c.at <= common::pinned()));
    clock.advance(Duration::hours(2));
    let after = read_all(sandbox.as_ref(), clock.now()).await;
    assert!(after.iter().any(|c| c.actor == "future@contoso.com"));
    assert_eq!(after.len(), before.len() + 1);
    let _ = std::fs::remove_dir_all(&dir);

    // The same seed gives the same changes at the same instants; another seed moves them.
    let again = sandbox_at(
        FixtureFiles::Embedded,
        7,
        common::TestClock::at(common::pinned()),
    );
    let other = sandbox_at(
        FixtureFiles::Embedded,
        8,
        common::TestClock::at(common::pinned()),
    );
    let once = sandbox_at(
        FixtureFiles::Embedded,
        7,
        common::TestClock::at(common::pinned()),
    );
    let a = read_all(again.as_ref(), common::pinned()).await;
    assert_eq!(a, read_all(once.as_ref(), common::pinned()).await);
    assert_ne!(a, read_all(other.as_ref(), common::pinned()).await);
}

/// Microsoft's published Activity Log example.
fn vendor_example() -> Value {
    let path = common::vendor_dir()
        .join("azure-rest-api-specs/monitor/2015-04-01/examples/GetActivityLogsFiltered.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn activity_log(fake: &FakeApi, subscription: &str, group: &str) -> ActivityLog {
    let authorizer: Arc<dyn Authorizer> = static_credential();
    let client = RestClient::new(
        "Azure",
        authorizer,
        std::time::Duration::from_secs(2),
        quick_retries(),
    )
    .unwrap();
    ActivityLog::new(
        Arc::new(client),
        &reqwest::Url::parse(&fake.base).unwrap(),
        "https://management.azure.com/.default",
        subscription,
        group,
    )
}

#[tokio::test]
async fn the_activity_log_reads_the_vendor_example_with_caller_operation_time_and_resource() {
    let example = vendor_example();
    let parameters = &example["parameters"];
    let subscription = parameters["subscriptionId"].as_str().unwrap();
    let path = format!(
        "/subscriptions/{subscription}/providers/Microsoft.Insights/eventtypes/management/values"
    );
    let fake = FakeApi::start().await;
    // Page one is the example; its nextLink (a placeholder on management.azure.com)
    // is moved onto the fake, whose page two is the end of the listing.
    let mut first = example["responses"]["200"]["body"].clone();
    first["nextLink"] = json!(format!(
        "{}{path}?api-version=2015-04-01&%24skiptoken=page2",
        fake.base
    ));
    fake.route("GET", &path, None, vec![Reply::json(200, first)]);
    fake.route(
        "GET",
        &path,
        Some(Arc::new(|r: &Recorded| r.query.contains("skiptoken"))),
        vec![Reply::json(200, json!({"value": []}))],
    );
    let log = activity_log(&fake, subscription, "MSSupportGroup");
    // The example's own window.
    let window = ChangeWindow {
        from: instant(&json!("2015-01-21T20:00:00Z")),
        to: instant(&json!("2015-01-23T20:00:00Z")),
        limit: 100,
    };
    let changes = log.changes(&window).await.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let change = &changes[0];
    let event = &example["responses"]["200"]["body"]["value"][0];
    assert_eq!(change.actor, event["caller"].as_str().unwrap());
    assert_eq!(change.actor, "admin@contoso.com");
    assert_eq!(change.operation, "microsoft.support/supporttickets/write");
    assert_eq!(change.at, instant(&event["eventTimestamp"]));
    assert_eq!(change.resource, "115012112305841");
    assert_eq!(
        change.resource_id.as_deref(),
        event["authorization"]["scope"].as_str()
    );
    assert_eq!(change.origin.as_deref(), Some("192.168.35.115"));
    assert_eq!(change.status.as_deref(), Some("Succeeded"));
    assert_eq!(change.source, "azure activity log");
    // The request is the one the example documents, and the listing was paged.
    let requests = fake.requests_to("/eventtypes/management/values");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].query_param("$filter").as_deref(),
        parameters["$filter"].as_str()
    );
    assert_eq!(
        requests[0].query_param("api-version").as_deref(),
        Some("2015-04-01")
    );
    assert!(
        requests[0]
            .authorization
            .as_deref()
            .unwrap()
            .contains("management.azure.com")
    );

    // A window that misses the event lists nothing.
    let later = ChangeWindow {
        from: instant(&json!("2015-01-22T00:00:00Z")),
        ..window
    };
    assert!(log.changes(&later).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreadable_change_record_is_a_gap_and_the_others_still_answer() {
    let example = vendor_example();
    let subscription = example["parameters"]["subscriptionId"].as_str().unwrap();
    let path = format!(
        "/subscriptions/{subscription}/providers/Microsoft.Insights/eventtypes/management/values"
    );
    let fake = FakeApi::start().await;
    // Served verbatim: its nextLink points at another host, which must not get our token.
    fake.route(
        "GET",
        &path,
        None,
        vec![Reply::json(
            200,
            example["responses"]["200"]["body"].clone(),
        )],
    );
    let clock = common::TestClock::at(common::pinned());
    let (sandbox, mut backends): (_, Backends) = common::sandbox_backends("none", 7, clock.clone());
    backends.changes.push(Arc::new(activity_log(
        &fake,
        subscription,
        "MSSupportGroup",
    )));
    let tools = common::connect(backends, true).await;
    let result = tools.ok("what_changed", json!({"since": "24h"})).await;
    assert!(!result["changes"].as_array().unwrap().is_empty());
    let gaps = result["gaps"].to_string();
    assert!(
        gaps.contains("azure activity log") && gaps.contains("another host"),
        "{gaps}"
    );
    let text = common::text_of(&tools.call("what_changed", json!({"since": "24h"})).await);
    assert!(text.contains("Not read"), "{text}");
    drop(sandbox);
}

#[tokio::test]
async fn triage_names_the_change_behind_each_scenario_and_only_then() {
    let scenarios = Sandbox::scenarios(&FixtureFiles::Embedded).unwrap();
    let mut named = 0;
    for scenario in scenarios
        .iter()
        .filter(|s| !s.truth.failing_pipelines.is_empty())
    {
        let sandbox = common::start(&scenario.name).await;
        // Every failing pipeline: the change must win over the background
        // changes in each one's own window, not just the first's.
        for pipeline in &scenario.truth.failing_pipelines {
            let report = sandbox
                .ok("triage_run", json!({"pipeline": pipeline}))
                .await;
            let root_cause = report["root_cause"].as_str().unwrap();
            match &scenario.truth.change {
                Some(truth) => {
                    let change = &report["change"]["change"];
                    assert_eq!(
                        change["actor"],
                        truth.actor.as_str(),
                        "{}: {report}",
                        scenario.name
                    );
                    assert!(
                        root_cause.contains(&truth.actor),
                        "{}: {root_cause}",
                        scenario.name
                    );
                    assert!(
                        truth
                            .keywords
                            .iter()
                            .any(|k| root_cause.to_lowercase().contains(&k.to_lowercase())),
                        "{}: {root_cause}",
                        scenario.name
                    );
                    assert!(
                        root_cause.contains("likely caused by a change"),
                        "{root_cause}"
                    );
                    let evidence = report["evidence"].to_string();
                    assert!(evidence.contains("\"kind\":\"changes\""), "{evidence}");
                    named += 1;
                }
                None => {
                    assert!(
                        report.get("change").is_none(),
                        "{}: {report}",
                        scenario.name
                    );
                    assert!(
                        !root_cause.contains("likely caused by a change"),
                        "{root_cause}"
                    );
                    let evidence = report["evidence"].to_string();
                    assert!(
                        evidence.contains("no recorded change touches")
                            || evidence.contains("is of a kind that explains"),
                        "{}: {evidence}",
                        scenario.name
                    );
                }
            }
        }
    }
    assert!(named >= 1, "no scenario has a change to name");
}

#[tokio::test]
async fn the_tool_is_read_only_and_listed() {
    let sandbox = common::start_with("none", 7, true).await;
    let tools = sandbox.tools().await;
    let tool = tools
        .iter()
        .find(|t| t.name == "what_changed")
        .expect("listed");
    assert_eq!(
        tool.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    // Read-only servers serve it.
    sandbox.ok("what_changed", json!({"since": "2h"})).await;
}

/// A copy of the embedded fixtures with `edit` applied to `estate.json` and
/// `edit_scenario` to one scenario's file.
fn copied_with_scenario(
    edit: impl Fn(&mut Value),
    scenario: &str,
    edit_scenario: impl Fn(&mut Value),
) -> std::path::PathBuf {
    let dir = copied_fixtures(edit);
    let path = dir.join(format!("scenarios/{scenario}.json"));
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit_scenario(&mut doc);
    std::fs::write(&path, doc.to_string()).unwrap();
    dir
}

/// The tools over a sandbox of a copied fixtures directory.
async fn tools_over(dir: &std::path::Path, scenario: &str) -> common::ToolClient {
    let clock = common::TestClock::at(common::pinned());
    let options = SandboxOptions {
        files: FixtureFiles::Directory(dir.to_path_buf()),
        scenario: Some(scenario.into()),
        seed: 7,
    };
    let sandbox = Arc::new(Sandbox::new(options, clock.clone()).unwrap());
    let backends = Backends {
        label: format!("sandbox/{scenario}"),
        pipelines: vec![sandbox.clone()],
        secrets: vec![sandbox.clone()],
        infra: vec![sandbox.clone()],
        logs: vec![sandbox.clone()],
        changes: vec![sandbox.clone()],
        clock,
    };
    common::connect(backends, true).await
}

fn no_edit(_: &mut Value) {}

#[tokio::test]
async fn a_closer_tag_write_or_setting_on_the_same_account_does_not_beat_the_role_removal() {
    let revoked: Value = serde_json::from_str(
        &FixtureFiles::Embedded
            .read("scenarios/revoked-role.json")
            .unwrap(),
    )
    .unwrap();
    let incident = revoked["incident_start_minutes"].as_i64().unwrap();
    let removal = revoked["change"]["minutes_before"].as_i64().unwrap();
    // Between the role removal and the first failure, so closer in time to it
    // (background changes count from the anchor; jitter adds up to 10 minutes).
    let closer = incident + removal / 2;
    let dir = copied_fixtures(|estate| {
        let changes = estate["background_changes"].as_array_mut().unwrap();
        changes.push(json!({
            "minutes_before": closer, "actor": "tagger@contoso.com",
            "operation": "Microsoft.Resources/tags/write", "kind": "configuration",
            "resource": "stcontosolakeprod", "resource_type": "storage account",
            "summary": "Tags written on storage account stcontosolakeprod (owner=lake-team)",
            "source": "azure activity log"
        }));
        changes.push(json!({
            "minutes_before": closer + 1, "actor": "tls@contoso.com",
            "operation": "Microsoft.Storage/storageAccounts/write", "kind": "configuration",
            "resource": "stcontosolakeprod", "resource_type": "storage account",
            "summary": "Set minimum TLS version of storage account stcontosolakeprod to 1.2",
            "source": "azure activity log"
        }));
    });
    let tools = tools_over(&dir, "revoked-role").await;
    let args = json!({"pipeline": "ingest_crm_customers"});
    let report = tools.ok("triage_run", args.clone()).await;
    let finding = &report["change"];
    assert_eq!(
        finding["change"]["actor"], "dana.whitfield@contoso.com",
        "{report}"
    );
    assert_eq!(finding["confidence"], "high", "{finding}");
    let root_cause = report["root_cause"].as_str().unwrap();
    assert!(root_cause.contains("role assignment"), "{root_cause}");
    assert!(!root_cause.contains("Tags written"), "{root_cause}");
    // The distractors are listed as evidence, not named as the cause.
    assert!(
        report["evidence"].to_string().contains("Tags written"),
        "{report}"
    );
    // The triage's confidence is said once.
    let text = common::text_of(&tools.call("triage_run", args).await);
    assert_eq!(text.matches("(confidence ").count(), 1, "{text}");
    assert!(
        !text.contains("confidence high) (confidence high)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// revoked-role with its change made at the resource group, as the Activity
/// Log records such an assignment: its resource is the group; the principal
/// is in `touches` when `principal` is set.
fn group_scope_removal(principal: bool) -> impl Fn(&mut Value) {
    move |scenario: &mut Value| {
        let change = &mut scenario["change"];
        change["resource"] = json!("rg-dataops-prod");
        change["resource_type"] = json!("Microsoft.Authorization/roleAssignments");
        change["resource_id"] = json!(
            "/subscriptions/5b0c2a1e-7d3f-4e8a-9c6b-2f1e0d9c8b7a/resourceGroups/rg-dataops-prod/providers/Microsoft.Authorization/roleAssignments/7d2f4c1a-93be-4e0a-b1d5-6a0c8e2f9b34"
        );
        change["summary"] = json!(
            "Removed role assignment 'Storage Blob Data Contributor' of 3c1d8a52-7f0e-4b7e-9a55-0e6f3c2b9d11 on resource group rg-dataops-prod"
        );
        change["touches"] = if principal {
            json!(["3c1d8a52-7f0e-4b7e-9a55-0e6f3c2b9d11"])
        } else {
            json!([])
        };
    }
}

#[tokio::test]
async fn a_role_removal_at_the_resource_group_is_found_by_principal_or_by_scope() {
    for principal in [true, false] {
        let dir = copied_with_scenario(no_edit, "revoked-role", group_scope_removal(principal));
        let tools = tools_over(&dir, "revoked-role").await;
        // ingest_crm_customers' logs name the principal refused; ingest_pos_sales' do not.
        for pipeline in ["ingest_crm_customers", "ingest_pos_sales"] {
            let report = tools.ok("triage_run", json!({"pipeline": pipeline})).await;
            let finding = &report["change"];
            assert_eq!(
                finding["change"]["actor"], "dana.whitfield@contoso.com",
                "principal {principal}, {pipeline}: {report}"
            );
            let by_principal = principal && pipeline == "ingest_crm_customers";
            assert_eq!(
                finding["confidence"],
                if by_principal { "high" } else { "medium" },
                "principal {principal}, {pipeline}: {finding}"
            );
            let root_cause = report["root_cause"].as_str().unwrap();
            assert!(root_cause.contains("rg-dataops-prod"), "{root_cause}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_cluster_named_only_by_id_in_the_same_workspace_explains_a_quota_failure() {
    let dir = copied_with_scenario(no_edit, "cluster-quota", |scenario| {
        scenario["change"]["touches"] = json!(["0115-013322-adh0c7pn"]);
    });
    let tools = tools_over(&dir, "cluster-quota").await;
    let report = tools
        .ok("triage_run", json!({"pipeline": "transform_sales"}))
        .await;
    assert_eq!(report["category"], "capacity_quota", "{report}");
    let finding = &report["change"];
    assert_eq!(
        finding["change"]["actor"], "priya.nair@contoso.com",
        "{report}"
    );
    assert_eq!(finding["confidence"], "medium", "{finding}");
    assert!(
        report["root_cause"]
            .as_str()
            .unwrap()
            .contains("adhoc-backfill-priya"),
        "{report}"
    );
    // The same change explains no failure of another kind: a schema drift on
    // the same workspace is not put down to another cluster's resize.
    let _ = std::fs::remove_dir_all(&dir);
}
