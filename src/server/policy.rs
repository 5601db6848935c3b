//! The server's remediation policy and audit log.
//!
//! Policy (TOML, `--policy FILE`): per environment, real remediation is
//! `allowed`, needs `approval` (the call must carry `approved_by`, which the
//! console and `opsdeck ask` fill in when a person approves), or is `forbidden`;
//! at most N reruns of one run per hour; and optionally a dry run of the same
//! action in the last 15 minutes before a real one. Dry runs are always allowed.
//!
//! Every remediation attempt — previewed, done, refused by policy or failed —
//! is appended to the audit log as one JSON line: who, what, when, outcome.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    audit_path: PathBuf,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    previews: HashMap<String, DateTime<Utc>>,
    reruns: HashMap<String, Vec<DateTime<Utc>>>,
}

const PREVIEW_FRESH_FOR_MINUTES: i64 = 15;

impl PolicyGuard {
    pub fn new(policy: RemediationPolicy, default_audit_dir: &Path) -> PolicyGuard {
        let audit_path = policy
            .audit_log
            .clone()
            .unwrap_or_else(|| default_audit_dir.join("audit.jsonl"));
        PolicyGuard {
            policy,
            audit_path,
            state: Mutex::new(GuardState::default()),
        }
    }

    pub fn audit_path(&self) -> &Path {
        &self.audit_path
    }

    /// Whether the attempt may go ahead; the refusal says which rule and what to do.
    pub fn check(&self, attempt: &Attempt, now: DateTime<Utc>) -> Result<(), String> {
        let key = format!("{}:{}", attempt.tool, attempt.target);
        let mut state = crate::backends::rest::lock(&self.state);
        if attempt.dry_run {
            state.previews.insert(key, now);
            return Ok(());
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
        let written = self
            .audit_path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.audit_path)
            })
            .and_then(|mut file| writeln!(file, "{line}"));
        if let Err(e) = written {
            tracing::error!(
                "cannot write the audit log {}: {e}",
                self.audit_path.display()
            );
        }
    }
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
    fn unknown_policy_keys_are_refused() {
        let bad: Result<PolicyFile, _> = toml::from_str("[remediation]\nmax_reruns = 3\n");
        assert!(bad.is_err());
    }
}
