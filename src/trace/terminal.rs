//! Text from servers, runs and traces on its way to a terminal. A tool result
//! or a forged trace can carry escape sequences — an OSC 52 clipboard write, a
//! window title, a screen clear — that a terminal would obey; here every
//! control character except the line end and the tab becomes visible text
//! (`ESC` shows as `\x1b`), so only opsdeck's own sequences ever reach it.

use std::borrow::Cow;
use std::fmt::Write as _;

/// C0 controls other than `\n` and `\t`, DEL, and the C1 controls
/// (U+0080–U+009F: a terminal may read U+009B as CSI, U+009D as OSC).
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

/// A cheap first look over the bytes: does anything need escaping?
fn any_unsafe(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && b != b'\n' && b != b'\t')
            || b == 0x7f
            // C1 controls are 0xC2 0x80..=0x9F in UTF-8.
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

/// The text with every control character but `\n` and `\t` shown as `\xNN`,
/// except CR, which is dropped: it would let text overwrite its own line, and
/// Windows line ends (CR LF) then read as plain line ends. Borrowed when there
/// was none. Character by character, so pieces can be made safe apart.
pub fn terminal_safe(input: &str) -> Cow<'_, str> {
    if !any_unsafe(input.as_bytes()) {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len() + 16);
    for c in input.chars() {
        if c == '\r' {
            continue;
        }
        if is_unsafe(c) {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
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

/// JSON text safe for a terminal: serde escapes C0 controls but writes DEL and
/// C1 controls raw. They can only stand inside strings, where `\u00NN` means
/// the same character, so the document is unchanged for a JSON reader.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !any_unsafe(json.as_bytes()) {
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
