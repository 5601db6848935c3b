//! What a stdio server's process may see of opsdeck's environment. Like the
//! official MCP SDKs, a child starts from an empty environment plus a small
//! default set; everything else must be named in the configuration (`env`,
//! `passEnv`), so a third-party server never receives opsdeck's credentials.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Passed to every stdio server: the Python SDK's POSIX defaults (HOME, LOGNAME,
/// PATH, SHELL, TERM, USER), plus locale, time zone and temporary/runtime
/// directories, which hold no secrets and which many programs misbehave without.
pub const DEFAULT_INHERITED: &[&str] = &[
    "HOME",
    "LOGNAME",
    "PATH",
    "SHELL",
    "TERM",
    "USER",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
];

/// What opsdeck's own `serve` reads (its backends, the Azure sign-in chain, its
/// log and config locations, proxies and CA bundles), and nothing it does not:
/// no LLM keys, no HTTP bearer token (stdio serve has no HTTP listener).
pub const OPSDECK_SERVE_PASS_ENV: &[&str] = &[
    "OPSDECK_*",
    "!OPSDECK_HTTP_TOKEN",
    "AZURE_*",
    "!AZURE_OPENAI_*",
    "DATABRICKS_*",
    "AIRFLOW_*",
    // Managed identity endpoints (App Service, Functions, Arc, Cloud Shell, IMDS).
    "IDENTITY_*",
    "MSI_*",
    "IMDS_ENDPOINT",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Checks one `passEnv` pattern: `NAME`, `PREFIX*`, or either after `!` to exclude.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let body = pattern.strip_prefix('!').unwrap_or(pattern);
    let name = body.strip_suffix('*').unwrap_or(body);
    if name.is_empty() {
        return Err(format!(
            "'{pattern}' would pass every variable, opsdeck's secrets included; name the variables or a prefix (e.g. \"DATABRICKS_*\")"
        ));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "'{pattern}' is not a variable name; use letters, digits and _, with an optional trailing * for a prefix"
        ));
    }
    Ok(())
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// Whether `name` passes: a default or an included pattern, and no exclusion.
fn passes(name: &str, patterns: &[&str]) -> bool {
    let excluded = patterns
        .iter()
        .filter_map(|p| p.strip_prefix('!'))
        .any(|p| matches(p, name));
    let included = DEFAULT_INHERITED.contains(&name)
        || patterns
            .iter()
            .filter(|p| !p.starts_with('!'))
            .any(|p| matches(p, name));
    included && !excluded
}

/// The child's whole environment: the inherited variables that pass, then the
/// configured `env` values on top. Values that are exported shell functions
/// (`() { …`) are never inherited, as in the Python SDK.
pub fn build(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    pass_env: &[&str],
    explicit: &BTreeMap<String, String>,
) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = parent
        .into_iter()
        .filter(|(name, value)| {
            name.to_str().is_some_and(|n| passes(n, pass_env))
                && !value.as_encoded_bytes().starts_with(b"()")
        })
        .collect();
    for (name, value) in explicit {
        env.insert(name.into(), value.into());
    }
    env
}

/// Whether `command` is this very executable (then the child is opsdeck itself and
/// gets what `serve` reads). A bare name is looked up in `path` as the child would.
pub fn is_this_executable(command: &str, path: Option<&OsStr>) -> bool {
    let Ok(own) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return false;
    };
    resolve(command, path)
        .and_then(|c| std::fs::canonicalize(c).ok())
        .is_some_and(|c| c == own)
}

fn resolve(command: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if command.contains('/') {
        return Some(PathBuf::from(command));
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(command))
        .find(|candidate| Path::is_file(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Vec<(OsString, OsString)> {
        [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/dana"),
            ("LANG", "C.UTF-8"),
            ("AZURE_CLIENT_SECRET", "s3cr3t"),
            ("AZURE_TENANT_ID", "tenant"),
            ("AZURE_OPENAI_API_KEY", "llm-key"),
            ("DATABRICKS_TOKEN", "dapi123"),
            ("DATABRICKS_HOST", "https://adb.example"),
            ("OPSDECK_HTTP_TOKEN", "bearer-token-long-enough"),
            ("OPSDECK_LOG_DIR", "/tmp/logs"),
            ("AIRFLOW_PASSWORD", "pw"),
            ("OPENAI_API_KEY", "sk-1"),
            ("GITHUB_TOKEN", "ghp_x"),
            ("BASH_FUNC_f%%", "() { echo hi; }"),
            ("SHELL", "() { evil; }"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
    }

    fn names(env: &BTreeMap<OsString, OsString>) -> Vec<&str> {
        env.keys().filter_map(|k| k.to_str()).collect()
    }

    #[test]
    fn a_third_party_server_gets_the_defaults_and_what_is_named() {
        let explicit = BTreeMap::from([("REGION".to_string(), "eu".to_string())]);
        let env = build(parent(), &["DATABRICKS_HOST", "AZURE_*"], &explicit);
        assert_eq!(
            names(&env),
            vec![
                "AZURE_CLIENT_SECRET",
                "AZURE_OPENAI_API_KEY",
                "AZURE_TENANT_ID",
                "DATABRICKS_HOST",
                "HOME",
                "LANG",
                "PATH",
                "REGION"
            ]
        );
        let bare = build(parent(), &[], &BTreeMap::new());
        assert_eq!(names(&bare), vec!["HOME", "LANG", "PATH"]);
    }

    #[test]
    fn exclusions_win_over_prefixes() {
        let env = build(
            parent(),
            &["AZURE_*", "!AZURE_CLIENT_SECRET"],
            &BTreeMap::new(),
        );
        assert!(env.contains_key(OsStr::new("AZURE_TENANT_ID")));
        assert!(!env.contains_key(OsStr::new("AZURE_CLIENT_SECRET")));
    }

    #[test]
    fn opsdeck_serve_gets_its_backend_credentials_but_no_llm_key_or_bearer_token() {
        let env = build(parent(), OPSDECK_SERVE_PASS_ENV, &BTreeMap::new());
        for present in [
            "AZURE_CLIENT_SECRET",
            "AZURE_TENANT_ID",
            "DATABRICKS_TOKEN",
            "AIRFLOW_PASSWORD",
            "OPSDECK_LOG_DIR",
        ] {
            assert!(env.contains_key(OsStr::new(present)), "{present} missing");
        }
        for absent in [
            "AZURE_OPENAI_API_KEY",
            "OPENAI_API_KEY",
            "OPSDECK_HTTP_TOKEN",
            "GITHUB_TOKEN",
        ] {
            assert!(!env.contains_key(OsStr::new(absent)), "{absent} passed");
        }
    }

    #[test]
    fn exported_shell_functions_are_never_inherited() {
        let env = build(parent(), &["BASH_FUNC_*"], &BTreeMap::new());
        assert!(!env.contains_key(OsStr::new("SHELL")));
        assert!(!env.contains_key(OsStr::new("BASH_FUNC_f%%")));
    }

    #[test]
    fn configured_values_override_inherited_ones() {
        let explicit = BTreeMap::from([("HOME".to_string(), "/srv/tool".to_string())]);
        let env = build(parent(), &[], &explicit);
        assert_eq!(env[OsStr::new("HOME")], OsString::from("/srv/tool"));
    }

    #[test]
    fn patterns_that_would_pass_everything_are_refused() {
        for bad in ["*", "!*", "", "A B", "X-Y*"] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
        for good in ["AZURE_TENANT_ID", "DATABRICKS_*", "!AZURE_CLIENT_SECRET"] {
            assert!(check_pattern(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn this_executable_is_recognised_by_path_and_by_name() {
        let own = std::env::current_exe().unwrap();
        assert!(is_this_executable(&own.display().to_string(), None));
        let dir = own.parent().unwrap().as_os_str();
        let name = own.file_name().unwrap().to_str().unwrap();
        assert!(is_this_executable(name, Some(dir)));
        assert!(!is_this_executable("/bin/sh", None));
        assert!(!is_this_executable(name, Some(OsStr::new("/nonexistent"))));
    }
}
