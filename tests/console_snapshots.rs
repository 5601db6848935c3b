//! Snapshots of the console on ratatui's TestBackend: the whole screen at
//! 80×24, 120×40 and 200×50 with and without colour, each pane zoomed, and the
//! overlays. The data is real: runs and run details come from the sandbox
//! server at the pinned instant, the tool call from a real `triage_run`.
//!
//! Colour snapshots mark each style change inline (`{red,bold}✗ Failed{}`), so
//! a lost colour or symbol shows up as a diff, not only a lost character.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsdeck::agent::events::AgentEvent;
use opsdeck::console::app::approval::ApprovalRequest;
use opsdeck::console::app::update::{App, Msg, Pane, update};
use opsdeck::console::ui::theme::Theme;
use opsdeck::model::run::PipelineRun;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use serde_json::json;

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 50)];

async fn loaded_app() -> App {
    let harness = common::start("expired-secret").await;
    let runs: Vec<PipelineRun> = harness
        .runs(json!({"since": "24h"}))
        .await
        .into_iter()
        .map(|r| serde_json::from_value(r).expect("a run"))
        .collect();
    let failed = runs
        .iter()
        .find(|r| r.status == opsdeck::model::run::RunStatus::Failed)
        .expect("the scenario has a failed run")
        .clone();
    let triage = harness
        .call("triage_run", json!({"run_id": failed.run_id}))
        .await;
    let mut app = App::default();
    update(&mut app, Msg::Tick(common::pinned()));
    update(
        &mut app,
        Msg::Servers(vec![opsdeck::console::app::update::ServerStatus {
            name: "opsdeck".into(),
            ready: true,
            detail: "ready · 20 tools".into(),
        }]),
    );
    update(
        &mut app,
        Msg::RunsLoaded {
            runs,
            at: common::pinned() - chrono::Duration::seconds(4),
        },
    );
    let question = format!("why did {} fail?", failed.pipeline);
    for event in [
        AgentEvent::UserMessage { text: question.clone() },
        AgentEvent::ToolCallStarted {
            call_id: "call-1".into(),
            server: "opsdeck".into(),
            tool: "triage_run".into(),
            arguments: json!({"run_id": failed.run_id}),
        },
        AgentEvent::ToolCallFinished {
            call_id: "call-1".into(),
            server: "opsdeck".into(),
            tool: "triage_run".into(),
            duration_ms: 14,
            is_error: false,
            result: json!({
                "content": triage.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>(),
                "structured": triage.structured_content,
            }),
            truncated: false,
        },
        AgentEvent::TextDelta {
            text: "## Root cause\n\nThe **service principal secret** `adls-sp-client-secret` expired.\n\n- every copy into the lake fails with `AADSTS7000222`\n- 11 pipelines downstream are blocked\n\n```\nrerun_pipeline ingest_web_events --from-failed\n```\n".into(),
        },
        AgentEvent::TurnFinished { answer: String::new(), tool_calls: 1, ok: true },
    ] {
        if let AgentEvent::UserMessage { text } = &event {
            update(&mut app, Msg::Asked { question: text.clone() });
            continue;
        }
        update(&mut app, Msg::Agent(event));
    }
    app
}

fn render(app: &mut App, width: u16, height: u16, theme: Theme) -> Buffer {
    update(app, Msg::Resize { width, height });
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|f| opsdeck::console::ui::draw(f, app, &theme))
        .expect("draws");
    terminal.backend().buffer().clone()
}

/// The screen as text, with `{style}` marks where the style changes.
fn styled(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut current = Style::default();
        let mut skip = 0;
        for x in 0..area.width {
            let cell = &buffer[(x, y)];
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let style = Style::default()
                .fg(cell.fg)
                .bg(cell.bg)
                .add_modifier(cell.modifier);
            if style != current {
                out.push_str(&describe(style));
                current = style;
            }
            out.push_str(cell.symbol());
            skip = unicode_width::UnicodeWidthStr::width(cell.symbol()).saturating_sub(1);
        }
        if current != Style::default() {
            out.push_str("{}");
        }
        out.push('\n');
    }
    out
}

fn describe(style: Style) -> String {
    let mut parts = Vec::new();
    if let Some(fg) = style.fg.filter(|c| *c != Color::Reset) {
        parts.push(format!("{fg:?}").to_lowercase());
    }
    if let Some(bg) = style.bg.filter(|c| *c != Color::Reset) {
        parts.push(format!("on-{bg:?}").to_lowercase());
    }
    for (modifier, name) in [
        (Modifier::BOLD, "bold"),
        (Modifier::DIM, "dim"),
        (Modifier::ITALIC, "italic"),
        (Modifier::UNDERLINED, "underline"),
        (Modifier::REVERSED, "reverse"),
    ] {
        if style.add_modifier.contains(modifier) {
            parts.push(name.to_string());
        }
    }
    format!("{{{}}}", parts.join(","))
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[tokio::test]
async fn whole_screen_at_each_size_with_and_without_colour() {
    let mut app = loaded_app().await;
    for (width, height) in SIZES {
        for (theme, label) in [(Theme::default(), "colour"), (Theme::MONOCHROME, "mono")] {
            let buffer = render(&mut app, width, height, theme);
            insta::assert_snapshot!(format!("screen_{width}x{height}_{label}"), styled(&buffer));
        }
    }
}

#[tokio::test]
async fn each_pane_zoomed_at_each_size() {
    let mut app = loaded_app().await;
    app.zoomed = true;
    for pane in [Pane::Chat, Pane::Board, Pane::Inspector] {
        app.focus = pane;
        for (width, height) in SIZES {
            let buffer = render(&mut app, width, height, Theme::MONOCHROME);
            insta::assert_snapshot!(
                format!(
                    "pane_{}_{width}x{height}",
                    pane.title().replace(' ', "_").to_lowercase()
                ),
                styled(&buffer)
            );
        }
    }
}

#[tokio::test]
async fn overlays_and_the_open_call() {
    let mut app = loaded_app().await;
    app.focus = Pane::Inspector;
    update(&mut app, key(KeyCode::Enter));
    let buffer = render(&mut app, 120, 40, Theme::default());
    insta::assert_snapshot!("inspector_open_call", styled(&buffer));
    update(&mut app, key(KeyCode::Esc));

    update(&mut app, key(KeyCode::Char('?')));
    insta::assert_snapshot!(
        "help",
        styled(&render(&mut app, 120, 40, Theme::MONOCHROME))
    );
    update(&mut app, key(KeyCode::Esc));

    update(
        &mut app,
        Msg::ApprovalRequested(ApprovalRequest {
            call_id: "call-1".into(),
            tool: "rerun_pipeline".into(),
            server: "opsdeck".into(),
            arguments: json!({"pipeline": "ingest_web_events", "from_failed_activity": true, "dry_run": false}),
            reason: "rerun_pipeline changes the estate and needs approval".into(),
            preview: Ok(
                "Dry run: would rerun ingest_web_events from CopyClickstream (run ab084a5f)".into(),
            ),
            session_allowable: false,
            hidden: Vec::new(),
        }),
    );
    insta::assert_snapshot!(
        "approval",
        styled(&render(&mut app, 80, 24, Theme::default()))
    );
}

#[tokio::test]
async fn run_details_from_the_real_tool() {
    let harness = common::start("expired-secret").await;
    let failed = harness.latest_failed("ingest_web_events").await;
    let run_id = failed["run_id"].as_str().expect("run id").to_string();
    let details = harness
        .ok("get_run_details", json!({"run_id": run_id}))
        .await;
    let mut app = loaded_app().await;
    app.focus = Pane::Board;
    assert!(
        app.board.select_run(&run_id),
        "the failed run is on the board"
    );
    update(&mut app, key(KeyCode::Enter));
    update(
        &mut app,
        Msg::RunDetailsLoaded {
            run_id,
            result: Ok(details),
        },
    );
    let text = styled(&render(&mut app, 120, 40, Theme::MONOCHROME));
    assert!(text.contains("activities"), "{text}");
    insta::assert_snapshot!("run_details", text);
}

#[tokio::test]
async fn every_size_down_to_one_by_one_draws_without_panicking() {
    let mut app = loaded_app().await;
    for width in [1u16, 2, 10, 39, 40, 41, 79, 80] {
        for height in [1u16, 2, 5, 9, 10, 11, 24] {
            let buffer = render(&mut app, width, height, Theme::default());
            let text: String = buffer.content.iter().map(|c| c.symbol()).collect();
            if width < 40 || height < 10 {
                if width * height >= 20 {
                    assert!(
                        text.contains("opsdeck") || text.contains("needs"),
                        "{width}×{height}: {text}"
                    );
                }
            } else {
                assert!(
                    text.contains("Chat") || text.contains("Runs"),
                    "{width}×{height}"
                );
            }
        }
    }
}

/// The dialog's rows as the model counts them are the rows drawn: scrolled to
/// the end of a call that wraps over several screens, its last row (the
/// dry-run preview) is on screen, and before that the footer says how much
/// is below instead of offering `y`.
#[test]
fn a_long_call_is_drawn_to_its_last_row_and_says_what_is_below() {
    for (width, height) in [(80, 24), (100, 30), (60, 20)] {
        let mut app = App::default();
        update(&mut app, Msg::Resize { width, height });
        let opened = update(
            &mut app,
            Msg::ApprovalRequested(ApprovalRequest {
                call_id: "call-1".into(),
                tool: "run_query".into(),
                server: "warehouse".into(),
                arguments: json!({"query": "SELECT amount FROM sales WHERE ".repeat(120)}),
                reason: "an untrusted server's tool".into(),
                preview: Ok("the last row: nothing else follows".into()),
                session_allowable: false,
                hidden: Vec::new(),
            }),
        );
        // The dialog has been on screen untouched for a moment.
        for effect in opened {
            if let opsdeck::console::app::update::Effect::ArmDialog {
                call_id,
                generation,
            } = effect
            {
                update(
                    &mut app,
                    Msg::DialogArmed {
                        call_id,
                        generation,
                    },
                );
            }
        }
        let text = |buffer: &Buffer| {
            buffer
                .content()
                .chunks(usize::from(width))
                .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let first = text(&render(&mut app, width, height, Theme::MONOCHROME));
        assert!(first.contains("more row(s)"), "{first}");
        assert!(!first.contains("y approve"), "{first}");
        for _ in 0..1_000 {
            if app.approvals.rows_below() == 0 {
                break;
            }
            update(&mut app, key(KeyCode::PageDown));
        }
        let last = text(&render(&mut app, width, height, Theme::MONOCHROME));
        assert!(
            last.contains("nothing else follows"),
            "{width}×{height}:\n{last}"
        );
        assert!(last.contains("y approve"), "{last}");
    }
}
