//! Every sandbox scenario, asked as a new on-call engineer would ask it:
//! `opsdeck ask "why did X fail?"` with the offline agent, the real binary and
//! the real built-in server as a stdio child. For each, from the scenario's
//! recorded truth:
//! - the root-cause sentence itself (not the evidence under it) names the cause
//!   by its keywords, and where the truth has a change behind the incident, the
//!   change and who made it;
//! - the blast radius names every affected pipeline;
//! - at most 6 tool calls.
//!
//! Scenarios are read from the fixtures, so a new scenario file is tested with
//! no change here. `OPSDECK_EXTRA_SCENARIOS=DIR` adds the scenario files of DIR
//! (same format) to a copy of the sandbox and tests them too: the agent is meant
//! for the incident it has not seen.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::process::{OPSDECK, tempdir};
use opsdeck::backends::sandbox::{FixtureFiles, Sandbox, Scenario};
use serde_json::Value;

const MAX_TOOL_CALLS: usize = 6;

/// The sandbox to serve: the embedded one, or a copy with extra scenarios.
enum Estate {
    Embedded,
    Copy(PathBuf),
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The scenarios to ask about, and the estate that holds them.
fn estate() -> (Estate, Vec<Scenario>) {
    let Some(extra) = std::env::var_os("OPSDECK_EXTRA_SCENARIOS") else {
        return (
            Estate::Embedded,
            Sandbox::scenarios(&FixtureFiles::Embedded).unwrap(),
        );
    };
    let root = tempdir("ask-scenarios-estate").join("sandbox");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sandbox"),
        &root,
    );
    for entry in std::fs::read_dir(&extra).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::copy(
                &path,
                root.join("scenarios").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    let scenarios = Sandbox::scenarios(&FixtureFiles::Directory(root.clone())).unwrap();
    (Estate::Copy(root), scenarios)
}

/// `opsdeck ask --json` on `scenario`; the events it printed.
fn ask(estate: &Estate, scenario: &str, question: &str) -> Vec<Value> {
    let mut args = vec![
        "serve".to_string(),
        "--scenario".into(),
        scenario.into(),
        "--seed".into(),
        "7".into(),
        "--frozen-clock".into(),
        common::PINNED.into(),
    ];
    if let Estate::Copy(dir) = estate {
        args.push("--sandbox-dir".into());
        args.push(dir.display().to_string());
    }
    let config = tempdir(&format!("ask-scenario-{scenario}")).join("mcp.json");
    let servers = serde_json::json!({"mcpServers": {"opsdeck": {
        "command": OPSDECK, "args": args, "trusted": true
    }}});
    std::fs::write(&config, servers.to_string()).unwrap();
    let output = Command::new(OPSDECK)
        .args(["ask", "--json", "--mcp-config"])
        .arg(&config)
        .arg(question)
        .env("OPSDECK_LOG_DIR", tempdir("ask-scenario-logs"))
        .env("XDG_STATE_HOME", tempdir("ask-scenario-state"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("AZURE_OPENAI_ENDPOINT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{scenario}: {question}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn answer_of(events: &[Value]) -> String {
    events
        .iter()
        .find(|e| e["event"] == "turn_finished")
        .and_then(|e| e["answer"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The answer's line that starts with `label` (`**Root cause**`).
fn line_of<'a>(answer: &'a str, label: &str) -> &'a str {
    answer
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in:\n{answer}"))
}

fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

#[test]
fn every_failing_scenario_gets_its_root_cause_change_and_blast_radius_in_six_calls() {
    let (estate, scenarios) = estate();
    let failing: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| !s.truth.failing_pipelines.is_empty())
        .collect();
    assert!(failing.len() >= 10, "{} scenarios fail", failing.len());
    let mut problems = Vec::new();
    for scenario in failing {
        let truth = &scenario.truth;
        // The first failing pipeline is the incident's own; the others fail
        // with it (a parent, a second victim) and must name the same cause.
        for (i, pipeline) in truth.failing_pipelines.iter().take(3).enumerate() {
            let question = format!("why did {pipeline} fail?");
            let events = ask(&estate, &scenario.name, &question);
            let answer = answer_of(&events);
            let root_cause = line_of(&answer, "**Root cause**");
            let mut missing: Vec<String> = truth
                .keywords
                .iter()
                .filter(|k| !contains(root_cause, k))
                .map(|k| format!("keyword '{k}'"))
                .collect();
            if let Some(change) = &truth.change {
                if !contains(root_cause, &change.actor) {
                    missing.push(format!("who made the change ({})", change.actor));
                }
                missing.extend(
                    change
                        .keywords
                        .iter()
                        .filter(|k| !contains(root_cause, k))
                        .map(|k| format!("change keyword '{k}'")),
                );
            }
            if i == 0 {
                let blast = line_of(&answer, "**Blast radius**");
                missing.extend(
                    truth
                        .affected_pipelines
                        .iter()
                        .filter(|p| !blast.contains(p.as_str()))
                        .map(|p| format!("affected pipeline {p} in the blast radius")),
                );
            }
            let calls = events
                .iter()
                .filter(|e| e["event"] == "tool_call_started")
                .count();
            if calls > MAX_TOOL_CALLS {
                missing.push(format!(
                    "at most {MAX_TOOL_CALLS} tool calls (made {calls})"
                ));
            }
            if !answer.contains("Offline mode") {
                missing.push("the offline footer".into());
            }
            if !missing.is_empty() {
                problems.push(format!(
                    "{} / \"{question}\": missing {}\n  root cause: {root_cause}",
                    scenario.name,
                    missing.join(", ")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// A scenario with no change behind it must not get one invented: the root
/// cause then names no actor from the estate's background changes.
#[test]
fn an_incident_without_a_change_is_not_pinned_on_one() {
    let (estate, scenarios) = estate();
    for scenario in scenarios
        .iter()
        .filter(|s| s.change.is_none() && !s.truth.failing_pipelines.is_empty())
    {
        let pipeline = &scenario.truth.failing_pipelines[0];
        let answer = answer_of(&ask(
            &estate,
            &scenario.name,
            &format!("why did {pipeline} fail?"),
        ));
        let root_cause = line_of(&answer, "**Root cause**");
        assert!(
            !contains(root_cause, "likely caused by a change"),
            "{}: {root_cause}",
            scenario.name
        );
    }
}

/// "What changed?" about a failing pipeline lists the change behind the
/// incident, with who made it, among the estate's ordinary changes.
#[test]
fn what_changed_for_a_failing_pipeline_lists_the_change_behind_it() {
    let (estate, scenarios) = estate();
    let with_change: Vec<&Scenario> = scenarios.iter().filter(|s| s.change.is_some()).collect();
    assert!(with_change.len() >= 5, "{}", with_change.len());
    for scenario in with_change {
        let (Some(change), Some(pipeline)) = (
            &scenario.truth.change,
            scenario.truth.failing_pipelines.first(),
        ) else {
            continue;
        };
        let events = ask(
            &estate,
            &scenario.name,
            &format!("what changed for {pipeline} in the last 24 hours?"),
        );
        let answer = answer_of(&events);
        assert!(
            contains(&answer, &change.actor),
            "{}: {} not in\n{answer}",
            scenario.name,
            change.actor
        );
        let tools: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == "tool_call_started")
            .filter_map(|e| e["tool"].as_str())
            .collect();
        assert!(
            tools.contains(&"what_changed"),
            "{}: {tools:?}",
            scenario.name
        );
    }
}
