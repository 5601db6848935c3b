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

use std::collections::HashMap;

use super::{ClusterId, MinerConfig, TemplateMiner};

pub use confusion::confusions;
pub use csv_text::{assignments_csv, parse_csv};
pub use loghub::{MAX_SAMPLE_BYTES, discover, load};

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
        .map(|id| *resolved.entry(*id).or_insert_with(|| final_id(&miner, *id)))
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

/// Follows merges to the end: `resolve` is meant to answer in one step,
/// but a chain must not be cut short, and a cycle must not hang.
fn final_id(miner: &TemplateMiner, id: ClusterId) -> ClusterId {
    const MAX_HOPS: usize = 64;
    let mut current = id;
    for _ in 0..MAX_HOPS {
        let next = miner.resolve(current);
        if next == current {
            break;
        }
        current = next;
    }
    current
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

/// Whitespace-normalised text, for comparing templates.
pub fn normalise(template: &str) -> String {
    template.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Scores predicted groups and templates (one of each per line) against the
/// true templates.
pub fn score<G: std::hash::Hash + Eq>(
    groups: &[G],
    templates: &[String],
    truth: &[String],
) -> Scores {
    let lines = truth.len().min(groups.len()).min(templates.len());
    let truth: Vec<String> = truth[..lines].iter().map(|t| normalise(t)).collect();
    let templates: Vec<String> = templates[..lines].iter().map(|t| normalise(t)).collect();
    let mut true_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (line, t) in truth.iter().enumerate() {
        true_groups.entry(t).or_default().push(line);
    }
    let mut predicted: HashMap<&G, Vec<usize>> = HashMap::new();
    for (line, g) in groups[..lines].iter().enumerate() {
        predicted.entry(g).or_default().push(line);
    }
    let (mut grouped_lines, mut right_groups, mut right_templates) = (0, 0, 0);
    for members in predicted.values() {
        let first = truth[members[0]].as_str();
        let exact = members.iter().all(|&i| truth[i] == first)
            && true_groups.get(first).map_or(0, Vec::len) == members.len();
        if exact {
            grouped_lines += members.len();
            right_groups += 1;
            if templates[members[0]] == first {
                right_templates += 1;
            }
        }
    }
    let parsed = (0..lines).filter(|&i| templates[i] == truth[i]).count();
    let share = |n: usize, of: usize| if of == 0 { 1.0 } else { n as f64 / of as f64 };
    let f1 = |right: usize| {
        let (p, r) = (
            share(right, predicted.len()),
            share(right, true_groups.len()),
        );
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
        predicted_templates: predicted.len(),
        true_templates: true_groups.len(),
    }
}

#[cfg(test)]
mod tests;
