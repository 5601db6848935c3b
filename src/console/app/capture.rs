//! What the trace keeps of the console's messages — domain facts, as changes —
//! and the way back: a trace fed through the same `update` to rebuild the
//! console's state (what `--replay` of a console session shows, and what the
//! tests compare with the live screen).

use std::collections::HashMap;

use crate::agent::events::AgentEvent;
use crate::console::app::follow::{FollowNews, FollowTarget};
use crate::console::app::update::{App, Msg, ServerStatus, update};
use crate::model::run::{PipelineRun, RunStatus};
use crate::trace::reader::Trace;
use crate::trace::schema::{RunChange, TraceMessage};

/// The little the capture remembers between messages.
#[derive(Debug, Default)]
pub struct Capture {
    statuses: HashMap<String, RunStatus>,
    servers: Vec<ServerStatus>,
    /// The last status recorded of each followed run: a follower's looks
    /// become records only when something changed.
    followed: HashMap<String, RunStatus>,
}

impl Capture {
    /// The trace messages one console message makes (often none).
    pub fn messages(&mut self, msg: &Msg) -> Vec<TraceMessage> {
        match msg {
            Msg::Agent(event) => vec![TraceMessage::Agent {
                event: event.clone(),
            }],
            Msg::RunsLoaded { runs, .. } => {
                let changes: Vec<RunChange> = runs
                    .iter()
                    .filter(|r| self.statuses.get(&r.run_id) != Some(&r.status))
                    .map(|r| RunChange {
                        from: self.statuses.get(&r.run_id).cloned(),
                        run: r.clone(),
                    })
                    .collect();
                let current: HashMap<String, RunStatus> = runs
                    .iter()
                    .map(|r| (r.run_id.clone(), r.status.clone()))
                    .collect();
                let mut removed: Vec<String> = self
                    .statuses
                    .keys()
                    .filter(|id| !current.contains_key(*id))
                    .cloned()
                    .collect();
                removed.sort();
                self.statuses = current;
                if changes.is_empty() && removed.is_empty() {
                    Vec::new()
                } else {
                    vec![TraceMessage::RunsChanged { changes, removed }]
                }
            }
            Msg::RunsFailed { reason } => vec![TraceMessage::RunsStale {
                reason: reason.clone(),
            }],
            Msg::Servers(servers) => {
                let changed = servers
                    .iter()
                    .filter(|server| {
                        self.servers.iter().find(|s| s.name == server.name) != Some(*server)
                    })
                    .map(|server| TraceMessage::Connection {
                        server: server.name.clone(),
                        ready: server.ready,
                        detail: server.detail.clone(),
                    })
                    .collect();
                self.servers = servers.clone();
                changed
            }
            Msg::Followed { target, news } => {
                let (run, reason) = match news {
                    FollowNews::Run(run) => {
                        if self.followed.get(&run.run_id) == Some(&run.status) {
                            return Vec::new();
                        }
                        self.followed.insert(run.run_id.clone(), run.status.clone());
                        (Some(run.clone()), None)
                    }
                    FollowNews::GaveUp(reason) => (None, Some(reason.clone())),
                };
                vec![TraceMessage::RunFollowed {
                    server: target.server.clone(),
                    run_id: target.run_id.clone(),
                    pipeline: target.pipeline.clone(),
                    run,
                    reason,
                }]
            }
            _ => Vec::new(),
        }
    }
}

/// Feeds a trace through `update` into `app`: the console as the session left it
/// (keys are not recorded, so focus, scroll and overlays are the app's own).
pub fn restore(trace: &Trace, app: &mut App) {
    let mut runs: Vec<PipelineRun> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut servers: Vec<ServerStatus> = Vec::new();
    for record in &trace.records {
        update(app, Msg::Tick(record.at));
        match &record.message {
            // The live console puts the question in the chat when it is sent;
            // the replayed one goes the same way, through `update`.
            TraceMessage::Agent {
                event: AgentEvent::UserMessage { text },
            } => {
                update(
                    app,
                    Msg::Asked {
                        question: text.clone(),
                    },
                );
            }
            TraceMessage::Agent { event } => {
                update(app, Msg::Agent(event.clone()));
            }
            TraceMessage::RunsChanged { changes, removed } => {
                if !removed.is_empty() {
                    runs.retain(|r| !removed.contains(&r.run_id));
                    index = runs
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (r.run_id.clone(), i))
                        .collect();
                }
                for change in changes {
                    match index.get(&change.run.run_id) {
                        Some(&i) => runs[i] = change.run.clone(),
                        None => {
                            index.insert(change.run.run_id.clone(), runs.len());
                            runs.push(change.run.clone());
                        }
                    }
                }
                update(
                    app,
                    Msg::RunsLoaded {
                        runs: runs.clone(),
                        at: record.at,
                    },
                );
            }
            TraceMessage::RunsStale { reason } => {
                update(
                    app,
                    Msg::RunsFailed {
                        reason: reason.clone(),
                    },
                );
            }
            TraceMessage::Connection {
                server,
                ready,
                detail,
            } => {
                let status = ServerStatus {
                    name: server.clone(),
                    ready: *ready,
                    detail: detail.clone(),
                };
                match servers.iter_mut().find(|s| s.name == *server) {
                    Some(slot) => *slot = status,
                    None => servers.push(status),
                }
                update(app, Msg::Servers(servers.clone()));
            }
            TraceMessage::RunFollowed {
                server,
                run_id,
                pipeline,
                run,
                reason,
            } => {
                let news = match (run, reason) {
                    (_, Some(reason)) => FollowNews::GaveUp(reason.clone()),
                    (Some(run), None) => FollowNews::Run(run.clone()),
                    (None, None) => continue,
                };
                let target = FollowTarget {
                    server: server.clone(),
                    run_id: run_id.clone(),
                    pipeline: pipeline.clone(),
                    in_place: false,
                };
                update(app, Msg::Followed { target, news });
            }
            TraceMessage::SessionEnd { .. } | TraceMessage::ConversationReset => {}
        }
    }
}

#[cfg(test)]
mod tests;
