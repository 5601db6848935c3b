//! The config file as users write it: spellings, mistakes, bounds.

use super::*;

fn env(name: &str) -> Option<String> {
    (name == "TOKEN").then(|| "t0k3n".to_string())
}

#[test]
fn claude_desktop_style_config_parses_with_opsdeck_keys() {
    let text = r#"{"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "server"], "env": {"KEY": "${TOKEN}"}},
        "remote": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer ${env:TOKEN}"},
                   "trusted": true, "readOnly": true, "deniedTools": ["drop"], "timeoutSeconds": 5},
        "off": {"command": "x", "disabled": true}
    }}"#;
    let specs = parse(text, "test.json", &env).unwrap();
    assert_eq!(specs.len(), 2);
    let files = &specs[0];
    assert!(!files.trusted);
    assert_eq!(files.call_timeout, DEFAULT_CALL_TIMEOUT);
    let ServerTransport::Stdio { env, .. } = &files.transport else {
        panic!()
    };
    assert_eq!(env["KEY"], "t0k3n");
    let remote = &specs[1];
    assert!(remote.trusted && remote.read_only);
    assert_eq!(remote.call_timeout, Duration::from_secs(5));
    assert!(!remote.offers("drop") && remote.offers("list"));
    let ServerTransport::Http { headers, .. } = &remote.transport else {
        panic!()
    };
    assert_eq!(headers["Authorization"], "Bearer t0k3n");
}

#[test]
fn mistakes_are_named_with_the_server() {
    let err = parse(
        r#"{"mcpServers": {"a": {"command": "x", "url": "y"}}}"#,
        "f.json",
        &env,
    )
    .unwrap_err();
    assert!(
        err.0.contains("server 'a'") && err.0.contains("both"),
        "{err}"
    );
    let err = parse(
        r#"{"mcpServers": {"a": {"url": "${NOPE}/mcp"}}}"#,
        "f.json",
        &env,
    )
    .unwrap_err();
    assert!(err.0.contains("${NOPE}"), "{err}");
    let err = parse(
        r#"{"mcpServers": {"a": {"type": "sse", "url": "http://x/sse"}}}"#,
        "f.json",
        &env,
    )
    .unwrap_err();
    assert!(err.0.contains("streamable HTTP"), "{err}");
    let err = parse("not json", "f.json", &env).unwrap_err();
    assert!(
        err.0.contains("f.json") && err.0.contains("mcpServers"),
        "{err}"
    );
}

#[test]
fn allow_list_limits_the_offered_tools() {
    let specs = parse(
        r#"{"mcpServers": {"a": {"command": "x", "allowedTools": ["one"]}}}"#,
        "f",
        &env,
    )
    .unwrap();
    assert!(specs[0].offers("one") && !specs[0].offers("two"));
}

#[test]
fn readonly_and_read_only_in_a_file_make_the_server_read_only() {
    for key in ["readOnly", "readonly", "read_only", "read-only"] {
        let text = format!(r#"{{"mcpServers": {{"db": {{"command": "x", "{key}": true}}}}}}"#);
        let parsed = parse_config(&text, "f.json", &env).unwrap();
        assert!(parsed.servers[0].read_only, "{key}");
        assert!(parsed.warnings.is_empty(), "{key}: {:?}", parsed.warnings);
    }
}

#[test]
fn a_file_with_a_misread_safety_setting_is_refused() {
    for (text, expected) in [
        (
            r#"{"mcpServers": {"db": {"command": "x", "readOnly": "yes"}}}"#,
            "'readOnly' must be true or false",
        ),
        (
            r#"{"mcpServers": {"db": {"command": "x", "readOnlyy": true}}}"#,
            "did you mean readOnly?",
        ),
        (
            r#"{"mcpServers": {"db": {"command": "x", "readOnly": true, "readOnly": false}}}"#,
            "readOnly is given twice",
        ),
        (
            r#"{"readOnly": true, "mcpServers": {"db": {"command": "x"}}}"#,
            "applies to no server",
        ),
        (
            r#"{"mcpServers": {"db": {"command": "x"}}, "servers": {"b": {"command": "y"}}}"#,
            "lists servers twice",
        ),
        (
            r#"{"mcpServers": {"db": {"command": "x"}, "db": {"command": "y"}}}"#,
            "server 'db' is configured twice",
        ),
    ] {
        let err = parse(text, "f.json", &env).unwrap_err();
        assert!(
            err.0.contains(expected) && err.0.contains("f.json"),
            "{text}: {err}"
        );
    }
}

#[test]
fn unknown_keys_come_back_as_warnings_naming_file_and_server() {
    let parsed = parse_config(
        r#"{"mcpServers": {"db": {"command": "x", "comand": "y"}}, "extra": 1}"#,
        "f.json",
        &env,
    )
    .unwrap();
    assert_eq!(
        parsed.warnings,
        vec![
            "f.json: 'extra' is not a key opsdeck knows and was ignored".to_string(),
            "f.json: server 'db': 'comand' is not a key opsdeck knows and was ignored; did you mean command?"
                .to_string(),
        ]
    );
}

#[test]
fn timeouts_are_bounded_and_the_init_timeout_is_read() {
    let specs = parse(
        r#"{"mcpServers": {"a": {"command": "x", "initTimeoutSeconds": 2}}}"#,
        "f",
        &env,
    )
    .unwrap();
    assert_eq!(specs[0].init_timeout, Duration::from_secs(2));
    assert_eq!(specs[0].call_timeout, DEFAULT_CALL_TIMEOUT);
    for bad in [
        r#"{"timeoutSeconds": 0}"#,
        r#"{"timeoutSeconds": 18446744073709551615}"#,
        r#"{"initTimeoutSeconds": 601}"#,
        r#"{"timeoutSeconds": -1}"#,
        r#"{"timeoutSeconds": 1.5}"#,
    ] {
        let mut entry: serde_json::Value = serde_json::from_str(bad).unwrap();
        entry["command"] = "x".into();
        let text = serde_json::json!({"mcpServers": {"a": entry}}).to_string();
        let err = parse(&text, "f", &env).unwrap_err();
        assert!(err.0.contains("server 'a'"), "{bad}: {err}");
    }
}

#[test]
fn pass_env_is_read_and_checked() {
    let specs = parse(
        r#"{"mcpServers": {"a": {"command": "x", "passEnv": ["AZURE_TENANT_ID", "DATABRICKS_*"]}}}"#,
        "f",
        &env,
    )
    .unwrap();
    let ServerTransport::Stdio { pass_env, .. } = &specs[0].transport else {
        panic!()
    };
    assert_eq!(pass_env, &["AZURE_TENANT_ID", "DATABRICKS_*"]);
    let err = parse(
        r#"{"mcpServers": {"a": {"command": "x", "passEnv": ["*"]}}}"#,
        "f",
        &env,
    )
    .unwrap_err();
    assert!(err.0.contains("server 'a': passEnv '*'"), "{err}");
}

#[test]
fn the_builtin_server_passes_what_serve_reads() {
    let spec = ServerSpec::builtin(PathBuf::from("/usr/bin/opsdeck"), vec![]);
    let ServerTransport::Stdio { pass_env, args, .. } = &spec.transport else {
        panic!()
    };
    assert_eq!(args, &["serve"]);
    assert!(pass_env.iter().any(|p| p == "AZURE_*"));
    assert!(pass_env.iter().any(|p| p == "!AZURE_OPENAI_*"));
    assert!(spec.trusted);
}

#[test]
fn a_config_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("opsdeck-config-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mcp.json");
    std::fs::write(&path, r#"{"mcpServers": {"a": {"command": "x"}}}"#).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(load(&path).is_ok());
    for mode in [0o664, 0o646, 0o666] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = load(&path).unwrap_err().0;
        assert!(err.contains("chmod go-w"), "{mode:o}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn token_scope_of(entry: &str) -> Result<Option<String>, String> {
    let text = format!(r#"{{"mcpServers": {{"team": {entry}}}}}"#);
    let lookup = |name: &str| (name == "OPSDECK_APP").then(|| "api://opsdeck".to_string());
    let parsed = parse_config(&text, "f.json", &lookup).map_err(|e| e.0)?;
    match &parsed.servers[0].transport {
        ServerTransport::Http { token_scope, .. } => Ok(token_scope.clone()),
        ServerTransport::Stdio { .. } => Ok(None),
    }
}

#[test]
fn token_scope_is_read_in_any_spelling_and_expanded() {
    for key in ["tokenScope", "token_scope", "TokenScope", "token-scope"] {
        let entry =
            format!(r#"{{"url": "https://ops.example/mcp", "{key}": "api://opsdeck/.default"}}"#);
        assert_eq!(
            token_scope_of(&entry),
            Ok(Some("api://opsdeck/.default".into())),
            "{key}"
        );
    }
    assert_eq!(
        token_scope_of(
            r#"{"url": "https://ops.example/mcp", "tokenScope": "${OPSDECK_APP}/.default"}"#
        ),
        Ok(Some("api://opsdeck/.default".into()))
    );
    assert_eq!(
        token_scope_of(r#"{"url": "https://ops.example/mcp"}"#),
        Ok(None)
    );
}

#[test]
fn token_scope_is_refused_with_an_authorization_header_bad_values_and_plain_http() {
    for (entry, expected) in [
        (
            r#"{"url": "https://ops.example/mcp", "tokenScope": "api://opsdeck/.default", "headers": {"authorization": "Bearer x"}}"#,
            "both tokenScope and an Authorization header",
        ),
        (
            r#"{"url": "https://ops.example/mcp", "tokenScope": "api://opsdeck/.default; id"}"#,
            "spaces",
        ),
        (
            r#"{"url": "https://ops.example/mcp", "tokenScope": "api://opsdeck/\u001b[2J"}"#,
            "control character",
        ),
        (
            r#"{"url": "https://ops.example/mcp", "tokenScope": 42}"#,
            "must be a string",
        ),
        (
            r#"{"url": "http://ops.example/mcp", "tokenScope": "api://opsdeck/.default"}"#,
            "https://",
        ),
        (
            r#"{"url": "https://ops.example/mcp", "tokenScope": "${NOPE}/.default"}"#,
            "${NOPE}",
        ),
    ] {
        let err = token_scope_of(entry).unwrap_err();
        assert!(
            err.contains("f.json: server 'team'") && err.contains(expected),
            "{entry}: {err}"
        );
        assert!(!err.contains('\u{1b}'), "{err:?}");
    }
    let long = format!(
        r#"{{"url": "https://ops.example/mcp", "tokenScope": "api://{}/.default"}}"#,
        "a".repeat(10_000)
    );
    let err = token_scope_of(&long).unwrap_err();
    assert!(err.contains("at most 256") && err.len() < 400, "{err}");
}

#[test]
fn token_scope_on_a_stdio_server_is_a_warning() {
    let parsed = parse_config(
        r#"{"mcpServers": {"a": {"command": "x", "tokenScope": "api://opsdeck/.default"}}}"#,
        "f.json",
        &env,
    )
    .unwrap();
    assert!(
        parsed
            .warnings
            .iter()
            .any(|w| w.contains("tokenScope applies to HTTP servers only")),
        "{:?}",
        parsed.warnings
    );
}
