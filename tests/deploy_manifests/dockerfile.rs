//! Static checks of the Dockerfile and .dockerignore (no image can be built
//! here), and of every flag the image and the manifests pass to `opsdeck serve`.

use std::process::{Command, Stdio};

use serde_json::Value;

use super::common::process::OPSDECK;
use super::{
    CONTAINER_FLAGS, OVERLAYS, container, documents, find, has_flag, kustomize, root, strings,
};

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
