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

use common::process::{OPSDECK, peers_dir, tempdir};
use opsdeck::ops::policy::RemediationPolicy;

const KUBERNETES_VERSION: &str = "1.33.0";
/// Flags every container entrypoint must carry (stateless, logs and audit to stdout).
const CONTAINER_FLAGS: &[&[&str]] = &[
    &["--stateless"],
    &["--log-output", "stdout"],
    &["--log-format", "json"],
    &["--audit-log", "stdout"],
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command` (feeding `input`), killing it if it takes longer than `limit`.
fn run(mut command: Command, input: &[u8], limit: Duration) -> Output {
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

fn venv_k8s(program: &str) -> PathBuf {
    let path = peers_dir().join("venv-k8s/bin").join(program);
    assert!(
        path.exists(),
        "{} is missing: run scripts/peers/setup.sh",
        path.display()
    );
    path
}

fn kustomize(dir: &str) -> String {
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
fn validate(yaml: &str) -> (bool, String) {
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
fn documents(yaml: &str) -> Vec<Value> {
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

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in the rendered manifests"))
}

fn strings(value: &Value) -> Vec<String> {
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
fn has_flag(args: &[String], flag: &[&str]) -> bool {
    args.windows(flag.len())
        .any(|w| w.iter().zip(flag).all(|(a, b)| a == b))
}

fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == flag)
        .map(|w| w[1].as_str())
}

const OVERLAYS: &[&str] = &["deploy/base", "deploy/overlays/aks"];

#[test]
fn base_and_aks_overlay_pass_strict_schema_validation() {
    for dir in OVERLAYS {
        let yaml = kustomize(dir);
        let (passed, output) = validate(&yaml);
        assert!(passed, "{dir} fails validation:\n{output}");
        let kinds: Vec<String> = documents(&yaml)
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_string())
            .collect();
        for kind in [
            "Deployment",
            "Service",
            "ServiceAccount",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "NetworkPolicy",
            "ConfigMap",
        ] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{dir} has no {kind}: {kinds:?}"
            );
            assert!(
                output.contains(&format!("passed for resource {}", kind.to_lowercase())),
                "{dir}: the validator did not check the {kind}:\n{output}"
            );
        }
    }
}

#[test]
fn the_validator_rejects_what_a_cluster_would() {
    let yaml = kustomize("deploy/overlays/aks");
    for (what, broken) in [
        (
            "a misspelt field",
            yaml.replacen("readinessProbe:", "readynessProbe:", 1),
        ),
        (
            "a wrong type",
            yaml.replacen("replicas: 3", "replicas: three", 1),
        ),
    ] {
        assert_ne!(broken, yaml, "{what}: the rendered YAML changed shape");
        let (passed, output) = validate(&broken);
        assert!(!passed, "{what} passed validation:\n{output}");
    }
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1, "one container per pod");
    &containers[0]
}

fn assert_hardened(dir: &str, deployment: &Value) {
    let pod = &deployment["spec"]["template"]["spec"];
    let c = container(deployment);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{dir}");
    assert_ne!(pod["securityContext"]["runAsUser"], 0, "{dir}");
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{dir}"
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{dir}");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{dir}");
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{dir}");
    assert!(
        sc["capabilities"]["add"].is_null(),
        "{dir} adds capabilities"
    );
    assert_ne!(sc["privileged"], true, "{dir}");
    assert_eq!(pod["automountServiceAccountToken"], false, "{dir}");
    assert!(
        pod["hostNetwork"].is_null() && pod["hostPID"].is_null(),
        "{dir}"
    );

    // Probes hit the server's own endpoints on the port it listens on.
    let port_name = c["ports"][0]["name"].as_str().unwrap();
    let listen = flag_value(&strings(&c["args"]), "--http")
        .unwrap_or_else(|| panic!("{dir}: no --http"))
        .to_string();
    assert!(
        listen.ends_with(&format!(":{}", c["ports"][0]["containerPort"])),
        "{dir}: --http {listen} is not the container port"
    );
    for (probe, path) in [
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
        ("startupProbe", "/health/live"),
    ] {
        assert_eq!(c[probe]["httpGet"]["path"], path, "{dir} {probe}");
        assert_eq!(c[probe]["httpGet"]["port"], port_name, "{dir} {probe}");
        assert!(
            c[probe]["timeoutSeconds"].as_u64().unwrap_or(1) <= 5,
            "{dir}"
        );
    }

    assert!(c["resources"]["requests"]["cpu"].is_string(), "{dir}");
    assert!(c["resources"]["requests"]["memory"].is_string(), "{dir}");
    assert!(c["resources"]["limits"]["memory"].is_string(), "{dir}");

    let args = strings(&c["args"]);
    for flag in CONTAINER_FLAGS {
        assert!(has_flag(&args, flag), "{dir}: args lack {flag:?}: {args:?}");
    }
    // Kubernetes must wait for the drain and the grace period before SIGKILL.
    let seconds = |flag: &str| -> u64 {
        flag_value(&args, flag)
            .unwrap_or_else(|| panic!("{dir}: no {flag}"))
            .parse()
            .unwrap()
    };
    let needed = seconds("--drain-delay-seconds") + seconds("--shutdown-grace-seconds");
    let granted = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        granted > needed,
        "{dir}: {granted}s grace < {needed}s of drain"
    );

    // With a read-only root, anything writable is a mounted emptyDir.
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    for mount in c["volumeMounts"].as_array().into_iter().flatten() {
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("{dir}: mount {mount} has no volume"));
        assert!(
            mount["readOnly"] == true || volume["emptyDir"].is_object(),
            "{dir}: {mount} is writable and not an emptyDir"
        );
    }
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_object().unwrap();
    !selector.is_empty() && selector.iter().all(|(k, v)| &labels[k] == v)
}

/// Every ConfigMap a pod reads (env keys, volumes) is rendered, with the key.
fn assert_config_refs_exist(dir: &str, docs: &[Value], deployment: &Value) {
    let configmap = |name: &str| find(docs, "ConfigMap", name);
    let c = container(deployment);
    for env in c["env"].as_array().into_iter().flatten() {
        if let Some(reference) = env["valueFrom"]["configMapKeyRef"].as_object() {
            let map = configmap(reference["name"].as_str().unwrap());
            let key = reference["key"].as_str().unwrap();
            assert!(
                map["data"][key].is_string(),
                "{dir}: {env} names a missing key"
            );
            assert_ne!(reference.get("optional"), Some(&Value::Bool(true)), "{dir}");
        }
    }
    for volume in deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(source) = volume["configMap"].as_object() {
            let map = configmap(source["name"].as_str().unwrap());
            for item in source["items"].as_array().into_iter().flatten() {
                let key = item["key"].as_str().unwrap();
                assert!(
                    map["data"][key].is_string(),
                    "{dir}: {volume} names a missing key"
                );
            }
        }
    }
}

#[test]
fn the_deployment_is_hardened_probed_and_selected_by_everything_that_targets_it() {
    for dir in OVERLAYS {
        let docs = documents(&kustomize(dir));
        let deployment = find(&docs, "Deployment", "opsdeck");
        assert_hardened(dir, deployment);
        assert_config_refs_exist(dir, &docs, deployment);
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert!(
            labels_match(&deployment["spec"]["selector"]["matchLabels"], pod_labels),
            "{dir}: the Deployment does not select its own pods"
        );
        let service = find(&docs, "Service", "opsdeck");
        assert!(
            labels_match(&service["spec"]["selector"], pod_labels),
            "{dir}"
        );
        let port_name = container(deployment)["ports"][0]["name"].clone();
        assert_eq!(
            service["spec"]["ports"][0]["targetPort"], port_name,
            "{dir}"
        );
        for kind in ["PodDisruptionBudget", "NetworkPolicy"] {
            let selector = match kind {
                "NetworkPolicy" => &find(&docs, kind, "opsdeck")["spec"]["podSelector"],
                _ => &find(&docs, kind, "opsdeck")["spec"]["selector"],
            };
            assert!(
                labels_match(&selector["matchLabels"], pod_labels),
                "{dir}: {kind}"
            );
        }
        let hpa = find(&docs, "HorizontalPodAutoscaler", "opsdeck");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "opsdeck");
        // Enough replicas that the PDB still lets a node drain.
        assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 2, "{dir}");
        let pdb = &find(&docs, "PodDisruptionBudget", "opsdeck")["spec"];
        assert!(
            pdb["maxUnavailable"] == 1
                || pdb["minAvailable"].as_u64() < hpa["spec"]["minReplicas"].as_u64()
        );
        let sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap();
        find(&docs, "ServiceAccount", sa);

        // The mounted policy is one opsdeck accepts, and one stateless replicas can keep.
        let policy = find(&docs, "ConfigMap", "opsdeck-policy")["data"]["policy.toml"]
            .as_str()
            .unwrap()
            .to_string();
        let file = tempdir("deploy-policy").join("policy.toml");
        std::fs::write(&file, policy).unwrap();
        let policy = RemediationPolicy::from_file(&file).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert!(!policy.require_preview, "{dir}: previews need shared state");
        assert!(policy.max_reruns_per_run_per_hour.is_some(), "{dir}");
        let mounted_at = container(deployment)["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "config")
            .map(|m| m["mountPath"].as_str().unwrap().to_string())
            .unwrap();
        let args = strings(&container(deployment)["args"]);
        assert_eq!(
            flag_value(&args, "--policy"),
            Some(format!("{mounted_at}/policy.toml").as_str()),
            "{dir}"
        );
    }
}

fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn the_aks_overlay_signs_in_with_workload_identity_and_serves_azure() {
    let docs = documents(&kustomize("deploy/overlays/aks"));
    let deployment = find(&docs, "Deployment", "opsdeck");
    let pod = &deployment["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    // The label is on the pods only: a selector change would orphan old ReplicaSets.
    assert!(deployment["spec"]["selector"]["matchLabels"]["azure.workload.identity/use"].is_null());
    let sa_name = pod["spec"]["serviceAccountName"].as_str().unwrap();
    let sa = find(&docs, "ServiceAccount", sa_name);
    let client_id = sa["metadata"]["annotations"]["azure.workload.identity/client-id"]
        .as_str()
        .expect("client-id annotation");
    assert!(is_guid(client_id), "{client_id} is not a client id");

    let c = container(deployment);
    let args = strings(&c["args"]);
    assert_eq!(flag_value(&args, "--backend"), Some("adf"), "{args:?}");
    let env: Vec<&Value> = c["env"].as_array().unwrap().iter().collect();
    let named = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in the container's env"))
    };
    assert_eq!(
        named("OPSDECK_AZURE_CREDENTIALS")["value"],
        "workload_identity"
    );
    for var in [
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZURE_DATA_FACTORY_NAME",
        "OPSDECK_OAUTH_ISSUER",
        "OPSDECK_OAUTH_AUDIENCE",
    ] {
        assert!(
            named(var)["valueFrom"]["configMapKeyRef"].is_object(),
            "{var} comes from the ConfigMap"
        );
    }
    // The webhook injects these; a copy in the manifest would shadow it.
    for injected in [
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
    ] {
        assert!(
            env.iter().all(|e| e["name"] != injected),
            "{injected} is set by hand"
        );
    }
    assert!(
        env.iter().all(|e| e["name"] != "AZURE_CLIENT_SECRET"),
        "no secret"
    );
    for doc in &docs {
        if doc["kind"] != "Namespace" {
            assert_eq!(doc["metadata"]["namespace"], "opsdeck", "{}", doc["kind"]);
        }
    }
    let namespace = find(&docs, "Namespace", "opsdeck");
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
}

/// The Dockerfile's instructions (continuation lines joined), by stage.
fn dockerfile_stages() -> Vec<Vec<(String, String)>> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.starts_with('#') || trimmed.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let instruction = std::mem::take(&mut pending);
        let (keyword, rest) = instruction.split_once(' ').unwrap_or((&instruction, ""));
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("the Dockerfile starts with FROM")
            .push((keyword, rest.trim().to_string()));
    }
    stages
}

fn exec_form(stage: &[(String, String)], keyword: &str) -> Vec<String> {
    let (_, value) = stage
        .iter()
        .rev()
        .find(|(k, _)| k == keyword)
        .unwrap_or_else(|| panic!("the final stage has no {keyword}"));
    let parsed: Value = serde_json::from_str(value)
        .unwrap_or_else(|_| panic!("{keyword} is not in exec (JSON) form: {value}"));
    strings(&parsed)
}

/// `.dockerignore` as an ordered list of (negated, pattern).
fn dockerignore() -> Vec<(bool, String)> {
    std::fs::read_to_string(root().join(".dockerignore"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix('!') {
            Some(p) => (true, p.trim_end_matches('/').to_string()),
            None => (false, l.trim_end_matches('/').to_string()),
        })
        .collect()
}

/// Whether the build context holds `path` (last matching rule wins; only `*`
/// and literal paths and their folders, which is all this file uses).
fn in_context(rules: &[(bool, String)], path: &str) -> bool {
    let mut kept = true;
    for (negated, pattern) in rules {
        let matches = pattern == "*" || path == pattern || path.starts_with(&format!("{pattern}/"));
        if matches {
            kept = *negated;
        }
    }
    kept
}

#[test]
fn the_dockerfile_builds_a_nonroot_shell_free_image_from_a_small_context() {
    let stages = dockerfile_stages();
    assert!(stages.len() >= 2, "multi-stage: a builder and a runtime");
    let from = |stage: &[(String, String)]| stage[0].1.clone();
    assert!(
        from(&stages[0]).contains("rust:1-bookworm"),
        "{}",
        from(&stages[0])
    );
    let last = stages.last().unwrap();
    assert!(
        from(last).starts_with("gcr.io/distroless/cc-debian12:nonroot"),
        "{}",
        from(last)
    );
    for (keyword, value) in stages.iter().flatten() {
        assert_ne!(
            keyword, "ADD",
            "ADD fetches URLs and unpacks archives; use COPY: {value}"
        );
        assert_ne!(
            keyword, "HEALTHCHECK",
            "Kubernetes probes /health/*; no HEALTHCHECK"
        );
    }
    // Distroless has no shell: nothing may RUN in, or shell out from, the final stage.
    assert!(
        last.iter().all(|(k, _)| k != "RUN"),
        "RUN in the final stage"
    );
    let (_, user) = last.iter().rev().find(|(k, _)| k == "USER").expect("USER");
    let uid = user.split(':').next().unwrap();
    assert_eq!(
        uid.parse::<u32>().ok(),
        Some(65532),
        "numeric non-root USER: {user}"
    );

    let entrypoint = exec_form(last, "ENTRYPOINT");
    let cmd = exec_form(last, "CMD");
    assert_eq!(entrypoint, ["/usr/local/bin/opsdeck", "serve"]);
    for flag in CONTAINER_FLAGS {
        assert!(has_flag(&cmd, flag), "CMD lacks {flag:?}: {cmd:?}");
    }
    let copied_to = last
        .iter()
        .filter(|(k, _)| k == "COPY")
        .filter_map(|(_, v)| v.split_whitespace().last())
        .collect::<Vec<_>>();
    assert!(copied_to.contains(&entrypoint[0].as_str()), "{copied_to:?}");

    // Every file the builder copies exists and is in the build context; the
    // big, secret or irrelevant parts of the tree are not.
    let rules = dockerignore();
    for (keyword, value) in &stages[0] {
        if keyword != "COPY" || value.starts_with("--from") {
            continue;
        }
        let words: Vec<&str> = value
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        for source in &words[..words.len() - 1] {
            assert!(root().join(source).exists(), "COPY {source}: no such file");
            assert!(
                in_context(&rules, source),
                "COPY {source}: .dockerignore excludes it"
            );
        }
    }
    for excluded in [
        "target",
        ".git",
        ".env",
        "tests",
        "fixtures/azure",
        "README.md",
    ] {
        assert!(
            !in_context(&rules, excluded),
            "{excluded} is sent to the daemon"
        );
    }
    // Cargo needs every declared target's source: benches are copied whole.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("[[test]]") && !manifest.contains("[[example]]"));
}

/// Every `--flag` in the image's CMD and the manifests' args, and every
/// OPSDECK_OAUTH_* variable they set, is one `opsdeck serve` knows.
#[test]
fn every_flag_and_variable_the_deployment_passes_is_one_opsdeck_serve_knows() {
    let output = Command::new(OPSDECK)
        .args(["serve", "--help"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let known =
        |flag: &str| help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n"));
    let mut passed = exec_form(dockerfile_stages().last().unwrap(), "CMD");
    let mut variables = Vec::new();
    for dir in OVERLAYS {
        let docs = documents(&kustomize(dir));
        let c = container(find(&docs, "Deployment", "opsdeck")).clone();
        passed.extend(strings(&c["args"]));
        variables.extend(
            c["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["name"].as_str().map(str::to_string)),
        );
    }
    for flag in passed.iter().filter(|a| a.starts_with("--")) {
        assert!(known(flag), "`opsdeck serve` has no {flag}");
    }
    for variable in variables.iter().filter(|v| v.starts_with("OPSDECK_OAUTH_")) {
        assert!(
            help.contains(&format!("env: {variable}=")),
            "`opsdeck serve` reads no {variable}"
        );
    }
    assert!(
        variables.iter().any(|v| v.starts_with("OPSDECK_OAUTH_")),
        "the deployment signs callers in"
    );
}

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
    let mut child = common::process::ChildGuard(command.spawn().unwrap());
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
