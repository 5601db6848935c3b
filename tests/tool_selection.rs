//! Tool selection over a large catalogue: the real `opsdeck ask` with our
//! sandbox server beside a third-party server of 192 Azure-operations tools
//! (tests/peers/many_tools_server.py, official Python SDK), talking to a
//! scripted OpenAI-compatible model. A request never carries more tools than
//! the model takes, the tools the question needs are among them, and the
//! trace and `--json` events say which were offered.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::openai_mock::{MockOpenAi, Reply, text_chunks, tool_call_chunks};
use common::process::{OPSDECK, peer_script, python, tempdir};
use serde_json::{Value, json};

/// Tools of the third-party server.
const AZURE_TOOLS: usize = 192;

/// mcp.json: our sandbox server (trusted) and the Azure-operations peer,
/// whose storage listing the operator allowed; `azure` entries are merged in.
/// With `"devopsPeer": true` the peer is the DevOps-shaped one instead
/// (tests/peers/devops_tools_server.py, named `devops`, untrusted).
fn config(dir: &Path, azure: Value) -> PathBuf {
    let devops = azure.get("devopsPeer").is_some();
    let (name, script) = if devops {
        ("devops", "devops_tools_server.py")
    } else {
        ("azure-ops", "many_tools_server.py")
    };
    let mut peer = json!({
        "command": python("venv-mcp2"),
        "args": [peer_script(script), "--record", dir.join("calls.txt")],
        "alwaysAllow": ["azure_storage_account_list"]
    });
    if let (Some(peer), Some(extra)) = (peer.as_object_mut(), azure.as_object()) {
        peer.extend(extra.clone());
    }
    // `--read-only` for the opsdeck server rides along in the peer's entry, read off here.
    let read_only = azure.get("opsdeckReadOnly").is_some();
    if let Some(peer) = peer.as_object_mut() {
        peer.remove("opsdeckReadOnly");
        peer.remove("devopsPeer");
    }
    let mut serve = vec![
        "serve",
        "--scenario",
        "expired-secret",
        "--frozen-clock",
        common::PINNED,
    ];
    if read_only {
        serve.push("--read-only");
    }
    let config = json!({"mcpServers": {
        "opsdeck": {
            "command": OPSDECK,
            "args": serve,
            "trusted": true
        },
        name: peer
    }});
    let path = dir.join("mcp.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

struct Asked {
    output: Output,
    /// Every event `--json` printed.
    events: Vec<Value>,
    /// The records of the session trace.
    trace: Vec<Value>,
    dir: PathBuf,
}

/// Runs `opsdeck ask --json` on a blocking thread so the mock keeps serving.
async fn ask(mock: &MockOpenAi, azure: Value, env: Vec<(&str, &str)>, question: &str) -> Asked {
    let dir = tempdir("tool-selection");
    let config = config(&dir, azure);
    let trace = dir.join("trace.jsonl");
    let mut command = Command::new(OPSDECK);
    command
        .arg("ask")
        .arg("--mcp-config")
        .arg(&config)
        .arg("--json")
        .arg("--trace")
        .arg(&trace)
        .arg(question)
        .env("OPSDECK_LOG_DIR", dir.join("logs"))
        .env("OPENAI_BASE_URL", &mock.base_url)
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_MODEL", "gpt-test")
        .env_remove("OPSDECK_MAX_TOOLS");
    for name in [
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_DEPLOYMENT_NAME",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let lines = |text: &str| -> Vec<Value> {
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let events = lines(&String::from_utf8_lossy(&output.stdout));
    let trace = lines(&std::fs::read_to_string(&trace).unwrap_or_default());
    Asked {
        output,
        events,
        trace,
        dir,
    }
}

fn answer(text: &str) -> Reply {
    Reply::Stream {
        chunks: text_chunks(&[text]),
        cut: false,
        delay_ms: 0,
    }
}

/// The names of the tools a model request carried.
fn offered_in(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn tools_offered(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .map(|e| e.get("event").filter(|e| e.is_object()).unwrap_or(e))
        .filter(|e| e["event"] == "tools_offered")
        .collect()
}

fn stderr(asked: &Asked) -> String {
    String::from_utf8_lossy(&asked.output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_question_over_200_tools_gets_at_most_128_with_the_triage_tools() {
    let mock = MockOpenAi::start(vec![answer("The secret expired.")]).await;
    let asked = ask(&mock, json!({}), vec![], "why did transform_sales fail?").await;
    assert!(asked.output.status.success(), "{}", stderr(&asked));
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let offered = offered_in(&requests[0].body);
    assert!(offered.len() <= 128, "{} tools sent", offered.len());
    for needed in ["triage_run", "get_run_details", "list_pipeline_runs"] {
        assert!(offered.iter().any(|n| n == needed), "{needed}: {offered:?}");
    }

    // The events and the trace say what was offered, and of how many.
    let announced = tools_offered(&asked.events);
    assert_eq!(announced.len(), 1, "{:?}", asked.events);
    let names: Vec<&str> = announced[0]["offered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(names, offered);
    let left_out = announced[0]["left_out"].as_u64().unwrap() as usize;
    assert!(
        names.len() + left_out > AZURE_TOOLS + 20,
        "the whole catalogue: {} + {left_out}",
        names.len()
    );
    let recorded = tools_offered(&asked.trace);
    assert_eq!(recorded.len(), 1, "{:?}", asked.trace);
    assert_eq!(recorded[0]["left_out"], announced[0]["left_out"]);

    // The system prompt knows where it stands.
    let system = requests[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for expected in [
        "server opsdeck: ready, trusted",
        "server azure-ops: ready, not trusted",
        &format!("{AZURE_TOOLS} tools"),
        "environments: prod",
        "sandbox",
        "Nobody is at the keyboard",
        "azure-ops says: «Azure operations",
    ] {
        assert!(system.contains(expected), "{expected}: {system}");
    }
    let playbook = system.split("## Triage playbook").nth(1).unwrap();
    assert!(playbook.contains("triage_run"), "{playbook}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_about_the_other_servers_resources_offers_and_runs_its_tool() {
    let mock = MockOpenAi::start(vec![
        Reply::Stream {
            chunks: tool_call_chunks(&[("call_1", "azure_storage_account_list", "{}")], 2),
            cut: false,
            delay_ms: 0,
        },
        answer("Two storage accounts: stlakeprod01 and stlakedev01."),
    ])
    .await;
    let asked = ask(&mock, json!({}), vec![], "list the storage accounts").await;
    assert!(asked.output.status.success(), "{}", stderr(&asked));
    let requests = mock.requests();
    let offered = offered_in(&requests[0].body);
    assert!(offered.len() <= 128, "{}", offered.len());
    assert!(
        offered.iter().any(|n| n == "azure_storage_account_list"),
        "{offered:?}"
    );
    let calls = std::fs::read_to_string(asked.dir.join("calls.txt")).unwrap_or_default();
    assert_eq!(calls.trim(), "azure_storage_account_list");
    // Both rounds of the turn offer the same tools.
    assert_eq!(offered_in(&requests[1].body), offered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_limit_is_kept_and_a_denied_tool_is_never_offered() {
    let mock = MockOpenAi::start(vec![answer("ok")]).await;
    let asked = ask(
        &mock,
        json!({"deniedTools": ["azure_storage_account_list"]}),
        vec![("OPSDECK_MAX_TOOLS", "20")],
        "why did transform_sales fail, and list the storage accounts",
    )
    .await;
    assert!(asked.output.status.success(), "{}", stderr(&asked));
    let offered = offered_in(&mock.requests()[0].body);
    assert!(offered.len() <= 20, "{}", offered.len());
    assert!(offered.iter().any(|n| n == "triage_run"), "{offered:?}");
    assert!(
        offered
            .iter()
            .any(|n| n.starts_with("azure_storage_account")),
        "{offered:?}"
    );
    assert!(
        !offered.iter().any(|n| n == "azure_storage_account_list"),
        "{offered:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_limit_setting_is_explained_and_the_api_limit_kept() {
    let mock = MockOpenAi::start(vec![answer("ok")]).await;
    let asked = ask(
        &mock,
        json!({}),
        vec![("OPSDECK_MAX_TOOLS", "500")],
        "why did transform_sales fail?",
    )
    .await;
    let said = asked
        .events
        .iter()
        .filter(|e| e["event"] == "error")
        .any(|e| {
            e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("OPSDECK_MAX_TOOLS=500 is not a number of tools from 1 to 128")
        });
    assert!(said, "{:?}", asked.events);
    let offered = offered_in(&mock.requests()[0].body);
    assert!(
        offered.len() <= 128 && offered.len() > 100,
        "{}",
        offered.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_says_so_when_our_server_is_read_only() {
    let mock = MockOpenAi::start(vec![answer("ok")]).await;
    let asked = ask(
        &mock,
        json!({"opsdeckReadOnly": true}),
        vec![],
        "why did transform_sales fail?",
    )
    .await;
    assert!(asked.output.status.success(), "{}", stderr(&asked));
    let system = mock.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("READ-ONLY: it refuses"), "{system}");
    assert!(!system.contains("not read-only"), "{system}");
}

/// The playbook's tool names: each step reads "N. what: tool, tool.".
fn playbook_tools(system: &str) -> Vec<String> {
    let playbook = system
        .split("## Triage playbook")
        .nth(1)
        .unwrap_or_default();
    playbook
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|l| l.rsplit_once(": "))
        .flat_map(|(_, tools)| {
            tools
                .trim_end_matches('.')
                .split(", ")
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_question_beside_a_pipeline_shaped_peer_keeps_our_playbook_and_names_only_offered_tools()
 {
    let mock = MockOpenAi::start(vec![answer("transform_sales is failing.")]).await;
    let asked = ask(
        &mock,
        json!({"devopsPeer": true}),
        vec![],
        "show the status of transform_sales",
    )
    .await;
    assert!(asked.output.status.success(), "{}", stderr(&asked));
    let request = &mock.requests()[0].body;
    let offered = offered_in(request);
    assert!(offered.len() <= 128, "{} tools sent", offered.len());
    let announced = tools_offered(&asked.events);
    assert!(
        announced[0]["left_out"].as_u64().unwrap() > 0,
        "the catalogue must not fit: {:?}",
        announced[0]
    );
    // Ours stay, though the peer's names match the question better; where
    // both servers have a tool of one name, ours is offered under its prefix.
    for needed in [
        "triage_run",
        "what_changed",
        "get_pipeline_dependencies",
        "opsdeck__get_pipeline_status",
        "list_pipelines",
        "list_pipeline_runs",
        "get_run_details",
        "opsdeck__rerun_pipeline",
    ] {
        assert!(offered.iter().any(|n| n == needed), "{needed}: {offered:?}");
    }
    assert!(
        offered.iter().filter(|n| n.starts_with("pipeline")).count() > 5,
        "the peer's pipeline tools get the question's places too: {offered:?}"
    );
    // Every description sent fits what endpoints take; the peer's long one is clipped.
    let tools = request["tools"].as_array().unwrap();
    for tool in tools {
        let description = tool["function"]["description"].as_str().unwrap_or_default();
        assert!(
            description.chars().count() <= 1024,
            "{}: {} chars",
            tool["function"]["name"],
            description.chars().count()
        );
    }
    let queue = tools
        .iter()
        .find(|t| t["function"]["name"] == "pipeline_queue")
        .expect("the peer's long-described tool is offered for a status question");
    assert!(
        queue["function"]["description"]
            .as_str()
            .unwrap()
            .ends_with('…')
    );

    // The prompt's playbook names our tools, only offered ones, never the peer's.
    let system = request["messages"][0]["content"].as_str().unwrap();
    let named = playbook_tools(system);
    for needed in ["triage_run", "what_changed", "get_pipeline_dependencies"] {
        assert!(named.iter().any(|n| n == needed), "{needed}: {system}");
    }
    for name in &named {
        assert!(
            offered.contains(name),
            "{name} named but not offered: {system}"
        );
        assert!(!name.starts_with("devops"), "{name}: {system}");
    }
    assert!(
        named.iter().any(|n| n == "opsdeck__rerun_pipeline"),
        "{named:?}"
    );
    assert!(!system.contains("devops__rerun_pipeline"), "{system}");
    assert!(!system.contains("devops__get_pipeline_status"), "{system}");
}
