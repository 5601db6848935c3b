//! Accuracy of opsdeck's log template miner on datasets in the Loghub-2k
//! layout, with the metrics of the ISSTA 2024 evaluation (GA, PA, FGA, FTA).
//!
//! ```text
//! cargo run --release --example loghub_eval -- DIR [--write-assignments OUT] [--leave-one-out]
//! ```
//!
//! DIR holds `<Sys>/<Sys>_2k.log_structured_corrected.csv` for any number of
//! systems. The miner reads each line's `Content` with its one default
//! configuration; lines are grouped by their final template text, as an
//! outside evaluator reading the assignments groups them (`id-GA` groups by
//! cluster id instead). `--write-assignments OUT` also writes
//! `OUT/<Sys>_assignments.csv` (`LineId,Template`) for other evaluators.
//! `--leave-one-out` then runs the leave-one-system-out protocol over the
//! candidate configurations: for each system, the configuration chosen on
//! the others (ties broken by the synthetic suite's GA, then candidate
//! order), scored on it, and the configuration chosen on all.

use std::path::PathBuf;
use std::process::ExitCode;

use opsdeck::logmine::MinerConfig;
use opsdeck::logmine::eval::{self, loo};
use opsdeck::support::terminal::for_screen;

const USAGE: &str = "usage: loghub_eval DIR [--write-assignments OUT] [--leave-one-out]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("loghub_eval: {}", for_screen(&why));
            ExitCode::FAILURE
        }
    }
}

/// Everything shown passes through here: system names come from directory
/// names, which may hold anything.
fn show(text: &str) {
    println!("{}", for_screen(text));
}

struct Args {
    dir: PathBuf,
    out: Option<PathBuf>,
    leave_one_out: bool,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = args.into_iter();
    let (mut dir, mut out, mut leave_one_out) = (None, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--write-assignments" => {
                if out.is_some() {
                    return Err(format!("--write-assignments given twice ({USAGE})"));
                }
                let target = args.next().filter(|a| !a.starts_with("--")).ok_or(
                    "--write-assignments needs a directory to write <Sys>_assignments.csv into",
                )?;
                out = Some(PathBuf::from(target));
            }
            "--leave-one-out" => {
                if leave_one_out {
                    return Err(format!("--leave-one-out given twice ({USAGE})"));
                }
                leave_one_out = true;
            }
            "-h" | "--help" => return Ok(None),
            other if dir.is_none() && !other.starts_with('-') => dir = Some(PathBuf::from(other)),
            other if !other.starts_with('-') => {
                return Err(format!(
                    "one DIR only, got a second: '{other}' ({USAGE}; DIR holds one <Sys>/ folder per system)"
                ));
            }
            other => return Err(format!("unknown option '{other}' ({USAGE})")),
        }
    }
    let dir = dir.ok_or(format!("{USAGE} (DIR in the Loghub-2k layout)"))?;
    Ok(Some(Args {
        dir,
        out,
        leave_one_out,
    }))
}

fn run() -> Result<(), String> {
    let Some(args) = parse_args(std::env::args().skip(1))? else {
        show(USAGE);
        return Ok(());
    };
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out)
            .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    }
    let csvs = eval::discover(&args.dir)?;
    let datasets = csvs
        .iter()
        .map(|csv| eval::load(csv))
        .collect::<Result<Vec<_>, _>>()?;
    show(&format!(
        "{:<12} {:>6} {:>6} {:>6} {:>6} {:>6} {:>10} {:>6}",
        "system", "GA", "PA", "FGA", "FTA", "id-GA", "templates", "truth"
    ));
    let mut all = Vec::new();
    for dataset in &datasets {
        let (ids, templates) = eval::mine(dataset);
        let e = eval::score_mined(&ids, &templates, &dataset.templates);
        let s = &e.text;
        show(&format!(
            "{:<12} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>10} {:>6}",
            dataset.name,
            s.ga,
            s.pa,
            s.fga,
            s.fta,
            e.id_ga,
            s.predicted_templates,
            s.true_templates
        ));
        if let Some(out) = &args.out {
            let path = out.join(format!("{}_assignments.csv", dataset.name));
            std::fs::write(&path, eval::assignments_csv(dataset, &templates))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        all.push(e);
    }
    let n = all.len() as f64;
    let mean = |f: fn(&eval::Evaluation) -> f64| all.iter().map(f).sum::<f64>() / n;
    show(&format!(
        "{:<12} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3}   (default: {})",
        "average",
        mean(|e| e.text.ga),
        mean(|e| e.text.pa),
        mean(|e| e.text.fga),
        mean(|e| e.text.fta),
        mean(|e| e.id_ga),
        loo::describe(&MinerConfig::default())
    ));
    if args.leave_one_out {
        let tie_break = eval::synthetic::tie_break_suite();
        let raw = raw_twins(&csvs, &datasets)?;
        let grid = loo::run_grid(&datasets, &raw, &tie_break, loo::candidate_grid())?;
        let report = loo::leave_one_out(&grid)?;
        show("");
        show(&format!(
            "leave-one-system-out over {} candidate configurations \
             (raw lines: {}; tie-break: {} synthetic logs):",
            grid.configs.len(),
            if raw.is_empty() {
                "not used, some <Sys>_2k.log is missing"
            } else {
                "used"
            },
            tie_break.len()
        ));
        show(loo::render(&grid, &report).trim_end());
    }
    Ok(())
}

/// Every system's raw `<Sys>_2k.log` twin, or none when any is missing (the
/// criterion must weigh every system alike).
fn raw_twins(csvs: &[PathBuf], datasets: &[eval::Dataset]) -> Result<Vec<eval::Dataset>, String> {
    let mut twins = Vec::with_capacity(datasets.len());
    for (csv, dataset) in csvs.iter().zip(datasets) {
        match eval::load_raw(csv, dataset)? {
            Some(twin) => twins.push(twin),
            None => return Ok(Vec::new()),
        }
    }
    Ok(twins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn arguments_are_checked() {
        let a = parse(&["d", "--leave-one-out", "--write-assignments", "o"])
            .unwrap()
            .unwrap();
        assert!(a.leave_one_out);
        assert_eq!(a.out, Some(PathBuf::from("o")));
        assert!(parse(&["--help"]).unwrap().is_none());
        for (bad, why) in [
            (&["d", "--write-assignments"][..], "needs a directory"),
            (
                &["d", "--write-assignments", "--leave-one-out"],
                "needs a directory",
            ),
            (&["d", "--leave-one-out", "--leave-one-out"], "twice"),
            (&["d", "e"], "one DIR only"),
            (&["d", "--loo"], "unknown option"),
            (&[], "usage"),
        ] {
            let err = parse(bad).err().unwrap_or_default();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
