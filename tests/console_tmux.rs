//! The console end to end in a real terminal: tmux runs `opsdeck` on the
//! sandbox; the test waits for runs on the board, asks a question, sees the
//! streamed answer and the tool call in the inspector, opens a run's details,
//! quits, and checks the terminal was given back (main screen, cooked mode).
//! Also: SIGTERM (what an SSH drop's SIGHUP leads to) restores the terminal too.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::openai_mock::{MockOpenAi, Reply, text_chunks, tool_call_chunks};
use common::process::{OPSDECK, tempdir};

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// A private tmux server (its own socket) running `command` in a 120×40 window.
    fn start(tag: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("opsdeck-test-{tag}-{}", std::process::id()),
            session: "console".into(),
        };
        let status = Command::new("tmux")
            .args([
                "-L",
                &tmux.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                &tmux.session,
            ])
            .args(["-x", "120", "-y", "40", command])
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux runs (scripts/peers/setup.sh installs it)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                &self.session,
            ])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let status = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", "-t", &self.session, key])
                .status()
                .expect("tmux send-keys");
            assert!(status.success());
            // Esc followed at once by a key reads as Alt+key; real typing has gaps.
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn text(&self, text: &str) {
        let status = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "send-keys",
                "-l",
                "-t",
                &self.session,
                text,
            ])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn display(&self, format: &str) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                "-t",
                &self.session,
                format,
            ])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits until the screen shows every text; panics with the screen otherwise.
    fn wait_for(&self, texts: &[&str], timeout: Duration) -> String {
        let started = Instant::now();
        loop {
            let screen = self.capture();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            if started.elapsed() > timeout {
                panic!("timed out waiting for {texts:?}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn wait_for_file(path: &Path, timeout: Duration) -> String {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.contains("END")
        {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} was not written in time", path.display());
}

/// The shell line tmux runs: opsdeck with private state and config dirs, then a
/// record of how it exited and of the terminal modes afterwards.
fn console_command(dir: &Path, extra: &str) -> String {
    console_command_with_env(dir, "", extra)
}

fn console_command_with_env(dir: &Path, env: &str, extra: &str) -> String {
    format!(
        "cd {dir} && {env} XDG_STATE_HOME={dir}/state XDG_CONFIG_HOME={dir}/config {bin} --frozen-clock {clock} --scenario expired-secret --refresh 2 {extra}; \
         echo \"exit=$?\" > {dir}/after.txt; stty -a >> {dir}/after.txt; echo END >> {dir}/after.txt; sleep 60",
        dir = dir.display(),
        bin = OPSDECK,
        clock = common::PINNED,
    )
}

/// The console's trace in its private state dir, as JSON lines.
fn console_trace(dir: &Path) -> Vec<serde_json::Value> {
    let traces = dir.join("state/opsdeck/traces");
    let entry = std::fs::read_dir(&traces)
        .unwrap_or_else(|e| panic!("no traces in {}: {e}", traces.display()))
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("console-"))
        .expect("a console trace");
    std::fs::read_to_string(entry.path())
        .expect("readable trace")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// The opsdeck process the pane's shell runs as its child.
fn opsdeck_pid(tmux: &Tmux) -> String {
    let pid = tmux.display("#{pane_pid}");
    let out = Command::new("pgrep")
        .args(["-P", &pid, "-f", "opsdeck"])
        .output()
        .expect("pgrep");
    let child = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(
        !child.is_empty(),
        "found the opsdeck process under pane {pid}"
    );
    child
}

fn assert_terminal_restored(after: &str, tmux: &Tmux) {
    assert!(after.contains("exit=0"), "opsdeck exited cleanly: {after}");
    assert!(
        after.contains(" icanon") && after.contains(" echo"),
        "cooked mode again: {after}"
    );
    assert!(
        !after.contains("-icanon") && !after.contains("-echo "),
        "raw mode left on: {after}"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "back on the main screen"
    );
    assert_eq!(
        tmux.display("#{cursor_flag}"),
        "1",
        "the cursor is visible again"
    );
}

#[test]
fn console_end_to_end_in_tmux() {
    let dir = tempdir("console-e2e");
    let tmux = Tmux::start("e2e", &console_command(&dir, ""));
    let timeout = Duration::from_secs(30);

    // Runs on the board, the server connected, and refreshed on the interval.
    tmux.wait_for(&["✗ Failed", "● opsdeck", "offline", "sandbox"], timeout);
    std::thread::sleep(Duration::from_secs(5));
    let screen = tmux.capture();
    assert!(
        // Without refreshes the age would be 5 s or more by now.
        [
            "runs 0s ago",
            "runs 1s ago",
            "runs 2s ago",
            "runs 3s ago",
            "runs 4s ago"
        ]
        .iter()
        .any(|t| screen.contains(t)),
        "the board refreshes every 2 s:\n{screen}"
    );

    // A question, answered with streamed text; the tool call in chat and inspector.
    tmux.text("why did ingest_web_events fail?");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Blast radius", "✓ call-1", "triage_run"], timeout);
    // The chat's one-liner for the call, at the top of the answer (g: oldest line).
    tmux.keys(&["Escape", "g"]);
    tmux.wait_for(
        &[
            "› why did ingest_web_events fail?",
            "⚙ triage_run",
            "#call-1",
        ],
        timeout,
    );
    tmux.keys(&["i"]);

    // The board: open a failed run's details.
    tmux.keys(&["Tab", "n", "Enter"]);
    tmux.wait_for(&["activities", "triggered by"], timeout);
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !tmux.capture().contains("triggered by"),
        "Esc closed the details"
    );

    // The inspector: open the call's result.
    tmux.keys(&["Tab", "Enter"]);
    tmux.wait_for(&["\"arguments\"", "space fold"], timeout);

    // The postmortem export: the incident timeline as markdown.
    tmux.keys(&["Escape", ":"]);
    tmux.text("export incident.md");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["wrote the incident timeline"], timeout);
    let export = std::fs::read_to_string(dir.join("incident.md")).expect(":export wrote the file");
    for part in [
        "# Incident timeline",
        "## What failed",
        "asked: why did ingest_web_events fail?",
        "evidence from `triage_run`",
        "## Final answer",
        "Blast radius",
    ] {
        assert!(export.contains(part), "{part} in the export:\n{export}");
    }

    // Quit from the board.
    tmux.keys(&["Tab", "Tab", "q"]);
    let after = wait_for_file(&dir.join("after.txt"), timeout);
    assert_terminal_restored(&after, &tmux);

    // The session's trace: header, board changes, the question and its calls, the end.
    let trace = console_trace(&dir);
    assert_eq!(trace[0]["process"], "console");
    let has = |kind: &str| {
        trace
            .iter()
            .any(|l| l["type"] == kind || l["event"]["event"] == kind)
    };
    for kind in [
        "runs_changed",
        "connection",
        "user_message",
        "tool_call_finished",
        "turn_finished",
    ] {
        assert!(has(kind), "{kind} in the trace");
    }
    assert_eq!(
        trace.last().map(|l| l["reason"].clone()),
        Some("quit".into())
    );
}

/// The hand-off between shifts: a session recorded by `opsdeck ask` opens in
/// the console with `--resume`: the chat is back on screen, the board is live
/// again, and a follow-up that names nothing ("and downstream?") is read
/// against the restored conversation.
#[test]
fn a_resumed_session_shows_its_chat_and_answers_a_follow_up() {
    let dir = tempdir("console-resume");
    let config = dir.join("mcp.json");
    let servers = serde_json::json!({"mcpServers": {"opsdeck": {
        "command": OPSDECK,
        "args": ["serve", "--scenario", "expired-secret", "--frozen-clock", common::PINNED],
        "trusted": true
    }}});
    std::fs::write(&config, servers.to_string()).unwrap();
    let trace = dir.join("last-shift.jsonl");
    let asked = Command::new(OPSDECK)
        .args(["ask", "--mcp-config"])
        .arg(&config)
        .arg("--trace")
        .arg(&trace)
        .arg("why did ingest_web_events fail?")
        .env("OPSDECK_LOG_DIR", dir.join("logs"))
        .env("XDG_STATE_HOME", dir.join("ask-state"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("AZURE_OPENAI_ENDPOINT")
        .output()
        .unwrap();
    assert!(asked.status.success(), "{asked:?}");

    let resume = format!("--resume {}", trace.display());
    let tmux = Tmux::start("resume", &console_command(&dir, &resume));
    let timeout = Duration::from_secs(30);
    // The last shift's question and answer, and the board live again.
    tmux.wait_for(&["Offline mode", "✗ Failed", "● opsdeck"], timeout);
    tmux.keys(&["Escape", "g"]);
    tmux.wait_for(
        &["› why did ingest_web_events fail?", "Root cause"],
        timeout,
    );
    tmux.keys(&["i"]);
    tmux.text("and downstream?");
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &["Downstream of ingest_web_events", "transform_web_sessions"],
        timeout,
    );

    tmux.keys(&["Escape", "Tab", "Tab", "q"]);
    let after = wait_for_file(&dir.join("after.txt"), timeout);
    assert_terminal_restored(&after, &tmux);
    // The new trace carries the resumed conversation, so the next shift can resume it too.
    let trace = console_trace(&dir);
    let questions: Vec<&str> = trace
        .iter()
        .filter(|l| l["event"]["event"] == "user_message")
        .filter_map(|l| l["event"]["text"].as_str())
        .collect();
    assert!(
        questions.contains(&"why did ingest_web_events fail?")
            && questions.contains(&"and downstream?"),
        "{questions:?}"
    );
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for signal in ["TERM", "HUP"] {
        signal_restores_the_terminal(signal);
    }
}

fn signal_restores_the_terminal(signal: &str) {
    let dir = tempdir(&format!("console-sig{signal}"));
    let tmux = Tmux::start(&format!("sig{signal}"), &console_command(&dir, ""));
    tmux.wait_for(&["● opsdeck"], Duration::from_secs(30));
    let child = opsdeck_pid(&tmux);
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child])
        .status()
        .expect("kill");
    assert!(status.success());
    let after = wait_for_file(&dir.join("after.txt"), Duration::from_secs(15));
    assert_terminal_restored(&after, &tmux);
    let trace = console_trace(&dir);
    let reason = trace
        .last()
        .and_then(|l| l["reason"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains(&format!("SIG{signal}")),
        "the trace ends with the signal: {reason}"
    );
}

fn stream(chunks: Vec<serde_json::Value>) -> Reply {
    Reply::Stream {
        chunks,
        cut: false,
        delay_ms: 0,
    }
}

/// With an LLM (a scripted OpenAI-compatible server over real HTTP and SSE), a
/// destructive call opens the approval dialog with the tool's own dry-run
/// preview; `y` runs it. After `:readonly on` the same call is refused with no dialog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_dialog_then_read_only_refusal() {
    let rerun =
        r#"{"pipeline": "ingest_web_events", "from_failed_activity": true, "dry_run": false}"#;
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(&[("call_a", "rerun_pipeline", rerun)], 3)),
        stream(text_chunks(&["Rerun started ", "after your approval."])),
        stream(tool_call_chunks(&[("call_b", "rerun_pipeline", rerun)], 3)),
        stream(text_chunks(&["Read-only mode refused the rerun."])),
    ])
    .await;
    let dir = tempdir("console-approval");
    let env = format!(
        "OPENAI_BASE_URL={} OPENAI_API_KEY=sk-test OPENAI_MODEL=gpt-test",
        mock.base_url
    );
    let command = console_command_with_env(&dir, &env, "");
    let outcome = tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start("approval", &command);
        let timeout = Duration::from_secs(30);
        tmux.wait_for(&["● opsdeck", "gpt-test"], timeout);
        tmux.text("rerun ingest_web_events");
        tmux.keys(&["Enter"]);
        let dialog = tmux.wait_for(
            &["Approval needed", "dry-run preview", "y approve"],
            timeout,
        );
        assert!(
            dialog.contains("ingest_web_events"),
            "the target is shown:\n{dialog}"
        );
        assert!(
            dialog.contains("\"dry_run\": false"),
            "the full arguments are shown:\n{dialog}"
        );
        assert!(
            dialog.to_lowercase().contains("dry run") || dialog.contains("would"),
            "the tool's own preview is shown:\n{dialog}"
        );
        // Keys other than y/n do nothing while the dialog is up.
        tmux.keys(&["Tab", "q"]);
        assert!(
            tmux.capture().contains("Approval needed"),
            "the dialog waits for y or n"
        );
        // A dialog answers once it has been on screen, untouched, a moment.
        std::thread::sleep(Duration::from_millis(1200));
        tmux.keys(&["y"]);
        let screen = tmux.wait_for(&["Rerun started after your approval."], timeout);
        assert!(
            !screen.contains("Approval needed"),
            "the dialog closed:\n{screen}"
        );
        // The run the rerun started is followed: said in the chat, pinned on the board.
        tmux.wait_for(
            &[
                "following run",
                "pinned on the board",
                "◆ 1 followed",
                "◆ ingest_web_event",
            ],
            timeout,
        );

        tmux.keys(&["Escape", ":"]);
        tmux.text("readonly on");
        tmux.keys(&["Enter"]);
        tmux.wait_for(&["READ-ONLY"], timeout);
        tmux.keys(&["i"]);
        tmux.text("rerun it again");
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for(&["Read-only mode refused the rerun."], timeout);
        assert!(
            !screen.contains("Approval needed"),
            "no dialog in read-only mode:\n{screen}"
        );
        tmux.keys(&["Escape", "q"]);
        let after = wait_for_file(&dir.join("after.txt"), timeout);
        assert_terminal_restored(&after, &tmux);
    })
    .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
    let requests = mock.requests();
    assert_eq!(requests.len(), 4, "two turns, two model calls each");
    let tool_result = |i: usize| requests[i].body["messages"].to_string();
    assert!(
        !tool_result(1).contains("not approved"),
        "the approved call ran: {}",
        tool_result(1)
    );
    assert!(
        tool_result(3).contains("read-only") || tool_result(3).contains("read only"),
        "the second call was refused as read-only: {}",
        tool_result(3)
    );
}

/// Esc while an answer streams drops the turn: the chat says so, and the HTTP
/// stream to the model is closed mid-answer (the server sees it abandoned).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esc_cancels_a_streaming_answer_on_the_wire() {
    let pieces: Vec<String> = (0..200).map(|i| format!("word{i} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let mock = MockOpenAi::start(vec![Reply::Stream {
        chunks: text_chunks(&pieces),
        cut: false,
        delay_ms: 100,
    }])
    .await;
    let dir = tempdir("console-cancel");
    let env = format!(
        "OPENAI_BASE_URL={} OPENAI_API_KEY=sk-test OPENAI_MODEL=gpt-test",
        mock.base_url
    );
    let command = console_command_with_env(&dir, &env, "");
    let outcome = tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start("cancel", &command);
        let timeout = Duration::from_secs(30);
        tmux.wait_for(&["● opsdeck", "gpt-test"], timeout);
        tmux.text("tell me everything");
        tmux.keys(&["Enter"]);
        tmux.wait_for(&["word3", "answering"], timeout);
        tmux.keys(&["Escape"]);
        let screen = tmux.wait_for(&["· cancelled"], timeout);
        assert!(!screen.contains("word199"), "the answer stopped:\n{screen}");
        // The input takes a new question at once.
        tmux.text("next?");
        tmux.wait_for(&["next?"], timeout);
        tmux.keys(&["C-c"]);
        let after = wait_for_file(&dir.join("after.txt"), timeout);
        assert_terminal_restored(&after, &tmux);
    })
    .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
    let started = Instant::now();
    while mock.abandoned_streams() == 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        mock.abandoned_streams(),
        1,
        "the model's stream was closed mid-answer"
    );
}

/// The console on the Azure backend: an mcp.json starts `opsdeck serve
/// --backend adf` against the Azure stand-in, and the board shows the
/// factory's runs (tonight's failure, the run still going) with the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_runs_from_the_azure_backend() {
    use common::azure::{FakeApi, fake_az_dir, path_with, sales_config_file};
    let fake = FakeApi::start().await;
    fake.serve_sales_estate();
    let dir = tempdir("console-azure");
    let az = fake_az_dir();
    let azure_config = sales_config_file(&fake, &dir);
    let config_dir = dir.join("config/opsdeck");
    std::fs::create_dir_all(&config_dir).unwrap();
    let mcp = serde_json::json!({"mcpServers": {"azure": {
        "command": OPSDECK,
        "args": ["serve", "--backend", "adf", "--azure-config", azure_config,
                 "--frozen-clock", common::PINNED],
        "env": {"PATH": path_with(&az)},
        "trusted": true
    }}});
    std::fs::write(config_dir.join("mcp.json"), mcp.to_string()).unwrap();
    let command = console_command(&dir, "");
    let screen = tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start("azure", &command);
        let screen = tmux.wait_for(
            &["ingest_orders", "transform_orders", "✗ Failed", "● azure"],
            Duration::from_secs(30),
        );
        tmux.keys(&["Tab", "q"]);
        screen
    })
    .await
    .unwrap();
    assert!(
        screen.contains("prod"),
        "the environment is on the board:\n{screen}"
    );
    assert!(
        !fake.requests_to("/queryPipelineRuns").is_empty(),
        "the board's runs came from Data Factory"
    );
}

impl Tmux {
    fn resize(&self, width: u16, height: u16) {
        let status = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "resize-window",
                "-t",
                &self.session,
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .status()
            .expect("tmux resize-window");
        assert!(status.success());
    }
}

/// The console on a scripted model, with the hostile test server (untrusted)
/// and, when asked, opsdeck's own server: its dir, the hostile call log, and
/// the shell line tmux runs.
fn hostile_console(
    tag: &str,
    mock: &MockOpenAi,
    with_opsdeck: bool,
) -> (std::path::PathBuf, std::path::PathBuf, String) {
    use common::process::{peer_script, python};
    let dir = tempdir(tag);
    let log = dir.join("hostile-calls.jsonl");
    let config_dir = dir.join("config/opsdeck");
    std::fs::create_dir_all(&config_dir).unwrap();
    let mut servers = serde_json::json!({
        "hostile": {"command": python("venv-mcp2"), "args": [peer_script("hostile_server.py")],
                    "env": {"HOSTILE_CALL_LOG": log}}
    });
    if with_opsdeck {
        servers["opsdeck"] = serde_json::json!({
            "command": OPSDECK, "args": common::process::pinned_serve_args(), "trusted": true
        });
    }
    let mcp = serde_json::json!({ "mcpServers": servers });
    std::fs::write(config_dir.join("mcp.json"), mcp.to_string()).unwrap();
    let env = format!(
        "OPENAI_BASE_URL={} OPENAI_API_KEY=sk-test OPENAI_MODEL=gpt-test",
        mock.base_url
    );
    let command = console_command_with_env(&dir, &env, "");
    (dir, log, command)
}

/// The calls a hostile test server received (it logs each one as a JSON line).
fn hostile_calls(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A hostile, untrusted server beside opsdeck's own: its `wipe_table` claims to
/// be read-only and ignores `dry_run`. The model asks for two wipes in one
/// round: two dialogs, one after the other; nothing reaches the server while a
/// dialog is open (not even a preview); `n` is recorded as the user's refusal.
/// On a terminal too small to draw the dialog, `y` approves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_server_calls_wait_for_the_dialog() {
    let wipe = |table: &str| format!(r#"{{"table": "{table}", "dry_run": false}}"#);
    let (orders, customers, inventory) = (wipe("orders"), wipe("customers"), wipe("inventory"));
    let mock = MockOpenAi::start(vec![
        stream(tool_call_chunks(
            &[
                ("c1", "wipe_table", &orders),
                ("c2", "wipe_table", &customers),
            ],
            2,
        )),
        stream(text_chunks(&["First round done."])),
        stream(tool_call_chunks(&[("c3", "wipe_table", &inventory)], 2)),
        stream(text_chunks(&["Second round done."])),
    ])
    .await;
    let (dir, log, command) = hostile_console("console-hostile", &mock, true);
    let log_in_test = log.clone();
    let dir_in_test = dir.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let (log, dir) = (log_in_test, dir_in_test);
        let tmux = Tmux::start("hostile", &command);
        let timeout = Duration::from_secs(30);
        tmux.wait_for(&["● hostile", "● opsdeck", "gpt-test"], timeout);
        tmux.text("clean up the staging tables");
        tmux.keys(&["Enter"]);
        let first = tmux.wait_for(
            &["Approval needed", "1 more waiting", "not trusted"],
            timeout,
        );
        assert!(
            first.contains("\"orders\""),
            "the first call first:\n{first}"
        );
        std::thread::sleep(Duration::from_millis(1200));
        assert!(
            hostile_calls(&log).is_empty(),
            "nothing reached the server before an answer"
        );
        tmux.keys(&["n"]);
        let second = tmux.wait_for(&["Approval needed", "\"customers\""], timeout);
        assert!(!second.contains("more waiting"), "{second}");
        assert!(hostile_calls(&log).is_empty());
        // A dialog answers once it has been on screen, untouched, a moment.
        std::thread::sleep(Duration::from_millis(1200));
        tmux.keys(&["y"]);
        tmux.wait_for(&["First round done."], timeout);
        let calls = hostile_calls(&log);
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0]["arguments"]["table"], "customers");

        // Too small to draw the dialog: `y` approves nothing.
        tmux.resize(30, 8);
        tmux.keys(&["i"]);
        tmux.text("and inventory");
        tmux.keys(&["Enter"]);
        std::thread::sleep(Duration::from_secs(2));
        tmux.keys(&["y"]);
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(
            hostile_calls(&log).len(),
            1,
            "y on an undrawn dialog did nothing"
        );
        tmux.resize(120, 40);
        tmux.wait_for(&["Approval needed", "\"inventory\""], timeout);
        tmux.keys(&["n"]);
        tmux.wait_for(&["Second round done."], timeout);
        assert_eq!(hostile_calls(&log).len(), 1);
        tmux.keys(&["Escape", "q"]);
        let after = wait_for_file(&dir.join("after.txt"), timeout);
        assert_terminal_restored(&after, &tmux);
    })
    .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
    let decided: Vec<(bool, String)> = console_trace(&dir)
        .iter()
        .filter(|l| l["event"]["event"] == "approval_decided")
        .map(|l| {
            (
                l["event"]["approved"].as_bool().unwrap_or(true),
                l["event"]["by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        decided,
        vec![
            (false, "user".to_string()),
            (true, "user".to_string()),
            (false, "user".to_string())
        ],
        "every decision is recorded as the user's"
    );
}

/// A server that never answers the MCP handshake (a stdio child that reads
/// nothing and says nothing): the console still draws, and `q` — or SIGTERM —
/// quits at once and gives the terminal back.
#[test]
fn a_silent_server_never_holds_the_console() {
    for how in ["q", "C-c", "TERM"] {
        let dir = tempdir(&format!("console-silent-{how}"));
        let config_dir = dir.join("config/opsdeck");
        std::fs::create_dir_all(&config_dir).unwrap();
        let mcp = serde_json::json!({"mcpServers": {"silent": {
            "command": "python3", "args": ["-c", "import time; time.sleep(3600)"]
        }}});
        std::fs::write(config_dir.join("mcp.json"), mcp.to_string()).unwrap();
        let tmux = Tmux::start(&format!("silent{how}"), &console_command(&dir, ""));
        tmux.wait_for(&["silent"], Duration::from_secs(15));
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        if how == "TERM" {
            let child = opsdeck_pid(&tmux);
            Command::new("kill")
                .args(["-TERM", &child])
                .status()
                .unwrap();
        } else {
            tmux.keys(&["Escape", how]);
        }
        let after = wait_for_file(&dir.join("after.txt"), Duration::from_secs(15));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "quitting with {how} took {:?}",
            started.elapsed()
        );
        assert_terminal_restored(&after, &tmux);
    }
}

/// The model's answer streams a secret split across pieces: neither the screen
/// nor the trace ever holds it whole (the answer is redacted line by line).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_split_across_streamed_pieces_never_shows() {
    let mock = MockOpenAi::start(vec![stream(text_chunks(&[
        "The job used dapi0123456789abcd",
        "ef0123456789abcdef and password=hun",
        "ter2 in its config.\nEnd of answer.",
    ]))])
    .await;
    let dir = tempdir("console-split-secret");
    let env = format!(
        "OPENAI_BASE_URL={} OPENAI_API_KEY=sk-test OPENAI_MODEL=gpt-test",
        mock.base_url
    );
    let command = console_command_with_env(&dir, &env, "");
    let dir_in_test = dir.clone();
    let screen = tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start("split", &command);
        let timeout = Duration::from_secs(30);
        tmux.wait_for(&["● opsdeck", "gpt-test"], timeout);
        tmux.text("what did the job use?");
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for(&["End of answer."], timeout);
        tmux.keys(&["Escape", "q"]);
        wait_for_file(&dir_in_test.join("after.txt"), timeout);
        screen
    })
    .await
    .unwrap();
    for secret in ["0123456789abcdef0123456789abcdef", "hunter2", "ter2"] {
        assert!(!screen.contains(secret), "{secret} on screen:\n{screen}");
    }
    assert!(screen.contains("redacted"), "{screen}");
    let trace = serde_json::to_string(&console_trace(&dir)).unwrap();
    for secret in ["0123456789abcdef0123456789abcdef", "hunter2", "ter2"] {
        assert!(!trace.contains(secret), "{secret} in the trace");
    }
}

/// Quitting while two dialogs wait refuses both calls and records them as
/// cancelled — not as the user's answer, and not left undecided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_with_dialogs_open_records_them_cancelled() {
    let wipe = |table: &str| format!(r#"{{"table": "{table}", "dry_run": false}}"#);
    let (a, b) = (wipe("a"), wipe("b"));
    let mock = MockOpenAi::start(vec![stream(tool_call_chunks(
        &[("c1", "wipe_table", &a), ("c2", "wipe_table", &b)],
        1,
    ))])
    .await;
    let (dir, log, command) = hostile_console("console-quit-dialogs", &mock, false);
    let dir_in_test = dir.clone();
    tokio::task::spawn_blocking(move || {
        let tmux = Tmux::start("quitdialogs", &command);
        let timeout = Duration::from_secs(30);
        tmux.wait_for(&["● hostile", "gpt-test"], timeout);
        tmux.text("wipe both");
        tmux.keys(&["Enter"]);
        tmux.wait_for(&["Approval needed", "1 more waiting"], timeout);
        tmux.keys(&["C-c"]);
        let after = wait_for_file(&dir_in_test.join("after.txt"), timeout);
        assert_terminal_restored(&after, &tmux);
    })
    .await
    .unwrap();
    assert!(hostile_calls(&log).is_empty());
    let decided: Vec<(bool, String)> = console_trace(&dir)
        .iter()
        .filter(|l| l["event"]["event"] == "approval_decided")
        .map(|l| {
            (
                l["event"]["approved"].as_bool().unwrap_or(true),
                l["event"]["by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(decided.len(), 2, "{decided:?}");
    assert!(
        decided
            .iter()
            .all(|(approved, by)| !approved && by.starts_with("cancelled")),
        "{decided:?}"
    );
}
