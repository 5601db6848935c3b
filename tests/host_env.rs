//! What a stdio MCP server started by the real `opsdeck ask` can see of its
//! environment: a third-party server gets the defaults and what its entry names,
//! never opsdeck's credentials; opsdeck's own `serve` keeps the variables it reads.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::process::{OPSDECK, peer_script, python, tempdir};
use serde_json::{Value, json};

/// Secrets an engineer's shell holds next to opsdeck; none may reach a third party.
const SECRETS: &[(&str, &str)] = &[
    ("AZURE_CLIENT_SECRET", "azure-client-secret-value"),
    ("DATABRICKS_TOKEN", "dapi0123456789abcdef0123456789abcdef"),
    ("OPSDECK_HTTP_TOKEN", "opsdeck-http-bearer-token-value"),
    ("AIRFLOW_PASSWORD", "airflow-password-value"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key-value"),
    ("GITHUB_TOKEN", "ghp_0123456789abcdefghijklmnopqrstuvwxyz"),
    ("AZURE_OPENAI_API_KEY", "azure-openai-key-value"),
];

/// The defaults the test sets, to see them pass.
const DEFAULTS: &[(&str, &str)] = &[
    ("USER", "dana"),
    ("LOGNAME", "dana"),
    ("LANG", "C.UTF-8"),
    ("TZ", "UTC"),
    ("TERM", "xterm-256color"),
    ("SHELL", "/bin/sh"),
];

/// Runs `opsdeck ask` with only `env` (plus PATH and HOME) in its environment,
/// killing it if it runs past a minute.
fn ask(config: &Path, env: &[(&str, String)]) -> Output {
    let home = tempdir("env-home");
    let mut child = Command::new(OPSDECK)
        .args(["ask", "--no-trace", "--mcp-config"])
        .arg(config)
        .arg("what failed last night?")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("opsdeck ask did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn write_config(dir: &Path, config: Value) -> std::path::PathBuf {
    let path = dir.join("mcp.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

#[test]
fn opsdeck_ask_gives_a_third_party_server_none_of_its_secrets() {
    let dir = tempdir("env-dump");
    let dump = dir.join("environment.json");
    let config = write_config(
        &dir,
        json!({"mcpServers": {"dump": {
            "command": python("venv-mcp2"),
            "args": [peer_script("env_dump_server.py"), "--dump", dump],
            "env": {"STATIC_SETTING": "on", "EXPANDED": "${THIRD_PARTY_REGION}"},
            "passEnv": ["AZURE_TENANT_ID", "MYTOOL_*"]
        }}}),
    );
    let mut env: Vec<(&str, String)> = SECRETS
        .iter()
        .chain(DEFAULTS)
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    env.extend([
        ("AZURE_TENANT_ID", "tenant-guid".to_string()),
        ("MYTOOL_API_URL", "https://tool.example".to_string()),
        ("THIRD_PARTY_REGION", "eu-west".to_string()),
        ("OPSDECK_LOG_DIR", tempdir("env-logs").display().to_string()),
    ]);
    let output = ask(&config, &env);
    let text = std::fs::read_to_string(&dump).unwrap_or_else(|e| {
        panic!(
            "the server never wrote {}: {e}\n{}",
            dump.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let seen: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    for (name, value) in SECRETS {
        assert!(!seen.contains_key(*name), "{name} reached the server");
        assert!(
            !text.contains(value),
            "the value of {name} reached the server"
        );
    }
    for name in ["THIRD_PARTY_REGION", "OPSDECK_LOG_DIR"] {
        assert!(!seen.contains_key(name), "{name} was not named but passed");
    }
    for (name, value) in DEFAULTS {
        assert_eq!(seen.get(*name).map(String::as_str), Some(*value), "{name}");
    }
    assert!(seen.contains_key("PATH") && seen.contains_key("HOME"));
    assert_eq!(seen["STATIC_SETTING"], "on");
    assert_eq!(seen["EXPANDED"], "eu-west", "env values expand ${{VAR}}");
    assert_eq!(seen["AZURE_TENANT_ID"], "tenant-guid", "named in passEnv");
    assert_eq!(
        seen["MYTOOL_API_URL"], "https://tool.example",
        "a passEnv prefix"
    );
}

#[test]
fn opsdeck_serve_configured_in_mcp_json_keeps_the_variables_it_reads() {
    let dir = tempdir("env-self");
    let logs = dir.join("logs");
    let config = write_config(
        &dir,
        json!({"mcpServers": {"opsdeck": {
            "command": OPSDECK,
            "args": ["serve", "--scenario", "expired-secret", "--frozen-clock", common::PINNED],
            "trusted": true
        }}}),
    );
    let output = ask(&config, &[("OPSDECK_LOG_DIR", logs.display().to_string())]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // `serve` logs where OPSDECK_LOG_DIR says only if the variable reached it.
    let files: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().any(|f| f.starts_with("opsdeck-serve")),
        "no serve log in OPSDECK_LOG_DIR: {files:?}"
    );
}
