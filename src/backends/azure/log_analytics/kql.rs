//! The KQL opsdeck sends to Log Analytics: every filter of a [`LogQuery`] is
//! pushed into the query, so only matching events (or, for summaries, one row
//! per distinct message with its count) leave the workspace.
//!
//! Values from callers only ever enter the query as escaped string literals.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::backends::LogQuery;
use crate::model::log::LogLevel;

/// A KQL double-quoted string literal. Backslash, quote and line breaks are
/// escaped; other control characters dropped; nothing else can end the literal.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn datetime(t: DateTime<Utc>) -> String {
    format!(
        "datetime({})",
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

/// The severity scale the query computes: 4 error, 3 warning, 2 information.
pub fn severity_of(level: LogLevel) -> u8 {
    match level {
        LogLevel::Trace | LogLevel::Debug | LogLevel::Info => 2,
        LogLevel::Warn => 3,
        LogLevel::Error => 4,
        LogLevel::Fatal => 5,
    }
}

pub fn level_of(severity: i64) -> LogLevel {
    match severity {
        s if s >= 5 => LogLevel::Fatal,
        4 => LogLevel::Error,
        3 => LogLevel::Warn,
        _ => LogLevel::Info,
    }
}

/// ADF's two diagnostic tables (resource-specific mode) as one stream of
/// events with a readable message and a severity, filtered by `query`.
fn events(query: &LogQuery) -> String {
    let window = format!(
        "TimeGenerated >= {} and TimeGenerated < {}",
        datetime(query.window.since),
        datetime(query.window.until)
    );
    let mut kql = format!(
        "union isfuzzy=true\n\
         (ADFActivityRun | where {window} | project TimeGenerated, Level, Status, PipelineName, RunId = PipelineRunId, ActivityName, ActivityType, ErrorCode, ErrorMessage, Source = \"adf/activity\"),\n\
         (ADFPipelineRun | where {window} | project TimeGenerated, Level, Status, PipelineName, RunId, ActivityName = \"\", ActivityType = \"\", ErrorCode, ErrorMessage, Source = \"adf/pipeline\")\n\
         | extend Severity = case(Status in (\"Failed\", \"TimedOut\") or Level == \"Error\", 4, Status in (\"Cancelled\", \"Canceling\") or Level == \"Warning\", 3, 2)\n\
         | extend Message = strcat(iff(isempty(ActivityName), strcat(\"Pipeline \", PipelineName), strcat(\"Activity \", ActivityName, \" (\", ActivityType, \")\")), \" \", Status, iff(isempty(ErrorMessage), \"\", strcat(\": \", iff(isempty(ErrorCode), \"\", strcat(\"[\", ErrorCode, \"] \")), ErrorMessage)))\n"
    );
    let mut filter = |clause: String| {
        kql.push_str("| where ");
        kql.push_str(&clause);
        kql.push('\n');
    };
    if let Some(pipeline) = &query.pipeline {
        filter(format!("PipelineName == {}", string_literal(pipeline)));
    }
    if let Some(run_id) = &query.run_id {
        filter(format!("RunId == {}", string_literal(run_id)));
    }
    if let Some(activity) = &query.activity {
        filter(format!("ActivityName == {}", string_literal(activity)));
    }
    if let Some(source) = &query.source {
        filter(format!("Source startswith {}", string_literal(source)));
    }
    if let Some(level) = query.min_level {
        filter(format!("Severity >= {}", severity_of(level)));
    }
    if let Some(text) = query.contains.as_ref().filter(|t| !t.is_empty()) {
        filter(format!("Message contains {}", string_literal(text)));
    }
    kql
}

/// The newest `query.limit` matching events.
pub fn fetch(query: &LogQuery) -> String {
    format!(
        "{}| top {} by TimeGenerated desc\n| project TimeGenerated, Severity, Source, PipelineName, RunId, ActivityName, Message",
        events(query),
        query.limit.max(1)
    )
}

/// One row per distinct message (and source) with its count and time span:
/// the workspace does the counting, opsdeck mines templates from the rows.
pub fn count_messages(query: &LogQuery, max_rows: usize) -> String {
    format!(
        "{}| summarize Count = count(), First = min(TimeGenerated), Last = max(TimeGenerated), Severity = max(Severity), PipelineName = take_any(PipelineName), RunId = take_any(RunId), ActivityName = take_any(ActivityName) by Message, Source\n| top {} by Count desc",
        events(query),
        max_rows.max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::TimeWindow;

    fn query() -> LogQuery {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        LogQuery {
            window: TimeWindow {
                since: t("2026-11-23T01:00:00Z"),
                until: t("2026-11-23T03:00:00Z"),
            },
            pipeline: Some("load_sales".into()),
            run_id: None,
            activity: None,
            source: None,
            min_level: Some(LogLevel::Warn),
            contains: Some("timeout\" | take 1 //".into()),
            limit: 200,
        }
    }

    #[test]
    fn literals_cannot_end_early() {
        assert_eq!(string_literal(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string_literal("x\ny\u{7}"), r#""x\ny""#);
        let kql = fetch(&query());
        assert!(
            kql.contains(r#"Message contains "timeout\" | take 1 //""#),
            "{kql}"
        );
    }

    #[test]
    fn filters_are_pushed_into_the_query() {
        let kql = fetch(&query());
        assert!(kql.contains("TimeGenerated >= datetime(2026-11-23T01:00:00.000Z)"));
        assert!(kql.contains(r#"| where PipelineName == "load_sales""#));
        assert!(kql.contains("| where Severity >= 3"));
        assert!(kql.contains("| top 200 by TimeGenerated desc"));
        assert!(!kql.contains("RunId =="));
        let counted = count_messages(&query(), 5000);
        assert!(counted.contains("summarize Count = count()"));
        assert!(counted.ends_with("| top 5000 by Count desc"));
    }

    #[test]
    fn severities_map_to_levels_and_back() {
        for level in [
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Fatal,
        ] {
            assert_eq!(level_of(severity_of(level) as i64), level);
        }
    }
}
