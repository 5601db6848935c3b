//! Airflow task logs, however the webserver answers: plain text (Airflow 2's
//! `text/plain`), JSON whose `content` is a stringified Python list of
//! `(host, text)` pairs (Airflow 2's `application/json`), structured events
//! (Airflow 3's JSON) or one event per line (Airflow 3's NDJSON). All are read
//! as Airflow 2's text lines, so one reader finds errors and events in both.

use serde_json::{Value, json};

use crate::logmine::header::split_header;
use crate::model::log::{LogLevel, LogLine};
use crate::model::run::{PipelineRun, RunError};

/// A log answer's body as text lines, whichever of the four shapes it has.
pub fn log_answer_text(body: &str) -> String {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(answer) = serde_json::from_str::<Value>(trimmed) {
            return match &answer["content"] {
                Value::String(content) => python_list_text(content),
                Value::Array(_) => structured_log_text(&answer),
                // A single NDJSON event, or an answer without content.
                _ if answer.get("event").is_some() => {
                    structured_log_text(&json!({"content": [answer]}))
                }
                _ => String::new(),
            };
        }
        if let Some(events) = ndjson_events(trimmed) {
            return structured_log_text(&json!({ "content": events }));
        }
    }
    body.to_string()
}

/// Every non-empty line a JSON object, or `None`.
fn ndjson_events(body: &str) -> Option<Vec<Value>> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(Value::is_object)
        })
        .collect()
}

/// Airflow 2's JSON log content, `"[('host', '*** Found…\n[…] INFO - …')]"`:
/// the text of each pair, joined. Anything else is taken as the text itself.
fn python_list_text(content: &str) -> String {
    if !content.trim_start().starts_with("[(") {
        return content.to_string();
    }
    let literals = python_string_literals(content);
    if literals.len() < 2 {
        return content.to_string();
    }
    literals
        .chunks(2)
        .filter_map(|pair| pair.get(1))
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Python string literals (`'…'` or `"…"`, with repr's escapes) in `text`, in order.
fn python_string_literals(text: &str) -> Vec<String> {
    let mut literals = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\'' && c != '"' {
            continue;
        }
        let quote = c;
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => literal.push('\n'),
                    Some('t') => literal.push('\t'),
                    Some('r') => literal.push('\r'),
                    Some('x') => push_code(&mut literal, &mut chars, 2),
                    Some('u') => push_code(&mut literal, &mut chars, 4),
                    Some('U') => push_code(&mut literal, &mut chars, 8),
                    Some(other) => literal.push(other),
                    None => break,
                },
                c if c == quote => break,
                c => literal.push(c),
            }
        }
        literals.push(literal);
    }
    literals
}

fn push_code(literal: &mut String, chars: &mut std::str::Chars<'_>, digits: usize) {
    let hex: String = chars.by_ref().take(digits).collect();
    let code = (hex.len() == digits)
        .then(|| u32::from_str_radix(&hex, 16).ok())
        .flatten()
        .and_then(char::from_u32);
    match code {
        Some(c) => literal.push(c),
        None => literal.push(char::REPLACEMENT_CHARACTER),
    }
}

/// Airflow 3's structured task log (`{"content": [{"timestamp", "event",
/// "level", "logger", "error_detail"}, …]}`, or plain strings) as Airflow 2's
/// text: `[time] {logger} LEVEL - event`, an exception's detail as a traceback.
pub fn structured_log_text(answer: &Value) -> String {
    let mut out = String::new();
    for item in answer["content"].as_array().into_iter().flatten() {
        if let Some(line) = item.as_str() {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let event = item["event"].as_str().unwrap_or_default();
        match item["timestamp"].as_str() {
            Some(time) => out.push_str(&format!(
                "[{time}] {{{}}} {} - {event}\n",
                item["logger"].as_str().unwrap_or("task"),
                item["level"]
                    .as_str()
                    .unwrap_or("info")
                    .to_ascii_uppercase(),
            )),
            // Source headers ("::group::Log message source details") carry no time.
            None => {
                out.push_str(&format!("*** {event}\n"));
            }
        }
        for detail in item["error_detail"].as_array().into_iter().flatten() {
            out.push_str("Traceback (most recent call last):\n");
            for frame in detail["frames"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "  File \"{}\", line {}, in {}\n",
                    frame["filename"].as_str().unwrap_or("?"),
                    frame["lineno"].as_i64().unwrap_or(0),
                    frame["name"].as_str().unwrap_or("?")
                ));
            }
            out.push_str(&format!(
                "{}: {}\n",
                detail["exc_type"].as_str().unwrap_or("Exception"),
                detail["exc_value"].as_str().unwrap_or_default()
            ));
        }
    }
    out
}

/// Whether Airflow's answer to a log request says there is no such log: for a
/// try that never ran it answers 200 with a "could not read" note.
pub fn is_missing_log(text: &str) -> bool {
    let meaningful: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    !meaningful.is_empty()
        && meaningful.iter().all(|l| l.starts_with("***"))
        && meaningful.iter().any(|l| {
            let lower = l.to_ascii_lowercase();
            lower.contains("could not read")
                || lower.contains("does not exist")
                || lower.contains("no logs")
        })
}

/// The error a failed task's log ends with: the last traceback's final line
/// (`module.ExceptionClass: message`), else the last `ERROR -` line.
pub fn error_from_log(text: &str) -> Option<RunError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut last_exception: Option<&str> = None;
    let mut in_traceback = false;
    for line in &lines {
        let body = strip_airflow_prefix(line);
        if body.starts_with("Traceback (most recent call last)") {
            in_traceback = true;
            continue;
        }
        if in_traceback && !line.starts_with(' ') && !line.starts_with('\t') && !body.is_empty() {
            last_exception = Some(body);
            in_traceback = false;
        }
    }
    if let Some(line) = last_exception {
        let (class, message) = match line.split_once(": ") {
            Some((class, message)) if !class.contains(' ') => (class, message),
            _ => (line, ""),
        };
        let short = class.rsplit('.').next().unwrap_or(class);
        return Some(RunError {
            code: short.to_string(),
            message: if message.is_empty() {
                line.to_string()
            } else {
                message.to_string()
            },
            failure_type: None,
        });
    }
    lines
        .iter()
        .rev()
        .find_map(|l| l.split_once(" ERROR - ").map(|(_, m)| m.trim()))
        .filter(|m| !m.is_empty())
        .map(|m| RunError {
            code: "TaskFailed".into(),
            message: m.to_string(),
            failure_type: None,
        })
}

/// `[2026-11-23T02:00:05.123+0000] {file.py:12} ERROR - text` → `text`.
fn strip_airflow_prefix(line: &str) -> &str {
    if line.starts_with('[')
        && let Some((_, rest)) = line.split_once("} ")
        && let Some((_, message)) = rest.split_once(" - ")
    {
        return message.trim();
    }
    line.trim()
}

/// A task log as events: each line with Airflow's `[time] {file:line} LEVEL -`
/// header starts one; lines without one (tracebacks) belong to the event before.
pub fn log_events(text: &str, run: &PipelineRun, task: &str) -> Vec<LogLine> {
    let year = run
        .run_start
        .map(|t| chrono::Datelike::year(&t))
        .unwrap_or(2026);
    let mut events: Vec<LogLine> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with("***") {
            continue;
        }
        let header = split_header(line, year);
        match header.timestamp {
            Some(timestamp) => events.push(LogLine {
                timestamp,
                level: header.level.unwrap_or(LogLevel::Info),
                source: "airflow/task".into(),
                pipeline: Some(run.pipeline.clone()),
                run_id: Some(run.run_id.clone()),
                activity: Some(task.to_string()),
                message: line[header.message_start..].trim().to_string(),
            }),
            None => {
                if let Some(last) = events.last_mut() {
                    last.message.push('\n');
                    last.message.push_str(line);
                }
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILED_LOG: &str = "[2026-11-23T02:00:05.101+0000] {taskinstance.py:2614} INFO - Dependencies all met
[2026-11-23T02:00:05.200+0000] {orders.py:30} INFO - Run submitted with run_id: 448812
[2026-11-23T02:01:10.000+0000] {taskinstance.py:3311} ERROR - Task failed with exception
Traceback (most recent call last):
  File \"/opt/airflow/dags/orders.py\", line 41, in submit
    raise AirflowException(msg)
airflow.exceptions.AirflowException: Job run failed with terminal state: FAILED. AnalysisException: [UNRESOLVED_COLUMN] `order_ts` cannot be resolved
[2026-11-23T02:01:10.050+0000] {taskinstance.py:1225} INFO - Marking task as FAILED.";

    #[test]
    fn the_error_is_the_last_exception_of_the_log() {
        let error = error_from_log(FAILED_LOG).unwrap();
        assert_eq!(error.code, "AirflowException");
        assert!(
            error
                .message
                .starts_with("Job run failed with terminal state: FAILED")
        );
        let plain = error_from_log("[t] {x.py:1} ERROR - Disk quota exceeded\n").unwrap();
        assert_eq!(plain.message, "Disk quota exceeded");
        assert!(error_from_log("[t] {x.py:1} INFO - fine\n").is_none());
    }

    #[test]
    fn structured_logs_read_like_text_logs() {
        let answer = json!({"content": [
            {"event": "::group::Log message source details", "sources": ["/logs/x.log"]},
            {"timestamp": "2026-11-23T02:00:05.123456Z", "level": "info", "event": "Run submitted with run_id: 448812", "logger": "airflow.task"},
            {"timestamp": "2026-11-23T02:01:10.000000Z", "level": "error", "event": "Task failed with exception", "logger": "task",
             "error_detail": [{"exc_type": "AirflowException", "exc_value": "Job run failed: order_ts", "frames": [{"filename": "/dags/orders.py", "lineno": 41, "name": "submit"}]}]}
        ], "continuation_token": null});
        let text = structured_log_text(&answer);
        assert!(text.contains("[2026-11-23T02:00:05.123456Z] {airflow.task} INFO - Run submitted with run_id: 448812"), "{text}");
        let error = error_from_log(&text).unwrap();
        assert_eq!(error.code, "AirflowException");
        assert_eq!(error.message, "Job run failed: order_ts");
        assert!(!is_missing_log(&text));
    }

    #[test]
    fn a_log_for_a_try_that_never_ran_is_missing() {
        assert!(is_missing_log(
            "*** Could not read served logs: Client error '404 NOT FOUND' for url 'http://x:8793/log/...'\n"
        ));
        assert!(is_missing_log(
            "*** Log file does not exist: /opt/airflow/logs/x.log\n"
        ));
        assert!(!is_missing_log(FAILED_LOG));
        assert!(!is_missing_log(
            "*** Found local files:\n***   * /logs/x.log\n[t] {x} INFO - ok"
        ));
    }

    #[test]
    fn airflow_2_json_content_is_a_stringified_list_of_host_and_text() {
        // Airflow 2's answer to `Accept: application/json`, repr() of a list of tuples.
        let body = json!({
            "content": "[('worker-1', \"*** Found local files:\\n[2026-11-23T02:01:10.000+0000] {taskinstance.py:3311} ERROR - Task failed with exception\\nTraceback (most recent call last):\\n  File \\\"/dags/x.py\\\", line 4, in f\\nValueError: can't parse 'order_ts' \\u2013 bad\")]",
            "continuation_token": "abc"
        })
        .to_string();
        let text = log_answer_text(&body);
        assert!(
            text.starts_with("*** Found local files:\n[2026-11-23T02:01:10.000+0000]"),
            "{text}"
        );
        let error = error_from_log(&text).unwrap();
        assert_eq!(error.code, "ValueError");
        assert_eq!(error.message, "can't parse 'order_ts' \u{2013} bad");
    }

    #[test]
    fn airflow_3_ndjson_logs_read_like_its_json_logs() {
        let ndjson = concat!(
            "{\"event\": \"::group::Log message source details\", \"sources\": [\"/logs/x.log\"]}\n",
            "{\"timestamp\": \"2026-11-23T02:00:05.123456Z\", \"level\": \"info\", \"event\": \"Run submitted with run_id: 448812\", \"logger\": \"airflow.task\"}\n",
            "{\"timestamp\": \"2026-11-23T02:01:10.000000Z\", \"level\": \"error\", \"event\": \"Task failed with exception\", \"error_detail\": [{\"exc_type\": \"AirflowException\", \"exc_value\": \"Job run failed\", \"frames\": []}]}\n",
        );
        let text = log_answer_text(ndjson);
        assert!(
            text.contains("INFO - Run submitted with run_id: 448812"),
            "{text}"
        );
        assert_eq!(error_from_log(&text).unwrap().message, "Job run failed");
    }

    #[test]
    fn plain_text_and_unknown_shapes_pass_through() {
        assert_eq!(log_answer_text(FAILED_LOG), FAILED_LOG);
        // A brace-led line that is not JSON stays text; JSON without content is empty.
        assert_eq!(
            log_answer_text("{not json} INFO - x"),
            "{not json} INFO - x"
        );
        assert_eq!(log_answer_text("{\"detail\": \"x\"}"), "");
        // A stringified list cut short keeps what was read, never panics.
        assert_eq!(python_list_text("[('h', 'abc\\x4"), "abc\u{fffd}");
    }
}
