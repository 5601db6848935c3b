//! Owning the terminal: raw mode and the alternate screen on the way in, and
//! the way back out on every path — quit, error, panic (before the message
//! prints, so it is readable) and SIGTERM/SIGHUP (an SSH drop).

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::screen_guard::ScreenGuard;
use crate::console::app::update::App;
use crate::console::ui::theme::Theme;

/// The console's terminal: every cell passes the [`ScreenGuard`] on its way out.
pub type Tui = Terminal<ScreenGuard<CrosstermBackend<Stdout>>>;

/// Set while the terminal is ours, so a restore runs once whoever calls it first.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Restores the terminal when dropped (normal exit and `?` errors).
pub struct TerminalGuard {
    pub terminal: Tui,
}

impl TerminalGuard {
    pub fn enter(mouse: bool) -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut stdout = io::stdout();
        let entered = execute!(
            stdout,
            EnterAlternateScreen,
            EnableBracketedPaste,
            cursor::Hide
        )
        .and_then(|()| {
            if mouse {
                execute!(stdout, EnableMouseCapture)
            } else {
                Ok(())
            }
        });
        if let Err(e) = entered {
            restore();
            return Err(e);
        }
        match Terminal::new(ScreenGuard::new(CrosstermBackend::new(stdout))) {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen; safe to call more than once.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut stdout = io::stdout();
    // Best effort: each step runs even when an earlier one failed. A panic
    // in the middle of a frame must not leave the terminal holding its output.
    let _ = execute!(stdout, crossterm::terminal::EndSynchronizedUpdate);
    let _ = execute!(stdout, DisableMouseCapture);
    let _ = execute!(stdout, DisableBracketedPaste);
    let _ = execute!(stdout, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    let _ = stdout.flush();
}

fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// Draws one frame inside a synchronized update (mode 2026): the terminal
/// shows it whole once it ends, never half-painted. Terminals that do not know
/// the mode ignore both sequences.
pub fn draw_frame(terminal: &mut Tui, app: &App, theme: &Theme) -> io::Result<()> {
    // The frame goes through the backend's own handle on the same stdout.
    synchronized(&mut io::stdout(), |_| {
        terminal
            .draw(|frame| crate::console::ui::draw(frame, app, theme))
            .map(|_| ())
    })
}

/// Runs `paint` between the begin and end of a synchronized update on `out`.
/// The end is written even when painting failed, so the terminal never stays
/// frozen.
fn synchronized<W: Write>(
    out: &mut W,
    paint: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    queue!(out, BeginSynchronizedUpdate)?;
    let painted = paint(out);
    let ended = execute!(out, EndSynchronizedUpdate);
    painted.and(ended)
}

/// Writes raw bytes to the terminal (bell, OSC sequences) between frames.
pub fn write_raw(bytes: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout();
    stdout.write_all(bytes)?;
    stdout.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_written_between_the_begin_and_end_of_a_synchronized_update() {
        let mut out = Vec::new();
        synchronized(&mut out, |out| out.write_all(b"frame")).unwrap();
        assert_eq!(out, b"\x1b[?2026hframe\x1b[?2026l");
        let mut out = Vec::new();
        let failed = synchronized(&mut out, |_| Err(io::Error::other("no screen")));
        assert!(failed.is_err());
        assert!(
            out.ends_with(b"\x1b[?2026l"),
            "the update is ended even when the frame failed"
        );
    }
}
