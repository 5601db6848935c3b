//! Accuracy of opsdeck's log template miner on datasets in the Loghub-2k
//! layout, with the metrics of the ISSTA 2024 evaluation (GA, PA, FGA, FTA).
//!
//! ```text
//! cargo run --release --example loghub_eval -- DIR [--write-assignments OUT]
//! ```
//!
//! DIR holds `<Sys>/<Sys>_2k.log_structured_corrected.csv` for any number of
//! systems. The miner reads each line's `Content` with its one default
//! configuration. `--write-assignments OUT` also writes
//! `OUT/<Sys>_assignments.csv` (`LineId,Template`) for other evaluators.

use std::path::PathBuf;
use std::process::ExitCode;

use opsdeck::logmine::eval;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("loghub_eval: {why}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--write-assignments" => {
                out = Some(args.next().map(PathBuf::from).ok_or(
                    "--write-assignments needs a directory to write <Sys>_assignments.csv into",
                )?);
            }
            "-h" | "--help" => {
                println!("usage: loghub_eval DIR [--write-assignments OUT]");
                return Ok(());
            }
            other if dir.is_none() && !other.starts_with('-') => dir = Some(PathBuf::from(other)),
            other => {
                return Err(format!(
                    "unexpected argument '{other}' (usage: loghub_eval DIR [--write-assignments OUT])"
                ));
            }
        }
    }
    let dir = dir
        .ok_or("usage: loghub_eval DIR [--write-assignments OUT] (DIR in the Loghub-2k layout)")?;
    if let Some(out) = &out {
        std::fs::create_dir_all(out)
            .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    }
    println!(
        "{:<12} {:>6} {:>6} {:>6} {:>6} {:>10} {:>6}",
        "system", "GA", "PA", "FGA", "FTA", "templates", "truth"
    );
    let mut all = Vec::new();
    for csv in eval::discover(&dir)? {
        let dataset = eval::load(&csv)?;
        let (groups, templates) = eval::mine(&dataset);
        let s = eval::score(&groups, &templates, &dataset.templates);
        println!(
            "{:<12} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>10} {:>6}",
            dataset.name, s.ga, s.pa, s.fga, s.fta, s.predicted_templates, s.true_templates
        );
        if let Some(out) = &out {
            let path = out.join(format!("{}_assignments.csv", dataset.name));
            std::fs::write(&path, eval::assignments_csv(&dataset, &templates))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        all.push(s);
    }
    let n = all.len() as f64;
    let mean = |f: fn(&eval::Scores) -> f64| all.iter().map(f).sum::<f64>() / n;
    println!(
        "{:<12} {:>6.3} {:>6.3} {:>6.3} {:>6.3}",
        "average",
        mean(|s| s.ga),
        mean(|s| s.pa),
        mean(|s| s.fga),
        mean(|s| s.fta)
    );
    Ok(())
}
