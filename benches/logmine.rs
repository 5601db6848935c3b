//! The log template miner's speed on one core, next to Drain3 in the same run.
//!
//! Input: the Loghub-2k messages under `../shared/fixtures/vendor/loghub`
//! (read in place), repeated with their numbers varied until the input is
//! `OPSDECK_BENCH_MB` megabytes (default 100), once with the numbers' widths
//! kept and once with them varied (see [`Values`]). opsdeck mines each five
//! times; Drain3 (installed into `target/peers/venv-drain3` on first use) mines
//! the first `OPSDECK_BENCH_DRAIN3_LINES` lines (default 200,000) — it is two
//! orders of magnitude slower, and a rate is a rate.
//!
//! Run: `cargo bench --bench logmine`.

mod common;
use common::median;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use opsdeck::logmine::{TemplateMiner, eval};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift: deterministic "random" digits.
struct Rng(u64);
impl Rng {
    fn digit(&mut self) -> char {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        char::from(b'0' + (self.0 % 10) as u8)
    }
}

/// How the seed lines' numbers are varied.
#[derive(Clone, Copy, PartialEq)]
enum Values {
    /// New digits, same widths: the first digit of a run is kept, so `0`s
    /// and small counters stay plausible. Lines repeat their shape.
    SameWidth,
    /// Also, every run of two or more digits gains or loses a digit half of
    /// the time — harsher than real logs (times and addresses keep their
    /// widths there), so few lines repeat their shape.
    VaryingWidth,
}

fn input(megabytes: usize, values: Values) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/fixtures/vendor/loghub"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("../shared/fixtures/vendor/loghub is needed"));
    let mut seeds = Vec::new();
    for csv in eval::discover(&root).unwrap_or_default() {
        if let Ok(dataset) = eval::load(&csv) {
            seeds.extend(dataset.contents);
        }
    }
    assert!(!seeds.is_empty(), "no Loghub messages found");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut lines, mut bytes) = (Vec::new(), 0);
    while bytes < megabytes << 20 {
        for seed in &seeds {
            let mut line = String::with_capacity(seed.len() + 8);
            let mut run = 0;
            let mut chars = seed.chars().peekable();
            while let Some(c) = chars.next() {
                if !c.is_ascii_digit() {
                    run = 0;
                    line.push(c);
                    continue;
                }
                run += 1;
                line.push(if run > 1 { rng.digit() } else { c });
                let run_ends = !chars.peek().is_some_and(char::is_ascii_digit);
                if values == Values::VaryingWidth && run_ends && run >= 2 {
                    match rng.digit() {
                        '0'..='2' => drop(line.pop()),
                        '3'..='4' => line.push(rng.digit()),
                        _ => {}
                    }
                }
            }
            bytes += line.len() + 1;
            lines.push(line);
        }
    }
    lines
}

/// A memory figure from `/proc/self/status` (`VmRSS:`, `VmHWM:`), in KiB.
fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn drain3_python(root: &Path) -> Option<PathBuf> {
    let venv = root.join("target/peers/venv-drain3");
    let python = venv.join("bin/python");
    if python.is_file() {
        return Some(python);
    }
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()
        .ok()?;
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "drain3==0.9.11"])
        .status()
        .ok()?;
    (made.success() && installed.success()).then_some(python)
}

/// Mines `lines` five times; prints and returns the median rate (lines/s).
fn bench_opsdeck(label: &str, lines: &[String]) -> f64 {
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut runs = Vec::new();
    let mut templates = 0;
    let mut grown = 0;
    for run in 0..5 {
        let before = rss_kib("VmRSS:");
        let started = Instant::now();
        let mut miner = TemplateMiner::default();
        for line in lines {
            std::hint::black_box(miner.add(line, None));
        }
        runs.push(started.elapsed().as_secs_f64());
        templates = miner.len();
        // Later runs reuse memory the allocator kept from the first.
        if run == 0 {
            grown = rss_kib("VmRSS:").saturating_sub(before);
        }
    }
    let (m, lo, hi) = median(runs);
    let rate = lines.len() as f64 / m;
    println!(
        "  opsdeck, {label}: median {m:.3} s ({lo:.3}–{hi:.3}, 5 runs): {:.2} M lines/s, {:.0} MB/s; {templates} templates; miner memory +{:.1} MiB",
        rate / 1e6,
        bytes as f64 / m / 1e6,
        grown as f64 / 1024.0
    );
    rate
}

fn main() {
    let megabytes = env_number("OPSDECK_BENCH_MB", 100);
    let drain3_lines = env_number("OPSDECK_BENCH_DRAIN3_LINES", 200_000);
    let lines = input(megabytes, Values::SameWidth);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    println!(
        "log miner benchmark — {} lines, {:.0} MB, one core",
        lines.len(),
        bytes as f64 / 1e6
    );
    let rate = bench_opsdeck("same-width values", &lines);
    let varying = input(megabytes, Values::VaryingWidth);
    let varying_rate = bench_opsdeck("varying-width values", &varying);
    drop(varying);
    println!(
        "  peak RSS of this process (input held in memory included): {:.0} MiB",
        rss_kib("VmHWM:") as f64 / 1024.0
    );

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path =
        std::env::temp_dir().join(format!("opsdeck-logmine-bench-{}.log", std::process::id()));
    let written = std::fs::File::create(&path).and_then(|f| {
        let mut out = std::io::BufWriter::new(f);
        for line in lines.iter().take(drain3_lines) {
            writeln!(out, "{line}")?;
        }
        out.flush()
    });
    let Some(python) = written.ok().and_then(|()| drain3_python(&root)) else {
        println!("  Drain3: could not be installed (pip install drain3), no ratio");
        return;
    };
    let output = Command::new(python)
        .arg(root.join("benches/peers/drain3_rate.py"))
        .arg(&path)
        .arg(drain3_lines.to_string())
        .output();
    let _ = std::fs::remove_file(&path);
    let figures: Option<serde_json::Value> = output
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok());
    match figures {
        Some(f) => {
            let n = f["lines"].as_f64().unwrap_or(0.0);
            let s = f["seconds"].as_f64().unwrap_or(f64::NAN);
            let drain3 = n / s;
            println!(
                "  Drain3 0.9.11: {n} lines in {s:.2} s: {:.0} lines/s, {} templates",
                drain3, f["templates"]
            );
            println!(
                "  opsdeck ÷ Drain3: {:.0}× (same-width values), {:.0}× (varying-width values)",
                rate / drain3,
                varying_rate / drain3
            );
        }
        None => println!("  Drain3: no figures (see benches/peers/drain3_rate.py)"),
    }
}
