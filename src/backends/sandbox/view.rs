//! What a timeline looks like at an instant: queued, in progress with the
//! activities started so far, finished — or cancelled part way.

use chrono::{DateTime, Duration, Utc};

use super::simulate::RunTimeline;
use crate::model::log::LogLine;
use crate::model::run::{ActivityRun, BackendKind, PipelineRun, RunStatus, duration_ms};

/// How long `Canceling` lasts before a cancelled run settles.
const CANCEL_GRACE: i64 = 5;

/// The instant after which nothing more happens in a run: its end, or its cancellation.
pub fn effective_end(timeline: &RunTimeline, cancelled_at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match cancelled_at {
        Some(c) if c < timeline.end => c + Duration::seconds(CANCEL_GRACE),
        _ => timeline.end,
    }
}

/// Just the status at `now` (cheap: no strings cloned); `None` before it was queued.
pub fn status_at(
    timeline: &RunTimeline,
    now: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
) -> Option<RunStatus> {
    if now < timeline.queued_at {
        return None;
    }
    let cancel = cancelled_at.filter(|c| *c < timeline.end && *c <= now);
    Some(match cancel {
        Some(c) if now < c + Duration::seconds(CANCEL_GRACE) => RunStatus::Canceling,
        Some(_) => RunStatus::Cancelled,
        None if now < timeline.start => RunStatus::Queued,
        None if now < timeline.end => RunStatus::InProgress,
        None => timeline.status.clone(),
    })
}

/// The run as seen at `now`; `None` before it was queued.
pub fn run_at(
    timeline: &RunTimeline,
    now: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    environment: &str,
) -> Option<PipelineRun> {
    if now < timeline.queued_at {
        return None;
    }
    let cancel = cancelled_at.filter(|c| *c < timeline.end && *c <= now);
    let (status, start, end, message) = if now < timeline.start && cancel.is_none() {
        (RunStatus::Queued, None, None, String::new())
    } else if let Some(c) = cancel {
        let settled = c + Duration::seconds(CANCEL_GRACE);
        if now < settled {
            (
                RunStatus::Canceling,
                Some(timeline.start),
                None,
                String::new(),
            )
        } else {
            (
                RunStatus::Cancelled,
                Some(timeline.start),
                Some(settled),
                "Pipeline run cancelled by user".to_string(),
            )
        }
    } else if now < timeline.end {
        (
            RunStatus::InProgress,
            Some(timeline.start),
            None,
            String::new(),
        )
    } else {
        (
            timeline.status.clone(),
            Some(timeline.start),
            Some(timeline.end),
            timeline.message.clone(),
        )
    };
    Some(PipelineRun {
        run_id: timeline.run_id.clone(),
        pipeline: timeline.pipeline.clone(),
        backend: BackendKind::Sandbox,
        environment: environment.to_string(),
        status,
        run_start: start,
        run_end: end,
        duration_ms: duration_ms(start, end),
        invoked_by: timeline.invoked_by.clone(),
        message,
        parameters: timeline.parameters.clone(),
        rerun_of: timeline.rerun_of.clone(),
    })
}

/// Activity attempts started by `now`, with the running ones shown in progress.
pub fn activities_at(
    timeline: &RunTimeline,
    now: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
) -> Vec<ActivityRun> {
    let cancel = cancelled_at.filter(|c| *c < timeline.end);
    timeline
        .attempts
        .iter()
        .filter(|a| a.start <= now && cancel.is_none_or(|c| a.start <= c))
        .map(|a| {
            let cancelled_mid_way =
                cancel.filter(|c| *c < a.end && *c + Duration::seconds(CANCEL_GRACE) <= now);
            let (status, end, error, output) = if let Some(c) = cancelled_mid_way {
                (
                    RunStatus::Cancelled,
                    Some(c + Duration::seconds(CANCEL_GRACE)),
                    None,
                    serde_json::Value::Null,
                )
            } else if now < a.end {
                (RunStatus::InProgress, None, None, serde_json::Value::Null)
            } else {
                (
                    a.status.clone(),
                    Some(a.end),
                    a.error.clone(),
                    a.output.clone(),
                )
            };
            ActivityRun {
                activity_run_id: a.id.clone(),
                activity_name: a.name.clone(),
                activity_type: a.activity_type.clone(),
                status,
                attempt: a.attempt,
                start: Some(a.start),
                end,
                duration_ms: duration_ms(Some(a.start), end),
                error,
                linked_service: a.linked_service.clone(),
                output,
            }
        })
        .collect()
}

/// Log lines written by `now` (and not after a cancellation).
pub fn logs_at(
    timeline: &RunTimeline,
    now: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
) -> impl Iterator<Item = &LogLine> {
    let limit = effective_end(timeline, cancelled_at).min(now);
    timeline.logs.iter().filter(move |l| l.timestamp <= limit)
}
