//! The telling part of an error, fit to quote in one sentence.

use crate::support::{redact, terminal, text};

/// How far before the match the quote may start, to keep the exception
/// class or the sentence that introduces it ("AnalysisException: …").
const LOOK_BACK: usize = 200;
const QUOTE_CHARS: usize = 260;

/// Where a vendor message starts a new segment: a sentence, a line, an ADF
/// `Message=` or a semicolon-separated part.
const SEGMENT_STARTS: &[&str] = &[". ", ".\n", "\n", "message=", "; ", ",'"];

/// From the start of the segment holding `at` (or the message's start) on:
/// one line, secrets redacted, control characters neutralised, clipped.
pub fn telling_part(message: &str, at: Option<usize>) -> String {
    let start = at
        .filter(|at| message.is_char_boundary(*at))
        .map(|at| segment_start(message, at).min(fill_start(message)))
        .unwrap_or(0);
    let tail = message.get(start..).unwrap_or(message).trim_start();
    let one_line: String = text::clip(tail, QUOTE_CHARS * 2)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let redacted = redact::text(&one_line);
    text::clip(&terminal::terminal_safe(&redacted), QUOTE_CHARS)
}

/// Where a quote must start to be full length when the match is near the
/// end ("… ExecutorLostFailure … Reason: Command exited with code 52"), at a word.
fn fill_start(message: &str) -> usize {
    let Some(from) = message.len().checked_sub(QUOTE_CHARS) else {
        return 0;
    };
    let from = text::floor_boundary(message, from);
    message[from..].find(' ').map_or(from, |i| from + i + 1)
}

fn segment_start(message: &str, at: usize) -> usize {
    let from = text::floor_boundary(message, at.saturating_sub(LOOK_BACK));
    let window = message[from..at].to_ascii_lowercase();
    SEGMENT_STARTS
        .iter()
        .filter_map(|s| window.rfind(s).map(|i| i + s.len()))
        .max()
        .map(|i| from + i)
        .unwrap_or_else(|| {
            // No boundary near: start at the word holding the match.
            message[from..at].rfind(' ').map_or(from, |i| from + i + 1)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quote_starts_at_the_segment_of_the_match() {
        let message = format!(
            "Job execution failed. Run page: x. Error: org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `c` cannot be resolved. {}",
            "Did you mean `d`? ".repeat(20)
        );
        let message = message.as_str();
        let at = message.find("[UNRESOLVED").unwrap();
        let quote = telling_part(message, Some(at));
        assert!(
            quote.starts_with("Error: org.apache.spark.sql.AnalysisException: [UNRESOLVED"),
            "{quote}"
        );
    }

    #[test]
    fn the_quote_is_one_clipped_line() {
        let message = format!("boom\n\tat a.b.C\n{}", "x ".repeat(1000));
        let quote = telling_part(&message, None);
        assert!(!quote.contains('\n') && !quote.contains('\t'), "{quote}");
        assert!(quote.chars().count() <= QUOTE_CHARS + 1, "{}", quote.len());
        assert!(quote.starts_with("boom at a.b.C"));
    }

    #[test]
    fn a_match_near_the_end_keeps_the_context_before_it() {
        let message = format!(
            "{} ExecutorLostFailure (executor 6 exited) Reason: Command exited with code 52",
            "x".repeat(50)
        );
        let quote = telling_part(&message, message.find("exited with code"));
        assert!(quote.contains("ExecutorLostFailure"), "{quote}");
    }

    #[test]
    fn an_offset_inside_a_character_falls_back_to_the_start() {
        let quote = telling_part("é failed", Some(1));
        assert!(quote.starts_with("é failed"));
    }
}
