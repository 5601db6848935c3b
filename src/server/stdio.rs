//! `opsdeck serve --stdio`: MCP over the process's stdin/stdout. Nothing else may
//! write to stdout in this mode — logs go to the log file.

use rmcp::ServiceExt;

use super::OpsdeckServer;

/// Serves until the client closes stdin (or sends a shutdown signal).
pub async fn serve_stdio(server: OpsdeckServer) -> Result<(), String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        // Someone typed `opsdeck serve` by hand: say what it is waiting for (on stderr).
        eprintln!(
            "opsdeck: serving MCP on stdin/stdout for an MCP host to drive; use `--http 127.0.0.1:8765` to serve over HTTP instead. Ctrl-C to stop."
        );
    }
    let running = server
        // Non-blocking pipes when the client launched us with pipes (the usual case):
        // no hand-off to a blocking thread per message.
        .serve(rmcp::transport::io::stdio_pipes())
        .await
        .map_err(|e| format!("MCP handshake over stdio failed: {e}"))?;
    tracing::info!("serving MCP over stdio");
    tokio::select! {
        outcome = running.waiting() => {
            outcome.map_err(|e| format!("stdio session ended with an error: {e}"))?;
        }
        _ = super::http::shutdown_signal() => tracing::info!("shutdown signal received"),
    }
    tracing::info!("stdio session closed");
    Ok(())
}
