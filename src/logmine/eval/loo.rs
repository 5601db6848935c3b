//! Leave-one-system-out: the honest way to pick a configuration on the
//! systems we have and still say something about systems we have not seen.
//!
//! Every candidate configuration mines every system, each system's raw log
//! lines, and the synthetic suite's tie-break logs, once ([`run_grid`]).
//! Then, for each system in turn, the configuration with the best score on
//! the *other* systems is chosen and scored on the held-out one
//! ([`leave_one_out`]). The average of those held-out scores estimates
//! accuracy on unseen logs; the in-sample figures of one configuration on all
//! systems do not.
//!
//! The score a candidate is chosen by is the mean, over the systems chosen
//! on, of its text-GA on the `Content` messages and its text-GA on the same
//! system's raw lines (headers included) when they are there. The raw lines
//! are the same messages behind a prefix of variable fields — timestamps,
//! levels, thread ids, process names — and with the same truth: a setting
//! that only works once a parser has cut each line cleanly is tuned to the
//! parser, and logs from an unknown system are exactly the ones no parser
//! was written for. The figures reported for a held-out system are its
//! `Content` GA and PA (what the field and the issuer's evaluator measure),
//! with its raw-line GA beside them.
//!
//! Ties: mean `Content` PA on the same systems first. Many candidates still
//! tie: the Loghub systems hardly show the phenomena some knobs are about
//! (values of varying width, plain-word variables), so they cannot tell
//! those settings apart. The synthetic suite's mean GA ([`Grid::synthetic`])
//! decides among them — an independent criterion, generated logs full of
//! exactly those phenomena — and only then candidate order, which lists the
//! most conservative settings first (the highest similarity threshold and
//! K, the fewest merges): when nothing tells two settings apart, keeping
//! messages apart is the safer mistake for an on-call engineer than folding
//! two different errors into one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Dataset, Evaluation, MinerConfig, evaluate};

/// Values tried for [`MinerConfig::similarity_threshold`], most
/// conservative first.
pub const SIMILARITY_THRESHOLDS: [f64; 4] = [0.8, 0.7, 0.6, 0.5];
/// Values tried for [`MinerConfig::distinct_values_for_variable`], most
/// conservative first.
pub const DISTINCT_VALUES: [usize; 5] = [8, 6, 5, 4, 3];
/// Values tried for [`MinerConfig::merge_variable_lengths`].
pub const MERGE_VARIABLE_LENGTHS: [bool; 2] = [false, true];

/// The candidate configurations, in the order that breaks remaining ties:
/// [`MinerConfig::default`] with the three tuned fields varied (threshold
/// outermost, variable-lengths innermost), most conservative first.
pub fn candidate_grid() -> Vec<MinerConfig> {
    let mut grid = Vec::new();
    for similarity_threshold in SIMILARITY_THRESHOLDS {
        for distinct_values_for_variable in DISTINCT_VALUES {
            for merge_variable_lengths in MERGE_VARIABLE_LENGTHS {
                grid.push(MinerConfig {
                    similarity_threshold,
                    distinct_values_for_variable,
                    merge_variable_lengths,
                    ..MinerConfig::default()
                });
            }
        }
    }
    grid
}

/// The three tuned fields, for tables and messages.
pub fn describe(config: &MinerConfig) -> String {
    format!(
        "sim {:.2} K {} varlen {}",
        config.similarity_threshold,
        config.distinct_values_for_variable,
        if config.merge_variable_lengths {
            "on"
        } else {
            "off"
        }
    )
}

/// Whether two configurations agree on the three tuned fields.
pub fn same_tuning(a: &MinerConfig, b: &MinerConfig) -> bool {
    a.similarity_threshold == b.similarity_threshold
        && a.distinct_values_for_variable == b.distinct_values_for_variable
        && a.merge_variable_lengths == b.merge_variable_lengths
}

/// Every candidate's result on every system, on the systems' raw lines, and
/// on the tie-break logs.
#[derive(Debug, Clone)]
pub struct Grid {
    pub configs: Vec<MinerConfig>,
    pub systems: Vec<String>,
    /// `results[config][system]`, on the `Content` messages.
    pub results: Vec<Vec<Evaluation>>,
    /// `raw[config][system]`: text-GA on the system's raw lines; empty rows
    /// when the grid was run without them.
    pub raw: Vec<Vec<f64>>,
    /// `synthetic[config]`: mean text-GA over the tie-break logs (the
    /// synthetic suite), 0 for every candidate when there are none.
    pub synthetic: Vec<f64>,
}

/// Mines each (configuration, log) pair exactly once — the systems' logs,
/// their raw twins and the tie-break logs alike — spread over the machine's
/// cores with scoped threads (each pair is independent). `raw` is either
/// empty or one raw-line twin per system, in the same order; anything else
/// is an error (the criterion would compare a system with another's lines).
pub fn run_grid(
    datasets: &[Dataset],
    raw: &[Dataset],
    tie_break: &[Dataset],
    configs: Vec<MinerConfig>,
) -> Result<Grid, String> {
    let systems = datasets.len();
    let twins_match = raw.len() == systems
        && raw
            .iter()
            .zip(datasets)
            .all(|(r, d)| r.name == d.name && r.templates.len() == d.templates.len());
    if !raw.is_empty() && !twins_match {
        return Err(format!(
            "raw lines were given for {} system(s), not one for each of the {systems} \
             labelled samples in the same order",
            raw.len()
        ));
    }
    let logs: Vec<&Dataset> = datasets.iter().chain(raw).chain(tie_break).collect();
    let (twins_end, logs_count) = (systems + raw.len(), logs.len());
    let jobs = configs.len() * logs_count;
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Evaluation)>> = Mutex::new(Vec::with_capacity(jobs));
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, jobs.max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let job = next.fetch_add(1, Ordering::Relaxed);
                    if job >= jobs {
                        break;
                    }
                    let result = evaluate(logs[job % logs_count], &configs[job / logs_count]);
                    // A poisoned lock only means another worker panicked;
                    // that panic reaches the caller when the scope ends.
                    if let Ok(mut done) = done.lock() {
                        done.push((job, result));
                    }
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(job, _)| *job);
    let mut results = vec![Vec::with_capacity(systems); configs.len()];
    let mut raw_ga = vec![Vec::with_capacity(raw.len()); configs.len()];
    let mut synthetic = vec![0.0; configs.len()];
    for (job, result) in done {
        let (config, log) = (job / logs_count, job % logs_count);
        if log < systems {
            results[config].push(result);
        } else if log < twins_end {
            raw_ga[config].push(result.text.ga);
        } else {
            synthetic[config] += result.text.ga / tie_break.len() as f64;
        }
    }
    Ok(Grid {
        configs,
        systems: datasets.iter().map(|d| d.name.clone()).collect(),
        results,
        raw: raw_ga,
        synthetic,
    })
}

/// Whether the grid holds raw-line results (one per system).
fn has_raw(grid: &Grid) -> bool {
    grid.raw
        .first()
        .is_some_and(|row| row.len() == grid.systems.len())
}

/// The GA a candidate is chosen by on one system: the mean of its
/// `Content` and raw-line text-GA, or the `Content` GA alone when the grid
/// has no raw lines.
pub fn criterion(grid: &Grid, config: usize, system: usize) -> f64 {
    let content = grid.results[config][system].text.ga;
    if has_raw(grid) {
        (content + grid.raw[config][system]) / 2.0
    } else {
        content
    }
}

/// Mean criterion GA and `Content` text-PA of `config` over `systems`.
fn scores_on(grid: &Grid, config: usize, systems: &[usize]) -> (f64, f64) {
    let (ga, pa) = systems.iter().fold((0.0, 0.0), |(ga, pa), &s| {
        (
            ga + criterion(grid, config, s),
            pa + grid.results[config][s].text.pa,
        )
    });
    let n = systems.len().max(1) as f64;
    (ga / n, pa / n)
}

/// The configuration chosen on the systems `on` selects: best mean
/// [`criterion`] GA, then best mean text-PA, then best synthetic-suite GA
/// ([`Grid::synthetic`]), then the first in candidate order. `None` when
/// there is no candidate or no system to choose on.
pub fn pick(grid: &Grid, on: impl Fn(usize) -> bool) -> Option<usize> {
    let chosen: Vec<usize> = (0..grid.systems.len()).filter(|&s| on(s)).collect();
    if chosen.is_empty() {
        return None;
    }
    let rank = |config: usize| {
        let (ga, pa) = scores_on(grid, config, &chosen);
        [ga, pa, grid.synthetic[config]]
    };
    let mut best: Option<(usize, [f64; 3])> = None;
    for config in 0..grid.configs.len() {
        let key = rank(config);
        // Strictly better only: an equal later candidate keeps the earlier.
        if best.is_none_or(|(_, b)| key.partial_cmp(&b) == Some(std::cmp::Ordering::Greater)) {
            best = Some((config, key));
        }
    }
    best.map(|(config, _)| config)
}

/// The candidates that score exactly as well as `chosen` (mean criterion GA
/// and PA)
/// on the systems `on` selects: those systems could not tell them apart, so
/// the synthetic suite, or failing that candidate order, chose among them.
pub fn tied_with(grid: &Grid, chosen: usize, on: impl Fn(usize) -> bool) -> Vec<usize> {
    let systems: Vec<usize> = (0..grid.systems.len()).filter(|&s| on(s)).collect();
    let target = scores_on(grid, chosen, &systems);
    (0..grid.configs.len())
        .filter(|&c| c != chosen && scores_on(grid, c, &systems) == target)
        .collect()
}

/// Of `ties`, those the synthetic suite cannot tell from `chosen` either:
/// candidate order decided between them.
pub fn left_to_order(grid: &Grid, chosen: usize, ties: &[usize]) -> Vec<usize> {
    ties.iter()
        .copied()
        .filter(|&c| grid.synthetic[c] == grid.synthetic[chosen])
        .collect()
}

/// One held-out system: the configuration chosen without it, and how that
/// configuration did on it.
#[derive(Debug, Clone)]
pub struct HeldOut {
    pub system: String,
    /// Index into [`Grid::configs`].
    pub config: usize,
    /// On the `Content` messages.
    pub result: Evaluation,
    /// Text-GA on the raw lines, when the grid has them.
    pub raw_ga: Option<f64>,
}

/// The protocol's outcome.
#[derive(Debug, Clone)]
pub struct LooReport {
    pub held_out: Vec<HeldOut>,
    /// Mean held-out text GA and PA: the figures to quote.
    pub mean_ga: f64,
    pub mean_pa: f64,
    pub mean_id_ga: f64,
    /// Mean held-out raw-line text-GA, when the grid has raw lines.
    pub mean_raw_ga: Option<f64>,
    /// The configuration the protocol picks on all systems: the one a
    /// default should be.
    pub pick_on_all: usize,
}

/// Runs leave-one-system-out over a grid. Needs at least two systems (one
/// to hold out, one to choose on) and one candidate.
pub fn leave_one_out(grid: &Grid) -> Result<LooReport, String> {
    let systems = grid.systems.len();
    if systems < 2 {
        return Err(format!(
            "leave-one-out needs at least two systems, found {systems}: \
             point it at a directory holding several <Sys>/ samples"
        ));
    }
    let pick_on_all =
        pick(grid, |_| true).ok_or("leave-one-out needs at least one candidate configuration")?;
    let mut held_out = Vec::with_capacity(systems);
    for system in 0..systems {
        let config =
            pick(grid, |s| s != system).ok_or("no candidate to choose from (empty grid)")?;
        held_out.push(HeldOut {
            system: grid.systems[system].clone(),
            config,
            result: grid.results[config][system],
            raw_ga: has_raw(grid).then(|| grid.raw[config][system]),
        });
    }
    let mean = |f: fn(&HeldOut) -> f64| held_out.iter().map(f).sum::<f64>() / systems as f64;
    Ok(LooReport {
        mean_ga: mean(|h| h.result.text.ga),
        mean_pa: mean(|h| h.result.text.pa),
        mean_id_ga: mean(|h| h.result.id_ga),
        mean_raw_ga: has_raw(grid).then(|| mean(|h| h.raw_ga.unwrap_or(0.0))),
        pick_on_all,
        held_out,
    })
}

/// The held-out table, one row per system and the average, then the pick
/// on all systems, for terminals and test output.
pub fn render(grid: &Grid, report: &LooReport) -> String {
    let by = if has_raw(grid) {
        "the mean of Content GA and raw-line GA"
    } else {
        "mean GA"
    };
    let mut out = format!(
        "chosen on the others by {by}, then PA; ties by the synthetic suite's GA, \
         then candidate order\n"
    );
    let raw = |ga: Option<f64>| ga.map_or_else(|| "-".to_string(), |g| format!("{g:.3}"));
    out.push_str(&format!(
        "{:<12} {:<24} {:>4} {:>6} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}\n",
        "held out",
        "chosen on the others",
        "ties",
        "synth",
        "order",
        "GA",
        "PA",
        "FGA",
        "FTA",
        "id-GA",
        "raw-GA"
    ));
    for (system, h) in report.held_out.iter().enumerate() {
        let s = &h.result.text;
        let ties = tied_with(grid, h.config, |other| other != system);
        let order = left_to_order(grid, h.config, &ties).len();
        out.push_str(&format!(
            "{:<12} {:<24} {:>4} {:>6.3} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6}\n",
            h.system,
            describe(&grid.configs[h.config]),
            ties.len(),
            grid.synthetic[h.config],
            order,
            s.ga,
            s.pa,
            s.fga,
            s.fta,
            h.result.id_ga,
            raw(h.raw_ga)
        ));
    }
    out.push_str(&format!(
        "{:<12} {:<24} {:>4} {:>6} {:>5} {:>6.3} {:>6.3} {:>6} {:>6} {:>6.3} {:>6}\n",
        "average",
        "",
        "",
        "",
        "",
        report.mean_ga,
        report.mean_pa,
        "",
        "",
        report.mean_id_ga,
        raw(report.mean_raw_ga)
    ));
    out.push_str(
        "(GA, PA, FGA, FTA, id-GA on the Content messages; raw-GA on the whole lines; \
         ties: other candidates as good on the others' criterion and PA; synth: the chosen \
         one's synthetic GA; order: ties the synthetic suite left to candidate order)\n",
    );
    out.push_str(&describe_pick(grid, report.pick_on_all));
    out
}

/// The pick on all systems, and what decided it.
pub fn describe_pick(grid: &Grid, chosen: usize) -> String {
    let ties = tied_with(grid, chosen, |_| true);
    let order = left_to_order(grid, chosen, &ties);
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let how = if ties.is_empty() {
        String::new()
    } else if order.is_empty() {
        let runner_up = ties.iter().map(|&c| grid.synthetic[c]).fold(0.0, f64::max);
        format!(
            " (tied on the {} with {} other candidate{}; the synthetic suite decided: \
             GA {:.3}, the best of the others {runner_up:.3})",
            grid.systems.len(),
            ties.len(),
            plural(ties.len()),
            grid.synthetic[chosen]
        )
    } else {
        format!(
            " (tied on the {} with {} other candidate{}; {} of them score the same on the \
             synthetic suite, GA {:.3}: decided by candidate order)",
            grid.systems.len(),
            ties.len(),
            plural(ties.len()),
            order.len(),
            grid.synthetic[chosen]
        )
    };
    format!(
        "pick on all {}: {}{how}\n",
        grid.systems.len(),
        describe(&grid.configs[chosen])
    )
}
