//! Log lines collapsed into templates (variables as `<*>`), each marked new or
//! spiking against a baseline window and ranked by how much it likely matters.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::backends::MessageCount;
use crate::logmine::{ClusterId, MinerConfig, TemplateMiner};
use crate::model::contract::ClusterBrief;
use crate::model::log::LogLevel;
use crate::support::text::clip;

/// Folds the stats of merged-away templates into the template each went into.
fn fold_merged(
    stats: HashMap<u64, ClusterStats>,
    resolve: impl Fn(u64) -> u64,
) -> HashMap<u64, ClusterStats> {
    let mut folded: HashMap<u64, ClusterStats> = HashMap::with_capacity(stats.len());
    for (id, s) in stats {
        let into = folded.entry(resolve(id)).or_default();
        into.count += s.count;
        into.baseline += s.baseline;
        into.first = match (into.first, s.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        into.last = into.last.max(s.last);
        into.level = into.level.max(s.level);
        into.pipelines.extend(s.pipelines);
        into.sources.extend(s.sources);
        for example in s.examples {
            if into.examples.len() < 2 {
                into.examples.push(example);
            }
        }
    }
    folded
}

/// What a cluster whose template the miner dropped (more distinct messages
/// than it keeps) reads as: its events still count, its examples still show.
const TEMPLATE_NOT_KEPT: &str =
    "[template not kept: more distinct messages than the miner holds; see the examples]";

#[derive(Default)]
struct ClusterStats {
    count: u64,
    baseline: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    level: Option<LogLevel>,
    pipelines: BTreeSet<String>,
    sources: BTreeSet<String>,
    examples: Vec<String>,
}

/// Clusters `current` events into templates, marking which are new or spiking
/// against `baseline` (same-length window before). Events come counted by
/// message (a source that counts where the logs are sends one row per message;
/// other lines count one each). `baseline_covered` says the baseline window had
/// logs at all (a quiet one has no warnings, yet is a baseline; one the source
/// keeps no history for is not). Ranked by what most likely matters.
pub fn cluster(
    current: &[MessageCount],
    baseline: &[MessageCount],
    baseline_covered: bool,
    top: usize,
) -> Vec<ClusterBrief> {
    let mut miner = TemplateMiner::new(MinerConfig::default());
    let mut stats: HashMap<u64, ClusterStats> = HashMap::new();
    for counted in baseline {
        let id = miner.add(&counted.line.message, Some(counted.last)).0;
        stats.entry(id).or_default().baseline += counted.count;
    }
    for counted in current {
        let line = &counted.line;
        let id = miner.add(&line.message, Some(counted.last)).0;
        let s = stats.entry(id).or_default();
        s.count += counted.count;
        s.first = Some(s.first.map_or(counted.first, |f| f.min(counted.first)));
        s.last = Some(s.last.map_or(counted.last, |l| l.max(counted.last)));
        s.level = Some(s.level.map_or(line.level, |l| l.max(line.level)));
        if let Some(p) = &line.pipeline {
            s.pipelines.insert(p.clone());
        }
        s.sources.insert(line.source.clone());
        if s.examples.len() < 2 {
            s.examples.push(clip(&line.message, 1_500));
        }
    }
    // Templates later lines showed to be one message were merged: their
    // events count under the template they went into.
    let stats = fold_merged(stats, |id| miner.resolve(ClusterId(id)).0);
    let templates: HashMap<u64, String> = miner
        .clusters()
        .into_iter()
        .map(|c| (c.id, c.template))
        .collect();
    let span = |counts: &[MessageCount]| -> f64 {
        let first = counts.iter().map(|c| c.first).min();
        let last = counts.iter().map(|c| c.last).max();
        match (first, last) {
            (Some(f), Some(l)) => ((l - f).num_seconds().max(3_600)) as f64,
            _ => 3_600.0,
        }
    };
    let (current_span, baseline_span) = (span(current), span(baseline).max(span(current)));
    let mut briefs: Vec<(f64, ClusterBrief)> = stats
        .into_iter()
        .filter(|(_, s)| s.count > 0)
        .map(|(id, s)| {
            let rate_ratio = (s.baseline > 0)
                .then(|| (s.count as f64 / current_span) / (s.baseline as f64 / baseline_span));
            let is_new = s.baseline == 0 && baseline_covered;
            let is_spike = s.count >= 5 && rate_ratio.is_some_and(|r| r >= 3.0);
            let level = s.level.unwrap_or(LogLevel::Info);
            let score = match level {
                LogLevel::Fatal | LogLevel::Error => 3.0,
                LogLevel::Warn => 1.5,
                _ => 0.5,
            } + if is_new { 2.0 } else { 0.0 }
                + if is_spike { 1.5 } else { 0.0 }
                + (s.count as f64).ln_1p() / 2.0;
            let brief = ClusterBrief {
                template: templates
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| TEMPLATE_NOT_KEPT.to_string()),
                count: s.count,
                baseline_count: s.baseline,
                first_seen: s.first,
                last_seen: s.last,
                level,
                pipelines: s.pipelines.into_iter().collect(),
                sources: s.sources.into_iter().collect(),
                examples: s.examples,
                is_new,
                is_spike,
                rate_ratio,
            };
            (score, brief)
        })
        .collect();
    briefs.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| b.1.count.cmp(&a.1.count))
            .then_with(|| a.1.template.cmp(&b.1.template))
    });
    briefs.into_iter().take(top).map(|(_, b)| b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::log::LogLine;
    use chrono::TimeZone;

    fn line(message: String, minute: u32) -> MessageCount {
        MessageCount::single(LogLine {
            timestamp: Utc
                .with_ymd_and_hms(2026, 12, 1, 3, minute % 60, 0)
                .unwrap(),
            level: LogLevel::Error,
            source: "app".into(),
            pipeline: None,
            run_id: None,
            activity: None,
            message,
        })
    }

    /// Templates merged after the fact (a user name turns out to vary) keep
    /// every event and read the merged template, not an empty one.
    #[test]
    fn merged_templates_keep_their_events_and_text() {
        let users = [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
        ];
        let current: Vec<MessageCount> = (0..80u32)
            .map(|i| {
                line(
                    format!(
                        "Invalid user {} from 10.0.0.{i}",
                        users[i as usize % users.len()]
                    ),
                    i,
                )
            })
            .collect();
        let baseline: Vec<MessageCount> = (0..8u32)
            .map(|i| {
                line(
                    format!("Invalid user {} from 10.1.0.{i}", users[i as usize]),
                    i,
                )
            })
            .collect();
        let briefs = cluster(&current, &baseline, true, 10);
        assert_eq!(briefs.len(), 1, "{briefs:#?}");
        assert_eq!(briefs[0].template, "Invalid user <*> from <*>");
        assert_eq!(briefs[0].count, 80);
        assert_eq!(briefs[0].baseline_count, 8);
        assert!(!briefs[0].is_new);
    }

    /// Events of templates the miner evicted still count, and say why they
    /// have no template text rather than showing an empty one.
    #[test]
    fn evicted_templates_are_labelled_not_blank() {
        let limit = MinerConfig::default().max_templates;
        let current: Vec<MessageCount> = (0..limit + 300)
            .map(|i| {
                let word = crate::logmine::test_support::letters(i);
                line(format!("{word} stage {word}x failed"), i as u32)
            })
            .collect();
        let briefs = cluster(&current, &[], true, usize::MAX);
        assert_eq!(
            briefs.iter().map(|b| b.count).sum::<u64>(),
            current.len() as u64
        );
        assert!(briefs.iter().all(|b| !b.template.is_empty()));
        let dropped = briefs.iter().filter(|b| b.template == TEMPLATE_NOT_KEPT);
        assert!(dropped.count() >= 300);
    }
}
