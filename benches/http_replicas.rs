//! Throughput and latency of three `opsdeck serve --http --stateless` replicas
//! behind haproxy (round robin), with N concurrent clients each sending one
//! `tools/call list_pipeline_runs` after another on a kept-alive connection:
//! requests per second, p50/p99/max latency, errors, the share each replica
//! answered, and each replica's resident memory (now and peak).
//!
//! Run: `cargo bench --bench http_replicas` (needs `scripts/peers/setup.sh`
//! once, for haproxy). Not a timed test: it prints a table.
//!   OPSDECK_BENCH_CLIENTS   concurrent clients per round, comma-separated (default 1,8,32)
//!   OPSDECK_BENCH_SECONDS   length of each round (default 10)
//!   OPSDECK_BENCH_REPLICAS  replicas behind haproxy (default 3)

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::process::pinned_serve_args;
use common::replicas::{Fleet, FleetSpec, Replica};

/// The longest any one request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Round {
    latencies_ms: Vec<f64>,
    errors: BTreeMap<String, usize>,
    by_replica: BTreeMap<String, usize>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("{name}={v} is not usable; using the default");
            default
        }),
        Err(_) => default,
    }
}

fn client_counts() -> Vec<usize> {
    let raw = std::env::var("OPSDECK_BENCH_CLIENTS").unwrap_or_else(|_| "1,8,32".into());
    let counts: Vec<usize> = raw
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|c| (1..=512).contains(c))
        .collect();
    if counts.is_empty() {
        eprintln!("OPSDECK_BENCH_CLIENTS={raw}: no count in 1..=512; using 1,8,32");
        return vec![1, 8, 32];
    }
    counts
}

async fn one_client(url: String, until: Instant, id: usize) -> Round {
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client");
    let mut round = Round::default();
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let body = json!({
            "jsonrpc": "2.0",
            "id": format!("{id}-{n}"),
            "method": "tools/call",
            "params": {"name": "list_pipeline_runs", "arguments": {"limit": 5, "status": "Failed"}}
        });
        let started = Instant::now();
        let outcome = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body)
            .send()
            .await;
        let (replica, verdict) = match outcome {
            Err(e) => (
                None,
                Err(if e.is_timeout() {
                    "timeout"
                } else {
                    "transport"
                }),
            ),
            Ok(response) => {
                let status = response.status();
                let replica = response
                    .headers()
                    .get("opsdeck-replica")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let answer: Option<Value> = response.json().await.ok();
                let verdict = match answer {
                    _ if !status.is_success() => Err("http status"),
                    None => Err("unreadable body"),
                    Some(a) if a.get("error").is_some() => Err("json-rpc error"),
                    Some(a) if a["result"]["isError"] == true => Err("tool error"),
                    Some(_) => Ok(()),
                };
                (replica, verdict)
            }
        };
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        match verdict {
            Ok(()) => round.latencies_ms.push(elapsed),
            Err(kind) => *round.errors.entry(kind.to_string()).or_default() += 1,
        }
        if let Some(replica) = replica {
            *round.by_replica.entry(replica).or_default() += 1;
        }
    }
    round
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// (resident, peak resident) in MiB; NaN once the replica is gone.
fn memory_mib(replica: &Replica) -> (f64, f64) {
    replica
        .memory_kib()
        .map_or((f64::NAN, f64::NAN), |(rss, peak)| {
            (rss as f64 / 1024.0, peak as f64 / 1024.0)
        })
}

fn main() {
    let replicas = env_or("OPSDECK_BENCH_REPLICAS", 3usize).clamp(1, 16);
    let seconds = env_or("OPSDECK_BENCH_SECONDS", 10u64).clamp(1, 600);
    let mut serve_args = pinned_serve_args();
    serve_args.remove(0); // "serve": the harness adds it
    serve_args.extend(["--http-max-in-flight".to_string(), "256".to_string()]);
    let fleet = Fleet::start(&FleetSpec {
        replicas,
        serve_args,
        ..FleetSpec::default()
    });
    println!(
        "http_replicas: {replicas} × opsdeck serve --stateless (debug or release: whatever cargo built) behind haproxy {}, {seconds} s per round",
        fleet.url
    );
    let idle: Vec<(f64, f64)> = fleet.replicas.iter().map(memory_mib).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");

    println!(
        "\n{:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  answered by replica",
        "clients", "requests", "rps", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for clients in client_counts() {
        let until = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let rounds: Vec<Round> = runtime.block_on(async {
            let tasks: Vec<_> = (0..clients)
                .map(|id| tokio::spawn(one_client(fleet.url.clone(), until, id)))
                .collect();
            let mut rounds = Vec::new();
            for task in tasks {
                rounds.push(task.await.unwrap_or_default());
            }
            rounds
        });
        let wall = started.elapsed().as_secs_f64();
        let mut latencies: Vec<f64> = rounds.iter().flat_map(|r| r.latencies_ms.clone()).collect();
        latencies.sort_by(f64::total_cmp);
        let mut errors: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_replica: BTreeMap<String, usize> = BTreeMap::new();
        for round in &rounds {
            for (k, v) in &round.errors {
                *errors.entry(k.clone()).or_default() += v;
            }
            for (k, v) in &round.by_replica {
                *by_replica.entry(k.clone()).or_default() += v;
            }
        }
        let error_count: usize = errors.values().sum();
        let spread: Vec<String> = by_replica.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:>7} {:>9} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>7}  {}",
            clients,
            latencies.len() + error_count,
            latencies.len() as f64 / wall,
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN),
            error_count,
            spread.join(" ")
        );
        if !errors.is_empty() {
            println!("        errors by kind: {errors:?}");
        }
    }

    println!(
        "\n{:>8} {:>12} {:>12} {:>12}",
        "replica", "idle RSS MiB", "RSS MiB", "peak MiB"
    );
    for (replica, (idle_rss, _)) in fleet.replicas.iter().zip(idle) {
        let (rss, peak) = memory_mib(replica);
        println!(
            "{:>8} {:>12.1} {:>12.1} {:>12.1}",
            replica.name, idle_rss, rss, peak
        );
    }
}
