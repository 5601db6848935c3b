//! Paging `query_runs`. Fabric lists job instances per item, so the board's
//! page is cut from all asked items' runs merged newest first (runs not
//! started yet first of all, then by start, ties by id); the continuation is
//! the last run a page held (its start and id), and the next page starts
//! after it.
//!
//! The token is opaque to the caller and sealed with a key this process
//! chose: one altered, from another query (other pipelines or statuses) or
//! from before a restart is refused with what to do, never followed blindly.
//!
//! **What paging guarantees.** Between pages of one query, over runs whose
//! start time does not change: no run is shown twice and none is skipped;
//! runs that arrive meanwhile start later than any shown, so they sort
//! before the cursor and do not shift the later pages (they are on a new
//! first page).
//!
//! **What it does not.**
//! - A run that had no start time yet is keyed by "not started" and sorts
//!   first. One shown on a page while waiting that starts before the next page
//!   is asked for may be shown again when the cursor is itself a waiting run;
//!   one not yet shown that starts then is keyed by its new start and may
//!   fall before the cursor, and so onto no page of this walk.
//! - A run whose status changes between pages (it finishes, fails) moves
//!   into or out of a status filter: it may be missed or shown under both.
//! - The window is not sealed into the token (a window like "the last 24 h"
//!   moves): runs at its edges may come or go between pages.
//! - Each item is read up to `RUNS_PER_ITEM` (1,000) job instances, as Fabric's
//!   listing gives them; an item with more has its older runs on no page at
//!   all. `RunPage` has no place for a note, so `query_runs` writes a warning
//!   to the log naming each such item (and the page is otherwise as described).

use std::cmp::Ordering;
use std::hash::{BuildHasher, RandomState};

use base64::Engine;
use serde_json::{Value, json};

use crate::model::run::PipelineRun;

/// Longest continuation accepted (ours are far shorter).
const MAX_TOKEN_CHARS: usize = 16 * 1024;

/// Where the next page starts: after this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCursor {
    started_ms: Option<i64>,
    run_id: String,
}

impl RunCursor {
    pub fn after(run: &PipelineRun) -> RunCursor {
        RunCursor {
            started_ms: run.run_start.map(|t| t.timestamp_millis()),
            run_id: run.run_id.clone(),
        }
    }

    /// Whether `run` comes after the cursor, newest first.
    pub fn precedes(&self, run: &PipelineRun) -> bool {
        let key = RunCursor::after(run);
        order(&self.key(), &key.key()) == Ordering::Less
    }

    fn key(&self) -> (bool, std::cmp::Reverse<Option<i64>>, &str) {
        (
            self.started_ms.is_some(),
            std::cmp::Reverse(self.started_ms),
            self.run_id.as_str(),
        )
    }
}

fn order(
    a: &(bool, std::cmp::Reverse<Option<i64>>, &str),
    b: &(bool, std::cmp::Reverse<Option<i64>>, &str),
) -> Ordering {
    a.cmp(b)
}

/// Newest first; runs not started yet are the newest of all; ties by id.
pub fn newest_first(a: &PipelineRun, b: &PipelineRun) -> Ordering {
    let (a, b) = (RunCursor::after(a), RunCursor::after(b));
    order(&a.key(), &b.key())
}

/// Seals and opens continuation tokens with this process's key.
pub struct Sealer {
    key: RandomState,
}

impl Default for Sealer {
    fn default() -> Sealer {
        Sealer {
            key: RandomState::new(),
        }
    }
}

impl Sealer {
    fn mac(&self, scope: &str, cursor: &RunCursor) -> String {
        format!(
            "{:016x}",
            self.key
                .hash_one((scope, cursor.started_ms, cursor.run_id.as_str()))
        )
    }

    /// The token for the page after `cursor`, for the query named by `scope`.
    pub fn seal(&self, scope: &str, cursor: &RunCursor) -> String {
        let body = json!([cursor.started_ms, cursor.run_id, self.mac(scope, cursor)]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string())
    }

    /// The cursor a token holds, if this process issued it for `scope`.
    pub fn open(&self, scope: &str, token: &str) -> Result<RunCursor, String> {
        let refuse = || {
            format!(
                "continuation_token '{}' was not issued by this server for this query (it was altered, is for other pipelines or statuses, or predates a restart); ask again without it",
                token.chars().take(80).collect::<String>()
            )
        };
        if token.len() > MAX_TOKEN_CHARS {
            return Err(refuse());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| refuse())?;
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|_| refuse())?;
        let (Some(started), Some(run_id), Some(mac)) = (
            parsed.get(0),
            parsed.get(1).and_then(Value::as_str),
            parsed.get(2).and_then(Value::as_str),
        ) else {
            return Err(refuse());
        };
        let started_ms = match started {
            Value::Null => None,
            other => Some(other.as_i64().ok_or_else(refuse)?),
        };
        let cursor = RunCursor {
            started_ms,
            run_id: run_id.to_string(),
        };
        if self.mac(scope, &cursor) != mac {
            return Err(refuse());
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(started_ms: Option<i64>, run_id: &str) -> RunCursor {
        RunCursor {
            started_ms,
            run_id: run_id.into(),
        }
    }

    #[test]
    fn tokens_round_trip_only_for_their_query_and_this_process() {
        let sealer = Sealer::default();
        let at = cursor(Some(1_764_900_000_000), "r-1");
        let token = sealer.seal("ingest|Failed", &at);
        assert_eq!(sealer.open("ingest|Failed", &token).unwrap(), at);
        assert!(sealer.open("other|Failed", &token).is_err());
        assert!(Sealer::default().open("ingest|Failed", &token).is_err());
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!([0, "r-1", "0000000000000000"]).to_string());
        assert!(sealer.open("ingest|Failed", &forged).is_err());
        for junk in ["", "!!!", "e30", &"A".repeat(MAX_TOKEN_CHARS + 1)] {
            let err = sealer.open("ingest|Failed", junk).unwrap_err();
            assert!(err.contains("ask again without it"), "{err}");
        }
    }

    #[test]
    fn not_started_runs_come_first_then_newest() {
        let queued = cursor(None, "q");
        let newer = cursor(Some(2_000), "b");
        let older = cursor(Some(1_000), "a");
        assert_eq!(order(&queued.key(), &newer.key()), Ordering::Less);
        assert_eq!(order(&newer.key(), &older.key()), Ordering::Less);
        let tie = cursor(Some(2_000), "c");
        assert_eq!(order(&newer.key(), &tie.key()), Ordering::Less);
    }
}
