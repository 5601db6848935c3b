//! Every colour and emphasis the console uses, in one place.
//!
//! Colours come only from the 16 named ANSI colours, so a 16-colour terminal (and
//! the user's own palette) renders them as meant. With `NO_COLOR` set, or
//! `--no-color`, the same roles fall back to bold / reverse / underline, and every
//! status also carries a symbol, so nothing depends on colour to be read.

use crate::console::app::calls::Tone;
use ratatui::style::{Color, Modifier, Style};

use crate::model::run::RunStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub colour: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme { colour: true }
    }
}

impl Theme {
    pub const MONOCHROME: Theme = Theme { colour: false };

    /// Colour unless `NO_COLOR` is set to anything non-empty (https://no-color.org).
    pub fn from_env(no_color_flag: bool) -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme {
            colour: !(no_color || no_color_flag),
        }
    }

    fn fg(&self, colour: Color) -> Style {
        if self.colour {
            Style::new().fg(colour)
        } else {
            Style::new()
        }
    }

    pub fn text(&self) -> Style {
        Style::new()
    }

    pub fn dim(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn italic(&self) -> Style {
        Style::new().add_modifier(Modifier::ITALIC)
    }

    pub fn heading(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn code(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn user(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::UNDERLINED)
        }
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.colour) {
            (true, true) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, true) => Style::new().fg(Color::DarkGray),
            (false, false) => Style::new(),
        }
    }

    pub fn badge(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn status(&self, status: &RunStatus) -> Style {
        match status {
            RunStatus::Failed => self.error(),
            RunStatus::Succeeded => self.ok(),
            RunStatus::InProgress | RunStatus::Canceling => self.fg(Color::Blue),
            RunStatus::Queued => self.dim(),
            RunStatus::Cancelled | RunStatus::Skipped => self.warn(),
            RunStatus::Other(_) => self.fg(Color::Magenta),
        }
    }
}

/// A symbol per status so the board reads without colour (and in a text capture).
pub fn status_symbol(status: &RunStatus) -> &'static str {
    match status {
        RunStatus::Failed => "✗",
        RunStatus::Succeeded => "✓",
        RunStatus::InProgress => "▶",
        RunStatus::Canceling => "◼",
        RunStatus::Queued => "…",
        RunStatus::Cancelled => "⊘",
        RunStatus::Skipped => "↷",
        RunStatus::Other(_) => "?",
    }
}

/// The theme's style for a call's tone.
pub fn tone_style(tone: Tone, theme: &Theme) -> Style {
    match tone {
        Tone::Busy => theme.accent(),
        Tone::Good => theme.ok(),
        Tone::Bad => theme.error(),
        Tone::Attention => theme.warn(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monochrome_styles_carry_no_colour() {
        let theme = Theme::MONOCHROME;
        for status in [
            RunStatus::Failed,
            RunStatus::Succeeded,
            RunStatus::InProgress,
            RunStatus::Queued,
            RunStatus::Other("x".into()),
        ] {
            let style = theme.status(&status);
            assert_eq!(style.fg, None, "{status:?}");
            assert_eq!(style.bg, None, "{status:?}");
        }
        assert_eq!(theme.badge().bg, None);
    }

    #[test]
    fn colours_stay_within_the_16_named_ansi_colours() {
        let theme = Theme::default();
        let styles = [
            theme.heading(),
            theme.code(),
            theme.error(),
            theme.ok(),
            theme.badge(),
            theme.dim(),
            theme.status(&RunStatus::InProgress),
        ];
        for style in styles {
            for colour in [style.fg, style.bg].into_iter().flatten() {
                assert!(
                    !matches!(colour, Color::Rgb(..) | Color::Indexed(_)),
                    "{colour:?} needs more than 16 colours"
                );
            }
        }
    }
}
