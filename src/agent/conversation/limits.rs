//! Bounds on what a conversation keeps, whatever a model, a tool or a trace
//! hands it: the number of turns, the size of each text, and tool names the
//! chat API takes back.

use crate::support::text::floor_boundary;

/// Turns kept; older ones are dropped (and counted, so the model is told).
pub const MAX_TURNS: usize = 200;
/// Bytes of one question, and of one turn's answer text.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Bytes of one call's arguments.
pub const MAX_ARGUMENT_BYTES: usize = 64 * 1024;
/// Bytes of one model-facing tool result (`ask --max-result-bytes` allows up to 1 MiB).
pub const MAX_RESULT_BYTES: usize = 1024 * 1024 + 1024;
/// The longest function name the chat API accepts.
const MAX_NAME_CHARS: usize = 64;

/// `text` cut to `cap` bytes (on a character boundary), with a marker saying so.
pub(super) fn clip_text(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_string();
    }
    let end = floor_boundary(text, cap);
    format!("{}{}", &text[..end], clipped_marker(text.len()))
}

fn clipped_marker(total: usize) -> String {
    format!("\n[clipped by opsdeck: {total} bytes is more than a turn keeps]")
}

/// Appends `piece` to `text` while the turn's texts (`used` bytes so far)
/// stay within `cap`; the first piece that does not fit adds a marker instead
/// of its rest, and later pieces are dropped.
pub(super) fn push_clipped(text: &mut String, piece: &str, used: usize, cap: usize) {
    if used > cap {
        return;
    }
    let room = cap - used;
    if piece.len() <= room {
        text.push_str(piece);
        return;
    }
    let end = floor_boundary(piece, room);
    text.push_str(&piece[..end]);
    text.push_str("\n[clipped by opsdeck: the answer is longer than a turn keeps]");
}

/// Arguments beyond [`MAX_ARGUMENT_BYTES`] are replaced by a JSON object
/// saying so: cut JSON would be no JSON at all.
pub(super) fn clip_arguments(arguments: &str) -> String {
    if arguments.len() <= MAX_ARGUMENT_BYTES {
        return arguments.to_string();
    }
    serde_json::json!({
        "opsdeck_note": format!(
            "the arguments ({} bytes) were too long to keep in the conversation",
            arguments.len()
        )
    })
    .to_string()
}

/// A tool name the chat API takes back in `tool_calls` (it rejects any not
/// matching `^[a-zA-Z0-9_-]{1,64}$`, and then every later request too):
/// other characters become `_`, the name is cut to 64, an empty one is `tool`.
/// A name that fits is unchanged.
pub fn api_tool_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "tool".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_made_acceptable_to_the_chat_api() {
        assert_eq!(api_tool_name("triage_run"), "triage_run");
        assert_eq!(api_tool_name("srv__get-status"), "srv__get-status");
        assert_eq!(
            api_tool_name("multi_tool_use.parallel"),
            "multi_tool_use_parallel"
        );
        assert_eq!(api_tool_name(""), "tool");
        assert_eq!(api_tool_name("ü/x y"), "__x_y");
        let long = api_tool_name(&"n".repeat(500));
        assert_eq!(long.len(), 64);
        for name in ["a.b", "\u{1b}[31m", "名前", &"x".repeat(65)] {
            let cleaned = api_tool_name(name);
            assert!(
                (1..=64).contains(&cleaned.len())
                    && cleaned
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{name:?} → {cleaned:?}"
            );
        }
    }

    #[test]
    fn texts_are_clipped_with_a_marker_on_a_character_boundary() {
        let text = "é".repeat(40_000);
        let clipped = clip_text(&text, MAX_TEXT_BYTES);
        assert!(clipped.len() < MAX_TEXT_BYTES + 100);
        assert!(clipped.ends_with("more than a turn keeps]"));
        let mut answer = String::new();
        push_clipped(&mut answer, "abcdef", 0, 4);
        assert_eq!(
            answer,
            "abcd\n[clipped by opsdeck: the answer is longer than a turn keeps]"
        );
        let before = answer.clone();
        let used = answer.len();
        push_clipped(&mut answer, "more", used, 4);
        assert_eq!(answer, before, "nothing after the marker");
        let args = clip_arguments(&"a".repeat(MAX_ARGUMENT_BYTES + 1));
        assert!(
            serde_json::from_str::<serde_json::Value>(&args).is_ok(),
            "{args}"
        );
    }
}
