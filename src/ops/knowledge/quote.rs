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
        .map(|at| segment_start(message, at))
        .unwrap_or(0);
    let tail = message.get(start..).unwrap_or(message).trim_start();
    let one_line: String = text::clip(tail, QUOTE_CHARS * 2)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let redacted = redact::text(&one_line);
    text::clip(&terminal::terminal_safe(&redacted), QUOTE_CHARS)
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
        let message = "Job execution failed. Run page: x. Error: org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `c` cannot be resolved.";
        let at = message.find("[UNRESOLVED").unwrap();
        let quote = telling_part(message, Some(at));
        assert!(quote.starts_with("Error: org.apache.spark.sql.AnalysisException: [UNRESOLVED"), "{quote}");
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
    fn an_offset_inside_a_character_falls_back_to_the_start() {
        let quote = telling_part("é failed", Some(1));
        assert!(quote.starts_with("é failed"));
    }
}
