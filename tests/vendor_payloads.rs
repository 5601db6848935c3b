//! The parsers read Microsoft's own published example payloads (see
//! ../shared/fixtures/vendor/SOURCES.md), so the sandbox's shapes are the real ones.

mod common;

use opsdeck::backends::adf_definitions::Factory;
use opsdeck::backends::adf_definitions::{
    DatasetProperties, FactoryResource, LinkedServiceProperties, PipelineProperties,
    TriggerProperties,
};
use opsdeck::backends::azure::keyvault::parse_secret_list;
use opsdeck::model::run::BackendKind;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn examples(dir: &str) -> Vec<(String, Value)> {
    let root = common::vendor_dir().join(dir);
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every 200 body of the examples named `{prefix}_*` parsed as `T` (single or `value` list).
fn parse_bodies<T: DeserializeOwned>(prefix: &str) -> Vec<FactoryResource<T>> {
    let mut parsed = Vec::new();
    for (name, example) in examples("azure-rest-api-specs/datafactory/2018-06-01/examples") {
        if !name.starts_with(&format!("{prefix}_")) {
            continue;
        }
        let Some(body) = example.pointer("/responses/200/body") else {
            continue;
        };
        let items: Vec<Value> = match body.get("value") {
            Some(Value::Array(items)) => items.clone(),
            _ if body.get("properties").is_some() => vec![body.clone()],
            _ => continue,
        };
        for item in items {
            let resource: FactoryResource<T> =
                serde_json::from_value(item).unwrap_or_else(|e| panic!("{name}: {e}"));
            parsed.push(resource);
        }
    }
    parsed
}

#[test]
fn every_adf_example_response_parses() {
    let pipelines = parse_bodies::<PipelineProperties>("Pipelines");
    let linked = parse_bodies::<LinkedServiceProperties>("LinkedServices");
    let datasets = parse_bodies::<DatasetProperties>("Datasets");
    let triggers = parse_bodies::<TriggerProperties>("Triggers");
    assert!(
        pipelines.len() >= 3 && linked.len() >= 3 && datasets.len() >= 3 && triggers.len() >= 3
    );
    let recurrence = triggers[0]
        .properties
        .recurrence()
        .expect("schedule trigger recurrence");
    assert_eq!(recurrence.frequency, "Minute");
    assert_eq!(recurrence.interval, 4);
    assert_eq!(
        triggers[0].properties.pipeline_names(),
        vec!["examplePipeline"]
    );
}

#[test]
fn the_example_factory_becomes_a_catalog_with_nested_activities_and_lineage() {
    let factory = Factory {
        name: "exampleFactoryName".into(),
        pipelines: parse_bodies("Pipelines").into_iter().take(1).collect(),
        linked_services: parse_bodies("LinkedServices").into_iter().take(1).collect(),
        datasets: parse_bodies("Datasets").into_iter().take(1).collect(),
        triggers: parse_bodies("Triggers").into_iter().take(1).collect(),
    };
    let catalog = factory.catalog(BackendKind::Adf, "example");
    let pipeline = catalog.pipeline("examplePipeline").unwrap();
    let names: Vec<&str> = pipeline
        .activities
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        vec!["ExampleForeachActivity", "ExampleCopyActivity"],
        "the ForEach body is flattened"
    );
    assert_eq!(pipeline.activities[1].inputs, vec!["exampleDataset"]);
    assert!(
        pipeline
            .schedule
            .as_deref()
            .unwrap()
            .contains("every 4 minutes")
    );
    assert_eq!(
        catalog.dataset("exampleDataset").unwrap().linked_service,
        "exampleLinkedService"
    );
    assert_eq!(
        catalog.pipelines_using_linked_service("exampleLinkedService"),
        vec!["examplePipeline"]
    );
}

#[test]
fn key_vault_listing_examples_parse_with_next_link_verbatim() {
    for version in ["7.4", "7.5"] {
        for file in [
            "GetSecrets-example.json",
            "GetSecretVersions-example.json",
            "GetDeletedSecrets-example.json",
        ] {
            let path = common::vendor_dir().join(format!(
                "azure-rest-api-specs/keyvault/{version}/examples/{file}"
            ));
            let example: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let body = example.pointer("/responses/200/body").unwrap();
            let (secrets, next) = parse_secret_list(&body.to_string())
                .unwrap_or_else(|e| panic!("{version}/{file}: {e}"));
            assert!(!secrets.is_empty(), "{version}/{file}");
            assert_eq!(secrets[0].vault, "myvault", "{version}/{file}");
            assert!(secrets[0].created.is_some());
            assert_eq!(
                next.as_deref(),
                body.get("nextLink").and_then(Value::as_str),
                "{version}/{file}"
            );
        }
    }
}

#[test]
fn the_sandbox_fixtures_are_in_the_vendor_shapes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sandbox");
    let factory = Factory::load_dir("sandbox", &dir.join("factory")).unwrap();
    assert!(factory.pipelines.len() >= 8);
    let secrets = std::fs::read_to_string(dir.join("keyvault/secrets.json")).unwrap();
    let (parsed, _) = parse_secret_list(&secrets).unwrap();
    assert!(parsed.iter().all(|s| s.vault == "kv-contoso-dataops-prod"));
    let resources = std::fs::read_to_string(dir.join("resources/resources.json")).unwrap();
    let (parsed, _) = opsdeck::backends::azure::arm::parse_resource_list(&resources).unwrap();
    assert!(parsed.iter().all(|r| r.resource_group == "rg-dataops-prod"));
}
