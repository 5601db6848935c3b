//! Logs go to a daily-rolling file in the XDG state directory by default,
//! never to stdout (the screen in the console, the protocol in `serve --stdio`).
//! The files are the owner's only, at most 14 are kept, and one process writes
//! at most [`bounded::MAX_BYTES_PER_FILE`] to one day's file.
//!
//! In a container, `serve --http` can log to stdout or stderr instead (no
//! state directory, no HOME needed), as text or as one JSON object a line;
//! every line passes the same redaction either way.

mod bounded;
mod redacting;

use crate::config::paths::log_dir;

use redacting::{Redacting, Shape};
use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_subscriber::Layer;
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

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    /// One JSON object a line (timestamp, level, fields, target).
    Json,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// The daily file in the log directory.
    #[default]
    File,
    Stdout,
    Stderr,
}

/// How and where this process logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settings {
    pub format: Format,
    pub output: Output,
}

/// Starts logging at `OPSDECK_LOG` (`debug`, or per target such as
/// `opsdeck=debug,rmcp=warn`; default [`DEFAULT_FILTER`]).
/// Keep the guard alive for the life of the process; dropping it flushes.
/// When no log file can be opened, logging is off and stderr says why once.
pub fn init(process: &str, settings: Settings) -> Option<WorkerGuard> {
    let (writer, guard) = match settings.output {
        Output::File => file_writer(process)?,
        Output::Stdout => stream_writer(std::io::stdout()),
        Output::Stderr => stream_writer(std::io::stderr()),
    };
    let filter = std::env::var("OPSDECK_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(default_filter);
    let installed = tracing_subscriber::registry()
        .with(format_layer(writer, settings.format))
        .with(filter)
        .try_init();
    if installed.is_err() {
        return None;
    }
    Some(guard)
}

/// The formatting layer, writing through [`Redacting`].
fn format_layer<S>(writer: NonBlocking, format: Format) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    match format {
        Format::Text => tracing_subscriber::fmt::layer()
            .with_writer(Redacting::new(writer, Shape::Text))
            .with_ansi(false)
            .boxed(),
        Format::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(Redacting::new(writer, Shape::Json))
            .with_ansi(false)
            .boxed(),
    }
}

/// The default queue pre-allocates 128k line slots (4 MiB resident); a few
/// thousand is plenty for a process that logs a line per request. When the
/// queue is full, lines are dropped rather than the server blocked.
fn queue() -> tracing_appender::non_blocking::NonBlockingBuilder {
    tracing_appender::non_blocking::NonBlockingBuilder::default().buffered_lines_limit(4_096)
}

fn stream_writer<W: std::io::Write + Send + 'static>(stream: W) -> (NonBlocking, WorkerGuard) {
    queue().finish(stream)
}

/// The day's file in the private log directory, or `None` (said once on stderr).
fn file_writer(process: &str) -> Option<(NonBlocking, WorkerGuard)> {
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
    Some(queue().finish(capped))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::{DEFAULT_FILTER, Redacting, Shape, default_filter};

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
                .with_writer(Redacting::new(move || writer.clone(), Shape::Text))
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
                .with_writer(Redacting::new(move || writer.clone(), Shape::Text))
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

    #[test]
    fn json_lines_stay_json_and_are_redacted_inside() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(Redacting::new(move || writer.clone(), Shape::Json))
                .with_ansi(false),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                conn = "postgres://etl:hunter2pass@db:5432/w",
                tool = "status\u{1b}[2J\"quoted\"",
                "token Bearer abcdefghijklmnopqrst failed"
            );
            tracing::info!("second line");
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["level"], "WARN", "{first}");
        let message = first["fields"]["message"].as_str().unwrap();
        assert!(message.contains("[redacted: bearer token]"), "{message}");
        assert!(
            first["fields"]["tool"]
                .as_str()
                .unwrap()
                .contains("\"quoted\"")
        );
        for secret in ["hunter2pass", "abcdefghijklmnopqrst"] {
            assert!(!text.contains(secret), "{secret} reached the log: {text}");
        }
        assert!(!text.contains('\u{1b}'), "{text:?}");
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["fields"]["message"], "second line");
    }
}
