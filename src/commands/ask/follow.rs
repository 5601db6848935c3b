//! `opsdeck ask --follow`: the runs the answer started, followed to their end
//! before `ask` exits — progress on stderr, each end on stdout (a JSON line
//! with `--json`), and the exit code says whether every one succeeded.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::agent::policy::SharedPolicy;
use crate::console::app::follow::{FollowNews, FollowTarget, MAX_FOLLOWED};
use crate::console::app::update::Msg;
use crate::console::runtime::follower::{FollowPace, HostLooks, follow};
use crate::mcp::McpHost;
use crate::model::run::{PipelineRun, RunStatus};
use crate::support::terminal::{json_safe, terminal_safe};
use crate::trace::recorder::Recorder;
use crate::trace::redact::{self, Clean};
use crate::trace::schema::TraceMessage;

/// How the runs ended: true when every followed run succeeded.
pub async fn follow_all(
    host: Arc<McpHost>,
    policy: SharedPolicy,
    targets: Vec<FollowTarget>,
    pace: FollowPace,
    json: bool,
    recorder: Option<Arc<Recorder>>,
) -> bool {
    let mut all_good = true;
    let (messages, mut inbox) = mpsc::unbounded_channel();
    let mut going = 0usize;
    for (index, target) in targets.into_iter().enumerate() {
        if index >= MAX_FOLLOWED {
            eprintln!(
                "opsdeck: run {} of {} is not followed ({MAX_FOLLOWED} at most); look at it with get_run_details",
                terminal_safe(&target.run_id),
                terminal_safe(&target.pipeline)
            );
            all_good = false;
            continue;
        }
        eprintln!(
            "opsdeck: following run {} of {} until it ends",
            terminal_safe(&target.run_id),
            terminal_safe(&target.pipeline)
        );
        let looks = HostLooks {
            host: host.clone(),
            policy: policy.clone(),
        };
        tokio::spawn(follow(looks, target, pace, messages.clone()));
        going += 1;
    }
    drop(messages);
    let mut last: HashMap<String, RunStatus> = HashMap::new();
    while going > 0 {
        // Every follower ends (the run ends, or it gives up within its pace's
        // bounds); a closed channel means none is left.
        let Some(Msg::Followed { target, news }) = inbox.recv().await else {
            break;
        };
        let (run, reason) = match news {
            // A server answering about another run is not believed about this one.
            FollowNews::Run(run) if run.run_id != target.run_id => continue,
            FollowNews::Run(run) => {
                if last.get(&run.run_id) == Some(&run.status) {
                    continue;
                }
                last.insert(run.run_id.clone(), run.status.clone());
                if !run.status.is_terminal() {
                    eprintln!(
                        "opsdeck: run {} of {}: {}",
                        terminal_safe(&run.run_id),
                        terminal_safe(&run.pipeline),
                        run.status.as_str()
                    );
                } else {
                    going -= 1;
                    all_good &= run.status == RunStatus::Succeeded;
                    tell_end(&run, json);
                }
                (Some(run), None)
            }
            FollowNews::GaveUp(reason) => {
                going -= 1;
                all_good = false;
                eprintln!(
                    "opsdeck: stopped following run {} of {}: {}",
                    terminal_safe(&target.run_id),
                    terminal_safe(&target.pipeline),
                    terminal_safe(&redact::text(&reason))
                );
                (None, Some(reason))
            }
        };
        if let Some(recorder) = &recorder {
            recorder.record(Clean::new(TraceMessage::RunFollowed {
                server: target.server.clone(),
                run_id: target.run_id.clone(),
                pipeline: target.pipeline.clone(),
                run,
                reason,
            }));
        }
    }
    all_good
}

/// "run … of … (env) succeeded after 3m 05s: reason" on stdout, or the run
/// as a JSON line.
fn tell_end(run: &PipelineRun, json: bool) {
    let mut stdout = std::io::stdout();
    if json {
        let line = serde_json::json!({"event": "run_ended", "run": run});
        let _ = writeln!(stdout, "{}", json_safe(&line.to_string()));
        return;
    }
    let took = run
        .duration_ms
        .map(|ms| format!(" after {}s", ms.max(0) / 1000))
        .unwrap_or_default();
    let why = match run.message.lines().next() {
        Some(line) if run.status != RunStatus::Succeeded && !line.trim().is_empty() => {
            format!(": {}", crate::support::text::clip(line, 300))
        }
        _ => String::new(),
    };
    let _ = writeln!(
        stdout,
        "run {} of {} ({}) {}{took}{}",
        terminal_safe(&run.run_id),
        terminal_safe(&run.pipeline),
        terminal_safe(&run.environment),
        run.status.as_str(),
        terminal_safe(&redact::text(&why))
    );
}
