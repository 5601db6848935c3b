//! The remediation policy and audit log: which real actions an environment
//! allows, and the record of every attempt.
//!
//! Policy (TOML, `--policy FILE`): per environment, real remediation is
//! `allowed`, needs `approval` (the call must carry `approved_by`, which the
//! console and `opsdeck ask` fill in when a person approves), or is `forbidden`;
//! at most N reruns of one run per hour; and optionally a dry run of the same
//! action in the last 15 minutes before a real one. Dry runs are always allowed.
//!
//! Every remediation attempt — previewed, done, refused by policy or failed —
//! is appended to the audit log as one JSON line: who, what, when, outcome.
//! The log is the owner's alone (file 0600, its directory 0700 when made
//! here) and never lands in a shared temporary directory: with nowhere to put
//! it, real remediation is refused rather than done unaudited.

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// What an environment allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentRule {
    #[default]
    Allowed,
    Approval,
    Forbidden,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemediationPolicy {
    /// Rule per environment name; others follow `default`.
    pub environments: HashMap<String, EnvironmentRule>,
    pub default: EnvironmentRule,
    /// Most real reruns of one run (or of one pipeline's latest failure) per hour.
    pub max_reruns_per_run_per_hour: Option<u32>,
    /// A real rerun or cancel needs a dry run of the same target in the last 15 minutes.
    pub require_preview: bool,
    /// Where the audit log goes (default: the log directory's `audit.jsonl`).
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    remediation: RemediationPolicy,
}

impl RemediationPolicy {
    pub fn from_file(path: &Path) -> Result<RemediationPolicy, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the policy {}: {e}", path.display()))?;
        let file: PolicyFile = toml::from_str(&text)
            .map_err(|e| format!("the policy {} is not valid: {e}", path.display()))?;
        Ok(file.remediation)
    }

    fn rule(&self, environment: &str) -> EnvironmentRule {
        self.environments
            .get(environment)
            .copied()
            .unwrap_or(self.default)
    }
}

/// One remediation attempt, as the guard sees it before acting.
pub struct Attempt<'a> {
    pub tool: &'a str,
    /// What is acted on: `pipeline` or `pipeline/run`, or the run to cancel.
    pub target: &'a str,
    pub environment: &'a str,
    pub dry_run: bool,
    pub approved_by: Option<&'a str>,
    pub arguments: &'a Value,
}

/// The policy with its memory (previews seen, reruns done) and the audit log.
pub struct PolicyGuard {
    policy: RemediationPolicy,
    /// `None` when no state directory exists and the policy names no file.
    audit_path: Option<PathBuf>,
    /// Set (once, never unset) by a transport whose callers are not
    /// authenticated: the refusal every real remediation then gets.
    unauthenticated_refusal: OnceLock<String>,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    previews: HashMap<String, DateTime<Utc>>,
    reruns: HashMap<String, Vec<DateTime<Utc>>>,
}

const PREVIEW_FRESH_FOR_MINUTES: i64 = 15;
const AUDIT_FILE_NAME: &str = "audit.jsonl";
const NO_AUDIT_LOG: &str = "no place for the remediation audit log: there is no state directory (set OPSDECK_LOG_DIR, XDG_STATE_HOME or HOME) and the policy names no audit_log. Real remediation is never done unaudited; dry runs still work";

impl PolicyGuard {
    /// A guard auditing to the policy's `audit_log`, else `default_audit_dir/audit.jsonl`.
    pub fn new(policy: RemediationPolicy, default_audit_dir: &Path) -> PolicyGuard {
        let audit_path = policy
            .audit_log
            .clone()
            .unwrap_or_else(|| default_audit_dir.join(AUDIT_FILE_NAME));
        PolicyGuard::with_audit_path(policy, Some(audit_path))
    }

    /// A guard auditing to the policy's `audit_log`, else the log directory's
    /// `audit.jsonl`. With neither, it audits nowhere and refuses real
    /// remediation (never a fallback to the shared temporary directory).
    pub fn at_default_location(policy: RemediationPolicy) -> PolicyGuard {
        let audit_path = policy
            .audit_log
            .clone()
            .or_else(|| crate::config::paths::log_dir().map(|dir| dir.join(AUDIT_FILE_NAME)));
        PolicyGuard::with_audit_path(policy, audit_path)
    }

    /// [`PolicyGuard::at_default_location`] for a server about to start: no
    /// place for the audit log, or one that cannot be made private and
    /// writable, is an error now rather than a surprise at the first rerun.
    pub fn open(policy: RemediationPolicy) -> Result<PolicyGuard, String> {
        let guard = PolicyGuard::at_default_location(policy);
        let path = guard.audit_path.as_deref().ok_or(NO_AUDIT_LOG)?;
        open_private_append(path).map_err(|e| {
            format!(
                "cannot open the remediation audit log {}: {e}. Set OPSDECK_LOG_DIR, or audit_log in the policy, to a directory you can write",
                path.display()
            )
        })?;
        Ok(guard)
    }

    fn with_audit_path(policy: RemediationPolicy, audit_path: Option<PathBuf>) -> PolicyGuard {
        PolicyGuard {
            policy,
            audit_path,
            unauthenticated_refusal: OnceLock::new(),
            state: Mutex::new(GuardState::default()),
        }
    }

    pub fn audit_path(&self) -> Option<&Path> {
        self.audit_path.as_deref()
    }

    /// From now on every real remediation is refused with `refusal` (dry runs
    /// still work). For transports whose callers are not authenticated; it
    /// cannot be undone, so no later call can reopen what a transport closed.
    pub fn refuse_unauthenticated_remediation(&self, refusal: impl Into<String>) {
        // A second call changes nothing: the first refusal already holds.
        let _ = self.unauthenticated_refusal.set(refusal.into());
    }

    /// Whether real remediation is refused because callers are not authenticated.
    pub fn refuses_unauthenticated_remediation(&self) -> bool {
        self.unauthenticated_refusal.get().is_some()
    }

    /// Whether the attempt may go ahead; the refusal says which rule and what to do.
    pub fn check(&self, attempt: &Attempt, now: DateTime<Utc>) -> Result<(), String> {
        let key = format!("{}:{}", attempt.tool, attempt.target);
        if attempt.dry_run {
            // A dry run is always allowed; it counts as a preview only once
            // it has shown a plan (see `previewed`).
            return Ok(());
        }
        let mut state = crate::support::sync::lock(&self.state);
        if let Some(refusal) = self.unauthenticated_refusal.get() {
            return Err(refusal.clone());
        }
        if self.audit_path.is_none() {
            return Err(NO_AUDIT_LOG.to_string());
        }
        match self.policy.rule(attempt.environment) {
            EnvironmentRule::Forbidden => {
                return Err(format!(
                    "the remediation policy forbids {} in environment {}; a dry run shows what it would do, and the team's runbook says who may act there",
                    attempt.tool, attempt.environment
                ));
            }
            EnvironmentRule::Approval
                if attempt.approved_by.is_none_or(|who| who.trim().is_empty()) =>
            {
                return Err(format!(
                    "the remediation policy requires a person's approval for {} in environment {}: the call must carry approved_by (the console's approval dialog and `opsdeck ask --approve` fill it in)",
                    attempt.tool, attempt.environment
                ));
            }
            _ => {}
        }
        if self.policy.require_preview {
            let fresh = state
                .previews
                .get(&key)
                .is_some_and(|at| now - *at <= Duration::minutes(PREVIEW_FRESH_FOR_MINUTES));
            if !fresh {
                return Err(format!(
                    "the remediation policy requires a preview first: call {} on {} with dry_run=true, read what it will do, then repeat with dry_run=false within {PREVIEW_FRESH_FOR_MINUTES} minutes",
                    attempt.tool, attempt.target
                ));
            }
        }
        if attempt.tool == "rerun_pipeline"
            && let Some(max) = self.policy.max_reruns_per_run_per_hour
        {
            let done = state.reruns.entry(attempt.target.to_string()).or_default();
            done.retain(|at| now - *at < Duration::hours(1));
            if done.len() as u32 >= max {
                return Err(format!(
                    "the remediation policy allows {max} rerun(s) of {} per hour and that many were made; find out why it keeps failing before trying again",
                    attempt.target
                ));
            }
            done.push(now);
        }
        Ok(())
    }

    /// Notes that `attempt`, a dry run, showed its plan: the preview a real
    /// request of the same tool and target may need. Previews older than
    /// their freshness, and rerun counts older than an hour, are forgotten
    /// here, so the memory holds only what a rule can still use.
    pub fn previewed(&self, attempt: &Attempt, now: DateTime<Utc>) {
        let fresh_for = Duration::minutes(PREVIEW_FRESH_FOR_MINUTES);
        let mut state = crate::support::sync::lock(&self.state);
        state.previews.retain(|_, at| now - *at <= fresh_for);
        state.reruns.retain(|_, done| {
            done.retain(|at| now - *at < Duration::hours(1));
            !done.is_empty()
        });
        state
            .previews
            .insert(format!("{}:{}", attempt.tool, attempt.target), now);
    }

    /// Appends one line to the audit log. A log that cannot be written is
    /// reported in the tracing log; it never hides the outcome from the caller.
    pub fn audit(&self, attempt: &Attempt, outcome: &str, detail: &str, now: DateTime<Utc>) {
        let line = json!({
            "time": now.to_rfc3339(),
            "who": {
                "approved_by": attempt.approved_by,
                "server_user": std::env::var("USER").ok(),
            },
            "tool": attempt.tool,
            "target": attempt.target,
            "environment": attempt.environment,
            "dry_run": attempt.dry_run,
            "arguments": attempt.arguments,
            "outcome": outcome,
            "detail": detail,
        });
        let Some(path) = &self.audit_path else {
            tracing::error!("{NO_AUDIT_LOG}; not recorded: {line}");
            return;
        };
        let written = open_private_append(path).and_then(|mut file| writeln!(file, "{line}"));
        if let Err(e) = written {
            tracing::error!("cannot write the audit log {}: {e}", path.display());
        }
    }
}

/// Opens the audit log for appending, readable by its owner only: created
/// 0600 (with its directory 0700 when that is made here too), and an existing
/// file with a looser mode narrowed to 0600. It says who acted on what, and
/// its arguments may name connections.
fn open_private_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt<'a>(
        environment: &'a str,
        dry_run: bool,
        approved_by: Option<&'a str>,
        args: &'a Value,
    ) -> Attempt<'a> {
        Attempt {
            tool: "rerun_pipeline",
            target: "ingest/run-1",
            environment,
            dry_run,
            approved_by,
            arguments: args,
        }
    }

    fn guard(policy: &str) -> PolicyGuard {
        let policy: PolicyFile = toml::from_str(policy).unwrap();
        PolicyGuard::new(policy.remediation, &std::env::temp_dir())
    }

    #[test]
    fn environments_allow_need_approval_or_forbid() {
        let g =
            guard("[remediation]\nenvironments = { prod = \"approval\", dr = \"forbidden\" }\n");
        let args = json!({});
        let now = Utc::now();
        assert!(g.check(&attempt("dev", false, None, &args), now).is_ok());
        let err = g
            .check(&attempt("prod", false, None, &args), now)
            .unwrap_err();
        assert!(err.contains("approved_by"), "{err}");
        assert!(
            g.check(&attempt("prod", false, Some("dana"), &args), now)
                .is_ok()
        );
        assert!(
            g.check(&attempt("dr", false, Some("dana"), &args), now)
                .unwrap_err()
                .contains("forbids")
        );
        assert!(
            g.check(&attempt("dr", true, None, &args), now).is_ok(),
            "dry runs are always allowed"
        );
    }

    #[test]
    fn a_preview_must_come_first_and_reruns_are_limited() {
        let g = guard("[remediation]\nrequire_preview = true\nmax_reruns_per_run_per_hour = 1\n");
        let args = json!({});
        let now = Utc::now();
        assert!(
            g.check(&attempt("dev", false, None, &args), now)
                .unwrap_err()
                .contains("preview first")
        );
        g.check(&attempt("dev", true, None, &args), now).unwrap();
        g.previewed(&attempt("dev", true, None, &args), now);
        g.check(
            &attempt("dev", false, None, &args),
            now + Duration::minutes(5),
        )
        .unwrap();
        let err = g
            .check(
                &attempt("dev", false, None, &args),
                now + Duration::minutes(6),
            )
            .unwrap_err();
        assert!(err.contains("1 rerun(s)"), "{err}");
        g.check(
            &attempt("dev", true, None, &args),
            now + Duration::minutes(70),
        )
        .unwrap();
        g.previewed(
            &attempt("dev", true, None, &args),
            now + Duration::minutes(70),
        );
        assert!(
            g.check(
                &attempt("dev", false, None, &args),
                now + Duration::minutes(71)
            )
            .is_ok(),
            "an hour later"
        );
        assert!(
            g.check(
                &attempt("dev", false, None, &args),
                now + Duration::minutes(100)
            )
            .unwrap_err()
            .contains("preview"),
            "a stale preview does not count"
        );
    }

    #[test]
    fn the_shipped_example_policy_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/policy.example.toml");
        let policy = RemediationPolicy::from_file(&path).unwrap();
        assert_eq!(policy.rule("prod"), EnvironmentRule::Approval);
        assert_eq!(policy.rule("staging"), EnvironmentRule::Allowed);
        assert!(policy.require_preview);
    }

    #[test]
    fn unauthenticated_callers_get_previews_but_no_real_remediation() {
        let g = guard("[remediation]\n");
        let args = json!({});
        let now = Utc::now();
        assert!(!g.refuses_unauthenticated_remediation());
        g.refuse_unauthenticated_remediation("set a token first");
        g.refuse_unauthenticated_remediation("a later, weaker word changes nothing");
        assert!(g.refuses_unauthenticated_remediation());
        assert_eq!(
            g.check(&attempt("dev", false, Some("dana"), &args), now),
            Err("set a token first".to_string())
        );
        assert!(g.check(&attempt("dev", true, None, &args), now).is_ok());
    }

    #[test]
    fn without_a_place_for_the_audit_log_real_remediation_is_refused() {
        let g = PolicyGuard::with_audit_path(RemediationPolicy::default(), None);
        let args = json!({});
        let now = Utc::now();
        let err = g
            .check(&attempt("dev", false, None, &args), now)
            .unwrap_err();
        assert!(
            err.contains("audit log") && err.contains("OPSDECK_LOG_DIR"),
            "{err}"
        );
        assert!(g.check(&attempt("dev", true, None, &args), now).is_ok());
        assert!(g.audit_path().is_none());
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    fn scratch_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "opsdeck-policy-{tag}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn the_audit_log_is_created_private_in_a_private_directory() {
        let root = scratch_dir("create");
        let audit = root.join("state/opsdeck/audit.jsonl");
        let policy = RemediationPolicy {
            audit_log: Some(audit.clone()),
            ..RemediationPolicy::default()
        };
        let g = PolicyGuard::new(policy, &root);
        let args = json!({});
        g.audit(
            &attempt("dev", true, None, &args),
            "previewed",
            "",
            Utc::now(),
        );
        assert_eq!(mode_of(&audit), 0o600);
        assert_eq!(mode_of(&root.join("state/opsdeck")), 0o700);
        assert_eq!(mode_of(&root.join("state")), 0o700);
        assert_eq!(std::fs::read_to_string(&audit).unwrap().lines().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_world_readable_audit_log_is_narrowed_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let root = scratch_dir("narrow");
        let audit = root.join(AUDIT_FILE_NAME);
        std::fs::write(&audit, "{\"earlier\":true}\n").unwrap();
        std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o644)).unwrap();
        let g = PolicyGuard::new(RemediationPolicy::default(), &root);
        let args = json!({});
        g.audit(
            &attempt("dev", true, None, &args),
            "previewed",
            "",
            Utc::now(),
        );
        assert_eq!(mode_of(&audit), 0o600);
        assert_eq!(
            std::fs::read_to_string(&audit).unwrap().lines().count(),
            2,
            "appended, not replaced"
        );
        std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o666)).unwrap();
        open_private_append(&audit).unwrap();
        assert_eq!(mode_of(&audit), 0o600, "opening at start narrows it too");
    }

    #[test]
    fn unknown_policy_keys_are_refused() {
        let bad: Result<PolicyFile, _> = toml::from_str("[remediation]\nmax_reruns = 3\n");
        assert!(bad.is_err());
    }
}
