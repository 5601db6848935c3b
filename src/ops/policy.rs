//! The remediation policy and audit log: which real actions an environment
//! allows, and the record of every attempt.
//!
//! Policy (TOML, `--policy FILE`): per environment, real remediation is
//! `allowed`, needs `approval` (the call must carry `approved_by`, which the
//! console and `opsdeck ask` fill in when a person approves, or come from a
//! signed-in [`Actor`]), or is `forbidden`; at most N reruns of one run's
//! rerun chain per hour, counted from the backend's own run history (so every
//! replica counts the same); and optionally a dry run of the same action in
//! the last 15 minutes before a real one (kept in memory, so refused by a
//! stateless server). Dry runs are always allowed.
//!
//! Every remediation attempt — previewed, done, refused by policy or failed —
//! is written to the audit log as one JSON line: who, what, when, outcome.
//! A file log is the owner's alone (file 0600, its directory 0700 when made
//! here) and never lands in a shared temporary directory: with nowhere to put
//! it, real remediation is refused rather than done unaudited. The log may
//! instead go to standard output or standard error ([`AuditSink`]).

pub mod audit;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

pub use self::audit::AuditSink;
use crate::backends::PastRerun;

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
    /// Most real reruns of one run's rerun chain (the run, the run it re-ran,
    /// back to the first) per hour, counted from the backend's run history.
    pub max_reruns_per_run_per_hour: Option<u32>,
    /// A real rerun or cancel needs a dry run of the same target in the last 15 minutes.
    pub require_preview: bool,
    /// Where the audit log goes: a file, or `stdout` / `stderr` for JSON
    /// lines on that stream (default: the log directory's `audit.jsonl`).
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

/// The person a remediation is done for, as the server's sign-in proved it
/// (from a validated access token), not as the caller claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's stable id for the person (`oid`, else `sub`).
    pub subject: String,
    /// A readable name (`preferred_username`, `upn`, `email` or `azp`).
    pub name: String,
    /// The token's issuer.
    pub issuer: String,
}

/// One remediation attempt, as the guard sees it before acting.
pub struct Attempt<'a> {
    pub tool: &'a str,
    /// What is acted on: `pipeline` or `pipeline/run`, or the run to cancel.
    pub target: &'a str,
    pub environment: &'a str,
    pub dry_run: bool,
    /// What the caller sent as `approved_by`.
    pub approved_by: Option<&'a str>,
    /// The signed-in person, when the transport proved one.
    pub actor: Option<&'a Actor>,
    pub arguments: &'a Value,
}

impl Attempt<'_> {
    /// Who approved: the signed-in person when there is one (a value the
    /// caller sends cannot override the token), else what the caller sent.
    pub fn approver(&self) -> Option<&str> {
        match self.actor {
            Some(actor) => Some(actor.name.as_str()).filter(|n| !n.trim().is_empty()),
            None => self.approved_by.filter(|who| !who.trim().is_empty()),
        }
    }
}

/// How a server opens its guard ([`PolicyGuard::open_with`]).
#[derive(Debug, Clone, Default)]
pub struct GuardOptions {
    /// `--audit-log`: overrides the policy's `audit_log`.
    pub audit_log: Option<AuditSink>,
    /// A stateless server (any replica answers any request): rules that need
    /// this process's memory (`require_preview`) are refused at start.
    pub stateless: bool,
    /// Standard output carries the protocol (stdio transport): an audit log
    /// there would corrupt it, so it is refused.
    pub stdout_is_protocol: bool,
}

/// The policy with its memory (previews seen, reruns this process made) and the audit log.
pub struct PolicyGuard {
    policy: RemediationPolicy,
    /// `None` when no state directory exists and the policy names no sink.
    audit: Option<AuditSink>,
    /// Set (once, never unset) by a transport whose callers are not
    /// authenticated: the refusal every real remediation then gets.
    unauthenticated_refusal: OnceLock<String>,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    previews: HashMap<String, DateTime<Utc>>,
    /// Reruns this process made in the last hour, added to what the
    /// backend's history shows: a service's run list can lag behind a run
    /// just started (ADF), and the limit must not miss it.
    made: Vec<MadeRerun>,
    next_ticket: u64,
}

/// A rerun this process started: the run it re-ran and the run it made.
struct MadeRerun {
    reference: String,
    /// A placeholder until the rerun is done.
    new_run: String,
    at: DateTime<Utc>,
    ticket: u64,
}

/// A rerun admitted by the limit, counted until it is finished
/// ([`PolicyGuard::rerun_finished`]); empty when no limit is set.
#[derive(Debug)]
#[must_use = "hand the ticket back to PolicyGuard::rerun_finished"]
pub struct RerunTicket(Option<u64>);

impl RerunTicket {
    /// The ticket of a rerun that no limit holds.
    pub fn unlimited() -> RerunTicket {
        RerunTicket(None)
    }
}

const PREVIEW_FRESH_FOR_MINUTES: i64 = 15;
/// Most reruns remembered locally (a bound on memory; the history is the authority).
const MAX_MADE_REMEMBERED: usize = 1_000;
const AUDIT_FILE_NAME: &str = "audit.jsonl";
const NO_AUDIT_LOG: &str = "no place for the remediation audit log: there is no state directory (set OPSDECK_LOG_DIR, XDG_STATE_HOME or HOME) and neither the policy's audit_log nor --audit-log names one (stdout or stderr work too). Real remediation is never done unaudited; dry runs still work";

impl PolicyGuard {
    /// A guard auditing to the policy's `audit_log`, else `default_audit_dir/audit.jsonl`.
    pub fn new(policy: RemediationPolicy, default_audit_dir: &Path) -> PolicyGuard {
        let audit = match &policy.audit_log {
            Some(path) => AuditSink::from_path(path),
            None => AuditSink::File(default_audit_dir.join(AUDIT_FILE_NAME)),
        };
        PolicyGuard::with_audit(policy, Some(audit))
    }

    /// A guard auditing to the policy's `audit_log`, else the log directory's
    /// `audit.jsonl`. With neither, it audits nowhere and refuses real
    /// remediation (never a fallback to the shared temporary directory).
    pub fn at_default_location(policy: RemediationPolicy) -> PolicyGuard {
        let audit = match &policy.audit_log {
            Some(path) => Some(AuditSink::from_path(path)),
            None => crate::config::paths::log_dir()
                .map(|dir| AuditSink::File(dir.join(AUDIT_FILE_NAME))),
        };
        PolicyGuard::with_audit(policy, audit)
    }

    /// [`PolicyGuard::at_default_location`] for a server about to start: no
    /// place for the audit log, or one that cannot be made private and
    /// writable, is an error now rather than a surprise at the first rerun.
    pub fn open(policy: RemediationPolicy) -> Result<PolicyGuard, String> {
        PolicyGuard::open_with(policy, &GuardOptions::default())
    }

    /// [`PolicyGuard::open`] with the server's options: `--audit-log`
    /// (which wins over the policy's), a stateless server (which refuses
    /// `require_preview`: a preview seen by one replica is unknown to the
    /// next), and a stdio transport (which refuses an audit on stdout).
    pub fn open_with(
        policy: RemediationPolicy,
        options: &GuardOptions,
    ) -> Result<PolicyGuard, String> {
        if options.stateless && policy.require_preview {
            return Err("the remediation policy sets require_preview, which a stateless server cannot keep: a preview seen by one replica is unknown to the next. Remove require_preview from the policy, or serve without --stateless".into());
        }
        let guard = match &options.audit_log {
            Some(sink) => PolicyGuard::with_audit(policy, Some(sink.clone())),
            None => PolicyGuard::at_default_location(policy),
        };
        let sink = guard.audit.as_ref().ok_or(NO_AUDIT_LOG)?;
        if options.stdout_is_protocol && *sink == AuditSink::Stdout {
            return Err("the audit log cannot go to standard output when the server speaks MCP over it (stdio); use stderr or a file".into());
        }
        sink.open().map_err(|e| {
            format!(
                "cannot open the remediation audit log {}: {e}. Set OPSDECK_LOG_DIR, or audit_log in the policy (or --audit-log), to a directory you can write, or to stdout or stderr",
                sink.describe()
            )
        })?;
        Ok(guard)
    }

    fn with_audit(policy: RemediationPolicy, audit: Option<AuditSink>) -> PolicyGuard {
        PolicyGuard {
            policy,
            audit,
            unauthenticated_refusal: OnceLock::new(),
            state: Mutex::new(GuardState::default()),
        }
    }

    /// The audit log's file, when it goes to a file.
    pub fn audit_path(&self) -> Option<&Path> {
        match &self.audit {
            Some(AuditSink::File(path)) => Some(path),
            _ => None,
        }
    }

    /// Where the audit log goes, if anywhere.
    pub fn audit_sink(&self) -> Option<&AuditSink> {
        self.audit.as_ref()
    }

    /// The most real reruns of one rerun chain per hour, if limited.
    pub fn rerun_limit(&self) -> Option<u32> {
        self.policy.max_reruns_per_run_per_hour
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

    /// Whether the attempt may go ahead by the rules that need no history;
    /// the refusal says which rule and what to do. The rerun limit is
    /// checked once the run is known ([`PolicyGuard::check_reruns`]).
    pub fn check(&self, attempt: &Attempt, now: DateTime<Utc>) -> Result<(), String> {
        if attempt.dry_run {
            // A dry run is always allowed; it counts as a preview only once
            // it has shown a plan (see `previewed`).
            return Ok(());
        }
        if let Some(refusal) = self.unauthenticated_refusal.get() {
            return Err(refusal.clone());
        }
        if self.audit.is_none() {
            return Err(NO_AUDIT_LOG.to_string());
        }
        match self.policy.rule(attempt.environment) {
            EnvironmentRule::Forbidden => {
                return Err(format!(
                    "the remediation policy forbids {} in environment {}; a dry run shows what it would do, and the team's runbook says who may act there",
                    attempt.tool, attempt.environment
                ));
            }
            EnvironmentRule::Approval if attempt.approver().is_none() => {
                return Err(format!(
                    "the remediation policy requires a person's approval for {} in environment {}: the call must carry approved_by (the console's approval dialog and `opsdeck ask --approve` fill it in)",
                    attempt.tool, attempt.environment
                ));
            }
            _ => {}
        }
        if self.policy.require_preview {
            let key = format!("{}:{}", attempt.tool, attempt.target);
            let state = crate::support::sync::lock(&self.state);
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
        Ok(())
    }

    /// The rerun limit, against the reruns of `reference`'s chain that the
    /// backend's history shows since an hour before `now` (`history`), or the
    /// error that kept it from being read: then the rerun is refused (the
    /// limit is never guessed open). Reruns this process made that the
    /// history does not list yet count too, and so does one admitted here
    /// and not yet finished: two calls at once cannot both take the last
    /// place. Hand the ticket back to [`PolicyGuard::rerun_finished`].
    pub fn check_reruns(
        &self,
        attempt: &Attempt,
        reference: &str,
        history: Result<&[PastRerun], &str>,
        now: DateTime<Utc>,
    ) -> Result<RerunTicket, String> {
        let Some(max) = self.policy.max_reruns_per_run_per_hour else {
            return Ok(RerunTicket::unlimited());
        };
        let history = history.map_err(|why| {
            format!(
                "the remediation policy allows {max} rerun(s) of one run per hour, and the rerun history of run {reference} could not be read ({why}); the rerun is refused rather than risk going over the limit. Retry once the backend answers"
            )
        })?;
        let since = now - Duration::hours(1);
        let mut state = crate::support::sync::lock(&self.state);
        state.made.retain(|m| m.at >= since);
        let done = count_reruns(reference, history, &state.made, since);
        if done >= max as usize {
            return Err(format!(
                "the remediation policy allows {max} rerun(s) of {} per hour and {done} were made in the last hour (counted from the backend's run history, with the reruns before it); find out why it keeps failing before trying again",
                attempt.target
            ));
        }
        if state.made.len() >= MAX_MADE_REMEMBERED {
            state.made.remove(0);
        }
        state.next_ticket += 1;
        let ticket = state.next_ticket;
        state.made.push(MadeRerun {
            reference: reference.to_string(),
            new_run: format!("pending rerun {ticket}"),
            at: now,
            ticket,
        });
        Ok(RerunTicket(Some(ticket)))
    }

    /// Ends a rerun admitted by [`PolicyGuard::check_reruns`]: `new_run` is
    /// the run it made, kept (until the history lists it) for an hour; `None`
    /// (it failed, or re-ran in place where the history shows it at once)
    /// forgets it.
    pub fn rerun_finished(&self, ticket: RerunTicket, new_run: Option<&str>) {
        let Some(ticket) = ticket.0 else { return };
        let mut state = crate::support::sync::lock(&self.state);
        match new_run {
            Some(run) => {
                if let Some(made) = state.made.iter_mut().find(|m| m.ticket == ticket) {
                    made.new_run = run.to_string();
                }
            }
            None => state.made.retain(|m| m.ticket != ticket),
        }
    }

    /// Notes that `attempt`, a dry run, showed its plan: the preview a real
    /// request of the same tool and target may need. Previews older than
    /// their freshness are forgotten here, so the memory holds only what a
    /// rule can still use.
    pub fn previewed(&self, attempt: &Attempt, now: DateTime<Utc>) {
        let fresh_for = Duration::minutes(PREVIEW_FRESH_FOR_MINUTES);
        let mut state = crate::support::sync::lock(&self.state);
        state.previews.retain(|_, at| now - *at <= fresh_for);
        state
            .previews
            .insert(format!("{}:{}", attempt.tool, attempt.target), now);
    }

    /// Writes one record to the audit log. A log that cannot be written is
    /// reported in the tracing log; it never hides the outcome from the caller.
    pub fn audit(&self, attempt: &Attempt, outcome: &str, detail: &str, now: DateTime<Utc>) {
        let mut who = json!({
            "approved_by": attempt.approver(),
            "server_user": std::env::var("USER").ok(),
        });
        if let Some(actor) = attempt.actor {
            who["subject"] = json!(actor.subject);
            who["issuer"] = json!(actor.issuer);
            who["claimed_approved_by"] = json!(attempt.approved_by);
        }
        let line = json!({
            "record": "opsdeck.audit",
            "time": now.to_rfc3339(),
            "who": who,
            "tool": attempt.tool,
            "target": attempt.target,
            "environment": attempt.environment,
            "dry_run": attempt.dry_run,
            "arguments": attempt.arguments,
            "outcome": outcome,
            "detail": detail,
        });
        let Some(sink) = &self.audit else {
            let line = crate::support::redact::value(&line);
            tracing::error!("{NO_AUDIT_LOG}; not recorded: {line}");
            return;
        };
        if let Err(e) = sink.write(&line) {
            tracing::error!("cannot write the audit log {}: {e}", sink.describe());
        }
    }
}

/// The reruns of the chain that `reference` belongs to since `since`: those
/// the history lists, and those this process made that it does not list yet
/// (linked to the chain through the run each re-ran).
fn count_reruns(
    reference: &str,
    history: &[PastRerun],
    made: &[MadeRerun],
    since: DateTime<Utc>,
) -> usize {
    let mut chain: std::collections::HashSet<&str> =
        history.iter().map(|r| r.id.as_str()).collect();
    chain.insert(reference);
    // Links among local reruns: grow the chain until nothing joins (each
    // pass adds at least one run, so at most `made.len()` passes).
    let mut joined = vec![false; made.len()];
    loop {
        let mut grew = false;
        for (m, seen) in made.iter().zip(joined.iter_mut()) {
            if !*seen
                && (chain.contains(m.reference.as_str()) || chain.contains(m.new_run.as_str()))
            {
                *seen = true;
                grew = true;
                chain.insert(m.reference.as_str());
                chain.insert(m.new_run.as_str());
            }
        }
        if !grew {
            break;
        }
    }
    let mut counted: std::collections::HashSet<&str> = history
        .iter()
        .filter(|r| r.at >= since)
        .map(|r| r.id.as_str())
        .collect();
    for (m, seen) in made.iter().zip(&joined) {
        if *seen && m.at >= since {
            counted.insert(m.new_run.as_str());
        }
    }
    counted.len()
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
            actor: None,
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
    fn a_preview_must_come_first_and_goes_stale() {
        let g = guard("[remediation]\nrequire_preview = true\n");
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
        assert!(
            g.check(
                &attempt("dev", false, None, &args),
                now + Duration::minutes(16)
            )
            .unwrap_err()
            .contains("preview"),
            "a stale preview does not count"
        );
    }

    fn rerun(id: &str, at: DateTime<Utc>) -> PastRerun {
        PastRerun { id: id.into(), at }
    }

    #[test]
    fn reruns_are_counted_from_the_history_and_an_unreadable_history_refuses() {
        let g = guard("[remediation]\nmax_reruns_per_run_per_hour = 2\n");
        let args = json!({});
        let now = Utc::now();
        let a = attempt("dev", false, None, &args);
        let one = [rerun("r2", now - Duration::minutes(10))];
        let ticket = g.check_reruns(&a, "r1", Ok(&one), now).unwrap();
        g.rerun_finished(ticket, None);
        let two = [
            rerun("r2", now - Duration::minutes(10)),
            rerun("r3", now - Duration::minutes(5)),
        ];
        let err = g.check_reruns(&a, "r3", Ok(&two), now).unwrap_err();
        assert!(
            err.contains("2 rerun(s)") && err.contains("2 were made"),
            "{err}"
        );
        let old = [
            rerun("r2", now - Duration::minutes(70)),
            rerun("r3", now - Duration::minutes(5)),
        ];
        let ticket = g
            .check_reruns(&a, "r3", Ok(&old), now)
            .expect("a rerun older than an hour does not count");
        g.rerun_finished(ticket, None);
        let err = g
            .check_reruns(&a, "r3", Err("the service answered 503"), now)
            .unwrap_err();
        assert!(
            err.contains("could not be read") && err.contains("503"),
            "{err}"
        );
        let unlimited = guard("[remediation]\n");
        let ticket = unlimited
            .check_reruns(&a, "r3", Err("unreadable"), now)
            .expect("without a limit the history is not needed");
        unlimited.rerun_finished(ticket, None);
    }

    #[test]
    fn a_rerun_made_here_counts_until_the_history_lists_it() {
        let g = guard("[remediation]\nmax_reruns_per_run_per_hour = 2\n");
        let args = json!({});
        let now = Utc::now();
        let a = attempt("dev", false, None, &args);
        let first = g.check_reruns(&a, "r1", Ok(&[]), now).unwrap();
        // Admitted and not finished: it holds its place already.
        let second = g.check_reruns(&a, "r1", Ok(&[]), now).unwrap();
        let err = g.check_reruns(&a, "r1", Ok(&[]), now).unwrap_err();
        assert!(err.contains("2 were made"), "{err}");
        // The second failed: its place is free again.
        g.rerun_finished(second, None);
        // The first made r2, which the listing does not show yet (ADF lags).
        g.rerun_finished(first, Some("r2"));
        let third = g.check_reruns(&a, "r2", Ok(&[]), now).unwrap();
        g.rerun_finished(third, Some("r3"));
        let err = g.check_reruns(&a, "r1", Ok(&[]), now).unwrap_err();
        assert!(err.contains("2 were made"), "linked through r2: {err}");
        // Listed and remembered: counted once.
        let listed = [rerun("r2", now - Duration::minutes(3))];
        let err = g.check_reruns(&a, "r3", Ok(&listed), now).unwrap_err();
        assert!(err.contains("2 were made"), "{err}");
        // Another chain is not affected; an hour later nothing is remembered.
        let other = g.check_reruns(&a, "other", Ok(&[]), now).unwrap();
        g.rerun_finished(other, None);
        let later = g
            .check_reruns(&a, "r1", Ok(&[]), now + Duration::minutes(61))
            .unwrap();
        g.rerun_finished(later, None);
    }

    #[test]
    fn a_signed_in_actor_is_the_approver_and_the_claim_is_kept() {
        let root = std::env::temp_dir().join(format!(
            "opsdeck-policy-actor-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let audit = root.join("audit.jsonl");
        let policy = RemediationPolicy {
            environments: HashMap::from([("prod".to_string(), EnvironmentRule::Approval)]),
            audit_log: Some(audit.clone()),
            ..RemediationPolicy::default()
        };
        let g = PolicyGuard::new(policy, &root);
        let args = json!({});
        let actor = Actor {
            subject: "oid-1".into(),
            name: "dana@contoso.com".into(),
            issuer: "https://login.example/tenant/v2.0".into(),
        };
        let mut a = attempt("prod", false, Some("someone else"), &args);
        a.actor = Some(&actor);
        assert_eq!(a.approver(), Some("dana@contoso.com"));
        g.check(&a, Utc::now()).unwrap();
        g.audit(&a, "done", "", Utc::now());
        let line: Value =
            serde_json::from_str(std::fs::read_to_string(&audit).unwrap().trim()).unwrap();
        assert_eq!(line["who"]["approved_by"], "dana@contoso.com");
        assert_eq!(line["who"]["claimed_approved_by"], "someone else");
        assert_eq!(line["who"]["subject"], "oid-1");
        assert_eq!(line["who"]["issuer"], "https://login.example/tenant/v2.0");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_stateless_server_refuses_require_preview_and_stdio_refuses_a_stdout_audit() {
        let preview = RemediationPolicy {
            require_preview: true,
            ..RemediationPolicy::default()
        };
        let stateless = GuardOptions {
            audit_log: Some(AuditSink::Stderr),
            stateless: true,
            ..GuardOptions::default()
        };
        let err = PolicyGuard::open_with(preview.clone(), &stateless)
            .err()
            .unwrap();
        assert!(err.contains("require_preview"), "{err}");
        let g = PolicyGuard::open_with(RemediationPolicy::default(), &stateless).unwrap();
        assert_eq!(g.audit_sink(), Some(&AuditSink::Stderr));
        assert!(g.audit_path().is_none());
        let stdio = GuardOptions {
            audit_log: Some(AuditSink::Stdout),
            stdout_is_protocol: true,
            ..GuardOptions::default()
        };
        let err = PolicyGuard::open_with(preview, &stdio).err().unwrap();
        assert!(err.contains("standard output"), "{err}");
        let in_policy: PolicyFile =
            toml::from_str("[remediation]\naudit_log = \"stdout\"\n").unwrap();
        let g = PolicyGuard::at_default_location(in_policy.remediation);
        assert_eq!(g.audit_sink(), Some(&AuditSink::Stdout));
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
        let g = PolicyGuard::with_audit(RemediationPolicy::default(), None);
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
        audit::open_private_append(&audit).unwrap();
        assert_eq!(mode_of(&audit), 0o600, "opening at start narrows it too");
    }

    #[test]
    fn unknown_policy_keys_are_refused() {
        let bad: Result<PolicyFile, _> = toml::from_str("[remediation]\nmax_reruns = 3\n");
        assert!(bad.is_err());
    }
}
