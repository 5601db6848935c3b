//! The console's runtime: it owns the terminal and the tasks, feeds every event
//! (keys, agent events, board refreshes, the servers' connection changes,
//! timers, signals) to [`update`] as a message, carries out the effects, and
//! redraws — coalesced, at most ~60 times a second, not at all while nothing
//! changes, each frame inside a synchronized update.

pub mod approver;
pub mod config;
pub mod follower;
pub mod notify;
pub mod screen_guard;
pub mod tasks;
pub mod terminal;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind, MouseEventKind};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::agent::conversation::{ContextSetting, Conversation, SharedConversation};
use crate::agent::events::AgentEvent;
use crate::agent::llm::{LlmAgent, LlmSettings, Provider};
use crate::agent::policy::{ApprovalPolicy, SharedPolicy};
use crate::agent::runner::{Decision, ToolRunner};
use crate::cli::ConsoleArgs;
use crate::config::servers::ServerSpec;
use crate::console::app::capture::Capture;
use crate::console::app::update::{App, Effect, Msg, StatusInfo, update};
use crate::console::ui::theme::Theme;
use crate::mcp::McpHost;
use crate::support::exit::ExitError;
use crate::support::sync::lock;
use crate::trace::reader::Trace;
use crate::trace::recorder::Recorder;
use crate::trace::redact::{Clean, RedactEvents, StreamRedactor};
use crate::trace::schema::{Header, Record, TraceMessage};
use crate::trace::session::{SessionInfo, TraceTarget};
use approver::{DialogApprover, PendingDecisions};

/// At most one frame per this long (~60 fps).
const FRAME: Duration = Duration::from_millis(16);
/// The longest quitting may take, whatever the servers do.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

pub async fn run(args: ConsoleArgs) -> Result<(), ExitError> {
    let mut config = config::load(args.config.as_deref()).map_err(ExitError::usage)?;
    if let Some(seconds) = args.refresh {
        config.refresh = Duration::from_secs(seconds);
    }
    let provider =
        Provider::from_env(&|name| std::env::var(name).ok()).map_err(ExitError::usage)?;
    let context =
        ContextSetting::from_env(&|name| std::env::var(name).ok()).map_err(ExitError::usage)?;
    // Read before the terminal is taken, so a bad trace is a plain error.
    let resumed = match &args.resume {
        Some(path) => Some((
            path.clone(),
            crate::trace::resume::load(path, crate::agent::runner::DEFAULT_MODEL_CAP)
                .map_err(ExitError::usage)?,
        )),
        None => None,
    };
    let llm = match &provider {
        Some(p) => Some(Arc::new(
            LlmAgent::new(
                p,
                LlmSettings {
                    context,
                    ..LlmSettings::default()
                },
            )
            .map_err(ExitError::failed)?,
        )),
        None => None,
    };
    let mode = provider
        .as_ref()
        .map_or_else(|| "offline".to_string(), Provider::model_label);
    let (specs, backend) = console_servers(&args)?;
    // Before the terminal is taken, so a missing URL is a plain error.
    let env = |name: &str| std::env::var(name).ok();
    let webhook =
        webhook::from_settings(config.webhook.as_ref(), &env).map_err(ExitError::usage)?;
    let theme = Theme::from_env(args.no_color || !config.color);
    let app = App {
        keymap: config.keymap.clone(),
        read_only: args.read_only,
        status: StatusInfo {
            agent_mode: mode.clone(),
            backend,
            ..StatusInfo::default()
        },
        ..App::default()
    };
    // crossterm would fall back to /dev/tty; a console whose output goes to a
    // pipe or a file is a mistake to report, not a screen to draw elsewhere.
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(ExitError::failed(
            "cannot take over the terminal (stdin and stdout must be a terminal); the console needs an interactive terminal — use `opsdeck ask` in scripts",
        ));
    }
    let mut guard = terminal::TerminalGuard::enter(config.mouse || args.mouse).map_err(|e| {
        ExitError::failed(format!(
            "cannot take over the terminal ({e}); the console needs an interactive terminal — use `opsdeck ask` in scripts"
        ))
    })?;
    let mut runtime = Runtime::new(app, theme, config, llm, mode);
    runtime.webhook = webhook;
    runtime.trace_target = Some(TraceTarget::from_flags(args.trace.clone(), args.no_trace));
    runtime.trace_info = (
        args.read_only,
        runtime.app.status.backend.clone(),
        args.scenario.clone(),
    );
    if let Some((path, resumed)) = resumed {
        runtime.resume(&path, resumed);
    }
    let outcome = runtime.run(&mut guard.terminal, specs).await;
    drop(guard);
    outcome
}

/// The servers from `--mcp-config` / mcp.json, else the built-in sandbox server
/// (with the sandbox flags passed through), and the backend badge to show.
fn console_servers(args: &ConsoleArgs) -> Result<(Vec<ServerSpec>, String), ExitError> {
    let specs =
        crate::config::servers::server_specs(args.mcp_config.as_deref(), builtin_args(args))?;
    let label = if crate::config::servers::configured(args.mcp_config.as_deref()) {
        format!(
            "{} server{}",
            specs.len(),
            if specs.len() == 1 { "" } else { "s" }
        )
    } else {
        "sandbox".into()
    };
    Ok((specs, label))
}

/// The sandbox flags (`--scenario`, `--seed`, `--frozen-clock`) for the built-in server.
pub fn builtin_args(args: &ConsoleArgs) -> Vec<String> {
    let mut extra = Vec::new();
    if let Some(scenario) = &args.scenario {
        extra.extend(["--scenario".to_string(), scenario.clone()]);
    }
    if let Some(seed) = args.seed {
        extra.extend(["--seed".to_string(), seed.to_string()]);
    }
    if let Some(clock) = &args.frozen_clock {
        extra.extend(["--frozen-clock".to_string(), clock.clone()]);
    }
    extra
}

struct Runtime {
    app: App,
    theme: Theme,
    config: config::ConsoleConfig,
    llm: Option<Arc<LlmAgent>>,
    mode: String,
    host: Option<Arc<McpHost>>,
    messages: mpsc::UnboundedSender<Msg>,
    inbox: mpsc::UnboundedReceiver<Msg>,
    agent_events: mpsc::UnboundedSender<AgentEvent>,
    agent_inbox: mpsc::UnboundedReceiver<AgentEvent>,
    turn: Option<JoinHandle<()>>,
    /// Turns the host's connection-state changes into messages.
    server_watch: Option<JoinHandle<()>>,
    /// The runner waiting for each open or queued dialog's answer, by call id.
    pending: PendingDecisions,
    /// One approval policy for the session: what was seen and allowed outlasts a question.
    policy: SharedPolicy,
    /// Numbers tool calls across the session, so a call id names one call only.
    call_numbers: Arc<AtomicU64>,
    /// Redacts the streamed answer line by line (a secret split across deltas).
    stream: StreamRedactor,
    refreshing: bool,
    /// The session's domain messages as the trace has them, for `:export`.
    timeline: Vec<Record>,
    header: Option<Header>,
    trace_target: Option<TraceTarget>,
    trace_info: (bool, String, Option<String>),
    recorder: Option<Recorder>,
    /// Turns messages into trace records (changes, not snapshots).
    capture: Capture,
    /// Why the session ended, for the trace.
    end_reason: String,
    /// The questions, answers and tool results the model sees next turn.
    conversation: SharedConversation,
    /// A resumed session's agent events, for this session's trace once it opens.
    carried: Vec<AgentEvent>,
    /// A resumed session's followed runs, as last recorded: into this
    /// session's trace too, so a later resume does not tell their ends again.
    carried_follows: Vec<TraceMessage>,
    /// Where notifications also go, when `[webhook]` is configured.
    webhook: Option<webhook::Webhook>,
}

impl Runtime {
    fn new(
        app: App,
        theme: Theme,
        config: config::ConsoleConfig,
        llm: Option<Arc<LlmAgent>>,
        mode: String,
    ) -> Runtime {
        let (messages, inbox) = mpsc::unbounded_channel();
        let (agent_events, agent_inbox) = mpsc::unbounded_channel();
        Runtime {
            app,
            theme,
            config,
            llm,
            mode,
            host: None,
            messages,
            inbox,
            agent_events,
            agent_inbox,
            turn: None,
            server_watch: None,
            pending: PendingDecisions::default(),
            policy: SharedPolicy::from(ApprovalPolicy::new(false, Vec::new())),
            call_numbers: Arc::new(AtomicU64::new(1)),
            stream: StreamRedactor::new(),
            refreshing: false,
            timeline: Vec::new(),
            header: None,
            trace_target: None,
            trace_info: (false, String::new(), None),
            recorder: None,
            capture: Capture::default(),
            end_reason: "quit".into(),
            conversation: Conversation::default().shared(),
            carried: Vec::new(),
            carried_follows: Vec::new(),
            webhook: None,
        }
    }

    /// Continues a recorded session: its chat on screen (through the same
    /// `update` as live events), its conversation in the agent, and its events
    /// kept for this session's trace, so that one resumes whole too.
    fn resume(&mut self, path: &std::path::Path, resumed: crate::trace::resume::Resumed) {
        let carried = crate::trace::resume::carried_events(&resumed.trace);
        let follows = last_follows(&resumed.trace);
        let shown = Trace {
            header: None,
            records: carried
                .iter()
                .cloned()
                .enumerate()
                .map(|(seq, event)| Record {
                    seq: seq as u64 + 1,
                    at: Utc::now(),
                    message: TraceMessage::Agent { event },
                })
                // The followed runs' news after the conversation: ends already
                // told are not told again, and the rest are followed anew.
                .chain(follows.iter().enumerate().map(|(seq, message)| Record {
                    seq: (carried.len() + seq) as u64 + 1,
                    at: Utc::now(),
                    message: message.clone(),
                }))
                .collect(),
            ..Trace::default()
        };
        crate::console::app::capture::restore(&shown, &mut self.app);
        // A turn the trace ended in the middle of ends here; nothing waits for its dialogs.
        let _ = crate::console::app::update::abandon_dialogs(&mut self.app);
        if self.app.chat.turn_active {
            let _ = update(
                &mut self.app,
                Msg::Agent(AgentEvent::TurnFinished {
                    answer: String::new(),
                    tool_calls: 0,
                    ok: false,
                }),
            );
        }
        let note = format!("{}; the board is live again", resumed.describe(path));
        self.step(Msg::Notice {
            error: false,
            text: note,
        });
        *lock(&self.conversation) = resumed.conversation;
        self.carried = carried;
        self.carried_follows = follows;
    }

    async fn run(
        mut self,
        terminal: &mut terminal::Tui,
        specs: Vec<ServerSpec>,
    ) -> Result<(), ExitError> {
        let fail = |what: &str, e: std::io::Error| ExitError::failed(format!("{what}: {e}"));
        if let Ok(size) = terminal.size() {
            self.step(Msg::Resize {
                width: size.width,
                height: size.height,
            });
        }
        self.step(Msg::Tick(Utc::now()));
        // The first frame goes out before any server is up.
        terminal::draw_frame(terminal, &self.app, &self.theme)
            .map_err(|e| fail("cannot draw", e))?;
        // Each server shows as connecting until the host has it, however long that takes.
        self.step(Msg::Servers(
            specs
                .iter()
                .map(|spec| crate::console::app::update::ServerStatus {
                    name: spec.name.clone(),
                    ready: false,
                    detail: "connecting…".into(),
                })
                .collect(),
        ));
        let (host_ready, mut host_wait) = oneshot::channel();
        tokio::spawn(async move {
            let host = McpHost::start(specs, Duration::from_secs(30)).await;
            let _ = host_ready.send(Arc::new(host));
        });
        let mut keys = EventStream::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut refresh = tokio::time::interval(self.config.refresh);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|e| fail("cannot watch SIGTERM", e))?;
        let mut hangup =
            signal(SignalKind::hangup()).map_err(|e| fail("cannot watch SIGHUP", e))?;
        let mut dirty = false;
        let mut last_draw = Instant::now();
        loop {
            let wait = FRAME.saturating_sub(last_draw.elapsed());
            tokio::select! {
                _ = terminate.recv() => {
                    self.end_reason = "signal: SIGTERM".into();
                    self.abandon_dialogs();
                    break;
                }
                _ = hangup.recv() => {
                    self.end_reason = "signal: SIGHUP (terminal hung up)".into();
                    self.abandon_dialogs();
                    break;
                }
                event = keys.next() => match event {
                    Some(Ok(event)) => {
                        if let Some(msg) = terminal_msg(event) {
                            self.step(msg);
                            dirty = true;
                        }
                    }
                    Some(Err(e)) => return Err(fail("cannot read the terminal", e)),
                    // The terminal went away (an SSH drop closes stdin).
                    None => {
                        self.end_reason = "terminal closed".into();
                        self.abandon_dialogs();
                        break;
                    }
                },
                Some(msg) = self.inbox.recv() => {
                    // A request whose call no longer waits (its turn was
                    // cancelled while the message was on its way) opens no
                    // dialog: nobody would hear the answer.
                    if let Msg::ApprovalRequested(request) = &msg
                        && !self.pending.is_waiting(&request.call_id)
                    {
                        tracing::info!(call_id = %request.call_id, "an approval request for a call nothing waits for");
                        continue;
                    }
                    self.step(msg);
                    dirty = true;
                }
                Some(event) = self.agent_inbox.recv() => {
                    self.agent_event(event);
                    dirty = true;
                }
                host = &mut host_wait, if self.host.is_none() => {
                    if let Ok(host) = host {
                        let listed = host.catalog().await;
                        self.policy.with(|p| p.observe(&listed));
                        self.start_trace(&host).await;
                        // From now on each connection change arrives as a message.
                        self.server_watch = Some(tokio::spawn(tasks::watch_servers(
                            host.watch_states(),
                            self.messages.clone(),
                        )));
                        self.host = Some(host);
                        self.start_refresh();
                        // Runs a resumed session started and never saw end.
                        let going: Vec<_> = self.app.following.still_going().cloned().collect();
                        for target in going {
                            self.follow(target);
                        }
                        dirty = true;
                    }
                }
                _ = tick.tick() => {
                    self.step(Msg::Tick(Utc::now()));
                    dirty = true;
                }
                _ = refresh.tick() => self.start_refresh(),
                _ = tokio::time::sleep(wait), if dirty => {
                    self.drain();
                    terminal::draw_frame(terminal, &self.app, &self.theme)
                        .map_err(|e| fail("cannot draw", e))?;
                    last_draw = Instant::now();
                    dirty = false;
                }
            }
            if self.app.quitting {
                break;
            }
        }
        // The terminal comes back first: a server slow to stop must not leave
        // the user in the alternate screen.
        terminal::restore();
        if tokio::time::timeout(SHUTDOWN_LIMIT, self.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                "the servers did not stop within {SHUTDOWN_LIMIT:?}; leaving them to the process exit"
            );
        }
        Ok(())
    }

    /// An agent event on its way to the screen and the trace: redacted, the
    /// answer's text a whole line at a time so no secret is split across pieces.
    fn agent_event(&mut self, event: AgentEvent) {
        for event in self.stream.redact_event(event) {
            self.step(Msg::Agent(event));
        }
    }

    /// Dialogs still open when the console goes are refused and recorded as
    /// cancelled, so the trace never ends with a call nobody decided.
    fn abandon_dialogs(&mut self) {
        for effect in crate::console::app::update::abandon_dialogs(&mut self.app) {
            self.apply(effect);
        }
    }

    /// Everything already waiting, applied before the frame is drawn.
    fn drain(&mut self) {
        while let Ok(event) = self.agent_inbox.try_recv() {
            self.agent_event(event);
        }
        while let Ok(msg) = self.inbox.try_recv() {
            self.step(msg);
        }
    }

    async fn start_trace(&mut self, host: &McpHost) {
        let target = self.trace_target.take().unwrap_or(TraceTarget::Off);
        let (read_only, backend, scenario) = self.trace_info.clone();
        let info = SessionInfo {
            process: "console",
            agent_mode: &self.mode,
            read_only,
            backend: &backend,
            scenario: scenario.as_deref(),
        };
        let header = crate::trace::session::header(host, &info).await;
        match crate::trace::session::open(target, "console", &header) {
            Ok(recorder) => self.recorder = recorder,
            Err(reason) => self.step(Msg::Notice {
                error: true,
                text: reason,
            }),
        }
        self.header = Some(header);
        for event in std::mem::take(&mut self.carried) {
            self.note(TraceMessage::Agent { event });
        }
        for message in std::mem::take(&mut self.carried_follows) {
            self.note(message);
        }
    }

    /// What the trace keeps of a message: domain facts, as changes.
    fn trace(&mut self, msg: &Msg) {
        for message in self.capture.messages(msg) {
            self.note(message);
        }
    }

    /// Into the trace file (when recording) and the in-memory timeline `:export` uses.
    fn note(&mut self, message: TraceMessage) {
        let clean = match message {
            // Agent events were redacted as they arrived, for the screen.
            TraceMessage::Agent { event } => Clean::redacted_event(event),
            other => Clean::new(other),
        };
        if let Some(recorder) = &self.recorder {
            recorder.record(clean.clone());
        }
        self.timeline.push(Record {
            seq: self.timeline.len() as u64 + 1,
            at: Utc::now(),
            message: clean.into_inner(),
        });
    }

    fn step(&mut self, msg: Msg) {
        if matches!(msg, Msg::RunsLoaded { .. } | Msg::RunsFailed { .. }) {
            self.refreshing = false;
        }
        self.trace(&msg);
        for effect in update(&mut self.app, msg) {
            self.apply(effect);
        }
    }

    fn start_refresh(&mut self) {
        let Some(host) = self.host.clone() else {
            return;
        };
        if self.refreshing {
            return;
        }
        self.refreshing = true;
        let messages = self.messages.clone();
        let policy = self.policy.clone();
        tokio::spawn(async move {
            let msg = match tasks::fetch_runs(&host, &policy).await {
                Ok(runs) => Msg::RunsLoaded {
                    runs,
                    at: Utc::now(),
                },
                Err(reason) => Msg::RunsFailed { reason },
            };
            let _ = messages.send(msg);
        });
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::StartTurn {
                question,
                read_only,
            } => self.start_turn(question, read_only),
            Effect::CancelTurn => {
                // A cancelled turn's held-back line must not open the next answer.
                let _ = self.stream.finish();
                if let Some(turn) = self.turn.take() {
                    turn.abort();
                }
                // The partial answer and the finished calls stay; the rest are marked cancelled.
                lock(&self.conversation).cancel();
                self.pending.cancel_all();
                // Whatever the cancelled turn still sends goes to a closed channel,
                // not into the next turn's transcript.
                let (events, inbox) = mpsc::unbounded_channel();
                self.agent_events = events;
                self.agent_inbox = inbox;
            }
            Effect::NewConversation => {
                lock(&self.conversation).clear();
                self.note(TraceMessage::ConversationReset);
            }
            Effect::RefreshBoard => self.start_refresh(),
            Effect::Follow(target) => self.follow(target),
            Effect::LoadRunDetails { run_id } => self.load_details(run_id),
            Effect::Decide {
                call_id,
                approved,
                for_session,
            } => {
                let decision = Decision::by_user(approved, for_session);
                if !self.pending.answer(&call_id, decision) {
                    tracing::info!(%call_id, "a decision for a call nothing waits for (its turn ended)");
                    self.step(Msg::DecisionUndelivered { call_id });
                }
            }
            Effect::Copy { label, text } => self.copy(&label, &text),
            Effect::Export { path } => self.export(path),
            Effect::Notify { title, body } => {
                let bytes = notify::notification(&self.config.notifications, &title, &body);
                if !bytes.is_empty() {
                    let _ = terminal::write_raw(&bytes);
                }
                // Queued only: the webhook never holds up the console.
                if let Some(webhook) = &self.webhook {
                    webhook.send(&title, &body);
                }
            }
            Effect::ReadOnlyNow => self.policy.with(|policy| policy.read_only = true),
            Effect::Abandon { call_id, reason } => {
                let by = "cancelled: the console quit";
                self.pending.answer(&call_id, Decision::refused(by));
                self.note(TraceMessage::Agent {
                    event: AgentEvent::ApprovalDecided {
                        call_id,
                        approved: false,
                        by: by.into(),
                        reason,
                    },
                });
            }
            Effect::ArmDialog {
                call_id,
                generation,
            } => {
                let messages = self.messages.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(crate::console::app::approval::ARM_DELAY).await;
                    let _ = messages.send(Msg::DialogArmed {
                        call_id,
                        generation,
                    });
                });
            }
            Effect::Quit => {}
        }
    }

    fn start_turn(&mut self, question: String, read_only: bool) {
        let Some(host) = self.host.clone() else {
            let _ = self.agent_events.send(AgentEvent::Error {
                message: "the MCP servers are still starting; ask again in a moment".into(),
            });
            let _ = self.agent_events.send(AgentEvent::TurnFinished {
                answer: String::new(),
                tool_calls: 0,
                ok: false,
            });
            return;
        };
        // A finished turn's handle is simply replaced.
        if let Some(previous) = self.turn.take() {
            previous.abort();
        }
        let events = self.agent_events.clone();
        let approver = DialogApprover {
            messages: self.messages.clone(),
            pending: self.pending.clone(),
        };
        let llm = self.llm.clone();
        let mode = self.mode.clone();
        self.policy.with(|policy| policy.read_only = read_only);
        let policy = self.policy.clone();
        let numbers = self.call_numbers.clone();
        let conversation = self.conversation.clone();
        self.turn = Some(tokio::spawn(async move {
            // A server that changed a tool without saying so is caught before the
            // turn: what is listed now was seen, and the re-listing shows changes.
            let listed = host.catalog().await;
            policy.with(|p| p.observe(&listed));
            host.refresh_tools().await;
            let runner = ToolRunner::new(&host, policy, Box::new(approver), events.clone())
                .with_numbering(numbers);
            crate::agent::turn::run(
                llm.as_deref(),
                &mode,
                &runner,
                &conversation,
                &question,
                &events,
            )
            .await;
        }));
    }

    /// Polls a run opsdeck started until it ends. The task holds only a
    /// sender: when the console quits, it stops at its next pause.
    fn follow(&mut self, target: crate::console::app::follow::FollowTarget) {
        let Some(host) = self.host.clone() else {
            let _ = self.messages.send(Msg::Followed {
                target,
                news: crate::console::app::follow::FollowNews::GaveUp(
                    "the MCP servers are still starting".into(),
                ),
            });
            return;
        };
        let looks = follower::HostLooks {
            host,
            policy: self.policy.clone(),
        };
        tokio::spawn(follower::follow(
            looks,
            target,
            self.config.follow,
            self.messages.clone(),
        ));
    }

    fn load_details(&mut self, run_id: String) {
        let Some(host) = self.host.clone() else {
            let _ = self.messages.send(Msg::RunDetailsLoaded {
                run_id,
                result: Err("the MCP servers are still starting".into()),
            });
            return;
        };
        let messages = self.messages.clone();
        let policy = self.policy.clone();
        tokio::spawn(async move {
            let result = tasks::fetch_run_details(&host, &policy, &run_id).await;
            let _ = messages.send(Msg::RunDetailsLoaded { run_id, result });
        });
    }

    fn copy(&mut self, label: &str, text: &str) {
        // What is shown was redacted already; copies are checked again on the way out.
        let text = crate::trace::redact::text(text);
        let text = text.as_ref();
        let file = save_copy(label, text);
        let clipboard = notify::clipboard(text);
        let on_clipboard = clipboard
            .as_ref()
            .is_some_and(|bytes| terminal::write_raw(bytes).is_ok());
        let (error, text) = match (file, on_clipboard) {
            (Ok(path), true) => (
                false,
                format!(
                    "copied {label} to the clipboard (OSC 52) and {}",
                    path.display()
                ),
            ),
            (Ok(path), false) => (
                false,
                format!(
                    "saved {label} to {} (too large for the clipboard)",
                    path.display()
                ),
            ),
            (Err(e), true) => (
                false,
                format!("copied {label} to the clipboard; the file could not be written: {e}"),
            ),
            (Err(e), false) => (true, format!("could not copy {label}: {e}")),
        };
        self.step(Msg::Notice { error, text });
    }

    /// The incident timeline (the same document as `--replay --format markdown`).
    fn export(&mut self, path: Option<String>) {
        let path = path.map_or_else(
            || {
                PathBuf::from(format!(
                    "opsdeck-incident-{}.md",
                    Utc::now().format("%Y%m%d-%H%M%S")
                ))
            },
            PathBuf::from,
        );
        let trace = Trace {
            header: self.header.clone(),
            records: self.timeline.clone(),
            ..Trace::default()
        };
        let document = crate::trace::render::render(&trace, crate::trace::render::Format::Markdown);
        let notice = match std::fs::write(&path, document) {
            Ok(()) => (
                false,
                format!(
                    "wrote the incident timeline ({} events) to {}",
                    self.timeline.len(),
                    path.display()
                ),
            ),
            Err(e) => (true, format!("cannot write {}: {e}", path.display())),
        };
        self.step(Msg::Notice {
            error: notice.0,
            text: notice.1,
        });
    }

    async fn shutdown(mut self) {
        if let Some(turn) = self.turn.take() {
            turn.abort();
        }
        if let Some(watch) = self.server_watch.take() {
            watch.abort();
        }
        self.pending.cancel_all();
        if let Some(webhook) = self.webhook.take() {
            // Bounded (about a second) however the receiver behaves.
            webhook.shutdown().await;
        }
        if let Some(recorder) = self.recorder.take() {
            let path = recorder.path().display().to_string();
            if let Err(e) = recorder.finish(&self.end_reason) {
                tracing::error!(trace = %path, "the trace is incomplete: {e}");
            }
        }
        if let Some(host) = self.host.take() {
            // Bounded whatever the servers do (closes stdin, SIGTERM, SIGKILL).
            host.shutdown().await;
        }
    }
}

/// Copies land in the state directory too, so large results survive the terminal.
fn save_copy(label: &str, text: &str) -> std::io::Result<PathBuf> {
    let dir = crate::config::paths::state_dir()
        .map(|state| state.join("copies"))
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&dir)?;
    let name: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Each followed run's last record in a trace (its end, when it had one), in
/// the order the runs were first followed: what a resumed session needs.
fn last_follows(trace: &Trace) -> Vec<TraceMessage> {
    let mut last: Vec<TraceMessage> = Vec::new();
    for record in &trace.records {
        if let TraceMessage::RunFollowed { run_id, .. } = &record.message {
            let same = |m: &TraceMessage| matches!(m, TraceMessage::RunFollowed { run_id: id, .. } if id == run_id);
            match last.iter_mut().find(|m| same(m)) {
                Some(slot) => *slot = record.message.clone(),
                None => last.push(record.message.clone()),
            }
        }
    }
    last
}

#[cfg(test)]
mod conversation_tests;

#[cfg(test)]
mod follow_tests;

fn terminal_msg(event: Event) -> Option<Msg> {
    match event {
        // Release and repeat events (kitty protocol) would double every key.
        Event::Key(key) if key.kind == KeyEventKind::Press => Some(Msg::Key(key)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollUp => Some(Msg::Scroll { up: true }),
            MouseEventKind::ScrollDown => Some(Msg::Scroll { up: false }),
            MouseEventKind::Down(_) => Some(Msg::Click {
                column: mouse.column,
                row: mouse.row,
            }),
            _ => None,
        },
        _ => None,
    }
}
