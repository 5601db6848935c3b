//! Measuring the miner the way the log-parsing field does (Jiang et al.,
//! "A Large-scale Evaluation for Log Parsing Techniques: How Far are We?",
//! ISSTA 2024), on datasets in the Loghub-2k layout:
//! `<DIR>/<Sys>/<Sys>_2k.log_structured_corrected.csv` with the columns
//! `LineId`, `Content` and `EventTemplate`.
//!
//! * **GA**, grouping accuracy: the share of lines whose predicted group holds
//!   exactly the lines that share its true template.
//! * **PA**, parsing accuracy: the share of lines whose template text equals
//!   the true template.
//! * **FGA**, the F1 of grouping over templates: a predicted group is right
//!   when its lines are exactly one true template's lines.
//! * **FTA**, the F1 of template accuracy: a predicted template is right when
//!   its group is right and its text equals the true template.
//!
//! Grouping is scored the way the issuer's outside evaluator sees it: from
//! the `LineId,Template` assignments alone, so lines are grouped by their
//! final template *text* ([`Evaluation::text`]). Two clusters that end with
//! the same text are one group there, and so here; the grouping by cluster
//! id ([`Evaluation::id_ga`]) is reported beside it.
//!
//! Template texts are compared after trimming and collapsing runs of
//! whitespace, on both sides; nothing else is normalised.
//!
//! [`loo`] holds the leave-one-system-out protocol, [`synthetic`] generated
//! logs with known truth, one per phenomenon the Loghub eight may not show
//! (the protocol breaks ties the eight leave with their mean GA).

mod confusion;
mod csv_text;
mod loghub;
pub mod loo;
pub mod synthetic;

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hash;

use super::{ClusterId, MinerConfig, TemplateMiner};

pub use confusion::confusions;
pub use csv_text::{assignments_csv, parse_csv};
pub use loghub::{MAX_SAMPLE_BYTES, discover, load, load_raw};

/// One system's labelled sample.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    pub line_ids: Vec<String>,
    /// The message of each line (the `Content` field: the log line after its header).
    pub contents: Vec<String>,
    /// The true template of each line.
    pub templates: Vec<String>,
}

/// How a parse scores against the truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub ga: f64,
    pub pa: f64,
    pub fga: f64,
    pub fta: f64,
    pub predicted_templates: usize,
    pub true_templates: usize,
}

/// One configuration's result on one dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Lines grouped by template text, as the outside evaluator groups
    /// them: the primary score.
    pub text: Scores,
    /// GA with lines grouped by (resolved) cluster id instead.
    pub id_ga: f64,
}

/// Mines the dataset's contents in order with the default configuration
/// (see [`mine_with`]).
pub fn mine(dataset: &Dataset) -> (Vec<ClusterId>, Vec<String>) {
    mine_with(dataset, &MinerConfig::default())
}

/// Mines the dataset's contents in order: each line's cluster, resolved
/// through [`TemplateMiner::resolve`] to the template it ended up in, and
/// that template's text read once every line is in (what
/// `--write-assignments` writes). An evicted template reads as empty text.
pub fn mine_with(dataset: &Dataset, config: &MinerConfig) -> (Vec<ClusterId>, Vec<String>) {
    let mut miner = TemplateMiner::new(config.clone());
    let added: Vec<ClusterId> = dataset
        .contents
        .iter()
        .map(|line| miner.add(line, None))
        .collect();
    let mut resolved: HashMap<ClusterId, ClusterId> = HashMap::new();
    let ids: Vec<ClusterId> = added
        .iter()
        .map(|id| *resolved.entry(*id).or_insert_with(|| miner.resolve(*id)))
        .collect();
    let mut texts: HashMap<ClusterId, String> = HashMap::new();
    let templates = ids
        .iter()
        .map(|id| {
            texts
                .entry(*id)
                .or_insert_with(|| miner.template_of(*id).unwrap_or_default())
                .clone()
        })
        .collect();
    (ids, templates)
}

/// Mines and scores one dataset with `config`: grouped by text (primary)
/// and by id.
pub fn evaluate(dataset: &Dataset, config: &MinerConfig) -> Evaluation {
    let (ids, templates) = mine_with(dataset, config);
    score_mined(&ids, &templates, &dataset.templates)
}

/// Scores mined lines both ways (see [`Evaluation`]).
pub fn score_mined(ids: &[ClusterId], templates: &[String], truth: &[String]) -> Evaluation {
    Evaluation {
        text: score(templates, templates, truth),
        id_ga: score(ids, templates, truth).ga,
    }
}

/// Whitespace-normalised text, for comparing templates: borrowed when the
/// text is normal already (most are, and scoring runs 40 candidates over
/// every line, so allocating for each would dominate).
pub fn normalise(template: &str) -> Cow<'_, str> {
    let mut previous_space = true;
    let normal = template.chars().all(|c| {
        let ok = if c.is_whitespace() {
            c == ' ' && !previous_space
        } else {
            true
        };
        previous_space = c.is_whitespace();
        ok
    }) && !template.ends_with(char::is_whitespace);
    if normal {
        Cow::Borrowed(template)
    } else {
        Cow::Owned(template.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// A dense number for each item's value (0, 1, … in order of first
/// appearance), and how many distinct values there are.
fn dense_ids<T: Hash + Eq>(items: impl Iterator<Item = T>) -> (Vec<usize>, usize) {
    let mut seen: HashMap<T, usize> = HashMap::new();
    let ids = items
        .map(|item| {
            let next = seen.len();
            *seen.entry(item).or_insert(next)
        })
        .collect();
    (ids, seen.len())
}

/// Scores predicted groups and templates (one of each per line) against the
/// true templates.
pub fn score<G: Hash + Eq>(groups: &[G], templates: &[String], truth: &[String]) -> Scores {
    let lines = truth.len().min(groups.len()).min(templates.len());
    let truth: Vec<Cow<str>> = truth[..lines].iter().map(|t| normalise(t)).collect();
    let templates: Vec<Cow<str>> = templates[..lines].iter().map(|t| normalise(t)).collect();
    let (true_ids, true_groups) = dense_ids(truth.iter());
    let (group_ids, predicted_groups) = dense_ids(groups[..lines].iter());
    let mut true_size = vec![0usize; true_groups];
    for &t in &true_ids {
        true_size[t] += 1;
    }
    // Per predicted group: its first line, its size, and whether every one
    // of its lines has the first line's true template.
    let mut first_line = vec![usize::MAX; predicted_groups];
    let mut size = vec![0usize; predicted_groups];
    let mut pure = vec![true; predicted_groups];
    for (line, &g) in group_ids.iter().enumerate() {
        if first_line[g] == usize::MAX {
            first_line[g] = line;
        } else if true_ids[line] != true_ids[first_line[g]] {
            pure[g] = false;
        }
        size[g] += 1;
    }
    let (mut grouped_lines, mut right_groups, mut right_templates) = (0, 0, 0);
    for g in 0..predicted_groups {
        let first = first_line[g];
        if pure[g] && true_size[true_ids[first]] == size[g] {
            grouped_lines += size[g];
            right_groups += 1;
            if templates[first] == truth[first] {
                right_templates += 1;
            }
        }
    }
    let parsed = (0..lines).filter(|&i| templates[i] == truth[i]).count();
    let share = |n: usize, of: usize| if of == 0 { 1.0 } else { n as f64 / of as f64 };
    let f1 = |right: usize| {
        let (p, r) = (share(right, predicted_groups), share(right, true_groups));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    };
    Scores {
        ga: share(grouped_lines, lines),
        pa: share(parsed, lines),
        fga: f1(right_groups),
        fta: f1(right_templates),
        predicted_templates: predicted_groups,
        true_templates: true_groups,
    }
}

#[cfg(test)]
mod tests;
