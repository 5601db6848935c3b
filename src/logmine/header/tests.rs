use super::*;

fn at(s: &str) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(s).ok()?.to_utc())
}

fn check(line: &str, ts: Option<&str>, level: Option<LogLevel>, message: &str) {
    let h = split_header(line, 2026);
    assert_eq!(h.timestamp, ts.and_then(at), "timestamp of {line:?}");
    assert_eq!(h.level, level, "level of {line:?}");
    assert_eq!(&line[h.message_start..], message, "message of {line:?}");
}

#[test]
fn reads_the_common_layouts() {
    use LogLevel::*;
    check(
        "2026-11-23T02:03:04.5Z ERROR Connection to db:5432 timed out",
        Some("2026-11-23T02:03:04.5Z"),
        Some(Error),
        "Connection to db:5432 timed out",
    );
    check(
        "2026-11-23 02:03:04,123 - etl.load - WARNING - retrying",
        Some("2026-11-23T02:03:04.123Z"),
        Some(Warn),
        "retrying",
    );
    check(
        "[2026-11-23, 02:03:04 UTC] {taskinstance.py:1234} ERROR - Task failed",
        Some("2026-11-23T02:03:04Z"),
        Some(Error),
        "Task failed",
    );
    check(
        "17/06/09 20:10:40 INFO executor.Backend: Registered",
        Some("2017-06-09T20:10:40Z"),
        Some(Info),
        "executor.Backend: Registered",
    );
    check(
        "Nov 23 02:03:04 host sshd[42]: error: bad key",
        Some("2026-11-23T02:03:04Z"),
        Some(Error),
        "bad key",
    );
    check(
        "2026-11-23T03:03:04+01:00 level=error msg=boom",
        Some("2026-11-23T02:03:04Z"),
        Some(Error),
        "msg=boom",
    );
    check(
        "2005-06-03-15.42.50.675872 R02-M1 RAS KERNEL INFO cache parity corrected",
        Some("2005-06-03T15:42:50.675872Z"),
        Some(Info),
        "cache parity corrected",
    );
    // Two-digit years pivot as strptime's %y does.
    check(
        "99/12/31 23:59:59 WARN y2k: clocks",
        Some("1999-12-31T23:59:59Z"),
        Some(Warn),
        "y2k: clocks",
    );
    check(
        "2026-11-23 02:03:04 +0100 ERROR spaced zone",
        Some("2026-11-23T01:03:04Z"),
        Some(Error),
        "spaced zone",
    );
    check(
        "[Sun Dec 04 04:47:44 2005] [error] mod_jk child",
        Some("2005-12-04T04:47:44Z"),
        Some(Error),
        "mod_jk child",
    );
}

#[test]
fn lines_without_a_header_keep_their_text() {
    check("ERROR: disk full", None, Some(LogLevel::Error), "disk full");
    check("just a message", None, None, "just a message");
    check(
        "  at com.Foo.bar(Foo.java:42)",
        None,
        None,
        "at com.Foo.bar(Foo.java:42)",
    );
    check("12345 rows copied", None, None, "12345 rows copied");
    check(
        "2026-13-45 99:99:99 bad date",
        None,
        None,
        "2026-13-45 99:99:99 bad date",
    );
    check("", None, None, "");
    // A version after a date is not a time; a full stop after one is text.
    check(
        "2026-11-23 3.14.15 released",
        None,
        None,
        "2026-11-23 3.14.15 released",
    );
    check(
        "2026-11-23 02:03:04. Done",
        Some("2026-11-23T02:03:04Z"),
        None,
        ". Done",
    );
    check(
        "2026-11-23 02:03:04 +12 items",
        Some("2026-11-23T02:03:04Z"),
        None,
        "+12 items",
    );
    check(
        "Error handling is fine",
        None,
        None,
        "Error handling is fine",
    );
    check(
        "2026-11-23 02:03:04 connection error while reading",
        Some("2026-11-23T02:03:04Z"),
        None,
        "connection error while reading",
    );
}

mod loghub;
mod shapes;
