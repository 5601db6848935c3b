//! Logs go to a daily-rolling file in the XDG state directory, never to stdout
//! (the screen in the console, the protocol in `serve --stdio`).

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

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

/// Starts file logging at `OPSDECK_LOG` (EnvFilter syntax, default `info`).
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
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("OPSDECK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    if installed.is_err() {
        return None;
    }
    Some(guard)
}
