//! Escape sequences the console writes besides frames: the bell and desktop
//! notifications (OSC 9, OSC 777) when a run fails, and OSC 52 to put copied
//! text on the clipboard — which works over SSH, since the local terminal does it.

use super::config::Notification;

/// The bytes for a notification in each configured form. Title and body come
/// from runs (a pipeline name, the first line of a run's message): they are
/// redacted, then stripped of anything that could end the sequence.
pub fn notification(kinds: &[Notification], title: &str, body: &str) -> Vec<u8> {
    let title = sanitize(title);
    let body = sanitize(body);
    let mut out = String::new();
    for kind in kinds {
        match kind {
            Notification::Bell => out.push('\u{7}'),
            Notification::Osc9 => out.push_str(&format!("\u{1b}]9;{title}: {body}\u{7}")),
            // OSC 777 separates fields with ';', so none may appear inside them.
            Notification::Osc777 => out.push_str(&format!(
                "\u{1b}]777;notify;{};{}\u{7}",
                title.replace(';', ","),
                body.replace(';', ",")
            )),
        }
    }
    out.into_bytes()
}

/// Terminals cap OSC 52 payloads (often around 100 kB); larger copies go to the file only.
pub const OSC52_LIMIT: usize = 74 * 1024;

/// `ESC ] 52 ; c ; base64 BEL`, or None when the text is too large for terminals.
pub fn clipboard(text: &str) -> Option<Vec<u8>> {
    if text.len() > OSC52_LIMIT {
        return None;
    }
    Some(format!("\u{1b}]52;c;{}\u{7}", base64(text.as_bytes())).into_bytes())
}

/// Text from servers and runs goes inside an escape sequence: its secrets are
/// redacted (a desktop notification outlives the terminal), and control
/// characters — C0 with ESC and BEL, DEL, C1 with ST (U+009C) — could end the
/// sequence early and inject others, so they become spaces. Redaction comes
/// before the cut, so a cut cannot break a secret out of its pattern.
fn sanitize(text: &str) -> String {
    crate::trace::redact::text(text)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// Standard base64 with padding (RFC 4648), as OSC 52 expects.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn notifications_are_sanitised_and_in_each_form() {
        let bytes = notification(
            &[Notification::Bell, Notification::Osc9, Notification::Osc777],
            "ingest failed",
            "evil\u{1b}]52;c;x\u{7};more",
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with('\u{7}'));
        assert!(text.contains("\u{1b}]9;ingest failed: evil ]52"));
        assert!(text.contains("\u{1b}]777;notify;ingest failed;evil ]52,c,x ,more\u{7}"));
        assert_eq!(
            text.matches('\u{1b}').count(),
            2,
            "no injected escape survives"
        );
        assert!(notification(&[], "t", "b").is_empty());
    }

    #[test]
    fn notifications_carry_no_secret_and_no_control_character() {
        let body = "copy failed: AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4; password=hunter2pass \
            sig=c2lnbmF0dXJl \u{1b}]777;notify;fake;injected\u{9c}\u{1b}\\\u{7f}\u{85}";
        for kind in [Notification::Osc9, Notification::Osc777] {
            let bytes = notification(&[kind], "ingest \u{7}failed", body);
            let text = String::from_utf8(bytes).unwrap();
            for secret in ["Zm9vYmFy", "hunter2pass", "c2lnbmF0dXJl"] {
                assert!(!text.contains(secret), "{secret} in {text:?}");
            }
            // Exactly one sequence: the opening ESC and the closing BEL are ours.
            let inner = &text[1..text.len() - 1];
            assert!(
                text.starts_with('\u{1b}') && text.ends_with('\u{7}'),
                "{text:?}"
            );
            assert!(
                !inner.chars().any(char::is_control),
                "a control character inside the sequence: {text:?}"
            );
        }
    }

    #[test]
    fn clipboard_uses_osc_52_within_the_limit() {
        assert_eq!(clipboard("hi").unwrap(), b"\x1b]52;c;aGk=\x07");
        assert!(clipboard(&"x".repeat(OSC52_LIMIT + 1)).is_none());
    }
}
