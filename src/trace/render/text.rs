//! The transcript form of a replay (`--format text`): the questions, the
//! answers as they streamed, every tool call and the board's changes, one line
//! each with its time from the session's start.
//!
//! [`stream`] writes it for a trace of any size in bounded memory: one thread
//! reads the file in blocks cut at line ends (within [`Limits::STREAM`]: no
//! line over 16 MiB is held, no more than 4 GiB is read), every core parses and
//! renders blocks, and the calling thread writes them out in order. The only
//! state that crosses a block boundary — whether the previous record was
//! streamed text — is settled by the writer, so the result is byte for byte
//! [`text`]'s. Both show any control character from the trace as `\xNN`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{compact, result_summary};
use crate::agent::events::AgentEvent;
use crate::model::run::RunStatus;
use crate::support::terminal::terminal_safe;
use crate::trace::blocks::{self, Limits};
use crate::trace::reader::{self, Skipped, Trace};
use crate::trace::schema::{Header, Record, TraceMessage};

/// Bytes per block: big enough that per-block costs vanish, small enough
/// that a few blocks in flight per core keep memory low.
pub const BLOCK: usize = 4 << 20;

fn start_of(trace: &Trace) -> Option<DateTime<Utc>> {
    trace
        .header
        .as_ref()
        .map(|h| h.started_at)
        .or_else(|| trace.records.first().map(|r| r.at))
}

fn offset(start: Option<DateTime<Utc>>, at: DateTime<Utc>) -> String {
    let mut text = String::new();
    write_offset(start, at, &mut text);
    text
}

/// A record's time from the session's start, as `+12.345s`.
fn write_offset(start: Option<DateTime<Utc>>, at: DateTime<Utc>, out: &mut String) {
    let ms = start.map_or(0, |s| (at - s).num_milliseconds());
    let sign = if ms < 0 { "-" } else { "+" };
    let ms = ms.abs();
    let _ = write!(out, "{sign}{}.{:03}s", ms / 1000, ms % 1000);
}

fn header_lines(header: Option<&Header>, out: &mut String) {
    match header {
        Some(h) => {
            let scenario = h
                .scenario
                .as_deref()
                .map_or(String::new(), |s| format!(" ({s})"));
            let _ = writeln!(
                out,
                "opsdeck trace · {} · {} · host {} · agent {} · {}{}{}",
                h.process,
                h.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                h.host,
                h.agent_mode,
                h.backend,
                scenario,
                if h.read_only { " · read-only" } else { "" }
            );
            for server in &h.servers {
                let _ = writeln!(out, "server {}: {} tools", server.name, server.tools.len());
            }
        }
        None => {
            let _ = writeln!(out, "opsdeck trace (no header)");
        }
    }
}

fn footer_lines(warnings: &[String], skipped: &[Skipped], out: &mut String) {
    for warning in warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    for skipped in skipped {
        let _ = writeln!(out, "skipped line {}: {}", skipped.line, skipped.reason);
    }
}

/// The whole transcript of a trace already in memory.
pub fn text(trace: &Trace) -> String {
    let mut out = String::new();
    header_lines(trace.header.as_ref(), &mut out);
    let answering = text_records(&trace.records, start_of(trace), Some(false), &mut out);
    if answering == Some(true) {
        out.push('\n');
    }
    footer_lines(&trace.warnings, &trace.skipped, &mut out);
    into_terminal_safe(out)
}

/// The transcript goes to a terminal: no control character from the trace
/// may reach it (see [`terminal_safe`]).
fn into_terminal_safe(text: String) -> String {
    match terminal_safe(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(safe) => safe,
    }
}

/// The transcript lines of some records. `answering` says whether the record
/// before them was streamed text, or `None` when that is not known yet (a
/// block whose predecessor is rendered elsewhere): then the first record's
/// [`boundary`] is left to the caller. Returns the same for the last record.
fn text_records(
    records: &[Record],
    start: Option<DateTime<Utc>>,
    mut answering: Option<bool>,
    out: &mut String,
) -> Option<bool> {
    // One buffer for every record's time, not an allocation each.
    let mut at = String::new();
    for record in records {
        at.clear();
        write_offset(start, record.at, &mut at);
        let streamed = is_streamed(record);
        boundary(answering, streamed, &at, out);
        answering = Some(streamed);
        match &record.message {
            TraceMessage::Agent { event } => agent_line(out, &at, event),
            other => other_line(out, &at, other),
        }
    }
    answering
}

fn is_streamed(record: &Record) -> bool {
    matches!(
        record.message,
        TraceMessage::Agent {
            event: AgentEvent::TextDelta { .. }
        }
    )
}

/// What goes between two records: streamed text runs on in one paragraph,
/// which opens with an `answer:` line and closes with a line end.
fn boundary(answering: Option<bool>, streamed: bool, at: &str, out: &mut String) {
    match (answering, streamed) {
        (Some(true), false) => out.push('\n'),
        (Some(false), true) => {
            let _ = writeln!(out, "{at}  answer:");
        }
        _ => {}
    }
}

fn agent_line(out: &mut String, at: &str, event: &AgentEvent) {
    let _ = match event {
        AgentEvent::UserMessage { text } => writeln!(out, "{at}  you: {text}"),
        AgentEvent::AgentMode { mode } => writeln!(out, "{at}  agent: {mode}"),
        // Streamed text continues on the line, as it arrived.
        AgentEvent::TextDelta { text } => write!(out, "{text}"),
        AgentEvent::ToolCallStarted {
            call_id,
            server,
            tool,
            arguments,
        } => writeln!(
            out,
            "{at}  call {call_id} {tool} on {server} {}",
            compact(arguments)
        ),
        AgentEvent::ToolCallFinished {
            call_id,
            duration_ms,
            is_error,
            result,
            truncated,
            ..
        } => writeln!(
            out,
            "{at}  {} {call_id} in {duration_ms} ms{}: {}",
            if *is_error { "✗" } else { "✓" },
            if *truncated { " (result cut)" } else { "" },
            result_summary(result)
        ),
        AgentEvent::ApprovalNeeded {
            call_id,
            tool,
            reason,
            ..
        } => writeln!(out, "{at}  approval asked for {call_id} {tool}: {reason}"),
        AgentEvent::ApprovalDecided {
            call_id,
            approved,
            by,
            ..
        } => writeln!(
            out,
            "{at}  {call_id} {} by {by}",
            if *approved { "approved" } else { "refused" }
        ),
        AgentEvent::ToolsOffered { offered, left_out } => writeln!(
            out,
            "{at}  {}",
            crate::agent::offer::describe(offered, *left_out)
        ),
        AgentEvent::Usage {
            prompt_tokens,
            completion_tokens,
        } => writeln!(
            out,
            "{at}  tokens: {prompt_tokens} prompt, {completion_tokens} completion"
        ),
        AgentEvent::Error { message } => writeln!(out, "{at}  error: {message}"),
        AgentEvent::TurnFinished { tool_calls, ok, .. } => writeln!(
            out,
            "{at}  turn {} ({tool_calls} tool calls)",
            if *ok { "answered" } else { "failed" }
        ),
    };
}

fn other_line(out: &mut String, at: &str, message: &TraceMessage) {
    let _ = match message {
        TraceMessage::RunsChanged { changes, .. } => {
            let failed: Vec<String> = changes
                .iter()
                .filter(|c| c.run.status == RunStatus::Failed)
                .map(|c| format!("{} {}", c.run.pipeline, c.run.run_id))
                .collect();
            let _ = writeln!(out, "{at}  board: {} run(s) new or changed", changes.len());
            if failed.is_empty() {
                Ok(())
            } else {
                writeln!(out, "{at}    failed: {}", failed.join(", "))
            }
        }
        TraceMessage::RunsStale { reason } => writeln!(out, "{at}  board refresh failed: {reason}"),
        TraceMessage::Connection {
            server,
            ready,
            detail,
        } => writeln!(
            out,
            "{at}  server {server} {}: {detail}",
            if *ready { "up" } else { "down" }
        ),
        TraceMessage::ConversationReset => {
            writeln!(out, "{at}  new conversation (earlier turns forgotten)")
        }
        TraceMessage::RunFollowed {
            run_id,
            pipeline,
            run,
            reason,
            ..
        } => match (run, reason) {
            (_, Some(reason)) => writeln!(
                out,
                "{at}  stopped following run {run_id} of {pipeline}: {reason}"
            ),
            (Some(run), None) => writeln!(
                out,
                "{at}  followed run {run_id} of {pipeline}: {}",
                run.status.as_str()
            ),
            (None, None) => Ok(()),
        },
        TraceMessage::SessionEnd { reason } => writeln!(out, "{at}  session end: {reason}"),
        TraceMessage::Agent { .. } => Ok(()),
    };
}

/// What a streamed replay ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    /// Lines that could not be read (each is listed at the end of the text).
    pub skipped: usize,
}

/// A block of record lines on its way to a worker.
struct Job {
    index: usize,
    bytes: Vec<u8>,
    /// Where the record lines begin in `bytes` (past the header, in the first).
    body: usize,
    start: Option<DateTime<Utc>>,
}

/// A block rendered, with what the writer needs to stitch it to its neighbours.
struct Piece {
    index: usize,
    text: String,
    /// The first record: whether it is streamed text, and its time.
    first: Option<(bool, String)>,
    /// Whether the last record is streamed text (`None`: the block has none).
    last: Option<bool>,
    /// Line ends in the block, to number the next block's lines.
    lines: usize,
    /// Lines skipped, numbered from 1 within the block.
    skipped: Vec<Skipped>,
}

/// Writes the transcript of the trace read from `input` to `output`. Errors
/// when nothing in the trace can be read (with why, and nothing written) or
/// the input fails; a closed output (`| head`) just ends the replay early.
pub fn stream<R, W>(input: R, output: &mut W, block: usize) -> Result<Streamed, String>
where
    R: Read + Send,
    W: Write,
{
    stream_within(input, output, block, Limits::STREAM)
}

/// [`stream`] within other bounds (the tests use small ones).
pub fn stream_within<R, W>(
    input: R,
    output: &mut W,
    block: usize,
    limits: Limits,
) -> Result<Streamed, String>
where
    R: Read + Send,
    W: Write,
{
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    // Blocks in flight, read but not yet written: bounds memory whatever the
    // file's size, even if one worker falls behind the others.
    let in_flight = workers * 2;
    let (slot_tx, slot_rx) = mpsc::sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = slot_tx.send(());
    }
    let (head_tx, head_rx) = mpsc::sync_channel::<Result<reader::Head, String>>(1);
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers);
    let (piece_tx, piece_rx) = mpsc::sync_channel::<Piece>(in_flight);
    let (end_tx, end_rx) = mpsc::sync_channel::<bool>(1);
    let job_rx = Arc::new(Mutex::new(job_rx));
    std::thread::scope(|scope| {
        let reading = scope.spawn(move || {
            let sides = ReadSide {
                head_tx,
                job_tx,
                slots: slot_rx,
            };
            read_side(input, block.max(1), limits, sides, end_tx)
        });
        for _ in 0..workers {
            let (jobs, pieces) = (Arc::clone(&job_rx), piece_tx.clone());
            scope.spawn(move || render_side(&jobs, &pieces));
        }
        // Only the workers hold the job queue and the piece senders now, so
        // either side stopping early unblocks the other.
        drop((job_rx, piece_tx));
        let written = write_side(head_rx, piece_rx, slot_tx, end_rx, output, limits);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the reading thread failed")));
        match (written, read) {
            (Err(nothing), _) => Err(nothing),
            (Ok(_), Err(e)) => Err(format!("reading the trace failed part way: {e}")),
            (Ok(streamed), Ok(())) => Ok(streamed),
        }
    })
}

/// The channels the reading thread feeds: the head, the blocks, and the
/// slots that bound the blocks in flight.
struct ReadSide {
    head_tx: SyncSender<Result<reader::Head, String>>,
    job_tx: SyncSender<Job>,
    slots: Receiver<()>,
}

/// Reads blocks, settles the head (and the start time a headerless trace
/// takes from its first record), and queues the blocks for the workers.
/// Says on `end_tx` whether the input went on past the total limit — before
/// the job queue closes, so the writer has it when the last piece is in.
fn read_side<R: Read>(
    mut input: R,
    block: usize,
    limits: Limits,
    sides: ReadSide,
    end_tx: SyncSender<bool>,
) -> io::Result<()> {
    let ReadSide {
        head_tx,
        job_tx,
        slots,
    } = sides;
    // Blocks held until the head and the start time can be read (normally none).
    let mut held: Vec<u8> = Vec::new();
    // The session's start, once the head is read.
    let mut start: Option<Option<DateTime<Utc>>> = None;
    let mut index = 0;
    let mut head_tx = Some(head_tx);
    let capped = blocks::read_blocks(&mut input, block, limits, |bytes, last| {
        let (bytes, body, start) = match start {
            Some(at) => (bytes, 0, at),
            None => {
                let bytes = if held.is_empty() {
                    bytes
                } else {
                    held.extend_from_slice(&bytes);
                    std::mem::take(&mut held)
                };
                let head = match reader::head(&bytes) {
                    Ok(head) => head,
                    Err(_)
                        if !last
                            && bytes.len() <= blocks::MAX_LEADING_BYTES
                            && bytes.iter().all(u8::is_ascii_whitespace) =>
                    {
                        held = bytes;
                        return true;
                    }
                    Err(_) if !last && bytes.iter().all(u8::is_ascii_whitespace) => {
                        if let Some(tx) = head_tx.take() {
                            let _ = tx.send(Err(blocks::no_beginning()));
                        }
                        return false;
                    }
                    Err(why) => {
                        if let Some(tx) = head_tx.take() {
                            let _ = tx.send(Err(why));
                        }
                        return false;
                    }
                };
                // Without a readable header, time from the first record —
                // after a broken header line it may be in a later block.
                let at = head
                    .header
                    .as_ref()
                    .map(|h| h.started_at)
                    .or_else(|| reader::first_record(&bytes[head.body_offset..]).map(|r| r.at));
                // (Records without a time are not held beyond a bound: the
                // transcript then times from zero.)
                if at.is_none() && !last && bytes.len() <= blocks::MAX_LEADING_BYTES {
                    held = bytes;
                    return true;
                }
                start = Some(at);
                let body = head.body_offset;
                if let Some(tx) = head_tx.take()
                    && tx.send(Ok(head)).is_err()
                {
                    return false;
                }
                (bytes, body, at)
            }
        };
        // Wait for a slot; a writer that has stopped closes them.
        if slots.recv().is_err() {
            return false;
        }
        let job = Job {
            index,
            bytes,
            body,
            start,
        };
        index += 1;
        job_tx.send(job).is_ok()
    });
    let capped = capped?;
    let _ = end_tx.send(capped);
    Ok(())
}

fn render_side(jobs: &Mutex<Receiver<Job>>, pieces: &SyncSender<Piece>) {
    loop {
        // Hold the lock only to take a job, not while rendering it.
        let job = match jobs.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        if pieces.send(render_block(&job)).is_err() {
            return;
        }
    }
}

fn render_block(job: &Job) -> Piece {
    let body = &job.bytes[job.body..];
    let cut = !body.is_empty() && !body.ends_with(b"\n");
    let (records, skipped) = reader::parse_chunk(body, 0, cut);
    let mut text = String::with_capacity(body.len() / 2);
    let last = text_records(&records, job.start, None, &mut text);
    Piece {
        index: job.index,
        text: into_terminal_safe(text),
        first: records
            .first()
            .map(|r| (is_streamed(r), offset(job.start, r.at))),
        last,
        lines: memchr::memchr_iter(b'\n', body).count(),
        skipped,
    }
}

/// Where the transcript goes: held back until something in the trace proves
/// readable (a trace of which nothing reads prints only the reason), and
/// closed for good at the first failed write.
struct Sink<'w, W: Write> {
    output: &'w mut W,
    pending: Option<String>,
    open: bool,
}

impl<W: Write> Sink<'_, W> {
    fn put(&mut self, text: &str) {
        if let Some(pending) = &mut self.pending {
            pending.push_str(text);
        } else if self.open && self.output.write_all(text.as_bytes()).is_err() {
            self.open = false;
        }
    }

    /// From now on, text goes straight out.
    fn release(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.put(&pending);
        }
    }
}

fn write_side<W: Write>(
    head: Receiver<Result<reader::Head, String>>,
    pieces: Receiver<Piece>,
    slots: SyncSender<()>,
    ended: Receiver<bool>,
    output: &mut W,
    limits: Limits,
) -> Result<Streamed, String> {
    let head = match head.recv() {
        Ok(Ok(head)) => head,
        Ok(Err(why)) => return Err(why),
        // The reader stopped before the head: its own error says why.
        Err(_) => return Ok(Streamed { skipped: 0 }),
    };
    let mut sink = Sink {
        output,
        pending: Some(String::new()),
        open: true,
    };
    let mut opening = String::new();
    header_lines(head.header.as_ref(), &mut opening);
    sink.put(&terminal_safe(&opening));
    if head.header.is_some() {
        sink.release();
    }
    let mut skipped = head.skipped;
    let mut line_base = head.first_index;
    let mut answering = false;
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    for piece in pieces {
        waiting.insert(piece.index, piece);
        while let Some(piece) = waiting.remove(&next) {
            next += 1;
            if let Some((streamed, at)) = &piece.first {
                let mut seam = String::new();
                boundary(Some(answering), *streamed, at, &mut seam);
                sink.release();
                sink.put(&seam);
            }
            sink.put(&piece.text);
            answering = piece.last.unwrap_or(answering);
            skipped.extend(piece.skipped.into_iter().map(|s| Skipped {
                line: s.line + line_base,
                ..s
            }));
            line_base += piece.lines;
            if !sink.open {
                return Ok(Streamed {
                    skipped: skipped.len(),
                });
            }
            let _ = slots.send(());
        }
    }
    reader::nothing_read(sink.pending.is_none(), &skipped)?;
    let mut warnings = head.warnings;
    // The reader has said by now: it speaks before the job queue closes.
    if ended.recv().unwrap_or(false) {
        warnings.push(blocks::capped_warning(limits));
    }
    let mut closing = String::new();
    if answering {
        closing.push('\n');
    }
    footer_lines(&warnings, &skipped, &mut closing);
    sink.put(&terminal_safe(&closing));
    let _ = sink.output.flush();
    Ok(Streamed {
        skipped: skipped.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(records: usize) -> String {
        let mut text = String::from(
            r#"{"type":"header","schema":1,"opsdeck_version":"0","started_at":"2026-11-23T03:42:00Z","host":"h","process":"console","agent_mode":"offline","read_only":false,"backend":"sandbox","servers":[]}"#,
        );
        text.push('\n');
        for seq in 1..=records {
            let line = match seq % 5 {
                0 => format!(
                    r#"{{"seq":{seq},"at":"2026-11-23T03:42:01Z","type":"agent","event":{{"event":"user_message","text":"q{seq}"}}}}"#
                ),
                1 | 2 => format!(
                    r#"{{"seq":{seq},"at":"2026-11-23T03:42:02Z","type":"agent","event":{{"event":"text_delta","text":"words {seq} "}}}}"#
                ),
                3 => "{broken".to_string(),
                _ => format!(
                    r#"{{"seq":{seq},"at":"2026-11-23T03:42:03Z","type":"session_end","reason":"r{seq}"}}"#
                ),
            };
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    fn streamed(bytes: &[u8], block: usize) -> Result<(String, usize), String> {
        let mut out = Vec::new();
        let streamed = stream(bytes, &mut out, block)?;
        Ok((String::from_utf8(out).unwrap(), streamed.skipped))
    }

    #[test]
    fn the_streamed_transcript_equals_the_whole_one_across_blocks() {
        for (records, blocks) in [(10, vec![1, 50, 4096]), (200_000, vec![BLOCK, 1 << 16])] {
            let text = sample(records);
            let whole = reader::read(text.as_bytes()).unwrap();
            for block in blocks {
                let (out, skipped) = streamed(text.as_bytes(), block).unwrap();
                assert_eq!(out, super::text(&whole), "{records} records, block {block}");
                assert_eq!(skipped, records / 5);
            }
            // Cut mid-line: the same again, the cut line named.
            let cut = &text[..text.len() - 7];
            let whole = super::text(&reader::read(cut.as_bytes()).unwrap());
            assert!(whole.contains("cut short"));
            assert_eq!(streamed(cut.as_bytes(), 1 << 16).unwrap().0, whole);
        }
    }

    #[test]
    fn a_headerless_trace_after_blank_lines_times_from_its_first_record() {
        let text = format!("\n\n{}", sample(20).split_once('\n').unwrap().1);
        let whole = super::text(&reader::read(text.as_bytes()).unwrap());
        assert!(whole.starts_with("opsdeck trace (no header)"), "{whole}");
        for block in [1, 3, 64, 1 << 20] {
            assert_eq!(
                streamed(text.as_bytes(), block).unwrap().0,
                whole,
                "block {block}"
            );
        }
    }

    #[test]
    fn an_unreadable_trace_prints_nothing_and_says_why() {
        for bytes in [
            &b""[..],
            b"\n \n",
            b"not a trace",
            b"{\"name\": \"package.json\"}\n",
        ] {
            let mut out = Vec::new();
            let why = stream(bytes, &mut out, 2).unwrap_err();
            assert_eq!(Err(why), reader::read(bytes).map(|_| ()));
            assert!(out.is_empty());
        }
    }

    /// An output that takes `room` bytes, then fails like a closed pipe.
    struct ClosedAfter {
        room: usize,
        taken: Vec<u8>,
    }

    impl Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.taken.len() >= self.room {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room - self.taken.len());
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_output_ends_the_replay_early_without_error() {
        let text = sample(200_000);
        let mut output = ClosedAfter {
            room: 1000,
            taken: Vec::new(),
        };
        assert!(stream(text.as_bytes(), &mut output, 1 << 12).is_ok());
        let whole = super::text(&reader::read(text.as_bytes()).unwrap());
        assert_eq!(output.taken, whole.as_bytes()[..1000]);
    }

    #[test]
    fn an_over_long_line_is_skipped_with_its_reason_and_the_rest_streamed() {
        let mut text = sample(20);
        let cut = text.find("\n").unwrap() + 1;
        text.insert_str(cut, &format!("{}\n", "y".repeat(5000)));
        let limits = Limits {
            line: 1000,
            total: 1 << 20,
        };
        for block in [64, 512] {
            let mut out = Vec::new();
            let streamed = stream_within(text.as_bytes(), &mut out, block, limits).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert!(
                out.contains("skipped line 2: longer than the 16 MiB"),
                "block {block}\n{out}"
            );
            assert!(
                out.contains("you: q5"),
                "the records after it are read\n{out}"
            );
            assert_eq!(streamed.skipped, 20 / 5 + 1);
        }
    }

    #[test]
    fn an_endless_input_ends_at_the_total_with_a_warning() {
        let head = sample(5);
        let endless = io::Read::chain(head.as_bytes(), io::repeat(b'z'));
        let limits = Limits {
            line: 4096,
            total: 1 << 20,
        };
        let mut out = Vec::new();
        stream_within(endless, &mut out, 1024, limits).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("only its first 1 MiB were read"), "{out}");
        assert!(out.contains("longer than the 16 MiB"), "{out}");
        // Zeros from the first byte: not a trace, and said without reading on.
        let why = stream_within(io::repeat(0), &mut Vec::new(), 1024, limits).unwrap_err();
        assert!(why.contains("longer than"), "{why}");
    }

    #[test]
    fn escape_sequences_in_a_trace_reach_the_output_inert() {
        let text = sample(5).replace("words 1 ", "\\u001b]52;c;aGk=\\u0007\\u001b[2J\\u009b0m ");
        let trace = reader::read(text.as_bytes()).unwrap();
        let whole = super::text(&trace);
        assert!(
            whole.contains("\\x1b]52;c;aGk=\\x07\\x1b[2J\\x9b0m"),
            "{whole}"
        );
        let (out, _) = streamed(text.as_bytes(), 64).unwrap();
        assert_eq!(out, whole);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    }

    /// An input that fails part way, like a disk error.
    struct FailingAfter<'a>(&'a [u8]);

    impl Read for FailingAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_input_error_part_way_is_reported() {
        let text = sample(1000);
        let mut out = Vec::new();
        let why = stream(FailingAfter(text.as_bytes()), &mut out, 256).unwrap_err();
        assert!(why.contains("disk on fire"), "{why}");
    }
}
