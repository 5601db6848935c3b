//! Learned shapes on formats the reader was not written against (composed
//! here, not taken from Loghub), and on input that must not fool it.

use chrono::{DateTime, Utc};

use super::super::{HeaderShape, SAMPLE_LINES, split_header};
use crate::model::log::LogLevel;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .to_utc()
}

/// Learns from `lines`, then checks each `(line, timestamp, level, message)`.
fn check(lines: &[&str], expected: &[(&str, Option<&str>, Option<LogLevel>, &str)]) {
    let shape = HeaderShape::learn(lines.iter().copied(), 2024);
    assert!(shape.is_learned(), "nothing learned from {lines:?}");
    for &(line, ts, level, message) in expected {
        let h = shape.split(line, 2024);
        assert_eq!(h.timestamp, ts.map(at), "timestamp of {line:?} ({shape:?})");
        assert_eq!(h.level, level, "level of {line:?} ({shape:?})");
        assert_eq!(
            &line[h.message_start..],
            message,
            "message of {line:?} ({shape:?})"
        );
    }
}

/// `lines` with their messages as the expectation, for the lines that
/// share `ts` and `level`.
const SLASHED: &[&str] = &[
    "2024/03/01-12:00:00.123 [worker-3] WARN  c.x.Pool - pool 3 is 90% full",
    "2024/03/01-12:00:01.500 [worker-1] INFO  c.x.Sched - scheduled job 17 at 12:05",
    "2024/03/01-12:00:02.000 [main] INFO  c.x.App - started in 2.3 s",
    "2024/03/01-12:00:07.250 [worker-3] ERROR c.x.Pool - lease expired: task 9",
];

#[test]
fn a_bracketed_thread_and_a_logger_before_a_dash() {
    check(
        SLASHED,
        &[
            (
                SLASHED[0],
                Some("2024-03-01T12:00:00.123Z"),
                Some(LogLevel::Warn),
                "pool 3 is 90% full",
            ),
            (
                SLASHED[3],
                Some("2024-03-01T12:00:07.25Z"),
                Some(LogLevel::Error),
                "lease expired: task 9",
            ),
            // A later line in the same shape, never seen while learning.
            (
                "2024/12/31-23:59:59.999 [io pool 2] FATAL c.x.Disk - disk gone",
                Some("2024-12-31T23:59:59.999Z"),
                Some(LogLevel::Fatal),
                "disk gone",
            ),
        ],
    );
}

#[test]
fn glog_puts_the_level_in_the_date_and_ends_the_header_with_a_bracket() {
    let lines = [
        "I0301 12:00:00.123456    1234 server.go:42] listening on :8080",
        "I0301 12:00:00.200000    1234 server.go:57] accepted 10.0.0.7:5123",
        "W0301 12:00:03.000001    1240 pool.go:211] slow request 512ms",
        "E0301 12:00:04.999999    1240 pool.go:230] request failed: EOF",
    ];
    check(
        &lines,
        &[
            (
                lines[0],
                Some("2024-03-01T12:00:00.123456Z"),
                Some(LogLevel::Info),
                "listening on :8080",
            ),
            (
                lines[3],
                Some("2024-03-01T12:00:04.999999Z"),
                Some(LogLevel::Error),
                "request failed: EOF",
            ),
        ],
    );
}

#[test]
fn rfc5424_has_five_fields_after_the_time() {
    let lines = [
        "<134>1 2024-03-01T12:00:00Z web-1 app 123 ID47 - user 7 logged in",
        "<131>1 2024-03-01T12:00:05.5Z web-2 app 456 ID47 - disk 90% full",
        "<134>1 2024-03-01T13:00:00+01:00 web-1 app 123 ID48 - cache warmed",
    ];
    check(
        &lines,
        &[
            // The priority carries the severity: 134 = local0.info, 131 = local0.err.
            (
                lines[0],
                Some("2024-03-01T12:00:00Z"),
                Some(LogLevel::Info),
                "user 7 logged in",
            ),
            (
                lines[1],
                Some("2024-03-01T12:00:05.5Z"),
                Some(LogLevel::Error),
                "disk 90% full",
            ),
            (
                lines[2],
                Some("2024-03-01T12:00:00Z"),
                Some(LogLevel::Info),
                "cache warmed",
            ),
        ],
    );
}

#[test]
fn epoch_milliseconds_and_compact_dates_are_found_where_they_stand() {
    let millis = [
        "1709294400123 INFO worker.pool: started 4 workers",
        "1709294401500 WARN worker.pool: queue at 80%",
        "1709294402000 INFO http.server: GET /health 200",
    ];
    check(
        &millis,
        &[(
            millis[1],
            Some("2024-03-01T12:00:01.5Z"),
            Some(LogLevel::Warn),
            "queue at 80%",
        )],
    );
    // yymmdd hhmmss, a thread id, a level and a logger ending in `:`.
    let compact = [
        "240301 120000 17 INFO store.Writer: flushed 12 segments",
        "240301 120005 17 WARN store.Writer: segment 4 is 2 GiB",
        "990301 120010 18 INFO store.Reader$Cache: 3 misses",
    ];
    check(
        &compact,
        &[
            (
                compact[1],
                Some("2024-03-01T12:00:05Z"),
                Some(LogLevel::Warn),
                "segment 4 is 2 GiB",
            ),
            // Two-digit years pivot: 99 is 1999.
            (
                compact[2],
                Some("1999-03-01T12:00:10Z"),
                Some(LogLevel::Info),
                "3 misses",
            ),
        ],
    );
}

#[test]
fn day_or_month_first_is_settled_by_the_lines_that_can_only_be_one() {
    let day_first = [
        "03/04/2024 10:00:00 INFO sync: 4 files",
        "13/04/2024 10:00:00 INFO sync: 9 files",
        "28/04/2024 10:00:00 WARN sync: slow disk",
    ];
    check(
        &day_first,
        &[(
            day_first[0],
            Some("2024-04-03T10:00:00Z"),
            Some(LogLevel::Info),
            "4 files",
        )],
    );
    let month_first = [
        "03/04/2024 10:00:00 INFO sync: 4 files",
        "04/13/2024 10:00:00 INFO sync: 9 files",
        "04/28/2024 10:00:00 WARN sync: slow disk",
    ];
    check(
        &month_first,
        &[(
            month_first[0],
            Some("2024-03-04T10:00:00Z"),
            Some(LogLevel::Info),
            "4 files",
        )],
    );
}

/// No line can only be one: `/` reads month first (the US form), `.` and
/// `-` day first (the European forms); never an accident of order.
#[test]
fn an_unsettled_day_or_month_follows_the_separator() {
    let slashed = [
        "03/04/2024 10:00:00 INFO sync: 4 files",
        "03/04/2024 10:00:01 INFO sync: 9 files",
        "03/05/2024 10:00:02 WARN sync: slow disk",
    ];
    check(
        &slashed,
        &[(
            slashed[0],
            Some("2024-03-04T10:00:00Z"),
            Some(LogLevel::Info),
            "4 files",
        )],
    );
    let dotted = [
        "03.04.2024 10:00:00 INFO sync: 4 files",
        "03.04.2024 10:00:01 INFO sync: 9 files",
        "03.05.2024 10:00:02 WARN sync: slow disk",
    ];
    check(
        &dotted,
        &[(
            dotted[0],
            Some("2024-04-03T10:00:00Z"),
            Some(LogLevel::Info),
            "4 files",
        )],
    );
}

#[test]
fn the_common_log_format_puts_the_time_in_brackets_after_the_client() {
    let lines = [
        "10.0.0.7 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326",
        "10.0.0.9 - - [10/Oct/2000:13:55:40 -0700] \"GET /b HTTP/1.1\" 404 12",
        "10.0.0.7 - frank [11/Oct/2000:01:00:00 +0200] \"POST /c HTTP/1.1\" 201 0",
    ];
    check(
        &lines,
        &[
            (
                lines[0],
                Some("2000-10-10T20:55:36Z"),
                None,
                "\"GET /a.gif HTTP/1.0\" 200 2326",
            ),
            (
                lines[2],
                Some("2000-10-10T23:00:00Z"),
                None,
                "\"POST /c HTTP/1.1\" 201 0",
            ),
        ],
    );
}

#[test]
fn logfmt_keys_its_time_and_level() {
    let lines = [
        r#"time=2024-03-01T12:00:00Z level=info msg="listening" addr=:8080"#,
        r#"time=2024-03-01T12:00:02.5Z level=warn msg="slow query" took=2.1s"#,
        r#"time=2024-03-01T12:00:03Z level=error msg="query failed" err=EOF"#,
    ];
    check(
        &lines,
        &[(
            lines[1],
            Some("2024-03-01T12:00:02.5Z"),
            Some(LogLevel::Warn),
            r#"msg="slow query" took=2.1s"#,
        )],
    );
    let quoted = [
        r#"ts="2024-03-01 12:00:00" lvl=info msg=started"#,
        r#"ts="2024-03-01 12:00:09" lvl=error msg=stopped"#,
        r#"ts="2024-03-01 12:01:00" lvl=info msg=restarted"#,
    ];
    check(
        &quoted,
        &[(
            quoted[1],
            Some("2024-03-01T12:00:09Z"),
            Some(LogLevel::Error),
            "msg=stopped",
        )],
    );
}

#[test]
fn syslog_without_a_year_takes_the_given_one() {
    let lines = [
        "Mar  1 12:00:00 db-1 postgres[811]: checkpoint starting: time",
        "Mar  1 12:00:09 db-1 postgres[811]: checkpoint complete",
        "Mar  1 12:01:00 db-1 cron[90]: (root) CMD (run-parts /etc/cron.hourly)",
    ];
    check(
        &lines,
        &[
            (
                lines[0],
                Some("2024-03-01T12:00:00Z"),
                None,
                "checkpoint starting: time",
            ),
            // The program name is the header's end even when the fields
            // before it differ from the sample's.
            (
                "Mar  1 12:02:00 db-1 kernel 5.15: oom-kill: pid 7",
                Some("2024-03-01T12:02:00Z"),
                None,
                "oom-kill: pid 7",
            ),
            // A level set off at the message start still counts.
            (
                "Mar  1 12:03:00 db-1 sshd[42]: error: bad key",
                Some("2024-03-01T12:03:00Z"),
                Some(LogLevel::Error),
                "bad key",
            ),
        ],
    );
}

#[test]
fn files_the_generic_reader_understands_keep_it() {
    let lines = [
        "2024-03-01T12:00:00Z ERROR Connection to db:5432 timed out",
        "2024-03-01T12:00:01Z INFO Reconnected after 1 s",
        "2024-03-01T12:00:02Z WARN Pool 80% used",
    ];
    let shape = HeaderShape::learn(lines, 2024);
    assert!(
        shape.is_learned() && shape.uses_generic_reader(),
        "{shape:?}"
    );
    // Shapes the generic reader misses do not use it.
    assert!(!HeaderShape::learn(SLASHED.iter().copied(), 2024).uses_generic_reader());
}

#[test]
fn lines_that_do_not_fit_are_read_generically() {
    let shape = HeaderShape::learn(SLASHED.iter().copied(), 2024);
    for line in [
        "2024-03-01 12:00:00 ERROR something else entirely",
        "  at com.x.Pool.lease(Pool.java:42)",
        "ERROR: disk full",
        "",
    ] {
        assert_eq!(
            shape.split(line, 2024),
            split_header(line, 2024),
            "{line:?}"
        );
    }
}

#[test]
fn numbers_that_are_not_dates_teach_nothing() {
    // Six-digit counts that are not valid yymmdd/hhmmss, ids too long for
    // epoch seconds, and message words that vary.
    let lines: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "{:06} {:06} rows copied by job {}",
                990_000 + i,
                777_777,
                i * 13
            )
        })
        .chain((0..10).map(|i| format!("{} ids: {}", 123_456_789_012_345u64 + i, i)))
        .collect();
    let shape = HeaderShape::learn(lines.iter().map(String::as_str), 2024);
    assert!(!shape.has_timestamp(), "{shape:?}");
    for line in &lines {
        assert_eq!(shape.split(line, 2024).timestamp, None, "{line:?}");
    }
}

#[test]
fn a_stable_message_word_is_not_taken_for_a_level_or_logger() {
    // Every message starts the same way; the header still ends at the level.
    let lines: Vec<String> = (0..30)
        .map(|i| {
            format!(
                "2024-03-01 12:00:{:02} INFO Processed batch {i} in {}ms",
                i,
                i * 7
            )
        })
        .collect();
    let shape = HeaderShape::learn(lines.iter().map(String::as_str), 2024);
    let h = shape.split(&lines[3], 2024);
    assert_eq!(&lines[3][h.message_start..], "Processed batch 3 in 21ms");
}

#[test]
fn one_line_teaches_no_header_tail() {
    let line = "ERROR login failed: bad password";
    let shape = HeaderShape::learn([line, line], 2024);
    let h = shape.split(line, 2024);
    assert_eq!(h.level, Some(LogLevel::Error));
    assert_eq!(&line[h.message_start..], "login failed: bad password");
}

#[test]
fn the_sample_is_bounded_and_odd_input_never_panics() {
    // Only the first SAMPLE_LINES lines are looked at: what follows cannot
    // change the shape.
    let head: Vec<String> = (0..SAMPLE_LINES)
        .map(|i| format!("2024-03-01 12:00:00 INFO app.Main: line {i}"))
        .collect();
    let tail = (0..1000).map(|_| "garbage that would outvote the head");
    let all = head.iter().map(String::as_str).chain(tail);
    assert_eq!(
        HeaderShape::learn(all, 2024),
        HeaderShape::learn(head.iter().map(String::as_str), 2024)
    );

    let odd = [
        "",
        " ",
        "[",
        "[[[[[[[[",
        "<",
        "é",
        "2024-03-01",
        "2024-03-01 12:00",
        "2024-03-01 12:00:00.",
        "2024-03-01 12:00:00.1234567890123 x",
        "99999999999999999999999 INFO x",
        "0 0 0 0 0 0 0 0 0 0 0 0",
        "I9999 99:99:99 x",
        "[ünï ©ødé] ERROR ü: ß",
        "\u{0}\u{1b}[31m INFO \u{7f}",
    ];
    let shapes = [
        HeaderShape::learn(odd.iter().copied(), 2024),
        HeaderShape::learn(SLASHED.iter().copied(), 2024),
        HeaderShape::learn(head.iter().map(String::as_str), 2024),
        HeaderShape::default(),
    ];
    for shape in shapes {
        for line in odd {
            let h = shape.split(line, 2024);
            assert!(line.is_char_boundary(h.message_start), "{line:?}");
            assert!(h.message_start <= line.len(), "{line:?}");
        }
    }
}
