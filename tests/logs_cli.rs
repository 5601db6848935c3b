//! `opsdeck logs summarize` as an engineer runs it: files and stdin, filters,
//! text and JSON, and clear errors.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::process::{OPSDECK, tempdir};
use serde_json::Value;

/// Runs `opsdeck logs summarize ARGS` with `stdin` piped in.
fn summarize(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(OPSDECK)
        .arg("logs")
        .arg("summarize")
        .args(args)
        .env("OPSDECK_LOG_DIR", tempdir("logs-cli"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const SPARK_LOG: &str = "\
26/11/23 02:00:01 INFO DAGScheduler: Submitting 200 missing tasks from ResultStage 3
26/11/23 02:03:04 ERROR Executor: Exception in task 17.0 in stage 3.0 (TID 4411)
java.io.IOException: Connection reset by peer
\tat sun.nio.ch.FileDispatcherImpl.read0(Native Method)
\tat org.apache.spark.network.TransportChannelHandler.channelRead(TransportChannelHandler.java:120)
26/11/23 02:03:05 ERROR Executor: Exception in task 18.0 in stage 3.0 (TID 4412)
java.io.IOException: Connection reset by peer
\tat sun.nio.ch.FileDispatcherImpl.read0(Native Method)
26/11/23 02:03:09 WARN TaskSetManager: Lost task 17.0 in stage 3.0 (TID 4411, 10.0.3.7, executor 2)
26/11/23 02:04:00 INFO DAGScheduler: Submitting 180 missing tasks from ResultStage 4
";

#[test]
fn a_file_collapses_into_templates_with_counts_levels_and_values() {
    let dir = tempdir("logs-cli-file");
    let path = dir.join("driver.log");
    std::fs::write(&path, SPARK_LOG).unwrap();
    let (code, out, err) = summarize(&[path.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("10 lines, 5 events, 5 mined into 3 templates"),
        "{out}"
    );
    // The two task failures, tracebacks and all, are one template on top.
    let first = out.split("\n\n").nth(1).unwrap_or_default();
    assert!(
        first.contains("2×  ERROR  2026-11-23 02:03:04 → 02:03:05 UTC"),
        "{out}"
    );
    // The header (time, level, logger) is learned and left out of the template.
    assert!(
        first.contains("\n     Exception in task <*> in stage <*> (TID <*>)\n"),
        "{out}"
    );
    assert!(first.contains("<*>1: 17.0, 18.0"), "{out}");
    assert!(first.contains("(+3 more lines)"), "{out}");
}

/// HDFS-style lines (composed here, not copied from Loghub): `yymmdd
/// hhmmss`, a thread id, a level, a logger ending in `:`. The generic
/// header reader sees no timestamp in them; the learned shape does.
const COMPACT_LOG: &str = "\
261123 020001 41 INFO fs.BlockStore: Stored block blk_17 of 128 MB
261123 020002 41 INFO fs.BlockStore: Stored block blk_18 of 64 MB
261123 020107 52 WARN fs.Replicator: Block blk_17 has 1 of 3 replicas
261123 020230 52 ERROR fs.Replicator: Lost contact with node-7 after 3 retries
261123 020231 41 INFO fs.BlockStore: Stored block blk_19 of 128 MB
261123 023000 52 ERROR fs.Replicator: Lost contact with node-2 after 3 retries
";

#[test]
fn an_hdfs_style_file_reports_timestamps_and_levels() {
    let dir = tempdir("logs-cli-compact");
    let path = dir.join("datanode.log");
    std::fs::write(&path, COMPACT_LOG).unwrap();
    let (code, out, err) = summarize(&[path.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "6 events with a timestamp, 6 with a level, mined events span 2026-11-23 02:00:01 → 02:30:00 UTC"
        ),
        "{out}"
    );
    let lost = out
        .split("\n\n")
        .find(|block| block.contains("Lost contact with"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        lost.contains("2×  ERROR  2026-11-23 02:02:30 → 02:30:00 UTC"),
        "{out}"
    );
    let stored = out
        .split("\n\n")
        .find(|block| block.contains("Stored block"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(stored.contains("3×  INFO"), "{out}");

    // The time window and level filter see the learned fields too.
    let (code, out, err) = summarize(
        &["--level", "error", "--since", "2026-11-23 02:02:00", "-"],
        COMPACT_LOG.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 mined into 1 templates"), "{out}");
    assert!(
        out.contains("left out: 4 below ERROR, 0 without a level, 0 outside the time window, 0 without a timestamp"),
        "{out}"
    );
}

#[test]
fn stdin_and_filters_work_together() {
    let (code, out, err) = summarize(
        &["--level", "warn", "--since", "2026-11-23 02:03:05", "-"],
        SPARK_LOG.replace("26/11/23", "2026-11-23").as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 mined into 2 templates"), "{out}");
    assert!(out.contains("left out: 2 below WARN, 0 without a level, 1 outside the time window, 0 without a timestamp"), "{out}");
}

#[test]
fn json_carries_the_whole_summary() {
    let (code, out, err) = summarize(&["--json"], SPARK_LOG.as_bytes());
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["counts"]["events"], 5);
    let clusters = summary["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 3);
    assert_eq!(clusters[0]["count"], 2);
    assert_eq!(clusters[0]["level"], "ERROR");
    assert_eq!(clusters[0]["first_seen"], "2026-11-23T02:03:04Z");
    assert_eq!(summary["first_seen"], "2026-11-23T02:00:01Z");
    assert_eq!(summary["last_seen"], "2026-11-23T02:04:00Z");
    assert_eq!(summary["counts"]["with_level"], 5);
    assert!(
        clusters[0]["examples"][0]
            .as_str()
            .unwrap()
            .contains("Connection reset by peer")
    );
}

#[test]
fn hostile_and_broken_input_gives_clear_answers() {
    // Escape sequences never reach the terminal; binary junk is summarised.
    let (code, out, _) = summarize(&[], b"ERROR \x1b]0;pwned\x07 title \xff\xfe\n\0\0\0\n");
    assert_eq!(code, 0);
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");

    // Secrets in log lines stay out of text and JSON alike.
    let secret = b"ERROR login failed: Authorization: Bearer abcdefghijklmnop1234\n";
    for args in [&[][..], &["--json"][..]] {
        let (code, out, err) = summarize(args, secret);
        assert_eq!(code, 0, "{err}");
        assert!(!out.contains("abcdefghijklmnop1234"), "{out}");
        assert!(out.contains("redacted"), "{out}");
    }

    let (code, _, err) = summarize(&["/no/such/file.log"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("cannot open /no/such/file.log"), "{err}");

    let (code, _, err) = summarize(&["--level", "loud"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("--level 'loud' is not a log level"), "{err}");

    let (code, _, err) = summarize(&["--since", "1h", "--until", "2h"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("the window is empty"), "{err}");
}

/// The text and JSON summaries of `log`.
fn both_outputs(log: &str) -> (String, Value) {
    let (code, text, err) = summarize(&[], log.as_bytes());
    assert_eq!(code, 0, "{err}");
    let (code, json, err) = summarize(&["--json"], log.as_bytes());
    assert_eq!(code, 0, "{err}");
    (text, serde_json::from_str(&json).unwrap())
}

/// The one template's `<*>` count equals its number of value lists, and the
/// values as JSON lists them.
fn aligned_params(summary: &Value) -> Vec<Vec<String>> {
    let cluster = &summary["clusters"][0];
    let template = cluster["template"].as_str().unwrap();
    let params: Vec<Vec<String>> = cluster["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|values| {
            values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(
        template.matches("<*>").count(),
        params.len(),
        "one value list per <*>: {summary:#}"
    );
    params
}

/// The `<*>N:` line of the text output.
fn values_line(text: &str, slot: usize) -> String {
    let prefix = format!("<*>{slot}: ");
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} line in {text}"))
        .to_string()
}

/// A value spelled like its key (`password=password`) is as secret as any
/// other: it is found in `password=[redacted: password]`, but it was redacted.
#[test]
fn a_password_spelled_password_is_not_printed() {
    let log = "ERROR login failed password=password\n\
               ERROR login failed password=letmein\n\
               ERROR login failed password=hunter2\n";
    let (text, json) = both_outputs(log);
    assert!(
        text.contains("\n     login failed password=<*>\n"),
        "{text}"
    );
    assert_eq!(
        values_line(&text, 1),
        "[redacted], [redacted], [redacted]",
        "{text}"
    );
    for secret in ["=password", "letmein", "hunter2"] {
        assert!(!text.contains(secret), "{secret} in {text}");
        assert!(!json.to_string().contains(secret), "{secret} in {json:#}");
    }
    assert_eq!(json["clusters"][0]["template"], "login failed password=<*>");
    assert_eq!(aligned_params(&json), [["[redacted]"; 3]]);
}

/// A secret that happens to be a word of its template is still hidden.
#[test]
fn a_secret_that_is_part_of_its_template_is_not_printed() {
    let log = "ERROR job nightly failed secret=nightly\n\
               ERROR job nightly failed secret=s3cr3tZ\n";
    let (text, json) = both_outputs(log);
    assert_eq!(values_line(&text, 1), "[redacted], [redacted]", "{text}");
    assert!(
        !text.contains("s3cr3tZ") && !text.contains("=nightly"),
        "{text}"
    );
    assert_eq!(aligned_params(&json), [["[redacted]"; 2]]);
    assert_eq!(
        json["clusters"][0]["template"],
        "job nightly failed secret=<*>"
    );
}

/// `Authorization: Bearer <*>`: the tokens are hidden and the template keeps
/// its `<*>` (plain redaction would take it for the token).
#[test]
fn bearer_tokens_are_hidden_and_the_template_keeps_its_slot() {
    let log = "ERROR request denied Authorization: Bearer abcdefghijklmnop1234\n\
               ERROR request denied Authorization: Bearer qrstuvwxyz5678901234\n";
    let (text, json) = both_outputs(log);
    assert!(
        text.contains("\n     request denied Authorization: Bearer <*>\n"),
        "{text}"
    );
    assert_eq!(values_line(&text, 1), "[redacted], [redacted]", "{text}");
    for token in ["abcdefghijklmnop1234", "qrstuvwxyz5678901234"] {
        assert!(!text.contains(token) && !json.to_string().contains(token));
    }
    assert_eq!(aligned_params(&json), [["[redacted]"; 2]]);
}

/// Redacting one `<*>`'s values leaves the others, harmless ones shown,
/// each still under its own `<*>`.
#[test]
fn values_stay_aligned_with_their_slots_and_harmless_ones_are_shown() {
    let log = "ERROR db login user=alice password=hunter2 from 10.0.0.1\n\
               ERROR db login user=bob password=letmein from 10.0.0.2\n\
               ERROR db login user=carol password=password from 10.0.0.3\n";
    let (text, json) = both_outputs(log);
    assert!(
        text.contains("\n     db login user=<*> password=<*> from <*>\n"),
        "{text}"
    );
    assert_eq!(values_line(&text, 1), "alice, bob, carol", "{text}");
    assert_eq!(
        values_line(&text, 2),
        "[redacted], [redacted], [redacted]",
        "{text}"
    );
    assert_eq!(values_line(&text, 3), "10.0.0.1, 10.0.0.2, 10.0.0.3");
    assert_eq!(
        aligned_params(&json),
        [
            vec!["alice", "bob", "carol"],
            vec!["[redacted]"; 3],
            vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        ]
    );
    assert!(!json.to_string().contains("hunter2"), "{json:#}");
}
