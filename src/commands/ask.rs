//! `opsdeck ask "…"`: one question, answered headless. The answer streams to
//! stdout, then a table of the tool calls (or JSON lines of every event with
//! `--json`). Exit 0 answered, 1 agent or tool failure, 2 usage or config error.
//! A run the answer started is named on stderr; `--follow` waits for its end
//! (exit 1 unless every such run succeeded).

mod follow;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::agent::conversation::ContextSetting;
use crate::agent::events::AgentEvent;
use crate::agent::llm::{LlmAgent, LlmSettings, Provider};
use crate::agent::policy::{ApprovalPolicy, SharedPolicy};
use crate::agent::runner::{RefuseUnapproved, ToolRunner};
use crate::cli::AskArgs;
use crate::config::servers::{configured, server_specs};
use crate::mcp::{ConnectionState, McpHost};
use crate::support::exit::ExitError;
use crate::support::terminal::{json_safe, terminal_safe};
use crate::trace::recorder::Recorder;
use crate::trace::redact::{Clean, RedactEvents, StreamRedactor};
use crate::trace::resume;
use crate::trace::session::{self, SessionInfo, TraceTarget};

pub async fn run(args: AskArgs) -> Result<(), ExitError> {
    if args.question.trim().is_empty() {
        return Err(ExitError::usage(
            "the question is empty; e.g. opsdeck ask \"why did transform_sales fail?\"",
        ));
    }
    let provider =
        Provider::from_env(&|name| std::env::var(name).ok()).map_err(ExitError::usage)?;
    let context =
        ContextSetting::from_env(&|name| std::env::var(name).ok()).map_err(ExitError::usage)?;
    let resumed = match &args.resume {
        Some(path) => {
            let resumed =
                resume::load(path, args.max_result_bytes as usize).map_err(ExitError::usage)?;
            eprintln!("opsdeck: {}", terminal_safe(&resumed.describe(path)));
            Some(resumed)
        }
        None => None,
    };
    let llm = match &provider {
        Some(p) => {
            let settings = LlmSettings {
                max_rounds: args.max_rounds,
                read_timeout: Duration::from_secs(args.llm_timeout),
                context,
                ..LlmSettings::default()
            };
            Some(LlmAgent::new(p, settings).map_err(ExitError::failed)?)
        }
        None => None,
    };
    let specs = server_specs(args.mcp_config.as_deref(), Vec::new())?;
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let approvals = args
        .approve
        .iter()
        .cloned()
        .map(|approval| approval.bind(&names))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ExitError::usage)?;
    let host = Arc::new(McpHost::start(specs, Duration::from_secs(30)).await);
    let states = host.states();
    if !states
        .iter()
        .any(|(_, s)| matches!(s, ConnectionState::Ready { .. }))
    {
        let detail: Vec<String> = states
            .iter()
            .map(|(n, s)| format!("{n}: {}", describe(s)))
            .collect();
        host.shutdown().await;
        return Err(ExitError::failed(format!(
            "no MCP server is reachable ({})",
            detail.join("; ")
        )));
    }
    let mode = provider
        .as_ref()
        .map_or_else(|| "offline".to_string(), Provider::model_label);
    let backend = if configured(args.mcp_config.as_deref()) {
        "configured servers"
    } else {
        "sandbox"
    };
    let info = SessionInfo {
        process: "ask",
        agent_mode: &mode,
        read_only: args.read_only,
        backend,
        scenario: None,
    };
    let target = TraceTarget::from_flags(args.trace.clone(), args.no_trace);
    let recorder = match session::start(target, &host, &info).await {
        Ok(recorder) => recorder.map(Arc::new),
        Err(reason) => {
            eprintln!("opsdeck: {reason}");
            None
        }
    };
    // The resumed conversation goes into this session's trace first, so that
    // this trace resumes whole in its turn. `carried_events` has redacted and
    // neutralised them again: the old trace is not trusted to be clean.
    if let (Some(recorder), Some(resumed)) = (&recorder, &resumed) {
        for event in resume::carried_events(&resumed.trace) {
            recorder.record(Clean::redacted_event(event));
        }
    }
    let conversation = resumed.map(|r| r.conversation).unwrap_or_default().shared();
    let (events, receiver) = mpsc::unbounded_channel();
    let printer = tokio::spawn(print_events(receiver, args.json, recorder.clone()));
    let policy = SharedPolicy::from(ApprovalPolicy::new(args.read_only, approvals));
    let ok = {
        // What is listed at the start is what later changes are measured against.
        let listed = host.catalog().await;
        policy.with(|p| p.observe(&listed));
        let runner = ToolRunner::new(
            &host,
            policy.clone(),
            Box::new(RefuseUnapproved),
            events.clone(),
        )
        .with_caps(
            args.max_result_bytes as usize,
            crate::agent::runner::DEFAULT_FULL_CAP,
        );
        crate::agent::turn::run(
            llm.as_ref(),
            &mode,
            &runner,
            &conversation,
            &args.question,
            &events,
        )
        .await
    };
    drop(events);
    let started = printer.await.unwrap_or_default();
    let followed_ok = if started.is_empty() {
        true
    } else if args.follow {
        let pace = crate::console::runtime::follower::FollowPace {
            every: Duration::from_secs(args.follow_seconds),
            give_up_after: Duration::from_secs(args.follow_minutes * 60),
            ..Default::default()
        };
        follow::follow_all(
            host.clone(),
            policy.clone(),
            started,
            pace,
            args.json,
            recorder.clone(),
        )
        .await
    } else {
        for target in &started {
            eprintln!(
                "opsdeck: started run {} of {} (server {}); it is not followed here: \
                 add --follow to wait for its end, or watch it on the console's board",
                terminal_safe(&target.run_id),
                terminal_safe(&target.pipeline),
                terminal_safe(&target.server)
            );
        }
        true
    };
    host.shutdown().await;
    if let Some(recorder) = recorder.and_then(Arc::into_inner) {
        let path = recorder.path().display().to_string();
        match recorder.finish(if ok { "finished" } else { "failed" }) {
            Ok(_) => tracing::info!(trace = %path, "session trace written"),
            Err(e) => eprintln!("opsdeck: the trace {path} is incomplete: {e}"),
        }
    }
    if ok && !followed_ok {
        return Err(ExitError {
            code: 1,
            message: "a run the answer started did not succeed (see above)".into(),
        });
    }
    if ok {
        Ok(())
    } else {
        Err(ExitError {
            code: 1,
            message: "the question could not be answered (see above)".into(),
        })
    }
}

fn describe(state: &ConnectionState) -> String {
    match state {
        ConnectionState::Reconnecting { error, .. } => error.clone(),
        other => format!("{other:?}"),
    }
}

/// Prints events as they come: the answer to stdout, notes to stderr, and the
/// tool-call table at the end (or every event as a JSON line). Each event is
/// recorded as printed.
async fn print_events(
    mut receiver: mpsc::UnboundedReceiver<AgentEvent>,
    json: bool,
    recorder: Option<Arc<Recorder>>,
) -> Vec<crate::console::app::follow::FollowTarget> {
    let mut printer = Printer {
        json,
        recorder,
        started: Vec::new(),
        rows: Vec::new(),
        tokens: (0, 0),
        stdout: std::io::stdout(),
    };
    // Secrets in tool results or model text never reach the screen, a pipe or
    // the trace. The answer is redacted a whole line at a time, so a secret
    // split across deltas is seen whole; what a line still holds comes out
    // before the next tool call, error or the end of the turn.
    let mut stream = StreamRedactor::new();
    while let Some(event) = receiver.recv().await {
        for event in stream.redact_event(event) {
            printer.show(event);
        }
    }
    // The turn ended without saying so: what was held still goes out, redacted.
    let rest = stream.finish();
    if !rest.is_empty() {
        printer.show(AgentEvent::TextDelta { text: rest });
    }
    printer.started
}

/// What `ask` prints, and what it gathers for the table at the end.
struct Printer {
    json: bool,
    recorder: Option<Arc<Recorder>>,
    /// The runs tool calls started (what `--follow` waits for).
    started: Vec<crate::console::app::follow::FollowTarget>,
    rows: Vec<(String, String, String, u64)>,
    tokens: (u64, u64),
    stdout: std::io::Stdout,
}

impl Printer {
    /// Records and prints one event that has been redacted.
    fn show(&mut self, event: AgentEvent) {
        if let Some(recorder) = &self.recorder {
            recorder.record(Clean::redacted_event(event.clone()));
        }
        if let Some(target) = crate::console::app::follow::started_run(&event)
            && !self.started.contains(&target)
        {
            self.started.push(target);
        }
        let stdout = &mut self.stdout;
        if self.json {
            if let Ok(line) = serde_json::to_string(&event) {
                let _ = writeln!(stdout, "{}", json_safe(&line));
                let _ = stdout.flush();
            }
            return;
        }
        match event {
            // Escape sequences from the model or a tool result are shown, not obeyed.
            AgentEvent::TextDelta { text } => {
                let _ = write!(stdout, "{}", terminal_safe(&text));
                let _ = stdout.flush();
            }
            AgentEvent::ToolCallFinished {
                server,
                tool,
                duration_ms,
                is_error,
                ..
            } => {
                self.rows.push((
                    terminal_safe(&server).into_owned(),
                    terminal_safe(&tool).into_owned(),
                    if is_error {
                        "error".into()
                    } else {
                        "ok".into()
                    },
                    duration_ms,
                ));
            }
            AgentEvent::Usage {
                prompt_tokens,
                completion_tokens,
            } => {
                self.tokens.0 += u64::from(prompt_tokens);
                self.tokens.1 += u64::from(completion_tokens);
            }
            AgentEvent::ApprovalDecided {
                approved: false,
                reason,
                ..
            } => eprintln!("opsdeck: not approved: {}", terminal_safe(&reason)),
            // A cut catalogue is worth a line: a tool the answer needed may be missing.
            AgentEvent::ToolsOffered { offered, left_out } if left_out > 0 => eprintln!(
                "opsdeck: {} for this question",
                crate::agent::offer::describe(&offered, left_out)
            ),
            AgentEvent::Error { message } => eprintln!("opsdeck: {}", terminal_safe(&message)),
            AgentEvent::TurnFinished { .. } => self.print_table(),
            _ => {}
        }
    }

    fn print_table(&mut self) {
        let stdout = &mut self.stdout;
        if !self.rows.is_empty() {
            let _ = writeln!(
                stdout,
                "\n{:<12} {:<28} {:<7} {:>8}",
                "server", "tool", "status", "ms"
            );
            for (server, tool, status, ms) in &self.rows {
                let _ = writeln!(stdout, "{server:<12} {tool:<28} {status:<7} {ms:>8}");
            }
        }
        if self.tokens != (0, 0) {
            let _ = writeln!(
                stdout,
                "tokens: {} prompt, {} completion",
                self.tokens.0, self.tokens.1
            );
        }
    }
}
