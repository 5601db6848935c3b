//! Runs opsdeck started — a rerun, a run on demand — followed to their end.
//! A remediation's answer names the new run; from then on the runtime polls
//! that run on the server that started it, the board pins it, and its end is
//! told in the chat and notified, whether it succeeded or not.

use crate::agent::events::AgentEvent;
use crate::model::contract::RemediationOutcome;
use crate::model::run::{PipelineRun, RunStatus};

/// At most this many runs are followed (and pinned) at once: a loop of reruns
/// cannot grow the board's pins or the polling without bound.
pub const MAX_FOLLOWED: usize = 32;

/// Run ids longer than this are not a run any backend issues; not followed.
const MAX_RUN_ID: usize = 256;

/// A run to follow, and where to ask about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowTarget {
    /// The MCP server whose tool started the run.
    pub server: String,
    pub run_id: String,
    pub pipeline: String,
    /// The action restarted the run it acted on (Airflow's clear, Databricks'
    /// repair keep the run id): until the run is seen going again, its old
    /// end is not its new one.
    pub in_place: bool,
}

/// What the runtime learned about a followed run.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowNews {
    /// The run as its server now shows it.
    Run(Box<PipelineRun>),
    /// The runtime stopped asking (the run never ended within the limit, or
    /// its server kept failing), and why.
    GaveUp(String),
}

/// A followed run as the console knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Followed {
    pub target: FollowTarget,
    /// The last status seen (None until the first answer).
    pub status: Option<RunStatus>,
    /// True once the end was told (the run ended, or following gave up).
    pub told: bool,
}

/// The runs being followed, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Following {
    runs: Vec<Followed>,
}

/// What adding a run to follow did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Newly followed; `dropped` is an ended run let go to make room.
    New { dropped: Option<String> },
    /// Already followed (a replayed or repeated answer).
    Already,
    /// Every slot holds a run still going: this one is not followed.
    Full,
}

/// The end of a followed run, to tell once.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Ended(Box<PipelineRun>),
    GaveUp {
        target: FollowTarget,
        reason: String,
    },
}

impl Following {
    pub fn start(&mut self, target: FollowTarget) -> Started {
        if let Some(followed) = self
            .runs
            .iter_mut()
            .find(|f| f.target.run_id == target.run_id)
        {
            if !followed.told {
                return Started::Already;
            }
            // The same run started again (an in-place rerun after its end was told).
            *followed = Followed {
                target,
                status: None,
                told: false,
            };
            return Started::New { dropped: None };
        }
        let mut dropped = None;
        if self.runs.len() >= MAX_FOLLOWED {
            match self.runs.iter().position(|f| f.told) {
                Some(index) => dropped = Some(self.runs.remove(index).target.run_id),
                None => return Started::Full,
            }
        }
        self.runs.push(Followed {
            target,
            status: None,
            told: false,
        });
        Started::New { dropped }
    }

    /// Takes news of a run; returns its end the first time there is one to tell.
    pub fn report(&mut self, run_id: &str, news: FollowNews) -> Option<Ending> {
        let followed = self.runs.iter_mut().find(|f| f.target.run_id == run_id)?;
        if followed.told {
            return None;
        }
        match news {
            FollowNews::Run(run) => {
                followed.status = Some(run.status.clone());
                if run.status.is_terminal() {
                    followed.told = true;
                    return Some(Ending::Ended(run));
                }
                None
            }
            FollowNews::GaveUp(reason) => {
                followed.told = true;
                Some(Ending::GaveUp {
                    target: followed.target.clone(),
                    reason,
                })
            }
        }
    }

    pub fn get(&self, run_id: &str) -> Option<&Followed> {
        self.runs.iter().find(|f| f.target.run_id == run_id)
    }

    pub fn is_followed(&self, run_id: &str) -> bool {
        self.get(run_id).is_some()
    }

    /// Followed and its end not told yet: the follower, not the board, will tell it.
    pub fn is_going(&self, run_id: &str) -> bool {
        self.get(run_id).is_some_and(|f| !f.told)
    }

    /// Runs whose end has not been told yet (a resumed session follows them again).
    pub fn still_going(&self) -> impl Iterator<Item = &FollowTarget> {
        self.runs.iter().filter(|f| !f.told).map(|f| &f.target)
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

/// The run a finished tool call started, when its answer says it started one:
/// a remediation outcome that is not a dry run and names a new run. Any tool
/// of any server may answer so; the runtime asks only servers whose reads
/// need no approval, so an untrusted server's claim is not polled.
pub fn started_run(event: &AgentEvent) -> Option<FollowTarget> {
    let AgentEvent::ToolCallFinished {
        server,
        is_error: false,
        result,
        truncated: false,
        ..
    } = event
    else {
        return None;
    };
    let structured = result.get("structured").filter(|v| !v.is_null())?;
    let outcome = serde_json::from_value::<RemediationOutcome>(structured.clone()).ok()?;
    if outcome.dry_run {
        return None;
    }
    let run_id = outcome.new_run_id?;
    let sane =
        !run_id.is_empty() && run_id.len() <= MAX_RUN_ID && !run_id.chars().any(char::is_control);
    let in_place = outcome.target_run_id.as_deref() == Some(run_id.as_str());
    sane.then(|| FollowTarget {
        server: server.clone(),
        run_id,
        pipeline: outcome.pipeline,
        in_place,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn finished(server: &str, structured: Value, is_error: bool) -> AgentEvent {
        AgentEvent::ToolCallFinished {
            call_id: "c1".into(),
            server: server.into(),
            tool: "rerun_pipeline".into(),
            duration_ms: 5,
            is_error,
            result: json!({"content": ["…"], "structured": structured}),
            truncated: false,
        }
    }

    fn outcome(dry_run: bool, new_run: Option<&str>) -> Value {
        json!({
            "action": "rerun", "dry_run": dry_run, "backend": "fabric",
            "environment": "Sales", "pipeline": "LoadSales",
            "target_run_id": "old", "new_run_id": new_run, "steps": []
        })
    }

    fn target(id: &str) -> FollowTarget {
        FollowTarget {
            server: "opsdeck".into(),
            run_id: id.into(),
            pipeline: "p".into(),
            in_place: false,
        }
    }

    #[test]
    fn only_a_real_start_with_a_new_run_is_followed() {
        let started = started_run(&finished("fab", outcome(false, Some("r-9")), false));
        assert_eq!(
            started,
            Some(FollowTarget {
                server: "fab".into(),
                run_id: "r-9".into(),
                pipeline: "LoadSales".into(),
                in_place: false,
            })
        );
        // A clear or repair names the run it acted on as the run started.
        let mut same = outcome(false, Some("old"));
        same["target_run_id"] = serde_json::json!("old");
        assert!(started_run(&finished("fab", same, false)).unwrap().in_place);
        for event in [
            finished("fab", outcome(true, Some("r-9")), false),
            finished("fab", outcome(false, None), false),
            finished("fab", outcome(false, Some("r-9")), true),
            finished("fab", json!({"runs": []}), false),
            finished("fab", Value::Null, false),
            finished("fab", outcome(false, Some("bad\u{1b}id")), false),
            finished("fab", outcome(false, Some(&"x".repeat(300))), false),
        ] {
            assert_eq!(started_run(&event), None, "{event:?}");
        }
    }

    #[test]
    fn the_end_is_told_once_and_only_for_a_terminal_status() {
        let mut following = Following::default();
        assert_eq!(
            following.start(target("r1")),
            Started::New { dropped: None }
        );
        assert_eq!(following.start(target("r1")), Started::Already);
        let mut run: PipelineRun = serde_json::from_value(json!({
            "run_id": "r1", "pipeline": "p", "backend": "fabric", "environment": "Sales",
            "status": "InProgress", "invoked_by": {"name": "t", "kind": "Manual"}, "message": ""
        }))
        .unwrap();
        assert_eq!(
            following.report("r1", FollowNews::Run(Box::new(run.clone()))),
            None
        );
        run.status = RunStatus::Failed;
        assert!(matches!(
            following.report("r1", FollowNews::Run(Box::new(run.clone()))),
            Some(Ending::Ended(_))
        ));
        assert_eq!(following.report("r1", FollowNews::Run(Box::new(run))), None);
        assert_eq!(following.report("r1", FollowNews::GaveUp("x".into())), None);
        assert_eq!(
            following.report("unknown", FollowNews::GaveUp("x".into())),
            None
        );
        assert_eq!(following.still_going().count(), 0);
    }

    #[test]
    fn slots_are_bounded_and_only_ended_runs_make_room() {
        let mut following = Following::default();
        for i in 0..MAX_FOLLOWED {
            assert!(matches!(
                following.start(target(&format!("r{i}"))),
                Started::New { dropped: None }
            ));
        }
        assert_eq!(following.start(target("extra")), Started::Full);
        following.report("r3", FollowNews::GaveUp("gone".into()));
        assert_eq!(
            following.start(target("extra")),
            Started::New {
                dropped: Some("r3".into())
            }
        );
        assert_eq!(following.len(), MAX_FOLLOWED);
        assert!(!following.is_followed("r3"));
    }
}
