//! The Loghub checks that run with the tests: accuracy floors, so a change
//! that loses accuracy fails here (`cargo run --release --example
//! loghub_eval -- DIR` prints the full figures). Debug aid:
//! `LOGMINE_DEBUG=Linux` lists merged and split templates for one system.

use std::collections::HashMap;
use std::path::PathBuf;

use super::super::{ClusterId, TemplateMiner};
use super::*;

/// `../shared/fixtures/vendor/loghub`, found by walking up from the crate.
fn loghub_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/fixtures/vendor/loghub"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("../shared/fixtures/vendor/loghub is needed by this test"))
}

fn datasets() -> Vec<Dataset> {
    discover(&loghub_dir())
        .unwrap()
        .iter()
        .map(|csv| load(csv).unwrap())
        .collect()
}

#[test]
fn csv_reader_handles_quotes_commas_and_newlines() {
    let rows = parse_csv("a,b,c\r\n1,\"x, \"\"y\"\"\",\"multi\nline\"\n2,,\n");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1], ["1", "x, \"y\"", "multi\nline"]);
    assert_eq!(rows[2], ["2", "", ""]);
}

#[test]
fn scores_follow_the_definitions() {
    let truth: Vec<String> = ["a <*>", "a <*>", "b", "c"].map(String::from).to_vec();
    // Lines 2 and 3 merged; every text but line 2's right.
    let templates: Vec<String> = ["a <*>", "a  <*> ", "b", "c"].map(String::from).to_vec();
    let s = score(&[1, 1, 2, 2], &templates, &truth);
    assert_eq!(s.ga, 0.5);
    assert_eq!(s.pa, 1.0, "whitespace does not count");
    // One of two predicted groups right, one of three true ones: P ½, R ⅓.
    assert!((s.fga - 0.4).abs() < 1e-9, "{}", s.fga);
    assert!((s.fta - 0.4).abs() < 1e-9, "{}", s.fta);
    let s = score(&[5, 5, 6, 7], &truth, &truth);
    assert_eq!((s.ga, s.pa, s.fga, s.fta), (1.0, 1.0, 1.0, 1.0));
    let wrong_text: Vec<String> = ["a x", "a x", "b", "c"].map(String::from).to_vec();
    let s = score(&[5, 5, 6, 7], &wrong_text, &truth);
    assert_eq!((s.ga, s.pa), (1.0, 0.5));
    assert!(
        (s.fta - 2.0 / 3.0).abs() < 1e-9,
        "right groups, one wrong text"
    );
}

#[test]
fn assignments_are_csv_another_evaluator_can_read() {
    let dataset = Dataset {
        name: "X".into(),
        line_ids: vec!["1".into(), "2".into()],
        contents: vec![String::new(); 2],
        templates: vec![String::new(); 2],
    };
    let csv = assignments_csv(&dataset, &["a, \"b\"".into(), "c".into()]);
    assert_eq!(csv, "LineId,Template\n1,\"a, \"\"b\"\"\"\n2,c\n");
    assert_eq!(parse_csv(&csv)[1], ["1", "a, \"b\""]);
}

#[test]
fn discovery_names_what_it_expected() {
    let empty = std::env::temp_dir().join(format!("opsdeck-eval-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    assert!(discover(&empty).unwrap_err().contains("Loghub-2k layout"));
    assert!(
        discover(&empty.join("missing"))
            .unwrap_err()
            .contains("cannot list")
    );
    std::fs::remove_dir_all(&empty).unwrap();
}

/// Floors under the figures `loghub_eval` prints, so a change that loses
/// accuracy fails here.
#[test]
fn loghub_accuracy_holds() {
    let debug = std::env::var("LOGMINE_DEBUG").ok();
    let mut all = Vec::new();
    for dataset in datasets() {
        let (groups, templates) = mine(&dataset);
        let s = score(&groups, &templates, &dataset.templates);
        println!(
            "{:<10} GA {:.3} PA {:.3} FGA {:.3} FTA {:.3}",
            dataset.name, s.ga, s.pa, s.fga, s.fta
        );
        if debug.as_deref() == Some(dataset.name.as_str()) {
            print_confusions(&dataset, &groups, &templates);
        }
        all.push(s);
    }
    assert_eq!(all.len(), 8, "the eight Loghub systems under fixtures");
    let mean = |f: fn(&Scores) -> f64| all.iter().map(f).sum::<f64>() / all.len() as f64;
    let (ga, pa) = (mean(|s| s.ga), mean(|s| s.pa));
    println!("average    GA {ga:.3} PA {pa:.3}");
    assert!(ga >= 0.95, "average GA {ga:.3} fell");
    assert!(pa >= 0.89, "average PA {pa:.3} fell");
}

/// The same samples fed as raw `<Sys>_2k.log` lines, headers (timestamps,
/// levels, loggers) included, as a caller without a log-format parser would.
/// Guards against regressions on dirty input.
#[test]
fn loghub_raw_lines_still_group() {
    let dir = loghub_dir();
    let mut total = 0.0;
    let mut n = 0;
    for dataset in datasets() {
        let path = dir
            .join(&dataset.name)
            .join(format!("{}_2k.log", dataset.name));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = String::from_utf8_lossy(&bytes);
        let raw: Vec<&str> = text.lines().collect();
        assert_eq!(raw.len(), dataset.contents.len(), "{}", dataset.name);
        let mut miner = TemplateMiner::default();
        let ids: Vec<ClusterId> = raw.iter().map(|line| miner.add(line, None)).collect();
        let s = score(&ids, &vec![String::new(); ids.len()], &dataset.templates);
        println!("raw {:<10} GA {:.3}", dataset.name, s.ga);
        total += s.ga;
        n += 1;
    }
    let avg = total / n as f64;
    println!("raw average    GA {avg:.3}");
    assert!(avg >= 0.70, "raw-line GA {avg:.3} regressed");
}

/// Debug aid: predicted groups that mix true templates, and true templates
/// split over several groups.
fn print_confusions(dataset: &Dataset, groups: &[ClusterId], templates: &[String]) {
    let mut by_truth: HashMap<&str, HashMap<ClusterId, usize>> = HashMap::new();
    let mut by_group: HashMap<ClusterId, HashMap<&str, usize>> = HashMap::new();
    for (i, truth) in dataset.templates.iter().enumerate() {
        *by_truth
            .entry(truth)
            .or_default()
            .entry(groups[i])
            .or_default() += 1;
        *by_group
            .entry(groups[i])
            .or_default()
            .entry(truth)
            .or_default() += 1;
    }
    let text_of = |id: ClusterId| {
        groups
            .iter()
            .position(|g| *g == id)
            .map_or("", |i| templates[i].as_str())
    };
    for (truth, split) in &by_truth {
        if split.len() > 1 {
            println!("SPLIT {truth}");
            for (id, n) in split {
                println!("    {n:>5} {}", text_of(*id));
            }
        }
    }
    for (id, merged) in &by_group {
        if merged.len() > 1 {
            println!("MERGED {}", text_of(*id));
            for (truth, n) in merged {
                println!("    {n:>5} {truth}");
            }
        }
    }
}
