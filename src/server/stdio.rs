//! `opsdeck serve --stdio`: MCP over the process's stdin/stdout. Nothing else may
//! write to stdout in this mode — logs go to the log file.
//!
//! Lines pass through a small framing layer on their way to rmcp: stdin is read
//! line by line under [`MAX_REQUEST_BYTES`](super::framing::MAX_REQUEST_BYTES),
//! each line is screened ([`screen_request`]) and either forwarded to rmcp over
//! an in-memory pipe or answered here; rmcp's output and those answers reach
//! stdout through one writer, a whole line at a time, so they never interleave.

use std::time::Duration;

use rmcp::ServiceExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::OpsdeckServer;
use super::framing::{
    MAX_REQUEST_BYTES, OVERSIZED_HEAD_BYTES, OVERSIZED_TAIL_BYTES, oversized_request_reply,
    screen_request,
};

/// Bytes in flight between the framing layer and rmcp (either way).
const PIPE_BYTES: usize = 256 << 10;
/// Whole lines waiting for stdout.
const OUTGOING_LINES: usize = 64;
/// Bytes read from stdin at a time.
const READ_BUFFER_BYTES: usize = 64 << 10;
/// How long the last answers get to reach stdout once the session ends.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves until the client closes stdin (or sends a shutdown signal).
pub async fn serve_stdio(server: OpsdeckServer) -> Result<(), String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        // Someone typed `opsdeck serve` by hand: say what it is waiting for (on stderr).
        eprintln!(
            "opsdeck: serving MCP on stdin/stdout for an MCP host to drive; use `--http 127.0.0.1:8765` to serve over HTTP instead. Ctrl-C to stop."
        );
    }
    // Non-blocking pipes when the client launched us with pipes (the usual case):
    // no hand-off to a blocking thread per message.
    let (stdin, stdout) = rmcp::transport::io::stdio_pipes();
    tokio::select! {
        outcome = serve_framed(server, stdin, stdout) => outcome?,
        _ = super::http::shutdown_signal() => tracing::info!("shutdown signal received"),
    }
    tracing::info!("stdio session closed");
    Ok(())
}

/// Serves MCP over newline-delimited JSON-RPC on `input`/`output` through the
/// framing layer, until `input` ends; then lets the last answers out.
pub async fn serve_framed<R, W>(server: OpsdeckServer, input: R, output: W) -> Result<(), String>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (rmcp_end, framing_end) = tokio::io::duplex(PIPE_BYTES);
    let (from_rmcp, to_rmcp) = tokio::io::split(framing_end);
    let (outgoing, outgoing_lines) = mpsc::channel::<Vec<u8>>(OUTGOING_LINES);
    let writer = tokio::spawn(write_lines(outgoing_lines, output));
    tokio::spawn(forward_requests(input, to_rmcp, outgoing.clone()));
    tokio::spawn(forward_replies(from_rmcp, outgoing));
    let running = server
        .serve(rmcp_end)
        .await
        .map_err(|e| format!("MCP handshake over stdio failed: {e}"))?;
    tracing::info!("serving MCP over stdio");
    let outcome = running
        .waiting()
        .await
        .map_err(|e| format!("stdio session ended with an error: {e}"));
    // rmcp has let go of its end, so the replies pump ends and the writer drains.
    if tokio::time::timeout(DRAIN_TIMEOUT, writer).await.is_err() {
        tracing::warn!("stdout did not take the last answers in time");
    }
    outcome.map(|_| ())
}

/// Reads requests, answers the ones rmcp must not see, forwards the rest.
async fn forward_requests<R, W>(input: R, mut to_rmcp: W, outgoing: mpsc::Sender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut lines = BoundedLines::new(input, MAX_REQUEST_BYTES);
    loop {
        let answer = match lines.next_frame().await {
            Ok(Some(Frame::Line(mut line))) => match screen_request(&line) {
                Ok(()) => {
                    line.push(b'\n');
                    if to_rmcp.write_all(&line).await.is_err() {
                        break;
                    }
                    continue;
                }
                Err(reply) => reply,
            },
            Ok(Some(Frame::Oversized { head, tail, bytes })) => {
                tracing::warn!(bytes, "request over the size limit refused");
                oversized_request_reply(&head, &tail, bytes)
            }
            Ok(None) => break,
            Err(error) => {
                tracing::error!("reading stdin failed: {error}");
                break;
            }
        };
        tracing::debug!(code = answer.code, "request answered by the framing layer");
        if outgoing.send(answer.to_line()).await.is_err() {
            break;
        }
    }
    // End of input: rmcp sees end of stream and closes the session.
    let _ = to_rmcp.shutdown().await;
}

/// Passes rmcp's output on a whole line at a time (rmcp writes one message per line).
async fn forward_replies<R: AsyncRead + Unpin>(from_rmcp: R, outgoing: mpsc::Sender<Vec<u8>>) {
    let mut from_rmcp = BufReader::new(from_rmcp);
    loop {
        let mut line = Vec::new();
        match from_rmcp.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if outgoing.send(line).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// The only writer of `output`.
async fn write_lines<W: AsyncWrite + Unpin>(mut lines: mpsc::Receiver<Vec<u8>>, mut output: W) {
    while let Some(line) = lines.recv().await {
        if output.write_all(&line).await.is_err() {
            break;
        }
        // Flush when nothing else is queued: one syscall per burst, none held back.
        if lines.is_empty() && output.flush().await.is_err() {
            break;
        }
    }
    let _ = output.flush().await;
}

/// One line of input, or what was kept of a line over the cap.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A line without its newline.
    Line(Vec<u8>),
    /// A line over the cap: its first and last bytes, and its length; the rest
    /// was skipped without being kept.
    Oversized {
        head: Vec<u8>,
        tail: Vec<u8>,
        bytes: usize,
    },
}

/// Newline-delimited input read under a cap: memory stays bounded by the cap
/// however long a line is, even one that never ends.
pub struct BoundedLines<R> {
    input: BufReader<R>,
    max_line_bytes: usize,
}

impl<R: AsyncRead + Unpin> BoundedLines<R> {
    pub fn new(input: R, max_line_bytes: usize) -> BoundedLines<R> {
        BoundedLines {
            input: BufReader::with_capacity(READ_BUFFER_BYTES, input),
            max_line_bytes,
        }
    }

    /// The next line; `None` at the end of input. A last line without a
    /// newline is still a line.
    pub async fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        let mut line = Vec::new();
        let mut skipped: Option<Skipped> = None;
        loop {
            let available = self.input.fill_buf().await?;
            if available.is_empty() {
                return Ok(match skipped {
                    Some(skipped) => Some(skipped.into_frame(line)),
                    None if line.is_empty() => None,
                    None => Some(Frame::Line(line)),
                });
            }
            let newline = memchr::memchr(b'\n', available);
            let chunk = &available[..newline.unwrap_or(available.len())];
            let consumed = chunk.len() + usize::from(newline.is_some());
            match &mut skipped {
                Some(skipped) => skipped.pass(chunk),
                None if line.len() + chunk.len() > self.max_line_bytes => {
                    // Keep the start (to find the id), then only count and keep the end.
                    let mut over = Skipped::default();
                    over.pass(&line);
                    over.pass(chunk);
                    let room = OVERSIZED_HEAD_BYTES.saturating_sub(line.len());
                    line.extend_from_slice(&chunk[..room.min(chunk.len())]);
                    line.truncate(OVERSIZED_HEAD_BYTES);
                    skipped = Some(over);
                }
                None => line.extend_from_slice(chunk),
            }
            self.input.consume(consumed);
            if newline.is_some() {
                return Ok(Some(match skipped {
                    Some(skipped) => skipped.into_frame(line),
                    None => Frame::Line(line),
                }));
            }
        }
    }
}

/// The part of an oversized line that is kept while skipping it: its length
/// and its last bytes.
#[derive(Default)]
struct Skipped {
    bytes: usize,
    tail: Vec<u8>,
}

impl Skipped {
    fn pass(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len();
        self.tail
            .extend_from_slice(&chunk[chunk.len().saturating_sub(OVERSIZED_TAIL_BYTES)..]);
        let excess = self.tail.len().saturating_sub(OVERSIZED_TAIL_BYTES);
        self.tail.drain(..excess);
    }

    fn into_frame(self, head: Vec<u8>) -> Frame {
        Frame::Oversized {
            head,
            tail: self.tail,
            bytes: self.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], cap: usize) -> Vec<Frame> {
        let mut lines = BoundedLines::new(input, cap);
        let mut out = Vec::new();
        while let Some(frame) = lines.next_frame().await.unwrap() {
            out.push(frame);
        }
        out
    }

    #[tokio::test]
    async fn lines_come_without_their_newline_and_a_last_unterminated_one_counts() {
        let got = frames(b"a\n\nbc\nd", 10).await;
        let want: Vec<Frame> = ["a", "", "bc", "d"]
            .iter()
            .map(|l| Frame::Line(l.as_bytes().to_vec()))
            .collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn an_oversized_line_keeps_only_its_head_and_tail_and_the_next_line_survives() {
        let long = format!("{{{}}}", "x".repeat(OVERSIZED_HEAD_BYTES * 4));
        let input = format!("{long}\nafter\n");
        let got = frames(input.as_bytes(), OVERSIZED_HEAD_BYTES * 2).await;
        let Frame::Oversized { head, tail, bytes } = &got[0] else {
            panic!("{:?}", got[0]);
        };
        assert_eq!(*bytes, long.len());
        assert_eq!(head.len(), OVERSIZED_HEAD_BYTES);
        assert!(head.starts_with(b"{xx"));
        assert_eq!(tail.len(), OVERSIZED_TAIL_BYTES);
        assert!(tail.ends_with(b"xx}"));
        assert_eq!(got[1], Frame::Line(b"after".to_vec()));
    }
}
