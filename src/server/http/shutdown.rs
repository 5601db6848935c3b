//! Shutting down without failing the requests in flight.
//!
//! On SIGTERM (or Ctrl-C, SIGHUP): `/health/ready` answers 503 at once, so
//! load balancers and Kubernetes take this replica out; requests are still
//! served for the drain delay (endpoints take a while to notice); then the
//! port closes and the server waits, up to the grace period, for the requests
//! in flight to be answered. Only then are rmcp's sessions cancelled and the
//! process ends (exit 0). A second signal skips the waiting.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio_util::sync::CancellationToken;

use super::health::Readiness;
use super::limits::InFlight;

/// How long connections get to close once everything is cancelled.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How the server stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownTimes {
    /// Still serving, while ready says 503, before the port closes.
    pub drain_delay: Duration,
    /// The longest to wait for requests in flight once the port is closed.
    pub grace: Duration,
}

impl Default for ShutdownTimes {
    fn default() -> Self {
        ShutdownTimes {
            drain_delay: Duration::from_secs(5),
            grace: Duration::from_secs(20),
        }
    }
}

/// What the server needs at hand to stop well.
pub(super) struct Stopping {
    pub readiness: Readiness,
    pub in_flight: Arc<InFlight>,
    /// rmcp's token: cancelling it ends every session and call.
    pub cancel: CancellationToken,
    pub times: ShutdownTimes,
}

/// Serves `app` on `listener` until a signal, then drains and stops.
pub(super) async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    app: Router,
    stopping: Stopping,
) -> Result<(), String> {
    let stop_accepting = CancellationToken::new();
    let mut server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(stop_accepting.clone().cancelled_owned())
            .into_future(),
    );
    tokio::select! {
        () = super::shutdown_signal() => {}
        ended = &mut server => {
            return match ended {
                Ok(result) => result.map_err(|e| format!("HTTP server failed: {e}")),
                Err(e) => Err(format!("HTTP server failed: {e}")),
            };
        }
    }
    let times = stopping.times;
    stopping.readiness.start_draining();
    tracing::info!(
        drain_delay_secs = times.drain_delay.as_secs(),
        grace_secs = times.grace.as_secs(),
        "shutting down: /health/ready now answers 503; still serving for the drain delay"
    );
    let hurried = tokio::select! {
        () = tokio::time::sleep(times.drain_delay) => false,
        () = super::shutdown_signal() => true,
    };
    stop_accepting.cancel();
    let mut held = None;
    if !hurried {
        tracing::info!("no longer accepting connections; waiting for requests in flight");
        tokio::select! {
            settled = tokio::time::timeout(times.grace, stopping.in_flight.settled()) => match settled {
                Ok(permits) => held = permits,
                Err(_) => tracing::warn!(
                    grace_secs = times.grace.as_secs(),
                    "requests still in flight after the grace period are cancelled"
                ),
            },
            () = super::shutdown_signal() => {
                tracing::warn!("a second signal: requests in flight are cancelled now");
            }
        }
    }
    stopping.cancel.cancel();
    // A peer that never reads its answer must not keep the process alive.
    if tokio::time::timeout(CLOSE_WAIT, server).await.is_err() {
        tracing::warn!("some connections did not close; exiting anyway");
    }
    drop(held);
    tracing::info!("stopped");
    Ok(())
}
