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
//! Template texts are compared after trimming and collapsing runs of
//! whitespace, on both sides; nothing else is normalised.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{ClusterId, MinerConfig, TemplateMiner};

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

/// The labelled samples under `dir`: every `<Sys>/<Sys>_2k.log_structured_corrected.csv`,
/// by system name. Errors when there is none, saying what was expected.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let csv = entry
                .path()
                .join(format!("{name}_2k.log_structured_corrected.csv"));
            csv.is_file().then_some(csv)
        })
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!(
            "no dataset under {}: expected <Sys>/<Sys>_2k.log_structured_corrected.csv (the Loghub-2k layout)",
            dir.display()
        ));
    }
    Ok(found)
}

/// Reads one labelled sample.
pub fn load(csv: &Path) -> Result<Dataset, String> {
    let text =
        std::fs::read_to_string(csv).map_err(|e| format!("cannot read {}: {e}", csv.display()))?;
    let mut rows = parse_csv(&text).into_iter();
    let header = rows
        .next()
        .ok_or_else(|| format!("{} is empty", csv.display()))?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| format!("{} has no '{name}' column", csv.display()))
    };
    let (id, content, template) = (
        column("LineId")?,
        column("Content")?,
        column("EventTemplate")?,
    );
    let name = csv
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('_').next())
        .unwrap_or("?")
        .to_string();
    let mut dataset = Dataset {
        name,
        line_ids: Vec::new(),
        contents: Vec::new(),
        templates: Vec::new(),
    };
    for (number, row) in rows.enumerate() {
        let field = |i: usize| {
            row.get(i)
                .cloned()
                .ok_or_else(|| format!("{} row {}: too few fields", csv.display(), number + 2))
        };
        dataset.line_ids.push(field(id)?);
        dataset.contents.push(field(content)?);
        dataset.templates.push(field(template)?);
    }
    Ok(dataset)
}

/// Mines the dataset's contents in order with the default configuration:
/// each line's group, and its group's template once every line is in.
pub fn mine(dataset: &Dataset) -> (Vec<ClusterId>, Vec<String>) {
    let mut miner = TemplateMiner::new(MinerConfig::default());
    let ids: Vec<ClusterId> = dataset
        .contents
        .iter()
        .map(|line| miner.add(line, None))
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

/// `LineId,Template` rows, quoted where needed, for another evaluator.
pub fn assignments_csv(dataset: &Dataset, templates: &[String]) -> String {
    let mut out = String::from("LineId,Template\n");
    for (id, template) in dataset.line_ids.iter().zip(templates) {
        out.push_str(&csv_field(id));
        out.push(',');
        out.push_str(&csv_field(template));
        out.push('\n');
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Minimal RFC 4180 reader: quoted fields may hold commas, newlines and
/// doubled quotes. Returns rows of fields.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests;
