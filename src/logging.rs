//! Logs go to a daily-rolling file in the XDG state directory, never to stdout
//! (the screen in the console, the protocol in `serve --stdio`). The files are
//! the owner's only, at most 14 are kept, and one process writes at most
//! [`bounded::MAX_BYTES_PER_FILE`] to one day's file.

mod bounded;

use crate::config::paths::log_dir;

use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter when `OPSDECK_LOG` is unset: `info`, but rmcp only from `warn`
/// (it logs every notification a server sends at `info`).
pub const DEFAULT_FILTER: &str = "info,rmcp=warn";

fn default_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("rmcp", LevelFilter::WARN)
}

/// Starts file logging at `OPSDECK_LOG` (`debug`, or per target such as
/// `opsdeck=debug,rmcp=warn`; default [`DEFAULT_FILTER`]).
/// Keep the guard alive for the life of the process; dropping it flushes.
/// When no log directory can be made, logging is off and stderr says why once.
pub fn init(process: &str) -> Option<WorkerGuard> {
    let dir = log_dir()?;
    // Logs may quote what a server said: only the owner reads them.
    let created = {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
    };
    if let Err(e) = created {
        eprintln!(
            "opsdeck: logging disabled, cannot create {}: {e}",
            dir.display()
        );
        return None;
    }
    // A directory made by an older version, or by hand, may still be 0755.
    bounded::make_private(&dir);
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(format!("{}{process}", bounded::FILE_PREFIX))
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
    // The appender has opened today's file with the default mode.
    bounded::make_private(&dir);
    let capped = bounded::CappedFile::new(
        appender,
        bounded::MAX_BYTES_PER_FILE,
        bounded::privatise_new_files(dir),
    );
    // The default queue pre-allocates 128k line slots (4 MiB resident); a few
    // thousand is plenty for a process that logs a line per request.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(4_096)
        .finish(capped);
    let filter = std::env::var("OPSDECK_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(default_filter);
    let installed = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(Redacting(writer))
                .with_ansi(false),
        )
        .with(filter)
        .try_init();
    if installed.is_err() {
        return None;
    }
    Some(guard)
}

/// Redacts every formatted log line before it reaches the file, and shows its
/// control characters as `\xNN`: a secret in a tool result or an error message
/// must not end up in the logs, nor a server's escape sequences reach whoever
/// runs `tail -f` on them. One writer, so no log call can forget either.
struct Redacting<M>(M);

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for Redacting<M>
{
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

struct RedactingWriter<W>(W);

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    // The fmt layer writes each event as one buffer, so a secret is never split
    // across two calls.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(crate::support::terminal::for_screen(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::{DEFAULT_FILTER, Redacting, default_filter};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_default_filter_keeps_rmcp_notifications_out() {
        use tracing::Level;
        let filter = default_filter();
        assert!(!filter.would_enable("rmcp::service", &Level::INFO));
        assert!(filter.would_enable("rmcp::service", &Level::WARN));
        assert!(filter.would_enable("opsdeck::mcp::connection", &Level::INFO));
        assert!(!filter.would_enable("opsdeck::mcp::connection", &Level::DEBUG));
        let documented: tracing_subscriber::filter::Targets = DEFAULT_FILTER.parse().unwrap();
        assert_eq!(documented.to_string(), filter.to_string());
    }

    #[test]
    fn log_lines_are_redacted_before_they_are_written() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(Redacting(move || writer.clone()))
                .with_ansi(false),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                url = "https://x.blob.core.windows.net/c/f?sv=1&sig=SECRETSIGNATURE123",
                "login failed for postgres://etl:hunter2pass@db:5432/w with Bearer abcdefghijklmnopqrst"
            );
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("login failed"), "{text}");
        for secret in ["SECRETSIGNATURE123", "hunter2pass", "abcdefghijklmnopqrst"] {
            assert!(!text.contains(secret), "{secret} reached the log: {text}");
        }
        assert!(text.contains("[redacted: bearer token]"), "{text}");
    }

    #[test]
    fn log_lines_carry_no_control_character() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(Redacting(move || writer.clone()))
                .with_ansi(false),
        );
        let tool = "status\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(tool = %tool, "a server named its tool {tool}");
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.ends_with('\n') && text.contains("status"), "{text:?}");
    }
}
