//! One documented error, as written in `knowledge/*.toml`.

use serde::Deserialize;

use crate::model::contract::FailureCategory;

/// A file of the knowledge base: `[[entry]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KnowledgeFile {
    #[serde(default)]
    pub entry: Vec<Entry>,
}

/// A documented error: how it is recognised, what it means, how to fix it,
/// and where the vendor says so.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Unique across the knowledge base: `family.name`, e.g. `entra.aadsts7000222`.
    pub id: String,
    pub title: String,
    pub category: FailureCategory,
    /// Exact error codes: equal to the run's error code, or a whole token in
    /// the message (a bare number only after `error`, `number`, `code`, `msg`…).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Case-insensitive substrings in the vendor's wording.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Case-insensitive regular expressions, for wording with variable parts.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// A wrapper (ADF 2200 "Failure happened on 'Sink' side", Spark "Job
    /// aborted"): it loses to any specific entry that also matches.
    #[serde(default)]
    pub generic: bool,
    /// Breaks ties between specific entries; higher wins. Default 0.
    #[serde(default)]
    pub priority: i32,
    /// The cause in plain words.
    pub cause: String,
    /// The documented fix, 1–3 steps.
    pub fix: Vec<String>,
    pub source: Source,
    /// Real-looking messages in the vendor's wording that must classify to this entry.
    pub examples: Vec<Example>,
}

/// The vendor document the entry comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub title: String,
    pub url: String,
}

/// A message, or a code and a message, that must classify to its entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Example {
    Message(String),
    Coded { code: String, message: String },
}

impl Example {
    pub fn code(&self) -> &str {
        match self {
            Example::Message(_) => "",
            Example::Coded { code, .. } => code,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Example::Message(message) | Example::Coded { message, .. } => message,
        }
    }
}
