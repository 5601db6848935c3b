//! A Log Analytics workspace as a [`LogSource`]: the tables Data Factory's
//! diagnostic settings fill (`ADFPipelineRun`, `ADFActivityRun`), queried where
//! they are (Query API v1, `POST /v1/workspaces/{id}/query`). Filters and, for
//! summaries, the counting run in the workspace, so opsdeck serves estates
//! whose logs no single machine could hold.

pub mod kql;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::backends::http::{Call, RestClient, RestError, url_with};
use crate::backends::{BackendError, LogQuery, LogSource, MessageCount};
use crate::model::log::LogLine;
use crate::model::time::parse_service_instant;

pub const READ_ROLE: &str = "the Log Analytics Reader role on the workspace";
/// Most distinct messages a summary reads back.
const MAX_MESSAGE_ROWS: usize = 5_000;

/// The Query API's answer: tables of typed columns and rows.
#[derive(Debug, Deserialize)]
pub struct QueryResults {
    #[serde(default)]
    pub tables: Vec<Table>,
    /// Set on a partial result (the query hit a limit or a table failed).
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct Table {
    #[serde(default)]
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type", default)]
    pub column_type: String,
}

impl Table {
    /// Rows as maps from column name to value (the column order is the service's).
    pub fn records(&self) -> impl Iterator<Item = HashMap<&str, &Value>> + '_ {
        self.rows.iter().map(|row| {
            self.columns
                .iter()
                .map(|c| c.name.as_str())
                .zip(row.iter())
                .collect()
        })
    }
}

pub struct LogAnalyticsLogs {
    client: Arc<RestClient>,
    scope: String,
    query_url: Url,
    workspace: String,
}

fn text(record: &HashMap<&str, &Value>, column: &str) -> Option<String> {
    match record.get(column)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(record: &HashMap<&str, &Value>, column: &str) -> Option<i64> {
    match record.get(column)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn instant(record: &HashMap<&str, &Value>, column: &str) -> Option<DateTime<Utc>> {
    parse_service_instant(record.get(column).and_then(|v| v.as_str()))
}

/// A log line from a row of the fetch or count query.
fn line_of(record: &HashMap<&str, &Value>, time_column: &str) -> Option<LogLine> {
    Some(LogLine {
        timestamp: instant(record, time_column)?,
        level: kql::level_of(number(record, "Severity").unwrap_or(2)),
        source: text(record, "Source").unwrap_or_else(|| "adf".into()),
        pipeline: text(record, "PipelineName"),
        run_id: text(record, "RunId"),
        activity: text(record, "ActivityName"),
        message: text(record, "Message").unwrap_or_default(),
    })
}

impl LogAnalyticsLogs {
    pub fn new(
        client: Arc<RestClient>,
        endpoint: &Url,
        scope: &str,
        workspace: &str,
    ) -> LogAnalyticsLogs {
        LogAnalyticsLogs {
            client,
            scope: scope.to_string(),
            query_url: url_with(endpoint, &["v1", "workspaces", workspace, "query"], &[]),
            workspace: workspace.to_string(),
        }
    }

    /// Runs a query over `window` and returns its first table.
    pub async fn run(
        &self,
        query: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Table, BackendError> {
        let body = json!({
            "query": query,
            "timespan": format!(
                "{}/{}",
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
                until.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        });
        let answer = self
            .client
            .send(&Call::query(self.query_url.clone(), &self.scope, &body))
            .await
            .map_err(|e| self.error(e))?;
        let results: QueryResults = serde_json::from_value(answer).map_err(|e| {
            BackendError::Unavailable(format!(
                "the Log Analytics answer from workspace {} has an unexpected shape: {e}",
                self.workspace
            ))
        })?;
        if let Some(error) = &results.error {
            // A partial answer is still an answer; say so in the log.
            tracing::warn!(
                "Log Analytics workspace {} returned a partial result: {error}",
                self.workspace
            );
        }
        results.tables.into_iter().next().ok_or_else(|| {
            BackendError::Unavailable(format!(
                "Log Analytics workspace {} answered without a result table",
                self.workspace
            ))
        })
    }

    fn error(&self, e: RestError) -> BackendError {
        let hint = match &e {
            RestError::Status {
                status: 400,
                message,
                ..
            } if message.contains("ADFActivityRun") || message.contains("ADFPipelineRun") => {
                " The factory's diagnostic settings must send ActivityRuns and PipelineRuns to this workspace in resource-specific mode."
            }
            _ => "",
        };
        match e.about("log analytics workspace", &self.workspace, READ_ROLE) {
            BackendError::InvalidArgument(m) => BackendError::InvalidArgument(format!("{m}{hint}")),
            other => other,
        }
    }
}

#[async_trait]
impl LogSource for LogAnalyticsLogs {
    async fn fetch_logs(&self, query: &LogQuery) -> Result<Vec<LogLine>, BackendError> {
        let table = self
            .run(&kql::fetch(query), query.window.since, query.window.until)
            .await?;
        let mut lines: Vec<LogLine> = table
            .records()
            .filter_map(|r| line_of(&r, "TimeGenerated"))
            .collect();
        lines.sort_by_key(|l| l.timestamp);
        Ok(lines)
    }

    async fn count_messages(
        &self,
        query: &LogQuery,
    ) -> Result<Option<Vec<MessageCount>>, BackendError> {
        let table = self
            .run(
                &kql::count_messages(query, MAX_MESSAGE_ROWS),
                query.window.since,
                query.window.until,
            )
            .await?;
        let counts = table
            .records()
            .filter_map(|r| {
                let first = instant(&r, "First")?;
                let last = instant(&r, "Last").unwrap_or(first);
                Some(MessageCount {
                    line: line_of(&r, "Last")?,
                    count: number(&r, "Count").unwrap_or(1).max(1) as u64,
                    first,
                    last,
                })
            })
            .collect();
        Ok(Some(counts))
    }

    fn log_sources(&self) -> Vec<String> {
        vec!["adf/activity".into(), "adf/pipeline".into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_column_name_in_any_order() {
        let table: Table = serde_json::from_value(json!({
            "name": "PrimaryResult",
            "columns": [
                {"name": "Message", "type": "string"},
                {"name": "TimeGenerated", "type": "datetime"},
                {"name": "Severity", "type": "long"},
                {"name": "PipelineName", "type": "string"},
                {"name": "RunId", "type": "string"},
                {"name": "ActivityName", "type": "string"},
                {"name": "Source", "type": "string"}
            ],
            "rows": [
                ["Activity Copy (Copy) Failed: [2200] Login failed", "2026-11-23T02:00:01.1234567Z", 4, "load_sales", "r1", "Copy", "adf/activity"],
                ["no time", null, 2, "", "", "", "adf/pipeline"]
            ]
        }))
        .unwrap();
        let lines: Vec<LogLine> = table
            .records()
            .filter_map(|r| line_of(&r, "TimeGenerated"))
            .collect();
        assert_eq!(lines.len(), 1, "a row without a time is dropped");
        assert_eq!(lines[0].level, crate::model::log::LogLevel::Error);
        assert_eq!(lines[0].pipeline.as_deref(), Some("load_sales"));
        assert_eq!(lines[0].activity.as_deref(), Some("Copy"));
    }
}
