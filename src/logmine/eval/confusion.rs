//! Where a parse goes wrong, for people: true templates split over several
//! predicted templates, and predicted templates that mix true ones.

use std::collections::BTreeMap;

/// `SPLIT`/`MERGED` listings with line counts, lines grouped by template
/// text on both sides (as the outside evaluator groups them). Empty when
/// the grouping is exact.
pub fn confusions(truth: &[String], predicted: &[String]) -> String {
    let mut by_truth: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut by_predicted: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (t, p) in truth.iter().zip(predicted) {
        *by_truth.entry(t).or_default().entry(p).or_default() += 1;
        *by_predicted.entry(p).or_default().entry(t).or_default() += 1;
    }
    let mut out = String::new();
    let mut list = |label: &str, groups: &BTreeMap<&str, BTreeMap<&str, usize>>| {
        for (key, parts) in groups.iter().filter(|(_, parts)| parts.len() > 1) {
            out.push_str(&format!("{label} {key}\n"));
            for (text, n) in parts {
                out.push_str(&format!("    {n:>5} {text}\n"));
            }
        }
    };
    list("SPLIT", &by_truth);
    list("MERGED", &by_predicted);
    out
}
