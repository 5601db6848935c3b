//! The vendors' documented errors as a knowledge base.
//!
//! `knowledge/*.toml` (one file per vendor family) is embedded at build time
//! (`build.rs`). Each entry says how an error is recognised, its category,
//! the cause in plain words, the documented fix and the vendor page it comes
//! from. The files are loaded and checked once; `classify` finds the entry
//! that best explains an error (see `matcher` for the order of preference).
//! An error no entry matches is reported as unrecognised, quoted.

mod entry;
mod load;
mod matcher;
mod place;
mod quote;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

pub use entry::{Entry, Example, Source};
pub use load::LoadError;

use crate::model::contract::FailureCategory;
use matcher::Matcher;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/knowledge_files.rs"));
}

/// The embedded files, by name.
pub fn files() -> &'static [(&'static str, &'static str)] {
    embedded::KNOWLEDGE_FILES
}

/// What an error is, as far as the knowledge base knows.
#[derive(Debug, Clone)]
pub struct Classification {
    pub category: FailureCategory,
    /// The entry that explains it; `None` when nothing matched.
    pub entry: Option<&'static Entry>,
    /// The text that matched, as it appears in the error.
    pub matched: Option<String>,
    /// The telling part of the error, on one line, redacted and clipped:
    /// from the start of the segment where the entry matched, or the start of
    /// the message when nothing did.
    pub quote: String,
    /// Where it happened, when the message names it (`landing/pos/2026/01/15`,
    /// `database salesdw on syn-x…`, `host sftp.partner.example`).
    pub place: Option<String>,
}

impl Classification {
    /// Matched only a wrapper (ADF 2200, Spark "Job aborted"): the inner cause is not known.
    pub fn is_generic(&self) -> bool {
        self.entry.is_some_and(|e| e.generic)
    }
}

fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| match load::load(files()) {
        Ok(entries) => Matcher::new(entries.into_iter().map(|(_, e)| e).collect()),
        Err(errors) => {
            // Unit tests refuse such a build; if one ships anyway, every error
            // is reported as unrecognised rather than half-classified.
            for error in &errors {
                tracing::error!(%error, "knowledge base not loaded");
            }
            Matcher::new(Vec::new())
        }
    })
}

/// Every entry of the knowledge base.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    matcher().entries()
}

/// Classifies an error code and message against the knowledge base.
pub fn classify(code: &str, message: &str) -> Classification {
    let text = matcher::bounded(message);
    match matcher().best(code, &text) {
        Some(hit) => Classification {
            category: hit.entry.category,
            entry: Some(hit.entry),
            quote: quote::telling_part(&text, hit.first_at),
            place: place::named_in(&text),
            matched: Some(hit.matched),
        },
        None => Classification {
            category: FailureCategory::Unknown,
            entry: None,
            matched: None,
            quote: quote::telling_part(&text, None),
            place: place::named_in(&text),
        },
    }
}
