//! The follower: polls one run opsdeck started, on the server that started
//! it, until the run ends, and sends each look to the console as news. It
//! asks at the configured pace (slower while the server fails), gives up after
//! a bounded number of failures in a row or a bounded time, and stops at once
//! when the console is gone — it never keeps the process alive.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::tasks;
use crate::agent::policy::SharedPolicy;
use crate::console::app::follow::{FollowNews, FollowTarget};
use crate::console::app::update::Msg;
use crate::mcp::McpHost;

/// How a followed run is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowPace {
    /// Between two looks while the run goes on.
    pub every: Duration,
    /// Stop following a run that has not ended after this long.
    pub give_up_after: Duration,
    /// Stop after this many failed looks in a row.
    pub max_failures: u32,
}

impl Default for FollowPace {
    fn default() -> Self {
        FollowPace {
            every: Duration::from_secs(10),
            give_up_after: Duration::from_secs(12 * 3600),
            max_failures: 10,
        }
    }
}

/// While looks fail, the pause doubles up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A run restarted in place may still show its old end for a while; after
/// this many looks at that same end it is believed (the restart never took).
const STALE_LOOKS: u32 = 6;

pub use super::tasks::LookError;

/// Where the follower gets its looks: the console's MCP host in the console,
/// a script in tests.
pub trait RunLooks: Send + Sync {
    fn look(
        &self,
        target: &FollowTarget,
    ) -> impl std::future::Future<Output = Result<crate::model::run::PipelineRun, LookError>> + Send;
}

/// The console's MCP host: `get_run_details` on the server that started the run.
pub struct HostLooks {
    pub host: std::sync::Arc<McpHost>,
    pub policy: SharedPolicy,
}

impl RunLooks for HostLooks {
    async fn look(
        &self,
        target: &FollowTarget,
    ) -> Result<crate::model::run::PipelineRun, LookError> {
        tasks::fetch_run_on(&self.host, &self.policy, &target.server, &target.run_id).await
    }
}

/// Follows `target` to its end (or until it gives up, or nobody listens).
pub async fn follow(
    looks: impl RunLooks,
    target: FollowTarget,
    pace: FollowPace,
    messages: mpsc::UnboundedSender<Msg>,
) {
    let since = Instant::now();
    let mut failures = 0u32;
    let mut pause = pace.every;
    // A run restarted in place is going again once seen not ended.
    let mut restarted = !target.in_place;
    let mut stale_looks = 0u32;
    loop {
        let news = match looks.look(&target).await {
            Ok(run) if !restarted && run.status.is_terminal() && stale_looks < STALE_LOOKS => {
                // Its old end, from before the restart: not news.
                stale_looks += 1;
                failures = 0;
                None
            }
            Ok(run) => {
                restarted = true;
                failures = 0;
                pause = pace.every;
                let ended = run.status.is_terminal();
                let sent = messages.send(Msg::Followed {
                    target: target.clone(),
                    news: FollowNews::Run(Box::new(run)),
                });
                if ended || sent.is_err() {
                    return;
                }
                None
            }
            Err(LookError {
                reason,
                permanent: true,
            }) => Some(reason),
            Err(LookError { reason, .. }) => {
                failures += 1;
                pause = (pause * 2).min(MAX_BACKOFF.max(pace.every));
                tracing::warn!(run = %target.run_id, server = %target.server, failures, %reason, "a followed run could not be read");
                (failures >= pace.max_failures)
                    .then(|| format!("{failures} looks in a row failed; the last: {reason}"))
            }
        };
        let waited = since.elapsed();
        let news = news.or_else(|| {
            (waited >= pace.give_up_after).then(|| {
                format!(
                    "it had not ended after {} minutes of following",
                    waited.as_secs() / 60
                )
            })
        });
        if let Some(reason) = news {
            let _ = messages.send(Msg::Followed {
                target,
                news: FollowNews::GaveUp(reason),
            });
            return;
        }
        // The console gone, nobody reads the news: stop now, not at the next look.
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = messages.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::run::{PipelineRun, RunStatus};
    use std::sync::Mutex;

    /// Answers from a script, one per look; the last repeats.
    struct Script(Mutex<Vec<Result<RunStatus, LookError>>>);

    impl RunLooks for Script {
        async fn look(&self, target: &FollowTarget) -> Result<PipelineRun, LookError> {
            let next = {
                let mut script = self.0.lock().unwrap();
                if script.len() > 1 {
                    script.remove(0)
                } else {
                    script[0].clone()
                }
            };
            next.map(|status| {
                serde_json::from_value::<PipelineRun>(serde_json::json!({
                    "run_id": target.run_id, "pipeline": target.pipeline, "backend": "fabric",
                    "environment": "Sales", "status": status.as_str(),
                    "invoked_by": {"name": "opsdeck", "kind": "Manual"}, "message": ""
                }))
                .unwrap()
            })
        }
    }

    fn target() -> FollowTarget {
        FollowTarget {
            server: "opsdeck".into(),
            run_id: "r-1".into(),
            pipeline: "LoadSales".into(),
            in_place: false,
        }
    }

    fn failing(reason: &str) -> Result<RunStatus, LookError> {
        Err(LookError::passing(reason))
    }

    fn pace() -> FollowPace {
        FollowPace {
            every: Duration::from_secs(10),
            give_up_after: Duration::from_secs(3600),
            max_failures: 3,
        }
    }

    async fn news_of(
        script: Vec<Result<RunStatus, LookError>>,
        pace: FollowPace,
    ) -> Vec<FollowNews> {
        news_about(target(), script, pace).await
    }

    async fn news_about(
        target: FollowTarget,
        script: Vec<Result<RunStatus, LookError>>,
        pace: FollowPace,
    ) -> Vec<FollowNews> {
        let (messages, mut inbox) = mpsc::unbounded_channel();
        follow(Script(Mutex::new(script)), target, pace, messages).await;
        let mut news = Vec::new();
        while let Ok(Msg::Followed { news: one, .. }) = inbox.try_recv() {
            news.push(one);
        }
        news
    }

    fn statuses(news: &[FollowNews]) -> Vec<String> {
        news.iter()
            .map(|n| match n {
                FollowNews::Run(run) => run.status.as_str().to_string(),
                FollowNews::GaveUp(reason) => format!("gave up: {reason}"),
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_is_followed_until_it_ends_and_failures_in_between_are_forgiven() {
        let news = news_of(
            vec![
                Ok(RunStatus::Queued),
                Ok(RunStatus::InProgress),
                failing("timed out"),
                failing("timed out"),
                Ok(RunStatus::InProgress),
                Ok(RunStatus::Failed),
                Ok(RunStatus::Succeeded),
            ],
            pace(),
        )
        .await;
        assert_eq!(
            statuses(&news),
            ["Queued", "InProgress", "InProgress", "Failed"],
            "stops at the first end"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_keeps_failing_is_given_up_on_with_its_reason() {
        let news = news_of(
            vec![Ok(RunStatus::InProgress), failing("connection refused")],
            pace(),
        )
        .await;
        let told = statuses(&news);
        assert_eq!(told.len(), 2);
        assert_eq!(
            told[1],
            "gave up: 3 looks in a row failed; the last: connection refused"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_that_asking_again_cannot_change_ends_following_at_once() {
        let refusal = LookError {
            reason: "not read: server 'x' is not trusted".into(),
            permanent: true,
        };
        let started = Instant::now();
        let news = news_of(vec![Err(refusal)], pace()).await;
        assert_eq!(
            statuses(&news),
            ["gave up: not read: server 'x' is not trusted"]
        );
        assert!(started.elapsed() < Duration::from_secs(1), "no retries");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_restarted_in_place_is_not_ended_by_its_old_end() {
        let in_place = FollowTarget {
            in_place: true,
            ..target()
        };
        let news = news_about(
            in_place.clone(),
            vec![
                Ok(RunStatus::Failed),
                Ok(RunStatus::Failed),
                Ok(RunStatus::InProgress),
                Ok(RunStatus::Succeeded),
            ],
            pace(),
        )
        .await;
        assert_eq!(statuses(&news), ["InProgress", "Succeeded"]);
        // A restart that never took: its old end is believed after a while.
        let news = news_about(in_place, vec![Ok(RunStatus::Failed)], pace()).await;
        assert_eq!(statuses(&news), ["Failed"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_never_ends_is_given_up_on_after_the_limit() {
        let started = Instant::now();
        let news = news_of(vec![Ok(RunStatus::InProgress)], pace()).await;
        let told = statuses(&news);
        assert!(
            told.last()
                .unwrap()
                .starts_with("gave up: it had not ended after 60 minutes")
        );
        // One look every 10 s for an hour, no faster.
        assert!((360..=362).contains(&told.len()), "{} looks", told.len());
        assert!(started.elapsed() >= Duration::from_secs(3600));
    }

    #[tokio::test(start_paused = true)]
    async fn the_follower_stops_when_the_console_is_gone() {
        let (messages, inbox) = mpsc::unbounded_channel();
        drop(inbox);
        let followed = follow(
            Script(Mutex::new(vec![Ok(RunStatus::InProgress)])),
            target(),
            pace(),
            messages,
        );
        tokio::time::timeout(Duration::from_secs(1), followed)
            .await
            .expect("returns at once");
    }
}
