//! Writes a session trace: the header, then one redacted line per domain
//! message, on a thread of its own so the console never waits for the disk.
//! Each line is written whole and flushed, so a crash or an SSH drop loses at
//! most the line in flight. Bursts of streamed text are coalesced into one
//! record (a gap of more than [`BURST_GAP`] starts a new one), which keeps the
//! stream's timing to a fraction of a second at a fraction of the lines.
//!
//! Streamed text must reach the recorder already redacted by a
//! [`StreamRedactor`](super::redact::StreamRedactor) — the one that redacts
//! it for the screen, so the trace holds what was shown. Its pieces are whole
//! lines redacted with the whole line as context, so joining them makes no
//! secret whole again and leaves no tail of one behind; pieces redacted one by
//! one could do both (`password=[redacted: password]ter2`), and no later pass
//! can put back what such a cut already let through.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::redact::{self, Clean};
use super::schema::{Header, Record, TraceMessage};
use crate::agent::events::AgentEvent;

/// Text deltas closer together than this are one record.
pub const BURST_GAP: Duration = Duration::from_millis(200);

enum Command {
    Write(DateTime<Utc>, TraceMessage),
    Finish(String),
}

pub struct Recorder {
    path: PathBuf,
    sender: Sender<Command>,
    writer: Option<JoinHandle<io::Result<u64>>>,
}

/// `$XDG_STATE_HOME/opsdeck/traces/` (next to the logs).
pub fn default_dir() -> Option<PathBuf> {
    crate::config::paths::state_dir().map(|state| state.join("traces"))
}

/// A new file name for a session: `console-20261123-034200-4711.jsonl`.
pub fn default_path(process: &str, at: DateTime<Utc>) -> Option<PathBuf> {
    default_dir().map(|dir| {
        dir.join(format!(
            "{process}-{}-{}.jsonl",
            at.format("%Y%m%d-%H%M%S"),
            std::process::id()
        ))
    })
}

impl Recorder {
    /// Creates the file (mode 0600, parent directories as needed, 0700) and
    /// writes the header. An existing file is emptied and made 0600 too before
    /// anything is written: the mode given at open applies only to new files.
    pub fn create(path: &Path, header: &Header) -> io::Result<Recorder> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir)?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        write_line(&mut file, header)?;
        let (sender, receiver) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("opsdeck-trace".into())
            .spawn(move || write_records(file, receiver))?;
        Ok(Recorder {
            path: path.to_path_buf(),
            sender,
            writer: Some(writer),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a message; only redacted ones can be written.
    pub fn record(&self, message: Clean) {
        let _ = self
            .sender
            .send(Command::Write(Utc::now(), message.into_inner()));
    }

    /// Writes the session end and waits for the file to be complete; returns the
    /// number of records written.
    pub fn finish(mut self, reason: &str) -> io::Result<u64> {
        let _ = self
            .sender
            .send(Command::Finish(redact::text(reason).into_owned()));
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) => Err(io::Error::other("the trace writer thread panicked")),
            None => Ok(0),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Dropped without finish (an error path): the writer drains and stops.
        let _ = self.sender.send(Command::Finish("dropped".into()));
    }
}

fn write_line<T: serde::Serialize>(file: &mut File, value: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    // One write per line: a reader never sees half a line from a finished write.
    file.write_all(&line)?;
    file.flush()
}

/// The writer thread's state: the file, the last sequence number, and a text
/// burst not written yet (its start, its last delta, its text).
struct Writer {
    file: File,
    seq: u64,
    burst: Option<(DateTime<Utc>, DateTime<Utc>, String)>,
}

impl Writer {
    fn emit(&mut self, at: DateTime<Utc>, message: TraceMessage) -> io::Result<()> {
        self.seq += 1;
        write_line(
            &mut self.file,
            &Record {
                seq: self.seq,
                at,
                message,
            },
        )
    }

    fn flush_burst(&mut self) -> io::Result<()> {
        match self.burst.take() {
            // The deltas are whole redacted lines, so this pass changes nothing
            // for them; it is a net for a producer that redacted piece by piece,
            // where a secret split across two pieces is only whole here.
            Some((start, _, text)) => {
                let text = redact::text(&text).into_owned();
                self.emit(
                    start,
                    TraceMessage::Agent {
                        event: AgentEvent::TextDelta { text },
                    },
                )
            }
            None => Ok(()),
        }
    }

    fn text(&mut self, at: DateTime<Utc>, text: String) -> io::Result<()> {
        if let Some((_, last, pending)) = &mut self.burst
            && (at - *last).to_std().unwrap_or_default() <= BURST_GAP
        {
            pending.push_str(&text);
            *last = at;
            return Ok(());
        }
        self.flush_burst()?;
        self.burst = Some((at, at, text));
        Ok(())
    }
}

/// The writer thread: coalesces text bursts, numbers and writes records until
/// told to finish (or every sender is gone); returns the records written.
fn write_records(file: File, receiver: Receiver<Command>) -> io::Result<u64> {
    let mut writer = Writer {
        file,
        seq: 0,
        burst: None,
    };
    loop {
        // With a burst pending, a quiet spell writes it out.
        let next = if writer.burst.is_some() {
            match receiver.recv_timeout(BURST_GAP) {
                Ok(command) => Some(command),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Command::Finish("dropped".into())),
            }
        } else {
            Some(receiver.recv().unwrap_or(Command::Finish("dropped".into())))
        };
        match next {
            None => writer.flush_burst()?,
            Some(Command::Write(
                at,
                TraceMessage::Agent {
                    event: AgentEvent::TextDelta { text },
                },
            )) => writer.text(at, text)?,
            Some(Command::Write(at, message)) => {
                writer.flush_burst()?;
                writer.emit(at, message)?;
            }
            Some(Command::Finish(reason)) => {
                writer.flush_burst()?;
                writer.emit(Utc::now(), TraceMessage::SessionEnd { reason })?;
                return Ok(writer.seq);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::schema::SCHEMA_VERSION;

    fn header() -> Header {
        Header {
            kind: "header".into(),
            schema: SCHEMA_VERSION,
            opsdeck_version: "test".into(),
            started_at: Utc::now(),
            host: "h".into(),
            process: "ask".into(),
            agent_mode: "offline".into(),
            read_only: false,
            backend: "sandbox".into(),
            scenario: None,
            servers: Vec::new(),
        }
    }

    fn agent(event: AgentEvent) -> Clean {
        Clean::new(TraceMessage::Agent { event })
    }

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("opsdeck-recorder-{name}-{}", std::process::id()))
            .join("t.jsonl")
    }

    #[test]
    fn lines_are_numbered_redacted_and_text_bursts_coalesced() {
        let path = temp("basic");
        let recorder = Recorder::create(&path, &header()).unwrap();
        recorder.record(agent(AgentEvent::UserMessage {
            text: "why?".into(),
        }));
        for piece in [
            "The key ",
            "sk-proj-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789",
            " leaked.",
        ] {
            recorder.record(agent(AgentEvent::TextDelta { text: piece.into() }));
        }
        recorder.record(Clean::new(TraceMessage::RunsStale {
            reason: "Bearer abcdefghijklmnopqrstu failed".into(),
        }));
        assert_eq!(recorder.finish("finished").unwrap(), 4);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].contains("\"type\":\"header\""));
        let records: Vec<Record> = lines[1..]
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert!(
            matches!(&records[1].message, TraceMessage::Agent { event: AgentEvent::TextDelta { text } } if text.starts_with("The key [redacted: OpenAI key]") && text.ends_with("leaked.")),
            "{:?}",
            records[1]
        );
        assert!(
            !text.contains("Ab3dEfGhIjKl") && !text.contains("abcdefghijklmnopqrstu"),
            "{text}"
        );
        assert!(
            matches!(&records[3].message, TraceMessage::SessionEnd { reason } if reason == "finished")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "only the user reads traces");
        }
    }

    #[test]
    fn a_secret_split_across_deltas_is_redacted_in_the_burst() {
        let path = temp("split");
        let recorder = Recorder::create(&path, &header()).unwrap();
        for piece in [
            "the key is sk-proj-Ab3dEfGhIj",
            "KlMnOpQrStUvWxYz0123456789 ok",
        ] {
            recorder.record(agent(AgentEvent::TextDelta { text: piece.into() }));
        }
        recorder.finish("finished").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("KlMnOpQrStUvWxYz"), "{text}");
        assert!(text.contains("[redacted: OpenAI key]"), "{text}");
    }

    /// The reviewer's reproduction: a token and a password split across
    /// deltas, through the stream redactor as `ask` and the console send them.
    #[test]
    fn streamed_deltas_leave_no_secret_and_no_tail_in_the_trace() {
        use crate::trace::redact::{RedactEvents, StreamRedactor};
        let path = temp("streamed");
        let recorder = Recorder::create(&path, &header()).unwrap();
        let mut stream = StreamRedactor::new();
        let mut shown = String::new();
        let events = [
            "the token is dapi0123456789abcd",
            "ef0123456789abcdef and password=hun",
            "ter2 ok\nand the key\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow",
            "IBAAKCAQEAuYp2bDm0\n-----END RSA PRIVATE KEY-----\ndone",
        ]
        .map(|text| AgentEvent::TextDelta { text: text.into() })
        .into_iter()
        .chain([AgentEvent::TurnFinished {
            answer: String::new(),
            tool_calls: 0,
            ok: true,
        }]);
        for event in events {
            for clean in stream.redact_event(event) {
                if let AgentEvent::TextDelta { text } = &clean {
                    shown.push_str(text);
                }
                recorder.record(Clean::redacted_event(clean));
            }
        }
        recorder.finish("finished").unwrap();
        let trace = std::fs::read_to_string(&path).unwrap();
        for leaked in [
            "0123456789abcdef0123456789abcdef",
            "hunter2",
            "ter2",
            "MIIEow",
            "uYp2bDm0",
        ] {
            assert!(!trace.contains(leaked), "{leaked} in the trace: {trace}");
            assert!(!shown.contains(leaked), "{leaked} on the screen: {shown}");
        }
        let recorded: String = trace
            .lines()
            .skip(1)
            .filter_map(|l| serde_json::from_str::<Record>(l).ok())
            .filter_map(|r| match r.message {
                TraceMessage::Agent {
                    event: AgentEvent::TextDelta { text },
                } => Some(text),
                _ => None,
            })
            .collect();
        assert_eq!(recorded, shown, "the trace holds what was shown");
        assert!(
            shown.starts_with(
                "the token is [redacted: Databricks token] and password=[redacted: password] ok\n"
            ),
            "{shown}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_readable_trace_file_becomes_private() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp("existing");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "old contents\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let recorder = Recorder::create(&path, &header()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the header is written to a private file");
        recorder.finish("finished").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("old contents"), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn deltas_apart_in_time_stay_separate_records() {
        let path = temp("gap");
        let recorder = Recorder::create(&path, &header()).unwrap();
        recorder.record(agent(AgentEvent::TextDelta { text: "one".into() }));
        std::thread::sleep(BURST_GAP * 3);
        recorder.record(agent(AgentEvent::TextDelta { text: "two".into() }));
        recorder.finish("finished").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.contains("text_delta")).count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn each_line_is_on_disk_before_the_session_ends() {
        let path = temp("flush");
        let recorder = Recorder::create(&path, &header()).unwrap();
        recorder.record(agent(AgentEvent::UserMessage { text: "q".into() }));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&path).unwrap().lines().count() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the record was not written while the session runs"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(recorder);
    }
}
