//! Where opsdeck keeps its files (the XDG base directories).

use std::path::PathBuf;

/// `$XDG_STATE_HOME/opsdeck`, else `~/.local/state/opsdeck`: logs, traces, copies.
pub fn state_dir() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("opsdeck"))
}

/// `$OPSDECK_LOG_DIR`, else `<state dir>/logs`.
pub fn log_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OPSDECK_LOG_DIR") {
        return Some(PathBuf::from(dir));
    }
    state_dir().map(|state| state.join("logs"))
}
