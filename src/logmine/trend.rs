//! Incident window vs. baseline window: what is new, what spiked, what to
//! look at first.
//!
//! Definitions (per template of the current window):
//! * rates are events per hour over each window's span (spans shorter than
//!   one minute count as one minute, so an empty or zero span cannot divide
//!   by zero or inflate rates absurdly);
//! * `baseline_count` sums the baseline templates that are the same template
//!   or *compatible* with it (same length, every position equal or `<*>` on
//!   either side, at least half the positions literally equal) — the two
//!   windows are mined separately, so one may have generalised a slot the
//!   other has not;
//! * `is_new`: nothing in the baseline matches;
//! * `is_spike`: not new, at least [`SPIKE_MIN_COUNT`] events now, and the
//!   current rate is at least [`SPIKE_RATIO`] × the baseline rate;
//! * `rank_score = severity × novelty × (1 + ln(1 + count))` where severity
//!   is 2 for error-looking templates, 1.4 for warnings, else 1; novelty is
//!   4 for new templates, otherwise `1 + log2(rate_ratio)` clamped to
//!   `[0.25, 4]` (so quieter-than-usual templates sink).

use super::mask::WILDCARD;
use super::miner::Cluster;
use chrono::Duration;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::HashMap;

/// Current/baseline rate ratio at or above which a template has spiked.
pub const SPIKE_RATIO: f64 = 3.0;
/// Fewer events than this never count as a spike (1 → 3 is noise).
pub const SPIKE_MIN_COUNT: u64 = 5;

const MIN_SPAN_MS: i64 = 60_000;
const NEW_NOVELTY: f64 = 4.0;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClusterTrend {
    pub template: String,
    /// Id of the cluster in the current window.
    pub cluster_id: u64,
    pub count: u64,
    pub baseline_count: u64,
    pub is_new: bool,
    pub is_spike: bool,
    /// Current rate / baseline rate; `None` when new.
    pub rate_ratio: Option<f64>,
    pub rate_per_hour: f64,
    pub baseline_rate_per_hour: f64,
    /// Template reads like an error (error, failed, exception, timeout, ...).
    pub is_error: bool,
    /// Higher = more likely to matter; see module docs for the formula.
    pub rank_score: f64,
}

/// One trend per current cluster, highest `rank_score` first.
pub fn compare_with_baseline(
    current: &[Cluster],
    baseline: &[Cluster],
    current_span: Duration,
    baseline_span: Duration,
) -> Vec<ClusterTrend> {
    let cur_hours = hours(current_span);
    let base_hours = hours(baseline_span);

    let mut exact: HashMap<&str, u64> = HashMap::new();
    let mut by_len: HashMap<usize, Vec<(Vec<&str>, u64)>> = HashMap::new();
    for b in baseline {
        *exact.entry(b.template.as_str()).or_default() += b.count;
        let toks: Vec<&str> = b.template.split(' ').collect();
        by_len.entry(toks.len()).or_default().push((toks, b.count));
    }

    let mut out: Vec<ClusterTrend> = current
        .iter()
        .map(|c| {
            let baseline_count = match exact.get(c.template.as_str()) {
                Some(&n) => n,
                None => {
                    let toks: Vec<&str> = c.template.split(' ').collect();
                    by_len
                        .get(&toks.len())
                        .map(|cands| {
                            cands
                                .iter()
                                .filter(|(b, _)| compatible(&toks, b))
                                .map(|(_, n)| n)
                                .sum()
                        })
                        .unwrap_or(0)
                }
            };
            let rate = c.count as f64 / cur_hours;
            let base_rate = baseline_count as f64 / base_hours;
            let is_new = baseline_count == 0;
            let rate_ratio = (!is_new).then(|| rate / base_rate);
            let is_spike =
                rate_ratio.is_some_and(|r| r >= SPIKE_RATIO) && c.count >= SPIKE_MIN_COUNT;
            let severity = severity(&c.template);
            let novelty = match rate_ratio {
                None => NEW_NOVELTY,
                Some(r) => (1.0 + r.log2()).clamp(0.25, NEW_NOVELTY),
            };
            let rank_score = severity * novelty * (1.0 + (1.0 + c.count as f64).ln());
            ClusterTrend {
                template: c.template.clone(),
                cluster_id: c.id,
                count: c.count,
                baseline_count,
                is_new,
                is_spike,
                rate_ratio,
                rate_per_hour: rate,
                baseline_rate_per_hour: base_rate,
                is_error: severity >= ERROR_SEVERITY,
                rank_score,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.rank_score
            .total_cmp(&a.rank_score)
            .then_with(|| b.count.cmp(&a.count))
            .then_with(|| a.template.cmp(&b.template))
    });
    out
}

fn hours(span: Duration) -> f64 {
    span.num_milliseconds().max(MIN_SPAN_MS) as f64 / 3_600_000.0
}

/// Same template up to slots one side has generalised and the other not.
fn compatible(a: &[&str], b: &[&str]) -> bool {
    let mut equal = 0;
    for (x, y) in a.iter().zip(b) {
        if x == y {
            if *x != WILDCARD {
                equal += 1;
            }
        } else if *x != WILDCARD && *y != WILDCARD {
            return false;
        }
    }
    a.len() == b.len() && equal * 2 >= a.len()
}

const ERROR_SEVERITY: f64 = 2.0;
const WARN_SEVERITY: f64 = 1.4;

fn severity(template: &str) -> f64 {
    const ERROR_WORDS: &[&str] = &[
        "error",
        "errors",
        "err",
        "fatal",
        "fail",
        "fails",
        "failed",
        "failure",
        "failing",
        "panic",
        "critical",
        "crit",
        "severe",
        "emerg",
        "emergency",
        "timeout",
        "timed",
        "refused",
        "denied",
        "unreachable",
        "killed",
        "oom",
        "abort",
        "aborted",
        "aborting",
        "corrupt",
        "corrupted",
        "crash",
        "crashed",
        "unavailable",
        "cannot",
        "unable",
        "invalid",
        "lost",
    ];
    let mut warn = false;
    for word in template.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if ERROR_WORDS.contains(&lower.as_str())
            || lower.ends_with("exception")
            || lower.ends_with("error")
        {
            return ERROR_SEVERITY;
        }
        warn |= lower == "warn" || lower == "warning";
    }
    if warn { WARN_SEVERITY } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(id: u64, template: &str, count: u64) -> Cluster {
        Cluster {
            id,
            template: template.into(),
            count,
            first_seen: None,
            last_seen: None,
            examples: vec![],
            params: vec![],
        }
    }

    fn find<'a>(t: &'a [ClusterTrend], template: &str) -> &'a ClusterTrend {
        t.iter().find(|x| x.template == template).unwrap()
    }

    #[test]
    fn template_absent_from_baseline_is_new() {
        let cur = [
            cluster(1, "Connection to <*> refused", 3),
            cluster(2, "heartbeat ok", 60),
        ];
        let base = [cluster(9, "heartbeat ok", 600)];
        let t = compare_with_baseline(&cur, &base, Duration::hours(1), Duration::hours(10));
        let new = find(&t, "Connection to <*> refused");
        assert!(new.is_new && !new.is_spike && new.rate_ratio.is_none());
        assert_eq!(new.baseline_count, 0);
        let hb = find(&t, "heartbeat ok");
        assert!(!hb.is_new && !hb.is_spike);
        assert_eq!(hb.rate_ratio, Some(1.0));
        assert_eq!(
            t[0].template, "Connection to <*> refused",
            "new error ranks first"
        );
    }

    #[test]
    fn spike_needs_rate_ratio_and_minimum_count() {
        // 30/h now vs 5/h in baseline: 6x, and enough events.
        let cur = [
            cluster(1, "Retrying write to <*>", 30),
            cluster(2, "GC pause <*> ms", 4),
        ];
        let base = [
            cluster(7, "Retrying write to <*>", 120),
            cluster(8, "GC pause <*> ms", 1),
        ];
        let t = compare_with_baseline(&cur, &base, Duration::hours(1), Duration::hours(24));
        let r = find(&t, "Retrying write to <*>");
        assert!(r.is_spike && !r.is_new);
        assert!((r.rate_ratio.unwrap_or_default() - 6.0).abs() < 1e-9);
        // 4/h vs 1/24h is a huge ratio but only 4 events: not a spike.
        let g = find(&t, "GC pause <*> ms");
        assert!(!g.is_spike);
    }

    #[test]
    fn steady_rate_is_neither_new_nor_spike() {
        let cur = [cluster(1, "request served in <*> ms", 100)];
        let base = [cluster(2, "request served in <*> ms", 2400)];
        let t = compare_with_baseline(&cur, &base, Duration::hours(1), Duration::hours(24));
        assert!(!t[0].is_new && !t[0].is_spike);
    }

    #[test]
    fn differently_generalised_templates_still_match() {
        let cur = [cluster(1, "user <*> logged in from <*>", 10)];
        let base = [
            cluster(2, "user alice logged in from <*>", 4),
            cluster(3, "user bob logged in from <*>", 6),
        ];
        let t = compare_with_baseline(&cur, &base, Duration::hours(1), Duration::hours(1));
        assert_eq!(t[0].baseline_count, 10);
        assert!(!t[0].is_new);
    }

    #[test]
    fn errors_outrank_info_at_equal_novelty() {
        let cur = [
            cluster(1, "cache warmed", 50),
            cluster(2, "write failed: disk full", 50),
        ];
        let t = compare_with_baseline(&cur, &[], Duration::zero(), Duration::zero());
        assert_eq!(t[0].template, "write failed: disk full");
        assert!(t[0].is_error && !t[1].is_error);
        assert!(t.iter().all(|x| x.rank_score.is_finite()));
    }
}
