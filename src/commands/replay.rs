//! `opsdeck --replay TRACE`: the recorded session, headless, to stdout. Never
//! calls a tool; needs no server, network or terminal. Exit 0 when anything
//! could be read (skipped lines are listed), 1 when nothing could. `--verify`
//! is the one mode that calls tools, and only read-only ones.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::cli::{ConsoleArgs, ReplayFormat};
use crate::mcp::{ConnectionState, McpHost};
use crate::support::exit::ExitError;
use crate::support::terminal::{for_screen, terminal_safe};
use crate::trace::reader;
use crate::trace::render::text as transcript;
use crate::trace::render::{self as replay, Format};
use crate::trace::verify::Verdict;

/// The whole trace, read within bounds (a device or a pipe that never ends
/// stops at the limit; see `trace::blocks`).
fn load(path: &Path) -> Result<reader::Trace, ExitError> {
    let file = std::fs::File::open(path)
        .map_err(|e| ExitError::failed(format!("cannot read the trace {}: {e}", path.display())))?;
    reader::load(file).map_err(|reason| {
        ExitError::failed(format!("{}: {}", path.display(), terminal_safe(&reason)))
    })
}

pub fn run(path: &Path, format: ReplayFormat) -> Result<(), ExitError> {
    let cannot_read = |e: std::io::Error| {
        ExitError::failed(format!("cannot read the trace {}: {e}", path.display()))
    };
    // A reason may quote the trace (an unknown record type): keep it inert.
    let failed = |reason: String| {
        ExitError::failed(format!("{}: {}", path.display(), terminal_safe(&reason)))
    };
    let mut stdout = std::io::stdout().lock();
    let skipped = match format {
        // The transcript streams: any size of trace, in bounded memory.
        ReplayFormat::Text => {
            let file = std::fs::File::open(path).map_err(cannot_read)?;
            transcript::stream(file, &mut stdout, transcript::BLOCK)
                .map_err(failed)?
                .skipped
        }
        // The timeline and the JSON need the whole trace.
        ReplayFormat::Markdown | ReplayFormat::Json => {
            let trace = load(path)?;
            let format = if format == ReplayFormat::Json {
                Format::Json
            } else {
                Format::Markdown
            };
            // A closed pipe (`| head`) is the reader's choice, not an error.
            let _ = stdout.write_all(replay::render(&trace, format).as_bytes());
            let _ = stdout.flush();
            trace.skipped.len()
        }
    };
    if skipped > 0 {
        eprintln!(
            "opsdeck: {skipped} line(s) of {} could not be read and were skipped (listed at the end)",
            path.display()
        );
    }
    Ok(())
}

/// `--replay TRACE --verify`: one line per recorded tool call — same, differs
/// (with where), error, or skipped (with why). Exit 0 when every call that was
/// re-run gave the same result, 1 otherwise or when no server could be reached.
pub async fn verify(path: &Path, console: &ConsoleArgs) -> Result<(), ExitError> {
    let trace = load(path)?;
    let specs = crate::config::servers::server_specs(
        console.mcp_config.as_deref(),
        crate::console::builtin_args(console),
    )?;
    let host = McpHost::start(specs, Duration::from_secs(30)).await;
    if !host
        .states()
        .iter()
        .any(|(_, s)| matches!(s, ConnectionState::Ready { .. }))
    {
        host.shutdown().await;
        return Err(ExitError::failed(
            "no MCP server is reachable to verify against (check --mcp-config)",
        ));
    }
    let checked = crate::trace::verify::verify(&trace, &host).await;
    host.shutdown().await;
    let mut same = 0;
    let mut different = 0;
    for call in &checked {
        let line = match &call.verdict {
            Verdict::Same => {
                same += 1;
                "same".to_string()
            }
            Verdict::Differs(path) => {
                different += 1;
                format!("differs at {path}")
            }
            Verdict::Error(why) => {
                different += 1;
                format!("error: {why}")
            }
            Verdict::Skipped(why) => format!("skipped: {why}"),
        };
        // Call ids, tool names and result paths come from the trace and the
        // servers: nothing in them may act on the terminal.
        println!(
            "{:<10} {:<28} {}",
            for_screen(&call.call_id),
            for_screen(&call.tool),
            for_screen(&line)
        );
    }
    println!(
        "{same} same, {different} different or failing, {} skipped, of {} recorded calls",
        checked.len() - same - different,
        checked.len()
    );
    if different > 0 {
        return Err(ExitError {
            code: 1,
            message: format!("{different} call(s) no longer give the recorded result"),
        });
    }
    Ok(())
}
