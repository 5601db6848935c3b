//! Text from servers, runs and traces on its way to a terminal. A tool result
//! or a forged trace can carry escape sequences — an OSC 52 clipboard write, a
//! window title, a screen clear — that a terminal would obey, and invisible
//! format characters — bidi overrides and isolates, zero-width spaces — that
//! make text display reordered or two different names look the same (a tool
//! name in an approval dialog). Here every control character except the line
//! end and the tab becomes visible text (`ESC` shows as `\x1b`, U+202E as
//! `\u202e`), so only opsdeck's own sequences ever reach the terminal and text
//! reads in the order it is stored.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Invisible format characters that reorder or hide text: the bidi embeddings,
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069), the direction marks
/// (U+200E, U+200F, U+061C), zero-width space (U+200B), the word joiner and
/// invisible operators (U+2060–U+2064), the deprecated format controls
/// (U+206A–U+206F), the byte order mark (U+FEFF) and interlinear annotation
/// marks (U+FFF9–U+FFFB). Zero-width (non-)joiners stay: scripts and emoji need them.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// C0 controls other than `\n` and `\t`, DEL, and the C1 controls
/// (U+0080–U+009F: a terminal may read U+009B as CSI, U+009D as OSC).
fn is_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

fn is_unsafe(c: char) -> bool {
    is_control(c) || is_invisible_format(c)
}

/// A cheap first look: ASCII controls by byte; the rest only in non-ASCII text.
fn any_unsafe(text: &str) -> bool {
    text.bytes()
        .any(|b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
        || (!text.is_ascii() && text.chars().any(is_unsafe))
}

/// The text with every control character but `\n` and `\t` shown as `\xNN`,
/// except CR, which is dropped: it would let text overwrite its own line, and
/// Windows line ends (CR LF) then read as plain line ends. Invisible format
/// characters show as `\uNNNN`. Borrowed when there was none. Character by
/// character, so pieces can be made safe apart.
pub fn terminal_safe(input: &str) -> Cow<'_, str> {
    if !any_unsafe(input) {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len() + 16);
    for c in input.chars() {
        if c == '\r' {
            continue;
        }
        if is_control(c) {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else if is_invisible_format(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What any text from outside gets before the screen: its secrets redacted
/// and its control characters made visible, in one call so neither is forgotten.
pub fn for_screen(input: &str) -> Cow<'_, str> {
    match super::redact::text(input) {
        Cow::Borrowed(clean) => terminal_safe(clean),
        Cow::Owned(clean) => match terminal_safe(&clean) {
            Cow::Borrowed(_) => Cow::Owned(clean),
            Cow::Owned(safe) => Cow::Owned(safe),
        },
    }
}

/// JSON text safe for a terminal: serde escapes C0 controls but writes DEL, C1
/// controls and invisible format characters raw. They can only stand inside
/// strings, where `\uNNNN` means the same character, so the document is
/// unchanged for a JSON reader.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !any_unsafe(json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequences a hostile tool result or trace might carry.
    const HOSTILE: &[&str] = &[
        "\u{1b}]52;c;aGVsbG8=\u{7}",         // OSC 52: write the clipboard
        "\u{1b}]0;you have been pwned\u{7}", // OSC 0: window title
        "\u{1b}[2J\u{1b}[H",                 // clear the screen, cursor home
        "\u{9b}2J",                          // C1 CSI
        "\u{9d}52;c;eA==\u{9c}",             // C1 OSC … ST
        "a\u{8}\u{8}b\u{7f}",                // backspaces and DEL
        "\u{1b}P+q\u{1b}\\",                 // DCS
    ];

    #[test]
    fn escape_sequences_become_visible_text() {
        for input in HOSTILE {
            let out = terminal_safe(input);
            assert!(
                !out.chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t')
                    && !out.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
                "{input:?} -> {out:?}"
            );
        }
        assert_eq!(
            terminal_safe("\u{1b}]52;c;aGk=\u{7}"),
            "\\x1b]52;c;aGk=\\x07"
        );
        assert_eq!(terminal_safe("\u{9b}2J"), "\\x9b2J");
    }

    #[test]
    fn ordinary_text_lines_tabs_and_unicode_are_borrowed_unchanged() {
        for input in ["plain", "two\nlines\twith a tab", "naïve — ✓ 日本語 ␛", ""] {
            assert!(matches!(terminal_safe(input), Cow::Borrowed(_)), "{input}");
        }
        assert_eq!(terminal_safe("a\r\nb\rc"), "a\nbc");
    }

    #[test]
    fn screen_text_is_redacted_and_neutralised_at_once() {
        let out = for_screen("key sk-proj-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789 \u{1b}]0;t\u{7}");
        assert!(out.contains("[redacted: OpenAI key]"), "{out}");
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(matches!(for_screen("nothing here"), Cow::Borrowed(_)));
    }

    /// Text that would display reordered or look like something else.
    const DECEPTIVE: &[&str] = &[
        "wipe_table\u{202e}elbat_daer",          // RIGHT-TO-LEFT OVERRIDE
        "\u{2067}drop\u{2069} read_runs",        // RIGHT-TO-LEFT ISOLATE … POP
        "a\u{202a}b\u{202b}c\u{202c}d\u{202d}e", // embeddings, overrides, POP
        "x\u{200e}y\u{200f}z\u{061c}",           // direction marks
        "list\u{200b}_runs\u{2060}\u{feff}",     // zero-width space, word joiner, BOM
        "\u{2066}\u{2068}\u{206a}\u{206f}\u{fff9}\u{fffb}",
    ];

    #[test]
    fn bidi_and_invisible_format_characters_become_visible_text() {
        for input in DECEPTIVE {
            let out = terminal_safe(input);
            assert!(
                !out.chars().any(is_invisible_format),
                "{input:?} -> {out:?}"
            );
        }
        assert_eq!(
            terminal_safe("wipe_table\u{202e}elbat"),
            "wipe_table\\u202eelbat"
        );
        assert_eq!(terminal_safe("a\u{2067}b"), "a\\u2067b");
        // Joiners that scripts and emoji need are kept, and so is the text borrowed.
        for kept in ["👨\u{200d}👩\u{200d}👧", "می\u{200c}خواهم", "naïve ✓"] {
            assert!(matches!(terminal_safe(kept), Cow::Borrowed(_)), "{kept}");
        }
    }

    #[test]
    fn json_keeps_its_meaning_without_bidi_characters() {
        let document =
            serde_json::json!({"tool": "wipe_table\u{202e}elbat_daer", "n": "\u{2066}x"});
        let text = serde_json::to_string(&document).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(is_invisible_format), "{safe:?}");
        assert!(
            safe.contains("\\u202e") && safe.contains("\\u2066"),
            "{safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, document);
    }

    #[test]
    fn json_keeps_its_meaning_without_raw_controls() {
        let document = serde_json::json!({"text": "\u{1b}]52;c;x\u{7} \u{9b}2J \u{7f}"});
        let text = serde_json::to_string(&document).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, document);
    }
}
