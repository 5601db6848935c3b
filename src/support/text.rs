//! One family of text cutting, each on a character boundary and each saying
//! that something was cut: summaries ([`clip`]), errors that quote what a
//! caller sent ([`clip_error_text`]), byte budgets ([`cap_text`],
//! [`prefix_within`]).

/// Shortens long text for summaries, on a character boundary: at most
/// `max_chars` characters and an ellipsis.
pub fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a
/// character boundary.
pub fn prefix_within(text: &str, max_bytes: usize) -> &str {
    &text[..floor_boundary(text, max_bytes)]
}

/// The largest character boundary at or before `at`.
pub fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Cuts text to `cap` bytes (on a character boundary) with a marker saying how much went.
pub fn cap_text(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_string();
    }
    let end = floor_boundary(text, cap);
    format!(
        "{}\n[… truncated: {} of {} bytes shown]",
        &text[..end],
        end,
        text.len()
    )
}

/// Longest unbroken word an error quotes whole (ARM ids and URLs fit).
const MAX_ERROR_WORD_CHARS: usize = 300;
/// Longest error text; the start and the end (where the advice is) are kept.
pub const MAX_ERROR_CHARS: usize = 4_000;

/// An error as it may be sent back: errors quote what the caller sent, and a
/// caller may send megabytes. Each overlong word is cut to its start, then an
/// overlong text keeps its start and its end (where the advice is).
pub fn clip_error_text(text: &str) -> String {
    let words: Vec<std::borrow::Cow<'_, str>> = text
        .split(' ')
        .map(|word| match word.char_indices().nth(MAX_ERROR_WORD_CHARS) {
            Some((cut, _)) => format!("{}…({} bytes)", &word[..cut], word.len()).into(),
            None => word.into(),
        })
        .collect();
    let joined = words.join(" ");
    let count = joined.chars().count();
    if count <= MAX_ERROR_CHARS {
        return joined;
    }
    let head: String = joined.chars().take(MAX_ERROR_CHARS * 3 / 4).collect();
    let tail: String = joined.chars().skip(count - MAX_ERROR_CHARS / 4).collect();
    format!(
        "{head} …[{} characters cut]… {tail}",
        count - MAX_ERROR_CHARS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_quoted_word_is_cut_and_the_advice_kept() {
        let huge = "x".repeat(10 << 20);
        let text = clip_error_text(&format!("pipeline '{huge}' not found; known: a, b"));
        assert!(text.len() < 1_000, "{} bytes", text.len());
        assert!(text.ends_with("not found; known: a, b"), "{text}");
        assert!(text.contains("10485762 bytes"), "{text}");
    }

    #[test]
    fn a_huge_text_of_short_words_keeps_its_start_and_end() {
        let words = "ab ".repeat(2 << 20);
        let text = clip_error_text(&format!("since: '{words}' is not a time: use 6h"));
        assert!(text.chars().count() < MAX_ERROR_CHARS + 100);
        assert!(text.starts_with("since: 'ab ab"), "{text}");
        assert!(text.ends_with("is not a time: use 6h"), "{text}");
    }

    #[test]
    fn ordinary_errors_are_untouched() {
        let text = "limit 5000 is above the maximum of 2000; page with continuation_token instead";
        assert_eq!(clip_error_text(text), text);
    }

    #[test]
    fn capping_marks_what_was_cut() {
        assert_eq!(cap_text("short", 10), "short");
        let capped = cap_text(&"é".repeat(100), 11);
        assert!(capped.starts_with("ééééé"), "cut on a character boundary");
        assert!(
            capped.contains("[… truncated: 10 of 200 bytes shown]"),
            "{capped}"
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "ééé"; // 6 bytes
        assert_eq!(prefix_within(s, 3), "é");
        assert_eq!(prefix_within(s, 10), s);
    }
}
