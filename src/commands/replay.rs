//! `opsdeck --replay TRACE`: the recorded session, headless, to stdout. Never
//! calls a tool; needs no server, network or terminal. Exit 0 when anything
//! could be read (skipped lines are listed), 1 when nothing could.

use std::io::Write;
use std::path::Path;

use super::serve::CommandError;
use crate::cli::ReplayFormat;
use crate::trace::reader;
use crate::trace::replay::{self, Format};

pub fn run(path: &Path, format: ReplayFormat) -> Result<(), CommandError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CommandError::failed(format!("cannot read the trace {}: {e}", path.display()))
    })?;
    let trace = reader::read(&bytes)
        .map_err(|reason| CommandError::failed(format!("{}: {reason}", path.display())))?;
    let format = match format {
        ReplayFormat::Text => Format::Text,
        ReplayFormat::Markdown => Format::Markdown,
        ReplayFormat::Json => Format::Json,
    };
    let rendered = replay::render(&trace, format);
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is the reader's choice, not an error.
    let _ = stdout.write_all(rendered.as_bytes());
    let _ = stdout.flush();
    if !trace.skipped.is_empty() {
        eprintln!(
            "opsdeck: {} line(s) of {} could not be read and were skipped (listed at the end)",
            trace.skipped.len(),
            path.display()
        );
    }
    // The process ends here: freeing a million records one by one is wasted time.
    std::mem::forget((trace, rendered, bytes));
    Ok(())
}
