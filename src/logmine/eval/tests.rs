//! The Loghub checks that run with the tests: accuracy floors, so a change
//! that loses accuracy fails here (`cargo run --release --example
//! loghub_eval -- DIR` prints the full figures). Debug aid:
//! `LOGMINE_DEBUG=Linux` lists merged and split templates for one system.

use std::path::PathBuf;

use super::*;

/// Average raw-line text-GA the default must keep (what it reaches,
/// rounded down).
const RAW_FLOOR_GA: f64 = 0.85;

mod protocol;

/// `../shared/fixtures/vendor/loghub`, found by walking up from the crate.
pub(super) fn loghub_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/fixtures/vendor/loghub"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("../shared/fixtures/vendor/loghub is needed by this test"))
}

pub(super) fn datasets() -> Vec<Dataset> {
    discover(&loghub_dir())
        .unwrap()
        .iter()
        .map(|csv| load(csv).unwrap())
        .collect()
}

/// Each system's raw `<Sys>_2k.log` lines with its truth, in the order of
/// [`datasets`]: all eight have them.
pub(super) fn raw_datasets() -> Vec<Dataset> {
    discover(&loghub_dir())
        .unwrap()
        .iter()
        .map(|csv| {
            let dataset = load(csv).unwrap();
            load_raw(csv, &dataset)
                .unwrap()
                .unwrap_or_else(|| panic!("{}: no raw log beside it", csv.display()))
        })
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

#[test]
fn oversized_or_broken_samples_are_refused_with_a_reason() {
    let dir = std::env::temp_dir().join(format!("opsdeck-eval-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("X_2k.log_structured_corrected.csv");
    std::fs::write(&csv, "LineId,Content,EventTemplate\n1,a b,a b\n").unwrap();
    assert_eq!(loghub::read_capped(&csv, 1000).unwrap().lines().count(), 2);
    assert!(
        loghub::read_capped(&csv, 10)
            .unwrap_err()
            .contains("not a full log")
    );
    std::fs::write(&csv, "LineId,Content\n1,a\n").unwrap();
    assert!(
        load(&csv)
            .unwrap_err()
            .contains("no 'EventTemplate' column")
    );
    std::fs::write(&csv, b"LineId,Content,EventTemplate\n1,\xff,x\n").unwrap();
    assert!(load(&csv).unwrap_err().contains("not UTF-8"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lines_are_grouped_by_template_text_as_the_outside_evaluator_groups_them() {
    use super::super::ClusterId;
    let truth: Vec<String> = ["a <*>", "a <*>", "b"].map(String::from).to_vec();
    // Two clusters that end with the same text are one group by text.
    let ids = [ClusterId(1), ClusterId(2), ClusterId(3)];
    let e = score_mined(&ids, &truth, &truth);
    assert_eq!(e.text.ga, 1.0);
    assert!((e.id_ga - 1.0 / 3.0).abs() < 1e-12);
    // The default-configuration shorthand is the configured path.
    let dataset = Dataset {
        name: "x".into(),
        line_ids: vec!["1".into(), "2".into(), "3".into()],
        contents: vec!["open 1 done".into(), "open 22 done".into(), "close".into()],
        templates: vec![
            "open <*> done".into(),
            "open <*> done".into(),
            "close".into(),
        ],
    };
    assert_eq!(mine(&dataset), mine_with(&dataset, &MinerConfig::default()));
    let e = evaluate(&dataset, &MinerConfig::default());
    assert_eq!((e.text.ga, e.text.pa), (1.0, 1.0));
}

#[test]
fn confusions_name_what_was_split_and_merged() {
    let truth: Vec<String> = ["a <*>", "a <*>", "b", "c"].map(String::from).to_vec();
    let predicted: Vec<String> = ["a 1", "a <*>", "x", "x"].map(String::from).to_vec();
    let text = confusions(&truth, &predicted);
    assert!(text.contains("SPLIT a <*>\n"), "{text}");
    assert!(text.contains("MERGED x\n"), "{text}");
    assert!(text.contains("        1 b\n"), "{text}");
    assert_eq!(confusions(&truth, &truth), "");
}

/// Floors under the in-sample figures `loghub_eval` prints (default
/// configuration, scored by template text), so a change that loses accuracy
/// fails here.
#[test]
fn loghub_accuracy_holds() {
    let debug = std::env::var("LOGMINE_DEBUG").ok();
    let mut all = Vec::new();
    for dataset in datasets() {
        let (groups, templates) = mine(&dataset);
        let e = score_mined(&groups, &templates, &dataset.templates);
        let s = e.text;
        println!(
            "{:<10} GA {:.3} PA {:.3} FGA {:.3} FTA {:.3} id-GA {:.3}",
            dataset.name, s.ga, s.pa, s.fga, s.fta, e.id_ga
        );
        if debug.as_deref() == Some(dataset.name.as_str()) {
            print!("{}", confusions(&dataset.templates, &templates));
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
/// levels, loggers) included, as a caller without a log-format parser would,
/// scored by template text. Guards against regressions on dirty input.
#[test]
fn loghub_raw_lines_still_group() {
    let raw = raw_datasets();
    assert_eq!(raw.len(), 8);
    let mut total = 0.0;
    for dataset in &raw {
        let e = evaluate(dataset, &MinerConfig::default());
        println!(
            "raw {:<10} GA {:.3} id-GA {:.3}",
            dataset.name, e.text.ga, e.id_ga
        );
        total += e.text.ga;
    }
    let avg = total / raw.len() as f64;
    println!("raw average    GA {avg:.3}");
    assert!(avg >= RAW_FLOOR_GA, "raw-line GA {avg:.3} regressed");
}

#[test]
fn a_raw_log_that_is_not_the_labelled_sample_is_refused() {
    let dir = std::env::temp_dir().join(format!("opsdeck-raw-{}", std::process::id()));
    let system = dir.join("Toy");
    std::fs::create_dir_all(&system).unwrap();
    let csv = system.join("Toy_2k.log_structured_corrected.csv");
    std::fs::write(
        &csv,
        "LineId,Content,EventTemplate\n1,open a,open <*>\n2,open b,open <*>\n",
    )
    .unwrap();
    let dataset = load(&csv).unwrap();
    assert!(load_raw(&csv, &dataset).unwrap().is_none(), "no raw file");
    std::fs::write(system.join("Toy_2k.log"), "t1 open a\n").unwrap();
    let why = load_raw(&csv, &dataset).unwrap_err();
    assert!(why.contains("1 lines, its labelled sample 2"), "{why}");
    std::fs::write(system.join("Toy_2k.log"), b"t1 open a\nt2 open \xff\n").unwrap();
    let raw = load_raw(&csv, &dataset).unwrap().unwrap();
    assert_eq!(raw.contents, ["t1 open a", "t2 open \u{fffd}"]);
    assert_eq!(raw.templates, dataset.templates);
    std::fs::remove_dir_all(&dir).unwrap();
}
