//! Logs go to a daily-rolling file in the XDG state directory, never to stdout
//! (the screen in the console, the protocol in `serve --stdio`).

use std::path::PathBuf;

use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `$OPSDECK_LOG_DIR`, else `$XDG_STATE_HOME/opsdeck/logs`, else `~/.local/state/opsdeck/logs`.
pub fn log_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OPSDECK_LOG_DIR") {
        return Some(PathBuf::from(dir));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("opsdeck").join("logs"))
}

/// Starts file logging at `OPSDECK_LOG` (`debug`, or per target such as
/// `opsdeck=debug,rmcp=warn`; default `info`).
/// Keep the guard alive for the life of the process; dropping it flushes.
/// When no log directory can be made, logging is off and stderr says why once.
pub fn init(process: &str) -> Option<WorkerGuard> {
    let dir = log_dir()?;
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!(
            "opsdeck: logging disabled, cannot create {}: {e}",
            dir.display()
        );
        return None;
    }
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(format!("opsdeck-{process}"))
        .filename_suffix("log")
        .max_log_files(14)
        .build(&dir);
    let appender = match appender {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "opsdeck: logging disabled, cannot open a log file in {}: {e}",
                dir.display()
            );
            return None;
        }
    };
    // The default queue pre-allocates 128k line slots (4 MiB resident); a few
    // thousand is plenty for a process that logs a line per request.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(4_096)
        .finish(appender);
    let filter = std::env::var("OPSDECK_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let installed = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false),
        )
        .with(filter)
        .try_init();
    if installed.is_err() {
        return None;
    }
    Some(guard)
}
