//! Leave-one-system-out: the honest way to pick a configuration on the
//! systems we have and still say something about systems we have not seen.
//!
//! Every candidate configuration mines every system once ([`run_grid`]).
//! Then, for each system in turn, the configuration with the best mean
//! text-GA on the *other* systems is chosen (mean PA breaks ties, then the
//! candidates' order) and scored on the held-out one ([`leave_one_out`]).
//! The average of those held-out scores estimates accuracy on unseen logs;
//! the in-sample figures of one configuration on all systems do not.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Dataset, Evaluation, MinerConfig, evaluate};

/// Values tried for [`MinerConfig::similarity_threshold`].
pub const SIMILARITY_THRESHOLDS: [f64; 4] = [0.5, 0.6, 0.7, 0.8];
/// Values tried for [`MinerConfig::distinct_values_for_variable`].
pub const DISTINCT_VALUES: [usize; 5] = [3, 4, 5, 6, 8];
/// Values tried for [`MinerConfig::merge_variable_lengths`].
pub const MERGE_VARIABLE_LENGTHS: [bool; 2] = [false, true];

/// The candidate configurations, in the order that breaks remaining ties:
/// [`MinerConfig::default`] with the three tuned fields varied (threshold
/// outermost, variable-lengths innermost).
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

/// Every candidate's result on every system.
#[derive(Debug, Clone)]
pub struct Grid {
    pub configs: Vec<MinerConfig>,
    pub systems: Vec<String>,
    /// `results[config][system]`.
    pub results: Vec<Vec<Evaluation>>,
}

/// Mines each (configuration, system) pair exactly once, spread over the
/// machine's cores with scoped threads (each pair is independent).
pub fn run_grid(datasets: &[Dataset], configs: Vec<MinerConfig>) -> Grid {
    let systems = datasets.len();
    let jobs = configs.len() * systems;
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
                    let result = evaluate(&datasets[job % systems], &configs[job / systems]);
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
    for (job, result) in done {
        results[job / systems].push(result);
    }
    Grid {
        configs,
        systems: datasets.iter().map(|d| d.name.clone()).collect(),
        results,
    }
}

/// The configuration chosen on the systems `on` selects: best mean text-GA,
/// then best mean text-PA, then the first in candidate order. `None` when
/// there is no candidate or no system to choose on.
pub fn pick(grid: &Grid, on: impl Fn(usize) -> bool) -> Option<usize> {
    let chosen: Vec<usize> = (0..grid.systems.len()).filter(|&s| on(s)).collect();
    if chosen.is_empty() {
        return None;
    }
    let mean = |config: usize, metric: fn(&Evaluation) -> f64| {
        chosen
            .iter()
            .map(|&s| metric(&grid.results[config][s]))
            .sum::<f64>()
            / chosen.len() as f64
    };
    let mut best: Option<(usize, f64, f64)> = None;
    for config in 0..grid.configs.len() {
        let (ga, pa) = (mean(config, |e| e.text.ga), mean(config, |e| e.text.pa));
        // Strictly better only: an equal later candidate keeps the earlier.
        let better = best.is_none_or(|(_, bga, bpa)| ga > bga || (ga == bga && pa > bpa));
        if better {
            best = Some((config, ga, pa));
        }
    }
    best.map(|(config, _, _)| config)
}

/// The candidates that score exactly as well as `chosen` (mean GA and PA)
/// on the systems `on` selects: a pick tied with many others was decided by
/// candidate order, not by the data.
pub fn tied_with(grid: &Grid, chosen: usize, on: impl Fn(usize) -> bool) -> Vec<usize> {
    let systems: Vec<usize> = (0..grid.systems.len()).filter(|&s| on(s)).collect();
    let key = |config: usize| -> (f64, f64) {
        systems.iter().fold((0.0, 0.0), |(ga, pa), &s| {
            let e = &grid.results[config][s];
            (ga + e.text.ga, pa + e.text.pa)
        })
    };
    let target = key(chosen);
    (0..grid.configs.len())
        .filter(|&c| c != chosen && key(c) == target)
        .collect()
}

/// One held-out system: the configuration chosen without it, and how that
/// configuration did on it.
#[derive(Debug, Clone)]
pub struct HeldOut {
    pub system: String,
    /// Index into [`Grid::configs`].
    pub config: usize,
    pub result: Evaluation,
}

/// The protocol's outcome.
#[derive(Debug, Clone)]
pub struct LooReport {
    pub held_out: Vec<HeldOut>,
    /// Mean held-out text GA and PA: the figures to quote.
    pub mean_ga: f64,
    pub mean_pa: f64,
    pub mean_id_ga: f64,
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
        });
    }
    let mean = |f: fn(&HeldOut) -> f64| held_out.iter().map(f).sum::<f64>() / systems as f64;
    Ok(LooReport {
        mean_ga: mean(|h| h.result.text.ga),
        mean_pa: mean(|h| h.result.text.pa),
        mean_id_ga: mean(|h| h.result.id_ga),
        pick_on_all,
        held_out,
    })
}

/// The held-out table, one row per system and the average, for terminals
/// and test output.
pub fn render(grid: &Grid, report: &LooReport) -> String {
    let mut out = format!(
        "{:<12} {:<24} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6}\n",
        "held out", "chosen on the others", "ties", "GA", "PA", "FGA", "FTA", "id-GA"
    );
    for (system, h) in report.held_out.iter().enumerate() {
        let s = &h.result.text;
        // Candidates scoring exactly like the chosen one on the others: the
        // candidate order, not the data, chose among them.
        let ties = tied_with(grid, h.config, |other| other != system).len();
        out.push_str(&format!(
            "{:<12} {:<24} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3}\n",
            h.system,
            describe(&grid.configs[h.config]),
            ties,
            s.ga,
            s.pa,
            s.fga,
            s.fta,
            h.result.id_ga
        ));
    }
    out.push_str(&format!(
        "{:<12} {:<24} {:>5} {:>6.3} {:>6.3} {:>6} {:>6} {:>6.3}\n",
        "average", "", "", report.mean_ga, report.mean_pa, "", "", report.mean_id_ga
    ));
    let all = |_| true;
    let ties = tied_with(grid, report.pick_on_all, all);
    out.push_str(&format!(
        "pick on all {}: {}{}\n",
        grid.systems.len(),
        describe(&grid.configs[report.pick_on_all]),
        if ties.is_empty() {
            String::new()
        } else {
            format!(
                " (tied with {} other candidate{}; decided by candidate order)",
                ties.len(),
                if ties.len() == 1 { "" } else { "s" }
            )
        }
    ));
    out
}
