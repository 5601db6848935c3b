//! How well a tool fits a question: words of the question (and, weaker, of
//! the recent conversation) against the tool's name, server, description and
//! parameter names, BM25-style (rare words count more than `list` or `get`,
//! a long description does not win by length). A tool's family (`azure_vm_*`)
//! and server share some of their best member's score: the question is
//! about that group. Deterministic: the same catalogue and question give the
//! same scores. Every text is read within a budget, whatever a server sends.

use std::collections::{BTreeMap, BTreeSet};

use crate::mcp::CatalogTool;
use crate::support::text::prefix_within;

/// Bytes of the question, and of each recent message, that are read.
const QUESTION_BYTES: usize = 4_000;
/// Recent messages read (the newest are passed last; the last ones are kept).
const RECENT_MESSAGES: usize = 8;
/// Bytes of a tool's description that are read.
const DESCRIPTION_BYTES: usize = 2_000;
/// Parameter names of a tool that are read.
const PARAMETERS: usize = 32;
/// Distinct query words kept.
const QUERY_WORDS: usize = 256;

/// How much a word counts where it is found in a tool.
const IN_NAME: f64 = 3.0;
const IN_SERVER: f64 = 1.0;
const IN_DESCRIPTION: f64 = 1.0;
const IN_PARAMETER: f64 = 0.5;
/// How much a word of the recent conversation counts against the question's.
const RECENT_WEIGHT: f64 = 0.5;
/// How much a related word (a synonym) counts against the word itself.
const RELATED_WEIGHT: f64 = 0.7;
/// Shares of the best score in a tool's family and server that it gets too.
const FAMILY_SHARE: f64 = 0.4;
const SERVER_SHARE: f64 = 0.15;
/// BM25's saturation and length normalisation.
const K1: f64 = 1.2;
const B: f64 = 0.5;

/// Words that say nothing about which tool fits.
const STOP: &[&str] = &[
    "a", "about", "all", "an", "and", "any", "are", "as", "at", "be", "by", "can", "could", "do",
    "doe", "for", "from", "give", "has", "have", "how", "i", "in", "into", "is", "it", "its", "me",
    "my", "of", "on", "or", "our", "pleas", "show", "tell", "that", "the", "their", "them",
    "there", "thi", "to", "us", "wa", "we", "what", "when", "where", "which", "who", "will",
    "with", "would", "you", "your",
];

/// Words (stemmed) that mean the same thing in operations talk, both ways.
const RELATED: &[(&str, &str)] = &[
    ("fail", "error"),
    ("broke", "fail"),
    ("broken", "fail"),
    ("crash", "fail"),
    ("vm", "virtual"),
    ("vm", "comput"),
    ("db", "databas"),
    ("db", "sql"),
    ("k8", "ak"),
    ("kubernet", "ak"),
    ("secret", "vault"),
    ("secret", "keyvault"),
    ("log", "monitor"),
    ("alert", "monitor"),
    ("cost", "bill"),
    ("blob", "storag"),
    ("bucket", "storag"),
    ("run", "pipelin"),
    ("job", "pipelin"),
    ("dag", "pipelin"),
    ("chang", "diff"),
    ("depend", "downstream"),
    ("blast", "depend"),
    ("impact", "depend"),
];

/// Lower-case word stems of `text`: split on anything but letters and digits
/// and on camelCase humps, with plural and tense endings cut so `failed`,
/// `failure` and `fails` meet.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && previous_lower && !current.is_empty() {
                out.push(stem(&current));
                current.clear();
            }
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
            current.extend(c.to_lowercase());
        } else {
            if !current.is_empty() {
                out.push(stem(&current));
                current.clear();
            }
            previous_lower = false;
        }
    }
    if !current.is_empty() {
        out.push(stem(&current));
    }
    out
}

/// A light stemmer: the first matching ending is cut when at least two
/// letters remain, then a final `e` goes and a final `y` becomes `i`
/// (`dependency` and `dependencies` meet).
fn stem(word: &str) -> String {
    let mut word = word.to_string();
    for ending in ["ures", "ure", "ing", "ed", "es", "s"] {
        if word.len() >= ending.len() + 2
            && word.ends_with(ending)
            && !(ending == "s" && word.ends_with("ss"))
        {
            word.truncate(word.len() - ending.len());
            break;
        }
    }
    if word.len() > 3 && word.ends_with('e') {
        word.pop();
    } else if word.len() > 3 && word.ends_with('y') {
        word.pop();
        word.push('i');
    }
    word
}

/// The question's words, weighted, with the exact names it mentions.
pub struct Query {
    weights: BTreeMap<String, f64>,
    /// Every run of name characters (`triage_run`, `azure_vm_list`) as written.
    names: BTreeSet<String>,
}

impl Query {
    pub fn new(question: &str, recent: &[&str]) -> Query {
        let question = prefix_within(question, QUESTION_BYTES);
        let recent: Vec<&str> = recent
            .iter()
            .rev()
            .take(RECENT_MESSAGES)
            .map(|m| prefix_within(m, QUESTION_BYTES))
            .collect();
        let mut weights: BTreeMap<String, f64> = BTreeMap::new();
        let mut add = |word: String, weight: f64| {
            if STOP.contains(&word.as_str()) || weights.len() >= QUERY_WORDS {
                return;
            }
            let slot = weights.entry(word).or_insert(0.0);
            *slot = slot.max(weight);
        };
        for word in words(question) {
            add(word, 1.0);
        }
        for message in &recent {
            for word in words(message) {
                add(word, RECENT_WEIGHT);
            }
        }
        let direct: Vec<(String, f64)> = weights.iter().map(|(w, v)| (w.clone(), *v)).collect();
        for (word, weight) in direct {
            for (a, b) in RELATED {
                let other = if word == *a {
                    b
                } else if word == *b {
                    a
                } else {
                    continue;
                };
                if weights.len() < QUERY_WORDS || weights.contains_key(*other) {
                    let slot = weights.entry((*other).to_string()).or_insert(0.0);
                    *slot = slot.max(weight * RELATED_WEIGHT);
                }
            }
        }
        let names = std::iter::once(question)
            .chain(recent.iter().copied())
            .flat_map(|text| {
                text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        Query { weights, names }
    }

    /// Whether `name` is written out whole in the question or the conversation
    /// (a tool the person or the model named, or the model called before).
    pub fn names(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// A tool's words by where they stand, weighted, and its group.
pub struct ToolText {
    terms: BTreeMap<String, f64>,
    length: f64,
    family: String,
    server: String,
}

impl ToolText {
    pub fn of(tool: &CatalogTool) -> ToolText {
        let mut terms: BTreeMap<String, f64> = BTreeMap::new();
        let mut length = 0.0;
        let mut add = |text: &str, weight: f64| {
            for word in words(text) {
                *terms.entry(word).or_insert(0.0) += weight;
                length += weight;
            }
        };
        add(tool.server_tool_name(), IN_NAME);
        add(&tool.server, IN_SERVER);
        if let Some(description) = &tool.tool.description {
            add(
                prefix_within(description, DESCRIPTION_BYTES),
                IN_DESCRIPTION,
            );
        }
        if let Some(serde_json::Value::Object(properties)) =
            tool.tool.input_schema.get("properties")
        {
            for name in properties.keys().take(PARAMETERS) {
                add(prefix_within(name, 64), IN_PARAMETER);
            }
        }
        ToolText {
            terms,
            length,
            family: family(tool.server_tool_name()),
            server: tool.server.clone(),
        }
    }
}

/// A tool's family: its name up to the second separator (`azure_vm_list` →
/// `azure_vm`), or the whole name when it has fewer parts.
fn family(name: &str) -> String {
    let mut parts = name.split(['_', '-', '.']).filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => format!("{a}_{b}").to_lowercase(),
        _ => name.to_lowercase(),
    }
}

/// Each tool's score for the query, in catalogue order.
pub fn scores(query: &Query, tools: &[ToolText]) -> Vec<f64> {
    let count = tools.len().max(1) as f64;
    let average = (tools.iter().map(|t| t.length).sum::<f64>() / count).max(1.0);
    // Rare words count more: each query word's inverse document frequency, once.
    let idf: BTreeMap<&str, f64> = query
        .weights
        .keys()
        .map(|word| {
            let holders = tools.iter().filter(|t| t.terms.contains_key(word)).count() as f64;
            (
                word.as_str(),
                (1.0 + (count - holders + 0.5) / (holders + 0.5)).ln(),
            )
        })
        .collect();
    let own: Vec<f64> = tools
        .iter()
        .map(|tool| {
            query
                .weights
                .iter()
                .filter_map(|(word, weight)| {
                    let tf = *tool.terms.get(word)?;
                    let idf = idf.get(word.as_str()).copied().unwrap_or(0.0);
                    let norm = K1 * (1.0 - B + B * tool.length / average);
                    Some(weight * idf * tf * (K1 + 1.0) / (tf + norm))
                })
                .sum()
        })
        .collect();
    let mut best_in_family: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    let mut best_on_server: BTreeMap<&str, f64> = BTreeMap::new();
    for (tool, score) in tools.iter().zip(&own) {
        let family = best_in_family
            .entry((tool.server.as_str(), tool.family.as_str()))
            .or_insert(0.0);
        *family = family.max(*score);
        let server = best_on_server.entry(tool.server.as_str()).or_insert(0.0);
        *server = server.max(*score);
    }
    tools
        .iter()
        .zip(own)
        .map(|(tool, score)| {
            let family = best_in_family[&(tool.server.as_str(), tool.family.as_str())];
            let server = best_on_server[tool.server.as_str()];
            score + FAMILY_SHARE * family + SERVER_SHARE * server
        })
        .collect()
}
