//! The base Deployment's command line, run for real.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::process::{ChildGuard, OPSDECK, tempdir};
use super::{container, documents, find, kustomize, strings};

/// The base Deployment's own command line and environment (ConfigMap values
/// filled in, the policy "mounted" from its ConfigMap) start opsdeck with no
/// HOME and nothing else in the environment, as in the distroless image: it
/// serves the probes, turns away callers without a token with the challenge
/// the spec asks for, and writes only JSON lines to stdout. Only the listen
/// address is moved to loopback, and the sign-in keys' address to a closed
/// local port so nothing leaves the machine.
#[test]
fn the_base_deployment_command_line_starts_without_home_and_serves_its_probes() {
    use std::io::{BufRead, BufReader};

    let docs = documents(&kustomize("deploy/base"));
    let deployment = find(&docs, "Deployment", "opsdeck");
    let c = container(deployment);
    let dir = tempdir("deploy-start");
    let mut args = strings(&c["args"]);
    let listen = args.iter().position(|a| a == "--http").unwrap() + 1;
    args[listen] = "127.0.0.1:0".into();
    let policy_at = args.iter().position(|a| a == "--policy").unwrap() + 1;
    let policy = find(&docs, "ConfigMap", "opsdeck-policy")["data"]["policy.toml"].clone();
    args[policy_at] = dir.join("policy.toml").display().to_string();
    std::fs::write(&args[policy_at], policy.as_str().unwrap()).unwrap();

    let mut command = Command::new(OPSDECK);
    command.arg("serve").args(&args).env_clear();
    for env in c["env"].as_array().into_iter().flatten() {
        let value = match env["valueFrom"]["configMapKeyRef"].as_object() {
            Some(r) => find(&docs, "ConfigMap", r["name"].as_str().unwrap())["data"]
                [r["key"].as_str().unwrap()]
            .clone(),
            None => env["value"].clone(),
        };
        command.env(env["name"].as_str().unwrap(), value.as_str().unwrap());
    }
    let stdout = dir.join("stdout");
    command
        .env("OPSDECK_OAUTH_JWKS_URI", "http://127.0.0.1:9/keys")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::piped());
    let mut child = ChildGuard(command.spawn().unwrap());
    let stderr = child.0.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("opsdeck: serving MCP at ") {
                let _ = sender.send(Ok(url.to_string()));
                return;
            }
            lines.push(line);
        }
        let _ = sender.send(Err(lines.join("\n")));
    });
    let url = match receiver.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(url)) => url,
        Ok(Err(stderr)) => panic!("the manifest's command line did not start:\n{stderr}"),
        Err(_) => panic!("no address within 30 s"),
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let base = url.trim_end_matches("/mcp");
    let probe = |path: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = client
                .get(format!("{base}{path}"))
                .send()
                .map(|r| r.status());
            if status.as_ref().is_ok_and(|s| s.is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "{path}: {status:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    for probe_kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        probe(c[probe_kind]["httpGet"]["path"].as_str().unwrap());
    }
    let refused = client
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    drop(child);

    let written = std::fs::read_to_string(&stdout).unwrap();
    assert!(!written.trim().is_empty(), "logs go to stdout");
    for line in written.lines() {
        let record: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(record.is_object(), "{line}");
    }
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(
        left.len(),
        2,
        "nothing written beside policy and stdout: {left:?}"
    );
}
