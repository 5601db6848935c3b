//! Text the service sends (names, states, messages) on its way into the
//! sentences opsdeck writes: a workspace or item name is whatever its owner
//! typed, and may hold escape sequences, bidi overrides or a secret pasted by
//! mistake. Each piece is redacted and its control characters made visible
//! ([`for_screen`]), line breaks become spaces (a name must not start a line
//! of its own), and it is clipped ([`clip`]) so one field cannot swamp the text.

use crate::support::terminal::for_screen;
use crate::support::text::clip;

/// Longest name put into a sentence.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest message (an error the service gives) put into a sentence.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// `text` made safe for a sentence, at most `max_chars` characters and "…".
pub fn shown(text: &str, max_chars: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .collect();
    clip(&for_screen(&one_line), max_chars)
}

/// A message from the service (an error), made safe: its line breaks kept.
pub fn message(text: &str) -> String {
    clip(&for_screen(text), MAX_MESSAGE_CHARS)
}

/// A name from the service, made safe for a sentence.
pub fn name(text: &str) -> String {
    shown(text, MAX_NAME_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_lines_joined_and_long_names_clipped() {
        let hostile = "Sales\u{1b}]52;c;ZXZpbA==\u{7}\nfake line\u{202e}";
        let safe = name(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert!(!safe.contains('\u{202e}'), "{safe:?}");
        assert!(safe.starts_with("Sales\\x1b"), "{safe:?}");
        let long = name(&"n".repeat(10_000));
        assert_eq!(long.chars().count(), MAX_NAME_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(name("plain name"), "plain name");
        let told = message("Copy failed:\nsink refused\u{1b}[31m");
        assert_eq!(told, "Copy failed:\nsink refused\\x1b[31m");
    }
}
