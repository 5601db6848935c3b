use serde_json::{Value, json};

use super::*;

const CLUSTER: &str = "0923-164208-meows279";

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/databricks/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn shared() -> ClusterRef {
    ClusterRef {
        cluster_id: CLUSTER.into(),
        name: Some("etl-shared".into()),
        jobs: vec!["order_facts".into(), "987".into()],
    }
}

fn changes(page: &str, cluster: &ClusterRef) -> Vec<Change> {
    fixture(page)["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| change_of(e, cluster))
        .collect()
}

#[test]
fn cluster_changes_keep_who_what_and_why_and_drop_reports() {
    let page1 = changes(&format!("cluster-events.{CLUSTER}.page1.json"), &shared());
    let types: Vec<&str> = page1.iter().map(|c| c.operation.as_str()).collect();
    assert_eq!(
        types,
        [
            "TERMINATING",
            "UPSIZE_COMPLETED",
            "RESIZING",
            "RESTARTING",
            "EDITED"
        ],
        "AUTOSCALING_STATS_REPORT and RUNNING are not changes"
    );
    let terminated = &page1[0];
    assert_eq!(terminated.kind, ChangeKind::Compute);
    assert_eq!(terminated.actor, "databricks", "inactivity: nobody asked");
    assert_eq!(
        terminated.summary,
        "cluster etl-shared terminating: INACTIVITY (SUCCESS), inactivity_duration_min=30"
    );
    assert_eq!(terminated.status.as_deref(), Some("SUCCESS"));
    assert_eq!(terminated.resource, "etl-shared");
    assert_eq!(terminated.resource_id.as_deref(), Some(CLUSTER));
    assert_eq!(terminated.touches, ["order_facts", "987", CLUSTER]);
    assert_eq!(terminated.at.to_rfc3339(), "2026-11-23T02:40:00+00:00");

    let resize = &page1[2];
    assert_eq!(
        resize.kind,
        ChangeKind::Compute,
        "autoscaling is not a person"
    );
    assert_eq!(resize.actor, "databricks");
    assert_eq!(
        resize.summary,
        "cluster etl-shared resizing from 2 to 4 workers (AUTOSCALE)"
    );

    let edit = &page1[4];
    assert_eq!(edit.kind, ChangeKind::Configuration);
    assert_eq!(edit.actor, "dana@contoso.com");
    assert!(
        edit.summary.contains("num_workers 8 → 2")
            && edit.summary.contains("autotermination_minutes 120 → 30")
            && edit.summary.contains("spark_conf changed")
            && edit.summary.contains("spark_env_vars changed"),
        "{}",
        edit.summary
    );
    assert!(
        !edit.summary.contains("spark_version"),
        "unchanged: {}",
        edit.summary
    );
    let all = serde_json::to_string(&page1).unwrap();
    assert!(
        !all.contains("hunter2"),
        "a setting's value can be a secret"
    );
    assert!(!all.contains("shuffle"), "only plain settings show values");
    assert_eq!(page1[3].actor, "dana@contoso.com");
    assert_eq!(page1[3].kind, ChangeKind::Compute);
}

#[test]
fn a_user_termination_and_lost_nodes() {
    let page2 = changes(&format!("cluster-events.{CLUSTER}.page2.json"), &shared());
    let types: Vec<&str> = page2.iter().map(|c| c.operation.as_str()).collect();
    assert_eq!(types, ["STARTING", "TERMINATING", "NODES_LOST"]);
    assert_eq!(page2[0].actor, "etl@contoso.com");
    let stop = &page2[1];
    assert_eq!(stop.actor, "dana@contoso.com");
    assert_eq!(
        stop.summary,
        "cluster etl-shared terminating by dana@contoso.com: USER_REQUEST (SUCCESS)"
    );
    assert_eq!(page2[2].actor, "databricks");
    assert!(page2[2].summary.contains("6 workers left"));
}

#[test]
fn a_launch_failure_names_the_cloud_error_and_an_unnamed_cluster_its_id() {
    let adhoc = ClusterRef {
        cluster_id: "1105-093015-adhoc42".into(),
        ..ClusterRef::default()
    };
    let found = changes("cluster-events.1105-093015-adhoc42.json", &adhoc);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].resource, "1105-093015-adhoc42");
    assert!(found[0].touches.is_empty());
    assert!(
        found[0].summary.contains(
            "CLOUD_PROVIDER_LAUNCH_FAILURE (CLOUD_FAILURE), azure_error_code=OperationNotAllowed"
        ),
        "{}",
        found[0].summary
    );
    assert_eq!(found[0].status.as_deref(), Some("CLOUD_FAILURE"));
    assert_eq!(found[1].kind, ChangeKind::Lifecycle);
    assert_eq!(found[1].actor, "sam@contoso.com");
}

#[test]
fn broken_and_unknown_events_are_skipped() {
    for event in [
        json!({"type": "EDITED"}),
        json!({"type": "EDITED", "timestamp": "yesterday"}),
        json!({"type": "EDITED", "timestamp": -5}),
        json!({"type": "SOMETHING_NEW", "timestamp": 1_700_000_000_000_i64}),
        json!({"timestamp": 1_700_000_000_000_i64}),
        json!("EDITED"),
    ] {
        assert_eq!(change_of(&event, &shared()), None, "{event}");
    }
    // Details of the wrong shape still give the change, with what is known.
    let odd = change_of(
        &json!({"type": "resizing", "timestamp": 1_700_000_000_000_i64, "details": "x"}),
        &shared(),
    )
    .unwrap();
    assert_eq!(
        odd.summary,
        "cluster etl-shared resizing from ? to ? workers"
    );
    assert_eq!(odd.actor, "databricks");
}

#[test]
fn edits_list_a_bounded_number_of_settings_and_hostile_text_is_neutralised() {
    let mut before = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    for i in 0..100 {
        before.insert(format!("custom_{i:03}"), json!(i));
        after.insert(format!("custom_{i:03}"), json!(i + 1));
    }
    after.insert(
        "spark_version".into(),
        json!(format!("16\u{1b}[2J{}", "9".repeat(10_000))),
    );
    let change = change_of(
        &json!({"type": "EDITED", "timestamp": 1_700_000_000_000_i64,
                "details": {"user": "eve\u{7}@contoso.com", "attributes": after, "previous_attributes": before}}),
        &shared(),
    )
    .unwrap();
    assert!(change.summary.matches("changed").count() <= MAX_FIELDS);
    assert!(change.summary.ends_with('…'), "{}", change.summary);
    assert!(!change.summary.contains('\u{1b}') && !change.actor.contains('\u{7}'));
    assert!(change.summary.len() < 2_000);
}
