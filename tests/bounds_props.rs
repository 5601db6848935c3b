//! Property tests: no time or size argument panics, or makes a call allocate
//! beyond its bound — the time parsers, the JSON-RPC screen, the sandbox's log
//! source and the real tools.
//!
//! This binary's allocator counts what each thread holds and, while armed,
//! refuses an allocation past a cap: a regression aborts this test binary
//! ("memory allocation failed") instead of taking the machine down.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use opsdeck::backends::sandbox::{Sandbox, SandboxOptions};
use opsdeck::backends::{LogQuery, LogSource};
use opsdeck::model::time::{FixedClock, MAX_WINDOW, TimeWindow, parse_instant, try_parse_duration};
use opsdeck::server::framing::screen_request;

struct CappedAllocator;

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

thread_local! {
    static HELD: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static CAP: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Counts `bytes` against this thread; `false` when that would pass the cap.
fn reserve(bytes: usize) -> bool {
    HELD.try_with(|held| {
        let now = held.get().saturating_add(bytes);
        if now > CAP.with(Cell::get) {
            return false;
        }
        held.set(now);
        PEAK.with(|peak| peak.set(peak.get().max(now)));
        true
    })
    .unwrap_or(true)
}

fn release(bytes: usize) {
    // Memory freed here may have been counted on another thread: saturate.
    let _ = HELD.try_with(|held| held.set(held.get().saturating_sub(bytes)));
}

// SAFETY: every call goes straight to the system allocator; only counters are added.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        let ptr = unsafe { System.alloc(layout) };
        if ptr.is_null() {
            release(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if ptr.is_null() {
            release(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        release(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grows_by = new_size.saturating_sub(layout.size());
        if !reserve(grows_by) {
            return std::ptr::null_mut();
        }
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if moved.is_null() {
            release(grows_by);
        } else {
            release(layout.size().saturating_sub(new_size));
        }
        moved
    }
}

/// Runs `f` allowed at most `cap` more bytes on this thread; returns its result
/// and the most it held at once.
fn within<T>(cap: usize, f: impl FnOnce() -> T) -> (T, usize) {
    let base = HELD.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    CAP.with(|c| c.set(base.saturating_add(cap)));
    let out = f();
    CAP.with(|c| c.set(usize::MAX));
    (out, PEAK.with(Cell::get).saturating_sub(base))
}

const MIB: usize = 1 << 20;

fn now() -> DateTime<Utc> {
    common::pinned()
}

/// Texts a caller might pass as a time: durations of any size and unit,
/// instants of any year and offset, and anything at all.
fn time_text() -> impl Strategy<Value = String> {
    let units = prop::sample::select(vec![
        "s", "m", "h", "d", "w", "sec", "mins", "hours", "days", "weeks", "y", "",
    ]);
    let prefix = prop::sample::select(vec!["", "last ", "-", " "]);
    let duration = (prefix, any::<u64>(), units).prop_map(|(p, n, u)| format!("{p}{n}{u}"));
    let small_duration = (0u64..200_000, prop::sample::select(vec!["h", "d", "w"]))
        .prop_map(|(n, u)| format!("{n}{u}"));
    let instant = (0u32..=9999, 1u32..=12, 1u32..=28, 0u32..24, -23i32..=23).prop_map(
        |(year, month, day, hour, offset)| {
            format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:00:00{:+03}:00",
                offset
            )
        },
    );
    prop_oneof![
        duration,
        small_duration,
        instant,
        Just("now".to_string()),
        ".{0,40}",
        "[0-9]{15,30}[smhdw]",
    ]
}

proptest! {
    #![proptest_config(Config::with_cases(2_000))]

    #[test]
    fn time_parsers_never_panic(text in time_text()) {
        let _ = try_parse_duration(&text);
        let _ = parse_instant(&text, now());
        let _ = parse_instant(&text, DateTime::<Utc>::MIN_UTC);
        let _ = parse_instant(&text, DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn every_window_accepted_is_non_empty_and_at_most_the_maximum(
        since in prop::option::of(time_text()),
        until in prop::option::of(time_text()),
        default_hours in 0i64..10_000,
    ) {
        let parsed = TimeWindow::parse(
            since.as_deref(),
            until.as_deref(),
            now(),
            Duration::hours(default_hours),
        );
        match parsed {
            Ok(window) => {
                prop_assert!(window.since < window.until);
                prop_assert!(window.span() <= MAX_WINDOW);
                let baseline = window.previous();
                prop_assert_eq!(baseline.until, window.since);
                prop_assert!(baseline.span() <= MAX_WINDOW);
            }
            Err(message) => prop_assert!(message.len() < 1_000, "{}", message),
        }
    }

    #[test]
    fn any_window_instants_have_a_previous_window(a in any::<i64>(), b in any::<i64>()) {
        let instant = |s: i64| DateTime::from_timestamp(s.rem_euclid(8_000_000_000_000) - 4_000_000_000_000, 0);
        if let (Some(x), Some(y)) = (instant(a), instant(b)) {
            let window = TimeWindow { since: x.min(y), until: x.max(y) };
            let baseline = window.previous();
            prop_assert_eq!(baseline.until, window.since);
            prop_assert!(baseline.since <= baseline.until);
        }
    }

    #[test]
    fn the_request_screen_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2_000)) {
        let _ = screen_request(&bytes);
    }

    #[test]
    fn the_request_screen_answers_malformed_tool_calls_with_their_id(
        id in any::<u32>(),
        arguments in prop_oneof![
            Just(json!("text")), Just(json!([1, 2])), Just(json!(3.5)), Just(json!(true)),
            ".{0,20}".prop_map(Value::String),
        ],
    ) {
        let line = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "fetch_logs", "arguments": arguments}}).to_string();
        let reply = screen_request(line.as_bytes()).expect_err("non-object arguments are refused");
        prop_assert_eq!(reply.code, -32602);
        prop_assert_eq!(reply.id, json!(id));
    }
}

fn sandbox() -> Sandbox {
    let options = SandboxOptions {
        scenario: Some("expired-secret".into()),
        ..SandboxOptions::default()
    };
    Sandbox::new(options, Arc::new(FixedClock(now()))).expect("sandbox loads")
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// The regression this guards: the sandbox built every day of the window before
/// cutting to `limit` (24 GB for 100000 weeks).
#[test]
fn the_sandbox_log_source_holds_memory_to_the_limit_whatever_the_window() {
    let sandbox = sandbox();
    let query = |weeks: i64, limit: usize| LogQuery {
        window: TimeWindow {
            since: now() - Duration::weeks(weeks),
            until: now(),
        },
        pipeline: None,
        run_id: None,
        activity: None,
        source: None,
        min_level: None,
        contains: None,
        limit,
    };
    // The first read simulates the run history once; measure the reads after it.
    block_on(sandbox.fetch_logs(&query(1, 1))).expect("logs");
    let mut runner = TestRunner::new(Config::with_cases(64));
    runner
        .run(
            &(
                prop::sample::select(vec![1_i64, 13, 1_000, 100_000, 5_000_000]),
                1usize..=2_000,
            ),
            |(weeks, limit)| {
                let (lines, peak) = within(64 * MIB, || {
                    block_on(sandbox.fetch_logs(&query(weeks, limit)))
                });
                let lines = lines.expect("logs");
                prop_assert!(lines.len() <= limit);
                prop_assert!(lines.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
                // The lines kept and one run's simulated logs, never the window.
                prop_assert!(
                    peak < 4 * MIB + limit * 2 * 1024,
                    "{} weeks, limit {}: {} bytes held at once",
                    weeks,
                    limit,
                    peak
                );
                Ok(())
            },
        )
        .expect("bounded");
}

/// The bound the worst calls on the sandbox are held to, in bytes held at once
/// by the call (the answer included).
const WORST_CALL_BYTES: usize = 64 * MIB;

#[test]
fn the_worst_tool_calls_stay_under_their_documented_bound() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let h = runtime.block_on(common::start("expired-secret"));
    runtime.block_on(h.call("fetch_logs", json!({"limit": 1})));
    let worst = [
        (
            "fetch_logs",
            json!({"since": "90d", "limit": 2000, "level": "TRACE"}),
        ),
        (
            "summarize_error_logs",
            json!({"since": "90d", "level": "TRACE", "top": 100}),
        ),
        ("list_pipeline_runs", json!({"since": "90d", "limit": 500})),
        ("get_failed_tasks_summary", json!({"since": "90d"})),
        ("fetch_logs", json!({"since": "100000w", "limit": 2000})),
        ("summarize_error_logs", json!({"since": "7000000w"})),
    ];
    for (tool, args) in worst {
        let (result, peak) = within(WORST_CALL_BYTES, || {
            runtime.block_on(h.call(tool, args.clone()))
        });
        assert!(!result.content.is_empty(), "{tool} answered nothing");
        eprintln!("{tool} {args}: {peak} bytes at most");
        assert!(peak < WORST_CALL_BYTES);
    }
}

#[test]
fn tool_calls_with_any_window_or_size_answer_within_their_bounds() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let h = runtime.block_on(common::start("expired-secret"));
    let size = prop_oneof![
        Just(Value::Null),
        (0u64..3_000).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ];
    let tool = prop::sample::select(vec![
        "fetch_logs",
        "summarize_error_logs",
        "list_pipeline_runs",
        "get_failed_tasks_summary",
    ]);
    let strategy = (
        tool,
        prop::option::of(time_text()),
        prop::option::of(time_text()),
        size,
    );
    let mut runner = TestRunner::new(Config::with_cases(96));
    runner
        .run(&strategy, |(tool, since, until, size)| {
            let mut args = serde_json::Map::new();
            if let Some(since) = since {
                args.insert("since".into(), since.into());
            }
            if let Some(until) = until {
                args.insert("until".into(), until.into());
            }
            let size_name = if tool == "summarize_error_logs" {
                "top"
            } else {
                "limit"
            };
            if tool != "get_failed_tasks_summary" && !size.is_null() {
                args.insert(size_name.into(), size.clone());
            }
            let (result, peak) = within(WORST_CALL_BYTES, || {
                runtime.block_on(async {
                    tokio::time::timeout(
                        std::time::Duration::from_secs(60),
                        h.call(tool, Value::Object(args.clone())),
                    )
                    .await
                })
            });
            let result =
                result.map_err(|_| TestCaseError::fail(format!("{tool} did not answer")))?;
            let text = common::text_of(&result);
            if result.is_error == Some(true) {
                prop_assert!(text.len() < 8_000, "{} bytes of error", text.len());
                return Ok(());
            }
            let data = result.structured_content.clone().unwrap_or_default();
            let asked = size.as_u64().map(|n| n as usize);
            let count = |key: &str| data[key].as_array().map_or(0, Vec::len);
            match tool {
                "fetch_logs" => prop_assert!(count("lines") <= asked.unwrap_or(200)),
                "list_pipeline_runs" => prop_assert!(count("runs") <= asked.unwrap_or(50)),
                "summarize_error_logs" => prop_assert!(count("clusters") <= asked.unwrap_or(10)),
                _ => {}
            }
            prop_assert!(peak < WORST_CALL_BYTES);
            Ok(())
        })
        .expect("every call answers within its bounds");
}
