//! `opsdeck serve`: builds the backends from the arguments and runs a transport.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::backends::Backends;
use crate::backends::airflow::{AirflowBackend, AirflowSettings};
use crate::backends::azure;
use crate::backends::azure::config::AzureSettings;
use crate::backends::databricks::{DatabricksBackend, DatabricksSettings, PatAuth};
use crate::backends::fabric::FabricBackend;
use crate::backends::fabric::settings::FabricSettings;
use crate::backends::http::Authorizer;
use crate::backends::http::RetryPolicy;
use crate::backends::sandbox::{FixtureFiles, Sandbox, SandboxOptions};
use crate::backends::unstarted::Unstarted;
use crate::backends::{ChangeSource, LogSource, PipelineBackend};
use crate::cli::{BackendChoice, ServeArgs};
use crate::model::run::BackendKind;
use crate::model::time::{FixedClock, SharedClock, SystemClock};
use crate::ops::policy::{AuditSink, GuardOptions, PolicyGuard, RemediationPolicy};
use crate::server::OpsdeckServer;
use crate::server::http::auth::{AuthSettings, OAuthFlags, SignIn};
use crate::server::http::{HttpLimits, HttpOptions, HttpRuntime, ShutdownTimes, serve_http_with};
use crate::server::stdio::serve_stdio;
use crate::support::exit::ExitError;

pub fn clock_from(frozen: Option<&str>) -> Result<SharedClock, ExitError> {
    match frozen {
        None => Ok(Arc::new(SystemClock)),
        Some(raw) => DateTime::parse_from_rfc3339(raw)
            .map(|t| Arc::new(FixedClock(t.with_timezone(&Utc))) as SharedClock)
            .map_err(|e| ExitError::usage(format!("--frozen-clock '{raw}' is not an RFC 3339 instant (e.g. 2026-11-23T03:00:00Z): {e}"))),
    }
}

/// The Azure settings: `--azure-config`, else `~/.config/opsdeck/azure.toml`
/// when it exists, else the AZURE_* variables.
fn azure_settings(args: &ServeArgs) -> Result<AzureSettings, ExitError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let default_file = crate::config::servers::default_path()
        .and_then(|p| p.parent().map(|dir| dir.join("azure.toml")))
        .filter(|p| p.is_file());
    let mut settings = match args.azure_config.clone().or(default_file) {
        Some(path) => AzureSettings::from_file(&path, &lookup),
        None => AzureSettings::from_env(&lookup),
    }
    .map_err(ExitError::usage)?;
    if let Some(name) = &args.environment {
        settings.select(name).map_err(ExitError::usage)?;
    }
    Ok(settings)
}

/// Databricks from DATABRICKS_HOST, signed in with DATABRICKS_TOKEN or, for
/// Azure Databricks without one, the Azure credential chain.
fn databricks_backend(clock: &SharedClock) -> Result<Arc<DatabricksBackend>, ExitError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let settings = DatabricksSettings::from_env(&lookup).map_err(ExitError::usage)?;
    let authorizer: Arc<dyn Authorizer> = match &settings.token {
        Some(token) => Arc::new(PatAuth(token.clone())),
        None => {
            let order = crate::backends::azure::credential::CredentialKind::DEFAULT_ORDER;
            let cloud = crate::backends::azure::cloud::AzureCloud::named("AzurePublic")
                .map_err(ExitError::failed)?;
            let candidates =
                crate::backends::azure::credential::candidates_from_env(&order, &cloud, &lookup);
            Arc::new(crate::backends::azure::credential::AzureCredential::new(
                candidates,
                std::time::Duration::from_secs(10),
            ))
        }
    };
    DatabricksBackend::new(&settings, authorizer, clock.clone(), RetryPolicy::default())
        .map(Arc::new)
        .map_err(ExitError::failed)
}

/// Fabric from FABRIC_WORKSPACE, signed in through the Azure credential chain
/// with the Fabric scope.
fn fabric_backend(clock: &SharedClock) -> Result<Arc<FabricBackend>, ExitError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let settings = FabricSettings::from_env(&lookup).map_err(ExitError::usage)?;
    use crate::backends::azure::credential::CredentialKind;
    // The same choice of credentials as the Azure backend's variable.
    let order: Vec<CredentialKind> = match lookup("OPSDECK_AZURE_CREDENTIALS") {
        Some(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|name| CredentialKind::parse(name.trim()))
            .collect::<Result<_, _>>()
            .map_err(ExitError::usage)?,
        _ => CredentialKind::DEFAULT_ORDER.to_vec(),
    };
    let cloud = crate::backends::azure::cloud::AzureCloud::named("AzurePublic")
        .map_err(ExitError::failed)?;
    let candidates =
        crate::backends::azure::credential::candidates_from_env(&order, &cloud, &lookup);
    let authorizer: Arc<dyn Authorizer> =
        Arc::new(crate::backends::azure::credential::AzureCredential::new(
            candidates,
            std::time::Duration::from_secs(10),
        ));
    FabricBackend::new(&settings, authorizer, clock.clone(), RetryPolicy::default())
        .map(Arc::new)
        .map_err(ExitError::failed)
}

/// The backends a serve command asks for: one, or several merged into one
/// estate (`--backend adf,fabric`), each named at most once.
pub async fn build_backends(args: &ServeArgs, clock: SharedClock) -> Result<Backends, ExitError> {
    let chosen = distinct_choices(&args.backend)?;
    if let [single] = chosen.as_slice() {
        return build_backend(*single, args, clock).await;
    }
    let databricks_in_airflow = chosen.contains(&BackendChoice::Airflow)
        && std::env::var_os("DATABRICKS_HOST").is_some_and(|h| !h.is_empty());
    let mut parts = Vec::with_capacity(chosen.len());
    for choice in chosen {
        // Airflow already serves the Databricks workspace its tasks start
        // (DATABRICKS_HOST); a second copy would list every job twice.
        if choice == BackendChoice::Databricks && databricks_in_airflow {
            tracing::info!(
                "--backend databricks is served through --backend airflow (DATABRICKS_HOST)"
            );
            continue;
        }
        match build_backend(choice, args, clock.clone()).await {
            Ok(part) => parts.push(part),
            // A mistake in the settings stops the server: fix it before serving.
            Err(usage) if usage.code == 2 => return Err(usage),
            // A service that cannot be reached now must not keep the others from serving.
            Err(failed) => parts.push(unstarted_part(choice, args, &failed.message, &clock)),
        }
    }
    let merged = Backends::merged(parts, clock);
    tracing::info!("serving a mixed estate: {}", merged.label);
    Ok(merged)
}

/// A backend of a mixed estate that could not start, standing in so that
/// every answer names it and why.
fn unstarted_part(
    choice: BackendChoice,
    args: &ServeArgs,
    why: &str,
    clock: &SharedClock,
) -> Backends {
    let kind = match choice {
        BackendChoice::Sandbox => BackendKind::Sandbox,
        BackendChoice::Adf => BackendKind::Adf,
        BackendChoice::Airflow => BackendKind::Airflow,
        BackendChoice::Databricks => BackendKind::Databricks,
        BackendChoice::Fabric => BackendKind::Fabric,
    };
    let environment = match choice {
        BackendChoice::Adf => azure_settings(args)
            .map(|s| {
                s.environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .unwrap_or_else(|_| "azure".to_string()),
        other => other.name().to_string(),
    };
    tracing::warn!(
        "{}/{environment} did not start and is served as unavailable: {}",
        kind.as_str(),
        crate::support::redact::text(why)
    );
    Backends {
        label: format!("{}/{environment} (not started)", kind.as_str()),
        pipelines: vec![Arc::new(Unstarted::new(kind, &environment, why))],
        secrets: vec![],
        infra: vec![],
        logs: vec![],
        changes: vec![],
        clock: clock.clone(),
    }
}

/// The `--backend` choices in order, or a usage error naming one given twice.
fn distinct_choices(given: &[BackendChoice]) -> Result<Vec<BackendChoice>, ExitError> {
    let mut chosen: Vec<BackendChoice> = Vec::with_capacity(given.len());
    for choice in given {
        if chosen.contains(choice) {
            return Err(ExitError::usage(format!(
                "--backend {} is given more than once (azure is another name for adf); name each backend once, e.g. --backend adf,fabric",
                choice.name()
            )));
        }
        chosen.push(*choice);
    }
    if chosen.is_empty() {
        return Err(ExitError::usage(
            "--backend needs a name: sandbox, adf, airflow, databricks or fabric",
        ));
    }
    Ok(chosen)
}

/// One backend, as `--backend CHOICE` alone serves it.
async fn build_backend(
    choice: BackendChoice,
    args: &ServeArgs,
    clock: SharedClock,
) -> Result<Backends, ExitError> {
    match choice {
        BackendChoice::Airflow => {
            let lookup = |name: &str| std::env::var(name).ok();
            let settings = AirflowSettings::from_env(&lookup).map_err(ExitError::usage)?;
            let version = settings.resolve_version().await;
            let mut airflow =
                AirflowBackend::new(&settings, version, clock.clone(), RetryPolicy::default())
                    .map_err(ExitError::failed)?;
            let mut pipelines: Vec<Arc<dyn PipelineBackend>> = Vec::new();
            let mut logs: Vec<Arc<dyn LogSource>> = Vec::new();
            let mut changes: Vec<Arc<dyn ChangeSource>> = Vec::new();
            let mut label = format!("airflow/{}", settings.environment);
            if lookup("DATABRICKS_HOST").is_some() {
                let databricks = databricks_backend(&clock)?;
                label.push_str(&format!("+databricks/{}", databricks.environment()));
                airflow = airflow.with_databricks(databricks.clone());
                pipelines.push(databricks.clone());
                logs.push(databricks.clone());
                changes.push(databricks);
            }
            let airflow = Arc::new(airflow);
            pipelines.insert(0, airflow.clone());
            logs.insert(0, airflow.clone());
            changes.insert(0, airflow);
            Ok(Backends {
                label,
                pipelines,
                secrets: vec![],
                infra: vec![],
                logs,
                changes,
                clock,
            })
        }
        BackendChoice::Databricks => {
            let databricks = databricks_backend(&clock)?;
            Ok(Backends {
                label: format!("databricks/{}", databricks.environment()),
                pipelines: vec![databricks.clone()],
                secrets: vec![],
                infra: vec![],
                logs: vec![databricks.clone()],
                changes: vec![databricks],
                clock,
            })
        }
        BackendChoice::Fabric => {
            let fabric = fabric_backend(&clock)?;
            Ok(Backends {
                label: format!("fabric/{}", fabric.environment()),
                pipelines: vec![fabric.clone()],
                secrets: vec![],
                // The workspace's capacity: a paused one explains failed runs.
                infra: vec![fabric],
                logs: vec![],
                changes: vec![],
                clock,
            })
        }
        BackendChoice::Adf => {
            let settings = azure_settings(args)?;
            let lookup = |name: &str| std::env::var(name).ok();
            let credential = azure::credential_from_env(&settings, &lookup);
            azure::build(&settings, clock, credential, RetryPolicy::default())
                .await
                .map_err(ExitError::failed)
        }
        BackendChoice::Sandbox => {
            let files = match &args.sandbox_dir {
                Some(dir) if !dir.is_dir() => {
                    return Err(ExitError::usage(format!(
                        "--sandbox-dir {} is not a directory",
                        dir.display()
                    )));
                }
                Some(dir) => FixtureFiles::Directory(dir.clone()),
                None => FixtureFiles::Embedded,
            };
            let options = SandboxOptions {
                files,
                scenario: args.scenario.clone(),
                seed: args.seed,
            };
            let sandbox = Arc::new(Sandbox::new(options, clock.clone()).map_err(ExitError::usage)?);
            tracing::info!("{}", sandbox.describe());
            Ok(Backends {
                label: format!("sandbox/{}", sandbox.scenario().name),
                pipelines: vec![sandbox.clone()],
                secrets: vec![sandbox.clone()],
                infra: vec![sandbox.clone()],
                logs: vec![sandbox.clone()],
                changes: vec![sandbox],
                clock,
            })
        }
    }
}

fn list_scenarios(args: &ServeArgs) -> Result<(), ExitError> {
    let files = match &args.sandbox_dir {
        Some(dir) => FixtureFiles::Directory(dir.clone()),
        None => FixtureFiles::Embedded,
    };
    let scenarios = Sandbox::scenarios(&files).map_err(ExitError::failed)?;
    for scenario in scenarios {
        println!("{:<16} {}", scenario.name, scenario.title);
        println!("{:<16} {}", "", scenario.summary);
    }
    Ok(())
}

fn bearer_token(args: &ServeArgs) -> Result<Option<String>, ExitError> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ExitError::usage(format!("cannot read --token-file {}: {e}", path.display()))
        })?;
        let token = text.trim().to_string();
        if token.len() < 16 {
            return Err(ExitError::usage(
                "the bearer token must be at least 16 characters",
            ));
        }
        return Ok(Some(token));
    }
    match std::env::var("OPSDECK_HTTP_TOKEN") {
        Ok(token) if token.trim().len() >= 16 => Ok(Some(token.trim().to_string())),
        Ok(token) if !token.trim().is_empty() => Err(ExitError::usage(
            "OPSDECK_HTTP_TOKEN must be at least 16 characters",
        )),
        _ => Ok(None),
    }
}

/// How `serve` logs (`--log-format`, `--log-output`), read before logging
/// starts. Standard output carries the protocol with stdio: logs are refused there.
pub fn log_settings(args: &ServeArgs) -> Result<crate::logging::Settings, ExitError> {
    use crate::cli::{LogFormat, LogOutput};
    use crate::logging::{Format, Output, Settings};
    let output = match args.log_output {
        LogOutput::Stdout if args.http.is_none() => {
            return Err(ExitError::usage(
                "--log-output stdout cannot be used with the stdio transport: standard output carries MCP. Use --log-output stderr (or file), or serve with --http ADDR",
            ));
        }
        LogOutput::File => Output::File,
        LogOutput::Stdout => Output::Stdout,
        LogOutput::Stderr => Output::Stderr,
    };
    let format = match args.log_format {
        LogFormat::Text => Format::Text,
        LogFormat::Json => Format::Json,
    };
    Ok(Settings { format, output })
}

/// The guard's options from the arguments: `--audit-log`, `--stateless`, stdio.
fn guard_options(args: &ServeArgs) -> Result<GuardOptions, ExitError> {
    let audit_log = args
        .audit_log
        .as_deref()
        .map(|setting| {
            AuditSink::parse(setting).map_err(|e| ExitError::usage(format!("--audit-log: {e}")))
        })
        .transpose()?;
    Ok(GuardOptions {
        audit_log,
        stateless: args.stateless,
        stdout_is_protocol: args.http.is_none(),
    })
}

/// Refuses flags that mean nothing in the mode asked for, saying why.
fn check_mode(args: &ServeArgs) -> Result<(), ExitError> {
    if args.stateless {
        for (given, flag) in [
            (args.http_max_sessions.is_some(), "--http-max-sessions"),
            (
                args.http_session_idle_seconds.is_some(),
                "--http-session-idle-seconds",
            ),
        ] {
            if given {
                return Err(ExitError::usage(format!(
                    "{flag} cannot be used with --stateless: a stateless server keeps no MCP sessions. Drop {flag} (--http-max-in-flight still caps the requests served at once)"
                )));
            }
        }
    }
    if let Some(name) = &args.replica_name {
        crate::server::http::check_replica_name(name).map_err(ExitError::usage)?;
    }
    if !args.oauth.issuers.is_empty() && args.http.is_none() {
        return Err(ExitError::usage(
            "--oauth-issuer (or OPSDECK_OAUTH_ISSUER) signs in HTTP callers, and the stdio transport has none: serve with --http ADDR, or unset it",
        ));
    }
    Ok(())
}

/// The HTTP limits from the flags (their ranges are checked by clap; they fit a usize).
fn http_limits(args: &ServeArgs) -> HttpLimits {
    let defaults = HttpLimits::default();
    HttpLimits {
        max_sessions: args.http_max_sessions.map_or(defaults.max_sessions, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        }),
        session_idle: args
            .http_session_idle_seconds
            .map_or(defaults.session_idle, std::time::Duration::from_secs),
        max_requests_in_flight: usize::try_from(args.http_max_in_flight).unwrap_or(usize::MAX),
        ..defaults
    }
}

/// Sign-in from `--oauth-*` / `OPSDECK_OAUTH_*`, or `None` when it is off.
fn sign_in(args: &ServeArgs) -> Result<Option<Arc<SignIn>>, ExitError> {
    let oauth = &args.oauth;
    let flags = OAuthFlags {
        issuers: oauth.issuers.clone(),
        audiences: oauth.audiences.clone(),
        resource: oauth.resource.clone(),
        jwks_uri: oauth.jwks_uri.clone(),
        read_permission: Some(oauth.read_permission.clone()),
        remediate_permission: Some(oauth.remediate_permission.clone()),
    };
    let Some(settings) = AuthSettings::from_flags(&flags).map_err(ExitError::usage)? else {
        return Ok(None);
    };
    if let Some(bind) = args.http {
        settings.check_bind(bind).map_err(ExitError::usage)?;
    }
    SignIn::new(settings).map(Some).map_err(ExitError::usage)
}

fn http_runtime(args: &ServeArgs, sign_in: Option<Arc<SignIn>>) -> HttpRuntime {
    HttpRuntime {
        stateless: args.stateless,
        replica_name: args.replica_name.clone(),
        shutdown: ShutdownTimes {
            drain_delay: std::time::Duration::from_secs(args.drain_delay_seconds),
            grace: std::time::Duration::from_secs(args.shutdown_grace_seconds),
        },
        sign_in,
    }
}

pub async fn run(args: ServeArgs) -> Result<(), ExitError> {
    if args.list_scenarios {
        return list_scenarios(&args);
    }
    check_mode(&args)?;
    // Checked before any backend is built: a typo in a flag stops at once.
    let sign_in = sign_in(&args)?;
    let clock = clock_from(args.frozen_clock.as_deref())?;
    let policy = match &args.policy {
        Some(path) => RemediationPolicy::from_file(path).map_err(ExitError::usage)?,
        None => RemediationPolicy::default(),
    };
    // Opened now: a server with nowhere private to audit must not start.
    let guard = PolicyGuard::open_with(policy, &guard_options(&args)?).map_err(ExitError::usage)?;
    if let Some(sink) = guard.audit_sink() {
        tracing::info!("remediation audit log: {}", sink.describe());
    }
    let backends = build_backends(&args, clock).await?;
    let server = OpsdeckServer::new(backends, args.read_only).with_policy(guard);
    match args.http {
        Some(bind) => {
            let options = HttpOptions {
                bind,
                bearer_token: bearer_token(&args)?,
                allowed_origins: args.allow_origin.clone(),
                allowed_hosts: args.allow_host.clone(),
                allow_unauthenticated_remediation: args.http_allow_unauthenticated_remediation,
            };
            crate::server::http::check_bind(&options, sign_in.is_some())
                .map_err(ExitError::usage)?;
            if let Some(sign_in) = &sign_in {
                // Keys fetched now so the first caller does not wait; a
                // failure is logged and retried when a token needs them.
                sign_in.prefetch().await;
            }
            serve_http_with(
                server,
                options,
                http_limits(&args),
                http_runtime(&args, sign_in),
            )
            .await
            .map_err(ExitError::failed)
        }
        None => serve_stdio(server).await.map_err(ExitError::failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn backends_of(args: &[&str]) -> Vec<BackendChoice> {
        let mut argv = vec!["opsdeck", "serve"];
        argv.extend(args);
        match crate::cli::Cli::parse_from(argv).command {
            Some(crate::cli::Command::Serve(serve)) => serve.backend,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn backends_are_repeated_or_comma_separated_and_default_to_the_sandbox() {
        use BackendChoice::*;
        assert_eq!(backends_of(&[]), [Sandbox]);
        assert_eq!(backends_of(&["--backend", "fabric"]), [Fabric]);
        assert_eq!(
            backends_of(&["--backend", "adf", "--backend", "fabric,airflow"]),
            [Adf, Fabric, Airflow]
        );
        assert_eq!(
            distinct_choices(&[Adf, Fabric, Sandbox]).unwrap(),
            [Adf, Fabric, Sandbox]
        );
    }

    #[test]
    fn a_backend_given_twice_is_refused_by_name() {
        use BackendChoice::*;
        for (given, name) in [
            (vec![Fabric, Fabric], "fabric"),
            (vec![Adf, Sandbox, Adf], "adf"),
            (vec![Sandbox, Databricks, Airflow, Databricks], "databricks"),
        ] {
            let err = distinct_choices(&given).unwrap_err();
            assert_eq!(err.code, 2);
            let err = err.message;
            assert!(
                err.contains(&format!("--backend {name} is given more than once")),
                "{err}"
            );
        }
        assert!(distinct_choices(&[]).is_err());
    }

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["opsdeck", "serve"];
        argv.extend(args);
        match crate::cli::Cli::parse_from(argv).command {
            Some(crate::cli::Command::Serve(serve)) => *serve,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn logs_go_to_a_stream_only_where_it_is_free() {
        use crate::logging::{Format, Output};
        let http = serve_args(&[
            "--http",
            "127.0.0.1:0",
            "--log-output",
            "stdout",
            "--log-format",
            "json",
        ]);
        let settings = log_settings(&http).unwrap();
        assert_eq!(
            (settings.format, settings.output),
            (Format::Json, Output::Stdout)
        );
        let stdio = serve_args(&["--log-output", "stdout"]);
        let err = log_settings(&stdio).unwrap_err();
        assert_eq!(err.code, 2);
        assert!(
            err.message.contains("--log-output stderr"),
            "{}",
            err.message
        );
        let stderr = serve_args(&["--log-output", "stderr"]);
        assert_eq!(log_settings(&stderr).unwrap().output, Output::Stderr);
        assert_eq!(
            log_settings(&serve_args(&[])).unwrap(),
            crate::logging::Settings::default()
        );
    }

    #[test]
    fn session_limits_keep_their_defaults_unless_given() {
        let limits = http_limits(&serve_args(&["--http", "127.0.0.1:0"]));
        assert_eq!(limits, HttpLimits::default());
        let given = http_limits(&serve_args(&[
            "--http",
            "127.0.0.1:0",
            "--http-max-sessions",
            "9",
            "--http-session-idle-seconds",
            "30",
        ]));
        assert_eq!(given.max_sessions, 9);
        assert_eq!(given.session_idle, std::time::Duration::from_secs(30));
        let stateless = serve_args(&["--http", "127.0.0.1:0", "--stateless"]);
        assert!(check_mode(&stateless).is_ok());
        let runtime = http_runtime(&stateless, None);
        assert!(runtime.stateless);
        assert_eq!(runtime.shutdown, ShutdownTimes::default());
    }
}
