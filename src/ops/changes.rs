//! `what_changed`: the changes every change record holds for a window, newest
//! first, optionally scoped to the names one pipeline touches (its datasets,
//! linked services, the secrets and hosts behind them, its triggers and
//! notebooks). A record that cannot be read is named in the result's gaps and
//! the others still answer.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use crate::backends::{Backends, ChangeWindow};
use crate::model::change::Change;
use crate::model::contract::{EvidenceGap, WhatChangedResult};
use crate::model::estate::{ActivityInfo, EstateCatalog, PipelineInfo};
use crate::model::time::TimeWindow;
use crate::ops::error::{OpsError, Outcome};
use crate::support::terminal::for_screen;
use crate::support::text::clip;

/// The longest window one question may span: the change records page through
/// every event in it, so a window is bounded like any caller-controlled cost.
pub const MAX_CHANGE_WINDOW_DAYS: i64 = 31;
/// The most changes one answer lists.
pub const MAX_CHANGES: usize = 500;
/// The most changes read from one record for one question, before scoping.
const MAX_READ_PER_SOURCE: usize = 5_000;
/// How long one change record may take to answer (it may page several times).
const SOURCE_TIMEOUT: StdDuration = StdDuration::from_secs(90);

/// What to list.
#[derive(Debug, Clone)]
pub struct ChangeQuery {
    pub window: TimeWindow,
    /// Only changes to what this pipeline touches.
    pub pipeline: Option<String>,
    /// At most this many (the newest).
    pub limit: usize,
}

/// Changes read from every record, and what could not be read.
pub struct Gathered {
    /// Newest first.
    pub changes: Vec<Change>,
    pub sources: Vec<String>,
    pub gaps: Vec<EvidenceGap>,
}

/// Refuses a window longer than [`MAX_CHANGE_WINDOW_DAYS`].
pub fn check_window(window: &TimeWindow) -> Result<(), OpsError> {
    if window.span() > Duration::days(MAX_CHANGE_WINDOW_DAYS) {
        return Err(OpsError::invalid(format!(
            "the window from {} to {} spans {} days; what_changed looks at most {MAX_CHANGE_WINDOW_DAYS} days at once: narrow since/until (e.g. since=7d), or ask window by window",
            window.since.format("%Y-%m-%d %H:%M UTC"),
            window.until.format("%Y-%m-%d %H:%M UTC"),
            window.span().num_days()
        )));
    }
    Ok(())
}

/// Every record's changes in `[from, to)`, newest first; a record that fails
/// or does not answer in time becomes a gap.
pub async fn gather(backends: &Backends, from: DateTime<Utc>, to: DateTime<Utc>) -> Gathered {
    let window = ChangeWindow {
        from,
        to,
        limit: MAX_READ_PER_SOURCE,
    };
    let reads = backends.changes.iter().map(|source| {
        let window = window.clone();
        async move {
            let name = source.change_source();
            let read = tokio::time::timeout(SOURCE_TIMEOUT, source.changes_in_part(&window)).await;
            (name, read)
        }
    });
    let mut gathered = Gathered {
        changes: Vec::new(),
        sources: Vec::new(),
        gaps: Vec::new(),
    };
    for (name, read) in futures::future::join_all(reads).await {
        match read {
            Ok(Ok((changes, parts_unread))) => {
                gathered
                    .changes
                    .extend(changes.into_iter().filter(|c| window.contains(c.at)));
                gathered
                    .gaps
                    .extend(parts_unread.into_iter().map(|(what, why)| EvidenceGap {
                        what: format!("{name}: {}", gap_reason(&what)),
                        why: gap_reason(&why),
                    }));
            }
            Ok(Err(error)) => gathered.gaps.push(EvidenceGap {
                what: name.clone(),
                why: gap_reason(&error.to_string()),
            }),
            Err(_) => gathered.gaps.push(EvidenceGap {
                what: name.clone(),
                why: format!(
                    "no answer within {} s; try a narrower window",
                    SOURCE_TIMEOUT.as_secs()
                ),
            }),
        }
        gathered.sources.push(name);
    }
    gathered
        .changes
        .sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.summary.cmp(&b.summary)));
    gathered
}

/// Why a record could not be read, as it may be shown: a backend's error
/// can quote a URL with its SAS signature or a connection string, and a
/// hostile server's text can carry terminal escapes.
fn gap_reason(error: &str) -> String {
    clip(&for_screen(error), MAX_GAP_REASON_CHARS)
}

/// The longest reason a gap gives.
const MAX_GAP_REASON_CHARS: usize = 300;

/// Lists the changes of `query`: newest first, at most its limit, with how
/// many more matched.
pub async fn what_changed(backends: &Backends, query: &ChangeQuery) -> Outcome<WhatChangedResult> {
    check_window(&query.window)?;
    if backends.changes.is_empty() {
        return Err(OpsError::unavailable(
            "no change record is configured for this server (Azure: the Activity Log of the environment's resource group and its Key Vault; Airflow: the audit log; Databricks: cluster events)",
        ));
    }
    let limit = query.limit.clamp(1, MAX_CHANGES);
    let scope = match &query.pipeline {
        Some(name) => {
            let catalog = backends.catalog().await?;
            let Some(pipeline) = catalog.pipeline(name) else {
                let known: Vec<String> = catalog.pipelines.iter().map(|p| p.name.clone()).collect();
                return Err(crate::backends::BackendError::not_found_among(
                    "pipeline", name, &known,
                )
                .into());
            };
            Some(pipeline_scope(&catalog, pipeline))
        }
        None => None,
    };
    let gathered = gather(backends, query.window.since, query.window.until).await;
    let mut changes: Vec<Change> = gathered
        .changes
        .into_iter()
        .filter(|c| scope.as_ref().is_none_or(|names| c.touches_any(names)))
        .collect();
    let more = changes.len().saturating_sub(limit);
    changes.truncate(limit);
    let summary = summary_line(backends, query, &changes, more, &gathered.gaps);
    Ok((
        summary,
        WhatChangedResult {
            from: query.window.since,
            to: query.window.until,
            pipeline: query.pipeline.clone(),
            scope: scope.map(|s| s.into_iter().collect()).unwrap_or_default(),
            changes,
            more,
            sources: gathered.sources,
            gaps: gathered.gaps,
        },
    ))
}

fn summary_line(
    backends: &Backends,
    query: &ChangeQuery,
    changes: &[Change],
    more: usize,
    gaps: &[EvidenceGap],
) -> String {
    let scoped = query
        .pipeline
        .as_ref()
        .map(|p| format!(" touching {p}"))
        .unwrap_or_default();
    let window = format!(
        "{} to {}",
        query.window.since.format("%Y-%m-%d %H:%M UTC"),
        query.window.until.format("%Y-%m-%d %H:%M UTC")
    );
    let mut out = if changes.is_empty() {
        format!(
            "[{}] No recorded change{scoped} from {window}.",
            backends.label
        )
    } else {
        let top: Vec<String> = changes.iter().take(3).map(Change::one_line).collect();
        format!(
            "[{}] {} change(s){scoped} from {window}, newest first: {}{}",
            backends.label,
            changes.len() + more,
            top.join("; "),
            if changes.len() > 3 {
                format!("; and {} more listed", changes.len() - 3)
            } else {
                String::new()
            }
        )
    };
    if more > 0 {
        out.push_str(&format!(
            " {more} more matched beyond the limit: narrow the window or raise limit."
        ));
    }
    if !gaps.is_empty() {
        let named: Vec<String> = gaps.iter().map(ToString::to_string).collect();
        out.push_str(&format!(
            " Not read, so its changes are missing: {}.",
            named.join("; ")
        ));
    }
    out
}

/// Every name a pipeline touches, lower-cased: the pipeline, its activities'
/// datasets and linked services (and those they use), the secrets those read,
/// the hosts they connect to, its triggers, notebooks and child pipelines.
pub fn pipeline_scope(catalog: &EstateCatalog, pipeline: &PipelineInfo) -> BTreeSet<String> {
    let mut names = BTreeSet::from([pipeline.name.to_lowercase()]);
    for activity in &pipeline.activities {
        names.extend(activity_scope(catalog, activity));
    }
    names.extend(triggers_named_in(pipeline.schedule.as_deref()));
    names
}

/// Every name one activity touches, lower-cased (as [`pipeline_scope`], for one activity).
pub fn activity_scope(catalog: &EstateCatalog, activity: &ActivityInfo) -> BTreeSet<String> {
    activity_names(catalog, activity, true)
}

/// What one activity uses itself: its datasets, their and its own linked
/// services, the secrets and hosts of those; not the connections those lean
/// on (the Key Vault connection every secret goes through).
pub fn activity_direct_scope(catalog: &EstateCatalog, activity: &ActivityInfo) -> BTreeSet<String> {
    activity_names(catalog, activity, false)
}

fn activity_names(
    catalog: &EstateCatalog,
    activity: &ActivityInfo,
    follow_uses: bool,
) -> BTreeSet<String> {
    let mut direct: BTreeSet<String> = activity.linked_services.iter().cloned().collect();
    let mut names = BTreeSet::new();
    for dataset in activity.inputs.iter().chain(&activity.outputs) {
        names.insert(dataset.to_lowercase());
        if let Some(ds) = catalog.dataset(dataset) {
            direct.insert(ds.linked_service.clone());
            // The container or file system it lives in (`landing` of
            // `landing/pos/…`): a deleted or re-permissioned container is a
            // change to what this activity reads, whatever the account.
            if let Some(root) = ds
                .location
                .as_deref()
                .and_then(|l| l.split('/').map(str::trim).find(|p| !p.is_empty()))
                .filter(|root| !root.contains(['@', '(', '{']))
            {
                names.insert(root.to_lowercase());
            }
        }
    }
    names.extend(linked_service_scope(catalog, &direct, follow_uses));
    names.extend(activity.target.iter().map(|t| t.to_lowercase()));
    names.extend(activity.executes_pipeline.iter().map(|p| p.to_lowercase()));
    names
}

/// Linked services (and, when `follow_uses`, those they use), the secrets
/// they read and the hosts they reach.
pub fn linked_service_scope(
    catalog: &EstateCatalog,
    direct: &BTreeSet<String>,
    follow_uses: bool,
) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut queue: Vec<String> = direct.iter().cloned().collect();
    let mut seen = BTreeSet::new();
    // Bounded by the catalogue: each linked service is expanded once.
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        names.insert(name.to_lowercase());
        let Some(ls) = catalog.linked_service(&name) else {
            continue;
        };
        names.extend(ls.secrets.iter().map(|s| s.secret_name.to_lowercase()));
        names.extend(ls.endpoint.as_deref().into_iter().flat_map(host_names));
        if follow_uses {
            queue.extend(ls.uses_linked_services.iter().cloned());
        }
    }
    names
}

/// Azure service domains whose first label is the resource's name
/// (`stcontosolakeprod.dfs.core.windows.net` is storage account `stcontosolakeprod`).
const AZURE_SUFFIXES: &[&str] = &[
    ".core.windows.net",
    ".database.windows.net",
    ".vault.azure.net",
    ".azuresynapse.net",
    ".azuredatabricks.net",
    ".azurewebsites.net",
    ".servicebus.windows.net",
];

/// The host of an endpoint (URL, `tcp:host,port`, bare host) and, for an
/// Azure service domain, the resource name that is its first label.
pub fn host_names(endpoint: &str) -> Vec<String> {
    let text = endpoint.trim().to_lowercase();
    let after_scheme = text
        .split_once("://")
        .map_or(text.as_str(), |(_, rest)| rest);
    let host = after_scheme
        .trim_start_matches("tcp:")
        .split(['/', ',', ':', ';', '?'])
        .next()
        .unwrap_or("")
        .trim();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Vec::new();
    }
    let mut out = vec![host.to_string()];
    if AZURE_SUFFIXES.iter().any(|suffix| host.ends_with(suffix))
        && let Some((first, _)) = host.split_once('.')
    {
        out.push(first.to_string());
    }
    out
}

/// Trigger names in a catalogue schedule ("every hour (trigger tr_sales_hourly)").
fn triggers_named_in(schedule: Option<&str>) -> Vec<String> {
    let Some(text) = schedule else {
        return Vec::new();
    };
    text.split("trigger ")
        .skip(1)
        .filter_map(|rest| {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .collect();
            (!name.is_empty()).then(|| name.to_lowercase())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_azure_services_name_their_resource() {
        assert_eq!(
            host_names("https://stcontosolakeprod.dfs.core.windows.net/"),
            vec![
                "stcontosolakeprod.dfs.core.windows.net",
                "stcontosolakeprod"
            ]
        );
        assert_eq!(
            host_names("tcp:sql-crm-prod.database.windows.net,1433"),
            vec!["sql-crm-prod.database.windows.net", "sql-crm-prod"]
        );
        // Another company's host is only itself: its first label names nothing.
        assert_eq!(
            host_names("sftp.wms.contoso.example"),
            vec!["sftp.wms.contoso.example"]
        );
        assert!(host_names("  ").is_empty());
    }

    #[test]
    fn gap_reasons_are_redacted_and_neutralised() {
        let reason = gap_reason(
            "GET https://st.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEf0123456789AbCdEf0123456789%3D failed: DefaultEndpointsProtocol=https;AccountName=st;AccountKey=Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg9PQ== \u{1b}[2J",
        );
        assert!(!reason.contains("AbCdEf0123456789AbCdEf"), "{reason}");
        assert!(!reason.contains("Zm9vYmFy"), "{reason}");
        assert!(reason.contains("[redacted"), "{reason}");
        assert!(!reason.contains('\u{1b}'), "{reason}");
        assert!(gap_reason(&"x".repeat(5_000)).chars().count() <= MAX_GAP_REASON_CHARS + 1);
    }

    #[test]
    fn triggers_come_from_the_schedule_text() {
        assert_eq!(
            triggers_named_in(Some(
                "every hour (trigger tr_sales_hourly); every 2 hours (trigger tr-b)"
            )),
            vec!["tr_sales_hourly", "tr-b"]
        );
        assert!(triggers_named_in(Some("started by orchestrate (RunIt)")).is_empty());
    }
}
