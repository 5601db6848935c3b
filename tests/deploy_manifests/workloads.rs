//! The rendered workloads: strict schema validation, hardening, probes,
//! selectors, config references, and the AKS overlay's workload identity.

use serde_json::Value;

use super::common::process::tempdir;
use super::{
    CONTAINER_FLAGS, OVERLAYS, container, documents, find, flag_value, has_flag, kustomize,
    strings, validate,
};
use opsdeck::ops::policy::RemediationPolicy;

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
