use std::io::{BufReader, Cursor, Read};

use chrono::TimeZone;

use super::*;
use crate::logmine::test_support::letters;

fn summarize(text: &[u8], filter: SummaryFilter) -> Summary {
    let mut s = LogSummarizer::new(filter, MinerConfig::default(), 2026);
    s.feed(Cursor::new(text.to_vec()))
        .unwrap_or_else(|e| panic!("{e}"));
    s.finish()
}

const LOG: &str = "\
2026-11-23 02:00:01,100 INFO  etl.load - Loaded 1200 rows into staging.orders
2026-11-23 02:03:04,200 ERROR etl.load - Connection to db-7.internal:5432 timed out after 3000 ms
Traceback (most recent call last):
  File \"/opt/etl/load.py\", line 42, in run
    conn = connect(host)
TimeoutError: timed out
2026-11-23 02:03:09,300 ERROR etl.load - Connection to db-3.internal:5432 timed out after 3000 ms
2026-11-23 02:04:00,000 WARN  etl.load - Retrying batch 17 of 40
2026-11-23 02:05:00,000 INFO  etl.load - Loaded 987 rows into staging.orders
";

#[test]
fn tracebacks_stay_with_their_message_and_levels_are_kept() {
    let s = summarize(LOG.as_bytes(), SummaryFilter::default());
    assert_eq!(s.counts.lines, 9);
    assert_eq!(s.counts.events, 5);
    assert_eq!(s.counts.mined, 5);
    let timeout = s
        .clusters
        .iter()
        .find(|c| c.cluster.template.contains("timed out after"))
        .unwrap_or_else(|| panic!("no timeout template in {:?}", s.clusters));
    assert_eq!(timeout.cluster.count, 2);
    assert_eq!(timeout.level, Some(LogLevel::Error));
    assert_eq!(
        timeout.cluster.first_seen,
        Utc.with_ymd_and_hms(2026, 11, 23, 2, 3, 4)
            .single()
            .map(|t| t + chrono::Duration::milliseconds(200))
    );
    // The example keeps the traceback; the template is the message's: the
    // learned header ends after the logger name and its `-`.
    assert!(timeout.cluster.examples[0].contains("TimeoutError: timed out"));
    assert!(
        timeout.cluster.template.starts_with("Connection to"),
        "{}",
        timeout.cluster.template
    );
    assert_eq!(s.counts.with_timestamp, 5);
    assert_eq!(s.counts.with_level, 5);
}

/// An HDFS-style file (composed here): `yymmdd hhmmss`, a thread id, a
/// level and a logger ending in `:`, which the generic reader cannot read.
const COMPACT_LOG: &str = "\
261123 020001 41 INFO fs.BlockStore: Stored block blk_17 of 128 MB
261123 020002 41 INFO fs.BlockStore: Stored block blk_18 of 64 MB
261123 020107 52 WARN fs.Replicator: Block blk_17 has 1 of 3 replicas
261123 020230 52 ERROR fs.Replicator: Lost contact with node-7 after 3 retries
261123 020231 41 INFO fs.BlockStore: Stored block blk_19 of 128 MB
261123 023000 52 ERROR fs.Replicator: Lost contact with node-2 after 3 retries
";

#[test]
fn a_file_in_a_shape_the_generic_reader_misses_gets_times_and_levels() {
    let s = summarize(COMPACT_LOG.as_bytes(), SummaryFilter::default());
    assert_eq!(s.counts.events, 6);
    assert_eq!(s.counts.with_timestamp, 6);
    assert_eq!(s.counts.with_level, 6);
    let at = |h, m, sec| Utc.with_ymd_and_hms(2026, 11, 23, h, m, sec).single();
    assert_eq!(s.first_seen, at(2, 0, 1));
    assert_eq!(s.last_seen, at(2, 30, 0));
    let lost = s
        .clusters
        .iter()
        .find(|c| c.cluster.template.starts_with("Lost contact with"))
        .unwrap_or_else(|| panic!("no 'Lost contact' template in {:?}", s.clusters));
    assert_eq!(lost.cluster.count, 2);
    assert_eq!(lost.level, Some(LogLevel::Error));
    assert_eq!(lost.cluster.first_seen, at(2, 2, 30));
    assert_eq!(lost.cluster.last_seen, at(2, 30, 0));
    let stored = s
        .clusters
        .iter()
        .find(|c| c.cluster.template.starts_with("Stored block"))
        .unwrap_or_else(|| panic!("no 'Stored block' template in {:?}", s.clusters));
    assert_eq!(
        (stored.cluster.count, stored.level),
        (3, Some(LogLevel::Info))
    );

    // The level filter works on the learned levels.
    let s = summarize(
        COMPACT_LOG.as_bytes(),
        SummaryFilter {
            min_level: Some(LogLevel::Warn),
            ..SummaryFilter::default()
        },
    );
    assert_eq!((s.counts.mined, s.counts.below_level), (3, 3));
}

#[test]
fn each_source_learns_its_own_shape_and_held_events_keep_their_order() {
    let mut s = LogSummarizer::new(SummaryFilter::default(), MinerConfig::default(), 2026);
    s.feed(Cursor::new(COMPACT_LOG.as_bytes().to_vec()))
        .unwrap_or_else(|e| panic!("{e}"));
    // More events than the sample: some are held, the rest read directly.
    let mut spark = String::new();
    for i in 0..(SAMPLE_LINES as u32 * 3) {
        spark.push_str(&format!(
            "26/11/24 {:02}:{:02}:00 INFO exec.Task: Finished task {i}\n",
            i / 60,
            i % 60
        ));
    }
    s.feed(Cursor::new(spark.into_bytes()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.held.is_empty());
    let summary = s.finish();
    assert_eq!(summary.counts.with_timestamp, 6 + SAMPLE_LINES as u64 * 3);
    let finished = summary
        .clusters
        .iter()
        .find(|c| c.cluster.template.starts_with("Finished task"))
        .unwrap_or_else(|| panic!("no 'Finished task' template in {:?}", summary.clusters));
    assert_eq!(
        finished.cluster.first_seen,
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).single()
    );
    assert_eq!(
        finished.cluster.last_seen,
        Utc.with_ymd_and_hms(2026, 11, 24, 2, 29, 0).single()
    );
    assert_eq!(summary.last_seen, finished.cluster.last_seen);
}

#[test]
fn events_held_while_learning_are_bounded_in_bytes() {
    let mut s = LogSummarizer::new(SummaryFilter::default(), MinerConfig::default(), 2026);
    let big = format!("2026-11-23 02:00:00 INFO app: {}", "x".repeat(60 * 1024));
    let mut most = 0;
    for _ in 0..SAMPLE_LINES {
        s.take(big.clone());
        most = most.max(s.held_bytes);
    }
    assert!(most < MAX_HELD_BYTES + big.len(), "{most} bytes held");
    assert!(
        s.shape.is_some(),
        "the shape is learned once the bytes run out"
    );
    assert!(s.held.len() < SAMPLE_LINES);
    assert_eq!(s.finish().counts.events, SAMPLE_LINES as u64);
}

#[test]
fn level_and_window_filters_count_what_they_leave_out() {
    let s = summarize(
        LOG.as_bytes(),
        SummaryFilter {
            min_level: Some(LogLevel::Warn),
            ..SummaryFilter::default()
        },
    );
    assert_eq!(s.counts.mined, 3);
    assert_eq!(s.counts.below_level, 2);

    let since = Utc.with_ymd_and_hms(2026, 11, 23, 2, 3, 5).single();
    let until = Utc.with_ymd_and_hms(2026, 11, 23, 2, 5, 0).single();
    let s = summarize(
        format!("{LOG}no timestamp here\n").as_bytes(),
        SummaryFilter {
            since,
            until,
            ..SummaryFilter::default()
        },
    );
    // 02:03:09 and 02:04:00 are inside; 02:05:00 is the (excluded) end.
    assert_eq!(s.counts.mined, 2);
    assert_eq!(s.counts.outside_window, 3);
    assert_eq!(s.counts.without_timestamp, 1);
}

#[test]
fn dirty_input_is_read_not_rejected() {
    let mut text = Vec::new();
    text.extend_from_slice(b"ERROR bad byte \xff\xfe here\r\n");
    text.extend_from_slice(b"\0\0\0 binary junk\n\n\n");
    text.extend_from_slice(&vec![b'x'; MAX_READ_LINE_BYTES * 3]);
    text.extend_from_slice(b"\nERROR bad byte \xff here\n");
    text.extend_from_slice(b"last line without newline");
    let s = summarize(&text, SummaryFilter::default());
    assert_eq!(s.counts.lines, 7);
    assert_eq!(s.counts.long_lines, 1);
    assert!(s.counts.mined >= 4);
    let all: String = s
        .clusters
        .iter()
        .map(|c| c.cluster.template.clone())
        .collect();
    assert!(all.contains("bad byte"), "{all}");
}

/// A reader that hands out a huge single line a little at a time: the
/// summariser must keep at most the cap of it.
struct Endless {
    left: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left);
        buf[..n].fill(b'a');
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn a_line_without_end_is_capped() {
    let mut buf = Vec::new();
    let mut reader = BufReader::new(Endless { left: 50 << 20 });
    let cut = read_capped_line(&mut reader, &mut buf, 1024).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cut, Some(true));
    assert_eq!(buf.len(), 1024);
    assert_eq!(
        read_capped_line(&mut reader, &mut buf, 1024).unwrap_or_else(|e| panic!("{e}")),
        None
    );
}

#[test]
fn levels_of_evicted_templates_are_forgotten() {
    let config = MinerConfig {
        max_templates: 4,
        ..MinerConfig::default()
    };
    let mut s = LogSummarizer::new(SummaryFilter::default(), config, 2026);
    let mut text = String::new();
    for i in 0..500 {
        text.push_str(&format!(
            "ERROR message{} word{} happened\n",
            letters(i),
            i % 3
        ));
    }
    s.feed(Cursor::new(text.into_bytes()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.levels.len() <= 8, "{} levels kept", s.levels.len());
    let summary = s.finish();
    assert!(summary.clusters.len() <= 4);
    assert!(summary.evicted_templates > 0);
}
