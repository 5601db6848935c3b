use std::collections::BTreeSet;
use std::sync::Arc;

use rmcp::model::Tool;
use serde_json::json;

use super::relevance::words;
use super::*;
use crate::mcp::catalog;
use crate::test_support::fake_env;

/// Our server's tools, as `opsdeck serve` lists them (descriptions shortened).
const OURS: &[(&str, &str)] = &[
    (
        "list_pipelines",
        "Pipelines of the estate and their schedules",
    ),
    (
        "list_pipeline_runs",
        "Runs of pipelines in a time window, newest first",
    ),
    (
        "get_pipeline_status",
        "The latest run of each pipeline and whether it failed",
    ),
    (
        "get_pipeline_dependencies",
        "Upstream and downstream pipelines: the blast radius of a failure",
    ),
    (
        "get_run_details",
        "One run with its activity runs, errors and timings",
    ),
    (
        "get_failed_tasks_summary",
        "Failed activities grouped by error",
    ),
    (
        "compare_runs",
        "What differs between a failed run and the last good one",
    ),
    (
        "triage_run",
        "Walks a failed run to its root cause with evidence",
    ),
    (
        "what_changed",
        "Deployments and config changes before a run failed",
    ),
    ("fetch_logs", "Log lines of a run or a source"),
    ("summarize_error_logs", "Error log templates with counts"),
    ("list_secrets", "Key Vault secret metadata, never values"),
    (
        "get_secret_usage",
        "Which pipelines use a secret and when it expires",
    ),
    ("list_terraform_plans", "Terraform plans on record"),
    ("explain_plan_diff", "What a Terraform plan changes"),
    (
        "detect_infra_drift",
        "Resources that drifted from Terraform",
    ),
    ("rerun_pipeline", "Reruns a pipeline (dry run by default)"),
    (
        "cancel_run",
        "Cancels a queued or running run (dry run by default)",
    ),
];

/// About 190 tools of an Azure operations server, made the way such servers
/// are: each service with its verbs.
fn azure_tools() -> Vec<(String, String)> {
    let services = [
        ("vm", "virtual machine"),
        ("vmss", "virtual machine scale set"),
        ("storage_account", "storage account"),
        ("storage_container", "blob container in a storage account"),
        ("aks_cluster", "Kubernetes (AKS) cluster"),
        ("sql_server", "Azure SQL logical server"),
        ("sql_database", "Azure SQL database"),
        ("cosmos_account", "Cosmos DB account"),
        ("keyvault", "key vault"),
        ("monitor_alert", "Azure Monitor alert rule"),
        ("monitor_metric", "Azure Monitor metric definition"),
        ("loganalytics_workspace", "Log Analytics workspace"),
        ("network_vnet", "virtual network"),
        ("network_nsg", "network security group"),
        ("network_publicip", "public IP address"),
        ("appservice_webapp", "App Service web app"),
        ("functionapp", "Function App"),
        ("eventhub_namespace", "Event Hubs namespace"),
        ("servicebus_queue", "Service Bus queue"),
        ("acr_registry", "container registry"),
        ("redis_cache", "Azure Cache for Redis"),
        ("dns_zone", "DNS zone"),
        ("resource_group", "resource group"),
        ("role_assignment", "role assignment"),
    ];
    let verbs = [
        ("list", "Lists every {} in the subscription"),
        ("show", "Shows one {} by name"),
        ("create", "Creates a {}"),
        ("delete", "Deletes a {}"),
        ("update", "Updates the settings of a {}"),
        ("tag", "Sets tags on a {}"),
        ("diagnostics", "Diagnostic settings of a {}"),
        ("usage", "Usage and quota of a {}"),
    ];
    services
        .iter()
        .flat_map(|(service, noun)| {
            verbs.iter().map(move |(verb, text)| {
                (format!("azure_{service}_{verb}"), text.replace("{}", noun))
            })
        })
        .collect()
}

fn tool(name: &str, description: &str) -> Tool {
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}, "resource_group": {"type": "string"}}});
    let serde_json::Value::Object(schema) = schema else {
        unreachable!()
    };
    Tool::new(name.to_string(), description.to_string(), Arc::new(schema))
}

/// Our server beside the Azure one: 18 + 192 tools.
fn estate() -> Vec<CatalogTool> {
    let ours = OURS.iter().map(|(n, d)| tool(n, d)).collect();
    let azure = azure_tools().iter().map(|(n, d)| tool(n, d)).collect();
    catalog::build(&[("opsdeck".into(), ours), ("azure".into(), azure)])
}

fn trusted() -> BTreeSet<String> {
    BTreeSet::from(["opsdeck".to_string()])
}

fn offer(question: &str, recent: &[&str], limit: usize) -> Offer {
    let trusted = trusted();
    select(
        estate(),
        &Selection {
            question,
            recent,
            limit,
            trusted: &trusted,
        },
    )
}

fn names(offer: &Offer) -> Vec<String> {
    offer.offered_names()
}

#[test]
fn a_catalogue_that_fits_is_offered_whole_in_order() {
    let small: Vec<CatalogTool> = estate().into_iter().take(40).collect();
    let expected: Vec<String> = small.iter().map(|t| t.exposed_name.clone()).collect();
    let trusted = trusted();
    let offer = select(
        small,
        &Selection {
            question: "hello",
            recent: &[],
            limit: 128,
            trusted: &trusted,
        },
    );
    assert_eq!(names(&offer), expected);
    assert_eq!(offer.left_out, 0);
    assert!(offer.notes.is_empty());
}

#[test]
fn an_incident_question_over_210_tools_gets_at_most_128_with_the_triage_tools() {
    let total = estate().len();
    assert!(total > 200, "{total}");
    for question in [
        "why did transform_sales fail?",
        "the nightly load broke again, what happened",
        "Is ingest_orders failing since this morning?",
    ] {
        let offer = offer(question, &[], MAX_TOOLS_PER_REQUEST);
        let offered = names(&offer);
        assert!(offered.len() <= MAX_TOOLS_PER_REQUEST, "{}", offered.len());
        assert_eq!(offer.left_out, total - offered.len());
        for needed in [
            "triage_run",
            "get_run_details",
            "what_changed",
            "get_pipeline_dependencies",
            "list_pipeline_runs",
        ] {
            assert!(offered.iter().any(|n| n == needed), "{question}: {needed}");
        }
    }
}

#[test]
fn a_question_about_another_servers_resources_gets_that_servers_tools() {
    for (question, needed) in [
        ("list the storage accounts", "azure_storage_account_list"),
        ("which virtual machines are in rg-data?", "azure_vm_list"),
        ("show me the AKS clusters", "azure_aks_cluster_list"),
        ("what Redis caches do we have", "azure_redis_cache_list"),
    ] {
        // A small limit makes relevance, not luck, decide.
        let offer = offer(question, &[], 12);
        let offered = names(&offer);
        assert_eq!(offered.len(), 12);
        assert!(
            offered.iter().any(|n| n == needed),
            "{question}: {needed} not in {offered:?}"
        );
    }
}

#[test]
fn the_limit_is_kept_whatever_it_is_and_the_core_tools_come_first() {
    for limit in [1, 3, 10, 64, 128, 500] {
        let offer = offer("why did transform_sales fail?", &[], limit);
        assert_eq!(offer.tools.len(), limit.clamp(1, 128), "{limit}");
    }
    let three = names(&offer("why did transform_sales fail?", &[], 3));
    assert!(
        three
            .iter()
            .all(|n| CORE_TRIAGE_TOOLS.contains(&n.as_str())),
        "{three:?}"
    );
}

#[test]
fn a_tool_named_earlier_in_the_conversation_stays_in() {
    let recent = ["I called azure_network_nsg_usage and it showed 3 rules."];
    let offer = offer("and what about yesterday?", &recent, 5);
    assert!(names(&offer).contains(&"azure_network_nsg_usage".to_string()));
    let without = self::offer("and what about yesterday?", &[], 5);
    assert!(!names(&without).contains(&"azure_network_nsg_usage".to_string()));
}

#[test]
fn offered_tools_keep_catalogue_order_and_the_choice_is_repeatable() {
    let catalogue: Vec<String> = estate().iter().map(|t| t.exposed_name.clone()).collect();
    let first = names(&offer("list the storage accounts", &[], 40));
    let positions: Vec<usize> = first
        .iter()
        .map(|n| catalogue.iter().position(|c| c == n).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(first, names(&offer("list the storage accounts", &[], 40)));
}

#[test]
fn names_a_model_api_refuses_are_left_out_with_a_note() {
    let mut tools = estate();
    tools.truncate(5);
    tools.push(catalog::build(&[("odd".into(), vec![tool("bad name; rm -rf", "x")])]).remove(0));
    tools.push(catalog::build(&[("odd".into(), vec![tool(&"n".repeat(65), "x")])]).remove(0));
    let trusted = trusted();
    let offer = select(
        tools,
        &Selection {
            question: "q",
            recent: &[],
            limit: 128,
            trusted: &trusted,
        },
    );
    assert_eq!(offer.tools.len(), 5);
    assert_eq!(offer.left_out, 2);
    assert!(
        offer.notes[0].contains("2 tool(s) not offered"),
        "{:?}",
        offer.notes
    );
    assert!(offer.notes[0].len() < 600);
    assert!(name_is_accepted("opsdeck__triage_run") && name_is_accepted("a-b"));
    assert!(!name_is_accepted("") && !name_is_accepted("a.b") && !name_is_accepted("é"));
}

#[test]
fn the_limit_setting_lowers_the_limit_and_a_bad_value_is_explained() {
    assert_eq!(limit_from(&fake_env(&[])), (128, None));
    assert_eq!(
        limit_from(&fake_env(&[("OPSDECK_MAX_TOOLS", " 40 ")])),
        (40, None)
    );
    for bad in ["0", "129", "-3", "many", "99999999999999999999999"] {
        let (limit, note) = limit_from(&fake_env(&[("OPSDECK_MAX_TOOLS", bad)]));
        assert_eq!(limit, 128, "{bad}");
        let note = note.unwrap();
        assert!(
            note.contains("OPSDECK_MAX_TOOLS") && note.contains("1 to 128"),
            "{note}"
        );
    }
}

#[test]
fn huge_descriptions_and_questions_are_read_within_a_budget() {
    let long = "storage ".repeat(20_000);
    let tools: Vec<Tool> = (0..300)
        .map(|i| tool(&format!("tool_{i}"), &long))
        .collect();
    let catalog = catalog::build(&[("big".into(), tools)]);
    let trusted = trusted();
    let question = "why ".repeat(100_000);
    let recent: Vec<&str> = vec![question.as_str(); 100];
    let started = std::time::Instant::now();
    let offer = select(
        catalog,
        &Selection {
            question: &question,
            recent: &recent,
            limit: 10,
            trusted: &trusted,
        },
    );
    assert_eq!(offer.tools.len(), 10);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn word_forms_meet() {
    assert_eq!(words("failed"), words("failure"));
    assert_eq!(words("fails"), words("failing"));
    assert_eq!(words("dependencies"), words("dependency"));
    assert_eq!(words("StorageAccounts"), words("storage_account"));
    assert_eq!(words("VMs"), words("vm"));
}

#[test]
fn describe_says_how_many_of_how_many() {
    let offered: Vec<String> = (0..128).map(|i| format!("t{i}")).collect();
    assert_eq!(
        describe(&offered, 86),
        "offered 128 of 214 tools (86 left out)"
    );
    assert_eq!(describe(&offered[..3], 0), "offered all 3 tools");
}

/// About 190 tools of a DevOps-style server whose names and descriptions
/// speak of pipelines, runs and status (as Azure DevOps servers do), with
/// its own `rerun_pipeline` and `triage_run` beside ours.
fn devops_tools() -> Vec<(String, String)> {
    let things = [
        ("pipelines", "pipeline"),
        ("pipeline_run", "pipeline run"),
        ("pipeline_definition", "pipeline definition"),
        ("build", "build"),
        ("build_status", "build status"),
        ("build_log", "build log"),
        ("release", "release"),
        ("release_status", "release status"),
        ("run_artifact", "run artifact"),
        ("run_stage", "stage of a pipeline run"),
        ("run_job", "job of a pipeline run"),
        ("test_run", "test run"),
        ("agent_pool", "agent pool"),
        ("environment", "deployment environment"),
        ("service_connection", "service connection"),
        ("variable_group", "variable group"),
        ("repo", "repository"),
        ("pull_request", "pull request"),
        ("work_item", "work item"),
        ("branch_policy", "branch policy"),
        ("approval", "pipeline approval"),
        ("check", "pipeline check"),
        ("schedule", "pipeline schedule"),
    ];
    let verbs = [
        ("list", "Lists every {} of the project and its status"),
        ("get", "Gets one {} with its status and last run"),
        ("show", "Shows the status of a {}"),
        ("create", "Creates a {}"),
        ("update", "Updates a {}"),
        ("delete", "Deletes a {}"),
        ("status", "The status of a {} and of its latest run"),
        ("logs", "Logs of a {} run"),
    ];
    let mut tools: Vec<(String, String)> = things
        .iter()
        .flat_map(|(thing, noun)| {
            verbs
                .iter()
                .map(move |(verb, text)| (format!("{thing}_{verb}"), text.replace("{}", noun)))
        })
        .collect();
    tools.push((
        "rerun_pipeline".into(),
        "Reruns a pipeline run and shows its status".into(),
    ));
    tools.push(("triage_run".into(), "Triages a failed pipeline run".into()));
    tools
}

/// Ours, the Azure server, and the DevOps one (untrusted): about 400 tools.
fn crowded() -> Vec<CatalogTool> {
    let ours = OURS.iter().map(|(n, d)| tool(n, d)).collect();
    let azure = azure_tools().iter().map(|(n, d)| tool(n, d)).collect();
    let devops = devops_tools().iter().map(|(n, d)| tool(n, d)).collect();
    catalog::build(&[
        ("opsdeck".into(), ours),
        ("azure".into(), azure),
        ("devops".into(), devops),
    ])
}

fn ours_offered(offer: &Offer) -> Vec<String> {
    offer
        .tools
        .iter()
        .filter(|t| t.server == "opsdeck")
        .map(|t| t.server_tool_name().to_string())
        .collect()
}

#[test]
fn our_playbook_tools_stay_offered_for_any_question_beside_a_pipeline_shaped_peer() {
    assert!(devops_tools().len() > 180);
    let trusted = trusted();
    for question in [
        "show the status of transform_sales",
        "list the pipeline runs of today",
        "what are the builds doing",
    ] {
        let offer = select(
            crowded(),
            &Selection {
                question,
                recent: &[],
                limit: MAX_TOOLS_PER_REQUEST,
                trusted: &trusted,
            },
        );
        assert!(offer.tools.len() <= MAX_TOOLS_PER_REQUEST);
        let ours = ours_offered(&offer);
        for needed in [
            "triage_run",
            "what_changed",
            "get_pipeline_dependencies",
            "get_pipeline_status",
            "list_pipelines",
            "list_pipeline_runs",
            "get_run_details",
            "get_failed_tasks_summary",
            "fetch_logs",
            "summarize_error_logs",
            "get_secret_usage",
            "rerun_pipeline",
        ] {
            assert!(
                ours.iter().any(|n| n == needed),
                "{question}: {needed} not in {ours:?}"
            );
        }
        // The peer's own pipeline tools still get the question's places.
        assert!(
            offer.tools.iter().filter(|t| t.server == "devops").count() > 40,
            "{question}"
        );
    }
}

#[test]
fn only_a_trusted_server_takes_a_playbook_place() {
    let nobody = BTreeSet::new();
    let small = |trusted: &BTreeSet<String>| {
        select(
            crowded(),
            &Selection {
                question: "show the status of transform_sales",
                recent: &[],
                limit: 10,
                trusted,
            },
        )
    };
    // Trusted: half the places go to our playbook tools, most needed first.
    let offer = small(&trusted());
    for needed in &CORE_TRIAGE_TOOLS[..5] {
        let holder = offer
            .tools
            .iter()
            .find(|t| t.server_tool_name() == *needed && t.server == "opsdeck");
        assert!(holder.is_some(), "{needed}: {:?}", names(&offer));
    }
    // The DevOps server's `triage_run` is not ours: it took no reserved place.
    let untrusted_triage = offer
        .tools
        .iter()
        .any(|t| t.server == "devops" && t.server_tool_name() == "triage_run");
    assert!(!untrusted_triage, "{:?}", names(&offer));
    // Nobody trusted: nothing is reserved, relevance alone decides.
    let offer = small(&nobody);
    assert!(
        !offer
            .tools
            .iter()
            .any(|t| t.server_tool_name() == "triage_run"),
        "{:?}",
        names(&offer)
    );
}

#[test]
fn long_descriptions_are_clipped_to_what_endpoints_take() {
    let long = "Lists things. ".repeat(500);
    let mut tools: Vec<Tool> = vec![tool("short_tool", "short")];
    tools.push(tool("long_tool", &long));
    tools.push(tool("exact_tool", &"é".repeat(MAX_DESCRIPTION_CHARS)));
    let catalog = catalog::build(&[("peer".into(), tools)]);
    for limit in [128, 2] {
        let offer = select(
            catalog.clone(),
            &Selection {
                question: "list long things",
                recent: &[],
                limit,
                trusted: &trusted(),
            },
        );
        for offered in &offer.tools {
            let description = offered.tool.description.as_deref().unwrap();
            assert!(
                description.chars().count() <= MAX_DESCRIPTION_CHARS,
                "{}: {}",
                offered.exposed_name,
                description.chars().count()
            );
            if offered.exposed_name == "long_tool" {
                assert!(description.starts_with("Lists things.") && description.ends_with('…'));
            }
            if offered.exposed_name == "exact_tool" {
                assert_eq!(description.chars().count(), MAX_DESCRIPTION_CHARS);
                assert!(!description.ends_with('…'));
            }
        }
    }
}
