//! The deployment as shipped: `deploy/` rendered by the real `kubectl kustomize`
//! and validated offline against the Kubernetes 1.33 schemas by
//! kubernetes-validate (strict: unknown fields fail), then read for what the
//! schemas cannot see (hardening, probes, workload identity, selectors that
//! match, config keys that exist). No image can be built here, so the
//! Dockerfile gets static checks, and every flag the image and the manifests
//! pass must be one `opsdeck serve` knows.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::process::peers_dir;

pub(crate) const KUBERNETES_VERSION: &str = "1.33.0";
/// Flags every container entrypoint must carry (stateless, logs and audit to stdout).
pub(crate) const CONTAINER_FLAGS: &[&[&str]] = &[
    &["--stateless"],
    &["--log-output", "stdout"],
    &["--log-format", "json"],
    &["--audit-log", "stdout"],
];

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command` (feeding `input`), killing it if it takes longer than `limit`.
pub(crate) fn run(mut command: Command, input: &[u8], limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e} (run scripts/peers/setup.sh)"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.join().unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn venv_k8s(program: &str) -> PathBuf {
    let path = peers_dir().join("venv-k8s/bin").join(program);
    assert!(
        path.exists(),
        "{} is missing: run scripts/peers/setup.sh",
        path.display()
    );
    path
}

pub(crate) fn kustomize(dir: &str) -> String {
    let mut command = Command::new("kubectl");
    command.arg("kustomize").arg(root().join(dir));
    let output = run(command, b"", Duration::from_secs(60));
    assert!(
        output.status.success(),
        "kubectl kustomize {dir} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// kubernetes-validate's verdict on a multi-document YAML stream: (passed, its output).
pub(crate) fn validate(yaml: &str) -> (bool, String) {
    let mut command = Command::new(venv_k8s("kubernetes-validate"));
    command.args(["--strict", "-k", KUBERNETES_VERSION, "-"]);
    let output = run(command, yaml.as_bytes(), Duration::from_secs(120));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The YAML stream as JSON documents (PyYAML's safe loader, from the same venv).
pub(crate) fn documents(yaml: &str) -> Vec<Value> {
    let mut command = Command::new(venv_k8s("python"));
    command.args([
        "-c",
        "import json,sys,yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))",
    ]);
    let output = run(command, yaml.as_bytes(), Duration::from_secs(60));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub(crate) fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in the rendered manifests"))
}

pub(crate) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("not a string: {v}"))
                .to_string()
        })
        .collect()
}

/// `flag` followed by `value` (or just `flag`) somewhere in `args`.
pub(crate) fn has_flag(args: &[String], flag: &[&str]) -> bool {
    args.windows(flag.len())
        .any(|w| w.iter().zip(flag).all(|(a, b)| a == b))
}

pub(crate) fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == flag)
        .map(|w| w[1].as_str())
}

#[path = "deploy_manifests/dockerfile.rs"]
mod dockerfile;
#[path = "deploy_manifests/startup.rs"]
mod startup;
#[path = "deploy_manifests/workloads.rs"]
mod workloads;

pub(crate) const OVERLAYS: &[&str] = &["deploy/base", "deploy/overlays/aks"];

pub(crate) fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1, "one container per pod");
    &containers[0]
}
