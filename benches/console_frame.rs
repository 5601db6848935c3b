//! The console's frame budget, with a heavy session loaded: 10,000 runs on the
//! board, 2,001 chat entries and a 1 MB tool result open in the inspector, at
//! 200×50. Measures update + draw per frame (p50 / p99 / max) next to the same
//! frames on an empty console (the anchor: what ratatui's own diffing costs),
//! then a chat of 200 long markdown answers scrolled page by page while one
//! more streams in, and the same chat with a long structured answer streaming
//! in chunk by chunk (the case the render memo cannot help), the RSS with that
//! load, start to first frame of the real binary in a pty, and the CPU and
//! bytes an idle console uses.
//!
//! Run: `cargo bench --bench console_frame` (Linux; needs `script` from util-linux).
//! `OPSDECK_BENCH_FRAMES` sets the frames per scenario (default 2000);
//! `OPSDECK_BENCH_ONLY_FRAMES=1` skips the pty measurements. Each frame figure
//! is also printed as a `RESULT <scenario> <p50> <p99> <max>` line (ms), which
//! `scripts/bench-console-frame-vs.sh` collects to compare two commits.
//!
//! Results, pulldown-cmark renderer + render memo (working tree of 911ca2a)
//! against the hand-written renderer (09bc755): `scripts/bench-console-frame-vs.sh
//! 09bc755 5`, the two binaries alternating, 5 rounds of 2,000 frames per
//! scenario, on this project's 2-core shared machine. Median over rounds of
//! each run's p50 / p99 in ms, [min–max over rounds]:
//!
//! | scenario                   | before p50 | after p50 |       | before p99 | after p99 |       |
//! |----------------------------|------------|-----------|-------|------------|-----------|-------|
//! | anchor: empty console      | 0.330 [0.329–0.333] | 0.293 [0.291–0.295] | 0.89× | 0.385 [0.383–0.386] | 0.366 [0.359–0.372] | 0.95× |
//! | loaded (10k runs, 2k chat) | 0.427 [0.423–0.429] | 0.387 [0.386–0.389] | 0.91× | 0.495 [0.493–0.499] | 0.463 [0.459–0.464] | 0.94× |
//! | 200 long answers, paging   | 0.568 [0.566–0.569] | 0.286 [0.284–0.329] | 0.50× | 0.762 [0.757–0.764] | 0.629 [0.618–0.709] | 0.83× |
//! | long answer streaming in   | 0.336 [0.334–0.337] | 0.274 [0.272–0.279] | 0.81× | 0.419 [0.412–0.423] | 0.421 [0.411–0.431] | 1.00× |
//!
//! The anchor moved too (other work between the commits), so the renderer's
//! own share is the rest: with the memo, paging through long answers costs no
//! more than an empty console (before: +0.24 ms at p50); the answer streaming
//! in is re-rendered on every chunk either way, and a parse by pulldown-cmark
//! makes an uncached render of list- and code-heavy text about 1.35× the old
//! hand parser's (prose: 0.85×), which is what its unchanged p99 is made of.
//! RSS after the 200-answer frames: 25.1 MiB before, 25.5 MiB after.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsdeck::agent::events::AgentEvent;
use opsdeck::console::app::update::{App, Msg, Pane, update};
use opsdeck::console::ui::theme::Theme;
use opsdeck::model::run::{BackendKind, InvokedBy, PipelineRun, RunStatus};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

const OPSDECK: &str = env!("CARGO_BIN_EXE_opsdeck");
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 3, 42, 0)
        .single()
        .unwrap_or_default()
}

fn runs(count: usize) -> Vec<PipelineRun> {
    let statuses = [
        RunStatus::Succeeded,
        RunStatus::Succeeded,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::InProgress,
        RunStatus::Queued,
        RunStatus::Cancelled,
    ];
    (0..count)
        .map(|i| {
            let start = now() - chrono::Duration::seconds((i * 8) as i64);
            let status = statuses[i % statuses.len()].clone();
            PipelineRun {
                run_id: format!("{:08x}-{:04x}-4f78-8a3b-{:012x}", i * 7919, i % 65536, i),
                pipeline: format!(
                    "pipeline_{:02}_{}",
                    i % 60,
                    ["ingest", "transform", "publish"][i % 3]
                ),
                backend: BackendKind::Sandbox,
                environment: "prod".into(),
                run_start: (status != RunStatus::Queued).then_some(start),
                run_end: None,
                duration_ms: status.is_terminal().then_some(((i * 137) % 600_000) as i64),
                status,
                invoked_by: InvokedBy {
                    name: "tr_hourly".into(),
                    kind: "ScheduleTrigger".into(),
                    parent_run_id: None,
                    parent_pipeline: None,
                },
                message: String::new(),
                parameters: Default::default(),
                rerun_of: None,
            }
        })
        .collect()
}

/// About 1 MB of JSON: a page of runs with long messages, as a tool would return it.
fn big_result() -> Value {
    let rows: Vec<Value> = (0..2_600)
        .map(|i| {
            json!({
                "run_id": format!("run-{i:06}"),
                "pipeline": format!("pipeline_{:02}", i % 60),
                "status": if i % 5 == 0 { "Failed" } else { "Succeeded" },
                "message": format!("Operation on target Copy{i} failed: ErrorCode=2200 Failure happened on 'Sink' side. {}", "x".repeat(200)),
                "activities": [{"name": "Copy", "duration_ms": i * 3}, {"name": "Notebook", "duration_ms": i * 5}],
            })
        })
        .collect();
    json!({"content": ["2600 runs"], "structured": {"runs": rows}})
}

fn loaded_app() -> App {
    let mut app = App::default();
    update(
        &mut app,
        Msg::Resize {
            width: WIDTH,
            height: HEIGHT,
        },
    );
    update(&mut app, Msg::Tick(now()));
    update(
        &mut app,
        Msg::RunsLoaded {
            runs: runs(10_000),
            at: now(),
        },
    );
    // Three chat entries a turn (question, tool call, answer): 2,001 entries.
    for i in 0..667 {
        app.chat.submit(&format!(
            "question {i}: why did pipeline_{:02} fail at 03:00?",
            i % 60
        ));
        let call = format!("call-{i}");
        for event in [
            AgentEvent::ToolCallStarted {
                call_id: call.clone(),
                server: "opsdeck".into(),
                tool: "triage_run".into(),
                arguments: json!({"run_id": format!("run-{i}")}),
            },
            AgentEvent::ToolCallFinished {
                call_id: call.clone(),
                server: "opsdeck".into(),
                tool: "triage_run".into(),
                duration_ms: 12,
                is_error: false,
                result: json!({"content": ["ok"]}),
                truncated: false,
            },
            AgentEvent::TextDelta {
                text: format!(
                    "## Root cause {i}\n\nThe **service principal** secret `adls-sp` expired; copies fail with `AADSTS7000222`.\n\n- blast radius: 11 pipelines\n- next: rotate the secret, then rerun from the failed activity\n\n```\nrerun_pipeline pipeline_{:02}\n```\n",
                    i % 60
                ),
            },
            AgentEvent::TurnFinished {
                answer: String::new(),
                tool_calls: 1,
                ok: true,
            },
        ] {
            update(&mut app, Msg::Agent(event));
        }
    }
    let started = Instant::now();
    update(
        &mut app,
        Msg::Agent(AgentEvent::ToolCallFinished {
            call_id: "call-big".into(),
            server: "opsdeck".into(),
            tool: "list_pipeline_runs".into(),
            duration_ms: 80,
            is_error: false,
            result: big_result(),
            truncated: false,
        }),
    );
    app.focus = Pane::Inspector;
    update(&mut app, key(KeyCode::Char('G')));
    update(&mut app, key(KeyCode::Enter));
    println!(
        "  opening the 1 MB result in the inspector took {:.1} ms (once, on Enter)",
        started.elapsed().as_secs_f64() * 1e3
    );
    app
}

/// One long answer as a model writes them: headings, prose with inline
/// markup, nested lists, a quote and code. About 4.5 KB.
fn long_answer(i: usize) -> String {
    let mut text = format!(
        "## Incident {i}: pipeline_{:02} failed at 03:00\n\n",
        i % 60
    );
    for part in 0..6 {
        text.push_str(&format!(
            "### Finding {part}\n\nThe **service principal** secret `adls-sp-{i}` expired at 02:00 UTC; every copy into the lake since then fails with `AADSTS7000222`, and _each_ retry makes it worse. See [the runbook](https://wiki.example.com/runbooks/adls-{part}) before acting.\n\n- blast radius: {} pipelines downstream, including `pipeline_{:02}_publish`\n- next: rotate the secret, then rerun from the failed activity\n  - keep the **old** secret until the rerun succeeds\n  - watch the copy throughput for ~15 minutes\n\n> The on-call note says this happened last quarter too.\n\n```sql\nSELECT run_id, status, message FROM runs\nWHERE pipeline = 'pipeline_{:02}' AND status = 'Failed';\n```\n\n",
            11 + part,
            (i + part) % 60,
            i % 60
        ));
    }
    text
}

/// 200 turns, each a question, a tool call and a long answer, with the chat
/// focused and not typing, so paging keys scroll it.
fn long_chat_app() -> App {
    let mut app = App::default();
    update(
        &mut app,
        Msg::Resize {
            width: WIDTH,
            height: HEIGHT,
        },
    );
    update(&mut app, Msg::Tick(now()));
    for i in 0..200 {
        app.chat
            .submit(&format!("question {i}: what broke overnight?"));
        let call = format!("call-{i}");
        for event in [
            AgentEvent::ToolCallStarted {
                call_id: call.clone(),
                server: "opsdeck".into(),
                tool: "triage_run".into(),
                arguments: json!({"run_id": format!("run-{i}")}),
            },
            AgentEvent::ToolCallFinished {
                call_id: call.clone(),
                server: "opsdeck".into(),
                tool: "triage_run".into(),
                duration_ms: 12,
                is_error: false,
                result: json!({"content": ["ok"]}),
                truncated: false,
            },
            AgentEvent::TextDelta {
                text: long_answer(i),
            },
            AgentEvent::TurnFinished {
                answer: String::new(),
                tool_calls: 1,
                ok: true,
            },
        ] {
            update(&mut app, Msg::Agent(event));
        }
    }
    app.focus = Pane::Chat;
    app
}

/// Paging up through the long chat for 32 frames, then back down, while an
/// answer streams in at the bottom and the clock ticks.
fn long_chat_messages(i: usize) -> (Pane, Msg) {
    let up = (i / 32).is_multiple_of(2);
    let msg = match i % 4 {
        0 => Msg::Agent(AgentEvent::TextDelta {
            text: format!("streaming *more* of the newest answer, `chunk {i}`, "),
        }),
        1 | 2 => key(if up {
            KeyCode::PageUp
        } else {
            KeyCode::PageDown
        }),
        _ => Msg::Tick(now() + chrono::Duration::seconds(i as i64)),
    };
    (Pane::Chat, msg)
}

/// A long structured answer streaming in at the bottom of the long chat, one
/// chunk every other frame: the case the render memo cannot help, since the
/// answer changes on every chunk. After about 12 KB the turn ends and the next
/// answer starts, as a conversation goes.
fn streaming_messages(i: usize) -> (Pane, Msg) {
    let chunk = i / 2;
    let msg = if i % 2 == 1 {
        Msg::Tick(now() + chrono::Duration::seconds(i as i64))
    } else if chunk % 160 == 159 {
        Msg::Agent(AgentEvent::TurnFinished {
            answer: String::new(),
            tool_calls: 0,
            ok: true,
        })
    } else {
        let text = match chunk % 4 {
            0 => format!("- copy into `table_{chunk}` failed with **AADSTS7000222**\n"),
            1 => "  and its retries made the backlog _worse_ each time\n".to_string(),
            2 => format!(
                "\n```\nrerun_pipeline pipeline_{:02} --from-failed\n```\n\n",
                chunk % 60
            ),
            _ => format!(
                "Run {chunk} waits on the same secret; the [runbook](https://wiki.example.com/adls) says to rotate it first.\n\n"
            ),
        };
        Msg::Agent(AgentEvent::TextDelta { text })
    };
    (Pane::Chat, msg)
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// The frames: moving on the board, in the open result, scrolling the chat, text streaming in.
fn frame_messages(i: usize) -> (Pane, Msg) {
    match i % 4 {
        0 => (
            Pane::Board,
            key(if i.is_multiple_of(8) {
                KeyCode::Char('j')
            } else {
                KeyCode::Char('k')
            }),
        ),
        1 => (
            Pane::Inspector,
            key(if i % 8 == 1 {
                KeyCode::Char('j')
            } else {
                KeyCode::Char('k')
            }),
        ),
        2 => (
            Pane::Chat,
            Msg::Agent(AgentEvent::TextDelta {
                text: "more text streaming in, ".into(),
            }),
        ),
        _ => (
            Pane::Board,
            Msg::Tick(now() + chrono::Duration::seconds(i as i64)),
        ),
    }
}

struct Stats {
    p50: f64,
    p99: f64,
    max: f64,
}

fn stats(mut samples: Vec<f64>) -> Stats {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        max: at(1.0),
    }
}

fn measure(app: &mut App, frames: usize) -> Stats {
    measure_with(app, frames, frame_messages)
}

fn measure_with(app: &mut App, frames: usize, messages: fn(usize) -> (Pane, Msg)) -> Stats {
    let theme = Theme::default();
    let Ok(mut terminal) = Terminal::new(TestBackend::new(WIDTH, HEIGHT)) else {
        panic!("test terminal");
    };
    let mut samples = Vec::with_capacity(frames);
    for i in 0..frames + 50 {
        let (pane, msg) = messages(i);
        app.focus = pane;
        let started = Instant::now();
        update(app, msg);
        let _ = terminal.draw(|f| opsdeck::console::ui::draw(f, app, &theme));
        if i >= 50 {
            samples.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    stats(samples)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The console in a pty (`script`), its output counted as it comes.
struct PtyConsole {
    child: std::process::Child,
    bytes: Arc<AtomicUsize>,
    first_frame: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl PtyConsole {
    fn start() -> PtyConsole {
        let logs = std::env::temp_dir().join("opsdeck-bench-logs");
        let command = format!(
            "stty cols {WIDTH} rows {HEIGHT}; exec {OPSDECK} --frozen-clock 2026-11-23T03:42:00Z"
        );
        let Ok(mut child) = Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("OPSDECK_LOG_DIR", &logs)
            .env("TERM", "xterm-256color")
            .env(
                "XDG_CONFIG_HOME",
                std::env::temp_dir().join("opsdeck-bench-config"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            panic!("cannot run `script` (util-linux) to give the console a pty");
        };
        let bytes = Arc::new(AtomicUsize::new(0));
        let first_frame = Arc::new(std::sync::Mutex::new(None));
        let mut stdout = child.stdout.take();
        let (counter, seen) = (bytes.clone(), first_frame.clone());
        std::thread::spawn(move || {
            let Some(out) = stdout.as_mut() else { return };
            let mut buffer = [0u8; 65536];
            let mut text = Vec::new();
            while let Ok(n) = out.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                counter.fetch_add(n, Ordering::SeqCst);
                if let Ok(mut slot) = seen.lock()
                    && slot.is_none()
                {
                    text.extend_from_slice(&buffer[..n]);
                    if text.windows(4).any(|w| w == b"Chat") {
                        *slot = Some(Instant::now());
                    }
                }
            }
        });
        PtyConsole {
            child,
            bytes,
            first_frame,
        }
    }

    fn wait_first_frame(&self, started: Instant) -> Option<Duration> {
        while started.elapsed() < Duration::from_secs(10) {
            if let Some(at) = self.first_frame.lock().ok().and_then(|s| *s) {
                return Some(at - started);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        None
    }

    /// utime + stime of the opsdeck process (the child of `script`), in clock ticks.
    fn cpu_ticks(&self) -> Option<u64> {
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.child.id()))
                .ok()?;
        let pid = children.split_whitespace().next()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after_name = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }
}

impl Drop for PtyConsole {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let frames: usize = std::env::var("OPSDECK_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!("console frame benchmark — {WIDTH}×{HEIGHT}, {frames} frames per scenario");
    let rss_before = rss_mib();
    let mut empty = App::default();
    update(
        &mut empty,
        Msg::Resize {
            width: WIDTH,
            height: HEIGHT,
        },
    );
    let mut loaded = loaded_app();
    let rss_loaded = rss_mib();
    let anchor = measure(&mut empty, frames);
    let heavy = measure(&mut loaded, frames);
    println!(
        "  {:<46} {:>8} {:>8} {:>8}",
        "update + draw per frame (ms)", "p50", "p99", "max"
    );
    println!(
        "  {:<46} {:>8.3} {:>8.3} {:>8.3}",
        "anchor: empty console", anchor.p50, anchor.p99, anchor.max
    );
    println!(
        "  {:<46} {:>8.3} {:>8.3} {:>8.3}",
        "10k runs, 2k chat entries, 1 MB result open", heavy.p50, heavy.p99, heavy.max
    );
    println!(
        "  ratio loaded/empty: p50 {:.2}×, p99 {:.2}×  (target p99 ≤ 2 ms)",
        heavy.p50 / anchor.p50,
        heavy.p99 / anchor.p99
    );
    println!(
        "  RSS: {rss_before:.1} MiB before the load, {rss_loaded:.1} MiB with it (target ≤ 40 MiB)"
    );
    drop(loaded);
    let mut long_chat = long_chat_app();
    let long = measure_with(&mut long_chat, frames, long_chat_messages);
    println!(
        "  {:<46} {:>8.3} {:>8.3} {:>8.3}",
        "chat: 200 long answers, paging + streaming", long.p50, long.p99, long.max
    );
    println!(
        "  RSS after the 200-answer frames: {:.1} MiB (chat scrolled {} lines up at the end)",
        rss_mib(),
        long_chat.chat.scroll_from_bottom
    );
    drop(long_chat);
    let mut streaming = long_chat_app();
    let stream = measure_with(&mut streaming, frames, streaming_messages);
    println!(
        "  {:<46} {:>8.3} {:>8.3} {:>8.3}",
        "chat: long structured answer streaming in", stream.p50, stream.p99, stream.max
    );
    for (name, s) in [
        ("anchor", &anchor),
        ("loaded", &heavy),
        ("long_chat", &long),
        ("streaming", &stream),
    ] {
        println!("RESULT {name} {:.4} {:.4} {:.4}", s.p50, s.p99, s.max);
    }
    if std::env::var_os("OPSDECK_BENCH_ONLY_FRAMES").is_some_and(|v| v == "1") {
        return;
    }

    let mut first_frames = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let console = PtyConsole::start();
        if let Some(took) = console.wait_first_frame(started) {
            first_frames.push(took.as_secs_f64() * 1e3);
        }
    }
    if first_frames.is_empty() {
        println!(
            "  start to first frame: the console never drew in a pty (is `script` installed?)"
        );
    } else {
        let s = stats(first_frames.clone());
        println!(
            "  start to first frame (binary in a pty, {} runs): p50 {:.1} ms, max {:.1} ms (target ≤ 50 ms)",
            first_frames.len(),
            s.p50,
            s.max
        );
    }

    let console = PtyConsole::start();
    let _ = console.wait_first_frame(Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let (ticks0, bytes0) = (console.cpu_ticks(), console.bytes.load(Ordering::SeqCst));
    let idle = Duration::from_secs(10);
    std::thread::sleep(idle);
    let (ticks1, bytes1) = (console.cpu_ticks(), console.bytes.load(Ordering::SeqCst));
    match (ticks0, ticks1) {
        (Some(a), Some(b)) => {
            // Linux reports CPU time in USER_HZ = 100 ticks a second.
            let cpu = (b - a) as f64 / 100.0 / idle.as_secs_f64() * 100.0;
            println!(
                "  idle for {}s: CPU {cpu:.2}% of one core, {} bytes written ({:.0} B/s)",
                idle.as_secs(),
                bytes1 - bytes0,
                (bytes1 - bytes0) as f64 / idle.as_secs_f64()
            );
        }
        _ => println!("  idle CPU: could not read the console's /proc stat"),
    }
}
