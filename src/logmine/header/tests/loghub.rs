//! The header reader scored on the Loghub-2k systems under
//! `../shared/fixtures/vendor/loghub`: each raw `<Sys>_2k.log` is read with
//! a shape learned from its own first lines and compared, line by line,
//! with the hand-checked columns of `<Sys>_2k.log_structured_corrected.csv`.
//! One loop, one set of floors: nothing here or in the reader knows which
//! system it is looking at.

use std::path::{Path, PathBuf};

use super::super::HeaderShape;
use crate::model::log::LogLevel;

// Floors at what the reader reaches, rounded down (worst system: Linux
// content 0.9995, where two `warning:` message starts are read as levels;
// HDFS clock 0.992, where the CSV's numeric `Time` column drops leading
// zeros). Every other figure is 1.000.
/// Share of lines whose message is exactly the `Content` column (trimmed).
const CONTENT_FLOOR: f64 = 0.99;
/// Share of lines agreeing with the `Level` column, where it holds a level.
const LEVEL_FLOOR: f64 = 0.99;
/// Share of lines with a timestamp, for systems whose CSV has a time
/// column, and share whose minutes and seconds agree with its `Time` column.
const TIMESTAMP_FLOOR: f64 = 0.99;

/// Year for dates written without one (syslog).
const YEAR: i32 = 2026;

fn loghub_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/fixtures/vendor/loghub"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("../shared/fixtures/vendor/loghub is needed by this test"))
}

/// Systems with both a raw log and its structured CSV.
fn systems(dir: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let mut found: Vec<(String, PathBuf, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let log = entry.path().join(format!("{name}_2k.log"));
            let csv = entry
                .path()
                .join(format!("{name}_2k.log_structured_corrected.csv"));
            (log.is_file() && csv.is_file()).then_some((name, log, csv))
        })
        .collect();
    found.sort();
    found
}

/// RFC 4180 rows (quoted fields may hold commas, quotes and newlines).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[derive(Debug, Default)]
struct Score {
    lines: usize,
    content: usize,
    levelled: usize,
    level_agrees: usize,
    timed: bool,
    timestamps: usize,
    /// Lines whose timestamp's minutes and seconds are in the `Time` column
    /// (zones and layouts differ; minutes and seconds do not), of `clocked`.
    clock_agrees: usize,
    clocked: usize,
}

impl Score {
    fn share(n: usize, of: usize) -> f64 {
        if of == 0 { 1.0 } else { n as f64 / of as f64 }
    }
}

/// Scores the file read with a shape learned from its lines from `learn_from` on.
fn score(log: &Path, csv: &Path, learn_from: usize) -> Score {
    let raw = String::from_utf8_lossy(&std::fs::read(log).unwrap()).into_owned();
    let lines: Vec<&str> = raw.lines().collect();
    let mut rows = csv_rows(&String::from_utf8_lossy(&std::fs::read(csv).unwrap())).into_iter();
    let header = rows.next().unwrap();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
    };
    let content = column("Content").unwrap();
    let level = column("Level");
    let timed = ["Time", "Timestamp", "Date"]
        .iter()
        .any(|c| column(c).is_some());
    let time = column("Time");
    let rows: Vec<Vec<String>> = rows.collect();
    assert_eq!(
        lines.len(),
        rows.len(),
        "{} is aligned with its CSV",
        log.display()
    );

    let shape = HeaderShape::learn(lines.iter().skip(learn_from).copied(), YEAR);
    let mut s = Score {
        lines: lines.len(),
        timed,
        ..Score::default()
    };
    for (line, row) in lines.iter().zip(&rows) {
        let h = shape.split(line, YEAR);
        let message = line.get(h.message_start..).unwrap_or_default().trim();
        if message == row[content].trim() {
            s.content += 1;
        } else if std::env::var_os("HEADER_DEBUG").is_some() {
            eprintln!("  {message:?}\n  {:?}", row[content].trim());
        }
        // Linux's `Level` column holds the host name: only level words count.
        if let Some(expected) = level.and_then(|c| LogLevel::parse(&row[c])) {
            s.levelled += 1;
            s.level_agrees += usize::from(h.level == Some(expected));
        }
        s.timestamps += usize::from(h.timestamp.is_some());
        if let Some(c) = time {
            let digits: String = row[c].chars().filter(char::is_ascii_digit).collect();
            s.clocked += 1;
            s.clock_agrees += usize::from(
                h.timestamp
                    .is_some_and(|ts| digits.contains(&ts.format("%M%S").to_string())),
            );
        }
    }
    s
}

#[test]
fn learned_headers_match_the_loghub_columns() {
    let systems = systems(&loghub_dir());
    assert_eq!(systems.len(), 8, "the eight Loghub systems under fixtures");
    let mut failures = Vec::new();
    println!("system       content  level (of)       timestamp  clock (of)");
    for (name, log, csv) in &systems {
        let s = score(log, csv, 0);
        let content = Score::share(s.content, s.lines);
        let level = Score::share(s.level_agrees, s.levelled);
        let stamps = Score::share(s.timestamps, s.lines);
        let clock = Score::share(s.clock_agrees, s.clocked);
        println!(
            "{name:<12} {content:>7.3}  {level:>5.3} ({:>4})  {stamps:>9.3}  {clock:>5.3} ({:>4})",
            s.levelled, s.clocked
        );
        if content < CONTENT_FLOOR {
            failures.push(format!("{name}: content {content:.3} < {CONTENT_FLOOR}"));
        }
        if level < LEVEL_FLOOR {
            failures.push(format!("{name}: level {level:.3} < {LEVEL_FLOOR}"));
        }
        if s.timed && stamps < TIMESTAMP_FLOOR {
            failures.push(format!(
                "{name}: timestamps {stamps:.3} < {TIMESTAMP_FLOOR}"
            ));
        }
        if clock < TIMESTAMP_FLOOR {
            failures.push(format!("{name}: clock {clock:.3} < {TIMESTAMP_FLOOR}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The first lines are not special: a shape learned from any stretch of
/// the file reads it as well (the summariser learns from whatever comes
/// first, which may be the middle of a rotated log).
#[test]
fn any_stretch_of_the_file_teaches_the_same_shape() {
    let mut failures = Vec::new();
    for (name, log, csv) in &systems(&loghub_dir()) {
        for learn_from in [250, 700, 1300, 1900] {
            let s = score(log, csv, learn_from);
            let content = Score::share(s.content, s.lines);
            let level = Score::share(s.level_agrees, s.levelled);
            if content < CONTENT_FLOOR || level < LEVEL_FLOOR {
                failures.push(format!(
                    "{name} learned from line {learn_from}: content {content:.3}, level {level:.3}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
