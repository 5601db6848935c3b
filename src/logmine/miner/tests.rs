use super::super::{EventAssembler, WILDCARD};
use super::*;
use crate::logmine::test_support::letters;
use chrono::TimeZone;

fn ts(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).single()
}

fn templates(m: &TemplateMiner) -> Vec<(String, u64)> {
    m.clusters()
        .into_iter()
        .map(|c| (c.template, c.count))
        .collect()
}

/// Deterministic xorshift so "random" tests are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn identical_structure_lines_merge_into_one_template() {
    let mut m = TemplateMiner::default();
    let a = m.add(
        "Connection to db-1.prod:5432 timed out after 1500 ms",
        ts(0),
    );
    let b = m.add(
        "Connection to 10.0.0.7:6432 timed out after 30000 ms",
        ts(5),
    );
    let c = m.add(
        "Connection to cache.internal:6379 timed out after 20 ms",
        ts(2),
    );
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(m.len(), 1);
    let cl = &m.clusters()[0];
    // Address and port are two variables, as the field's ground truth has them.
    assert_eq!(cl.template, "Connection to <*>:<*> timed out after <*> ms");
    assert_eq!(cl.count, 3);
    assert_eq!(cl.first_seen, ts(0));
    assert_eq!(cl.last_seen, ts(5));
    assert_eq!(cl.params.len(), 3);
    assert_eq!(cl.params[0], ["db-1.prod", "10.0.0.7", "cache.internal"]);
    assert_eq!(cl.params[1], ["5432", "6432", "6379"]);
    assert_eq!(cl.params[2], ["1500", "30000", "20"]);
    assert_eq!(cl.examples.len(), 3);
}

#[test]
fn plain_words_keep_messages_apart_while_values_generalise() {
    let mut m = TemplateMiner::default();
    for event in ["Started", "Paused", "Started", "Resumed"] {
        m.add(&format!("VM {event} (Lifecycle Event)"), None);
    }
    // A word that differs is a different message, not a variable…
    assert_eq!(
        templates(&m),
        [
            ("VM Started (Lifecycle Event)".to_string(), 2),
            ("VM Paused (Lifecycle Event)".to_string(), 1),
            ("VM Resumed (Lifecycle Event)".to_string(), 1),
        ]
    );
    // …while values with digits or shapes are variables.
    let mut m = TemplateMiner::default();
    for user in ["svc_etl_01", "svc_etl_02", "alice.b.99"] {
        m.add(
            &format!("Session opened for user {user} from 10.1.1.1"),
            None,
        );
    }
    assert_eq!(
        templates(&m),
        [("Session opened for user <*> from <*>".to_string(), 3)]
    );
    let cl = &m.clusters()[0];
    assert_eq!(cl.params[0], ["svc_etl_01", "svc_etl_02", "alice.b.99"]);
    assert_eq!(cl.params[1], ["10.1.1.1"]);
}

#[test]
fn partially_masked_tokens_report_their_values() {
    let mut m = TemplateMiner::default();
    m.add("auth failure uid=0 rhost=1.2.3.4", None);
    m.add("auth failure uid=501 rhost=5.6.7.8", None);
    let cl = &m.clusters()[0];
    assert_eq!(cl.template, "auth failure uid=<*> rhost=<*>");
    assert_eq!(cl.params, [vec!["0", "501"], vec!["1.2.3.4", "5.6.7.8"]]);
}

#[test]
fn different_messages_stay_apart() {
    let mut m = TemplateMiner::default();
    let lines = [
        "Disk /dev/sda1 is 95% full",
        "Connection refused by upstream 10.0.0.1:443",
        "Checkpoint completed in 120ms",
        "Checkpoint failed: no space left on device",
        "Worker 7 lost heartbeat",
        "Starting executor on host worker-3",
        "Stopping executor on host worker-3",
        "GET /api/v1/jobs returned 500",
        "POST /api/v1/jobs returned 500",
    ];
    let ids: Vec<ClusterId> = lines.iter().map(|l| m.add(l, None)).collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), lines.len(), "{:#?}", templates(&m));
    // And they keep apart when repeated with other values.
    assert_eq!(m.add("Disk /data is 12% full", None), ids[0]);
    assert_eq!(m.add("Worker 12 lost heartbeat", None), ids[4]);
    assert_eq!(m.len(), lines.len());
}

#[test]
fn blank_events_are_ignored() {
    let mut m = TemplateMiner::default();
    assert_eq!(m.add("", None), ClusterId::IGNORED);
    assert_eq!(m.add(" \t\r\n\n", None), ClusterId::IGNORED);
    assert!(m.is_empty());
    assert_eq!(m.ignored_events(), 2);
    assert_eq!(m.template_of(ClusterId::IGNORED), None);
}

#[test]
fn clusters_sort_by_count_then_first_seen() {
    let mut m = TemplateMiner::default();
    m.add("late singleton message here", ts(50));
    m.add("early singleton message here now", ts(10));
    for i in 0..3 {
        m.add(&format!("frequent message number {i}"), ts(100 + i));
    }
    let t: Vec<String> = m.clusters().into_iter().map(|c| c.template).collect();
    assert_eq!(
        t,
        [
            "frequent message number <*>",
            "early singleton message here now",
            "late singleton message here"
        ]
    );
}

#[test]
fn max_templates_is_respected_under_100k_distinct_lines() {
    let config = MinerConfig {
        max_templates: 500,
        ..MinerConfig::default()
    };
    let mut m = TemplateMiner::new(config);
    let mut last = ClusterId::IGNORED;
    for i in 0..100_000 {
        last = m.add(
            &format!("{} {} happened", letters(i), letters(i * 7 + 3)),
            None,
        );
        assert!(m.len() <= 500);
    }
    assert_eq!(m.len(), 500);
    assert_eq!(m.evicted_templates(), 99_500);
    // Internal structures are bounded too, not just the count.
    assert!(m.slots.len() <= 500);
    assert!(m.by_id.len() <= 500);
    assert!(m.index.bucket_count() <= 500);
    assert!(m.template_of(last).is_some());
    assert_eq!(
        m.template_of(ClusterId(1)),
        None,
        "oldest singleton was evicted"
    );
}

#[test]
fn eviction_keeps_frequent_templates_through_a_flood() {
    let config = MinerConfig {
        max_templates: 50,
        ..MinerConfig::default()
    };
    let mut m = TemplateMiner::new(config);
    let hot = m.add("heartbeat from node 1 ok", None);
    for i in 0..500 {
        m.add(&format!("heartbeat from node {i} ok"), None);
    }
    for i in 0..5_000 {
        m.add(&format!("{} junk", letters(i)), None);
    }
    assert_eq!(
        m.template_of(hot).as_deref(),
        Some("heartbeat from node <*> ok")
    );
    assert!(m.len() <= 50);
}

fn check_mask_line(text: &str) {
    let masked = super::super::mask_line(text);
    assert!(masked.len() <= text.len() * 3 + 3);
}

#[test]
fn dirty_input_never_panics() {
    let mut m = TemplateMiner::new(MinerConfig {
        max_templates: 64,
        ..MinerConfig::default()
    });
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2_000 {
        let len = rng.below(300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        m.add_bytes(&bytes, None);
    }
    // Structure-heavy random text: the characters masking rules key on,
    // mixed with multi-byte ones, to shake out slicing mistakes.
    let alphabet: Vec<char> = "aZx09.:/=,;&\"'`()[]<>{}@-_~%+\\ é漢\u{FFFD}\t\n\r*"
        .chars()
        .collect();
    let rounds: u64 = std::env::var("LOGMINE_FUZZ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    for _ in 0..rounds {
        let len = rng.below(60) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        check_mask_line(&text);
        m.add(&text, None);
    }
    let huge = "x".repeat(1_000_000);
    m.add(&huge, None);
    let many = "tok ".repeat(100_000);
    m.add(&many, None);
    m.add(&format!("{huge}\n\tat {huge}"), None);
    m.add("é".repeat(3000).as_str(), None); // 4 KB cut inside a char
    m.add("\u{0}\u{1}\u{7f} \u{FFFD}\u{FFFD}", None);
    m.add("tab\tseparated\tvalues\r\n", None);
    m.add("<*> <*> literal wildcards <*>", None);
    m.add("= == a= =b ' \" `` '' ::: /// @@ 0x 1e 1e+ --", None);
    m.add_bytes(b"\xff\xfe invalid utf8 \xc3\x28 here", None);
    for c in m.clusters() {
        assert!(
            c.examples
                .iter()
                .all(|e| e.len() <= cluster::MAX_EXAMPLE_BYTES)
        );
        assert!(
            c.params
                .iter()
                .all(|p| p.len() <= 8 && p.iter().all(|v| v.len() <= cluster::MAX_PARAM_BYTES))
        );
        assert_eq!(
            c.params.len(),
            c.template.matches(super::super::WILDCARD).count(),
            "{c:?}"
        );
        assert!(c.template.split(' ').count() <= line::MAX_TOKENS);
    }
}

#[test]
fn invalid_utf8_is_masked_as_binary() {
    let mut m = TemplateMiner::default();
    let a = m.add_bytes(b"payload \xff\xfe\xfd received", None);
    let b = m.add_bytes(b"payload \x80\x81 received", None);
    assert_eq!(a, b);
    assert_eq!(m.template_of(a).as_deref(), Some("payload <*> received"));
}

#[test]
fn java_traceback_is_one_event_and_one_template() {
    let trace = |n: u32, cls: &str| {
        format!(
            "ERROR Task {n} failed in stage 3\n\
java.lang.IllegalStateException: {cls}\n\
\tat com.acme.{cls}.run({cls}.java:{n})\n\
\tat java.base/java.lang.Thread.run(Thread.java:833)\n\
Caused by: java.io.IOException: disk full\n\
\t... 4 more"
        )
    };
    let text = format!(
        "{}\n{}\nINFO stage 3 finished",
        trace(11, "Writer"),
        trace(12, "Reader")
    );
    let events = EventAssembler::events(&text);
    assert_eq!(events.len(), 3);
    let mut m = TemplateMiner::default();
    let ids: Vec<ClusterId> = events.iter().map(|e| m.add(e, None)).collect();
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
    assert_eq!(m.len(), 2);
    let cl = m.cluster(ids[0]).unwrap();
    assert_eq!(cl.template, "ERROR Task <*> failed in stage <*>");
    assert!(
        cl.examples[0].contains("Caused by: java.io.IOException"),
        "examples keep the whole event"
    );
}

#[test]
fn python_traceback_is_one_event_and_one_template() {
    let trace = |path: &str, line: u32| {
        [
            format!("ERROR:etl:load of /data/{path}.csv failed"),
            "Traceback (most recent call last):".into(),
            format!("  File \"/app/{path}.py\", line {line}, in load"),
            "    rows = read(src)".into(),
            format!("KeyError: 'col_{line}'"),
        ]
        .join("\n")
    };
    let text = format!("{}\n{}\n", trace("orders", 10), trace("users", 99));
    let events = EventAssembler::events(&text);
    assert_eq!(events.len(), 2, "{events:#?}");
    let mut m = TemplateMiner::default();
    let a = m.add(&events[0], None);
    let b = m.add(&events[1], None);
    assert_eq!(a, b);
    assert_eq!(
        m.template_of(a).as_deref(),
        Some("ERROR:etl:load of <*> failed")
    );
    let cl = m.cluster(a).unwrap();
    assert!(cl.examples[1].ends_with("KeyError: 'col_99'"));
}

#[test]
fn long_events_are_truncated_in_examples() {
    let mut m = TemplateMiner::default();
    let frames = "\n\tat x.y.Z.f(Z.java:1)".repeat(500);
    let id = m.add(&format!("boom happened{frames}"), None);
    let cl = m.cluster(id).unwrap();
    assert!(cl.examples[0].len() <= cluster::MAX_EXAMPLE_BYTES);
    assert!(cl.examples[0].starts_with("boom happened\n\tat"));
}

#[test]
fn same_input_gives_same_templates_and_ids() {
    let mut rng = Rng(42);
    let verbs = ["started", "stopped", "failed", "retried"];
    let lines: Vec<String> = (0..5_000)
        .map(|i| {
            let v = verbs[rng.below(4) as usize];
            match rng.below(4) {
                0 => format!("job {} {v} after {}ms", rng.below(100), rng.below(5000)),
                1 => format!(
                    "user {} {v} session on host-{}",
                    letters(rng.below(30) as usize),
                    rng.below(9)
                ),
                2 => format!("{} {v}", letters(i % 700)),
                _ => format!(
                    "table {} {v} rows={}",
                    letters(rng.below(5) as usize),
                    rng.below(10_000)
                ),
            }
        })
        .collect();
    let run = || {
        let mut m = TemplateMiner::new(MinerConfig {
            max_templates: 300,
            ..MinerConfig::default()
        });
        let ids: Vec<ClusterId> = lines.iter().map(|l| m.add(l, None)).collect();
        let json = serde_json::to_string(&m.clusters()).unwrap();
        (ids, json)
    };
    assert_eq!(run(), run());
}

#[test]
fn clusters_serialize_to_json_with_schema() {
    let mut m = TemplateMiner::default();
    m.add("Connection to 10.0.0.1:5432 timed out", ts(0));
    let v = serde_json::to_value(m.clusters()).unwrap();
    assert_eq!(v[0]["template"], "Connection to <*>:<*> timed out");
    assert_eq!(v[0]["params"][0][0], "10.0.0.1");
    assert_eq!(v[0]["params"][1][0], "5432");
    let schema = schemars::schema_for!(Cluster);
    assert!(serde_json::to_string(&schema).unwrap().contains("template"));
}

#[test]
fn allowed_differences_scale_with_length() {
    assert_eq!(allowed_differences(2, 0.7), 0);
    assert_eq!(allowed_differences(3, 0.7), 1);
    assert_eq!(allowed_differences(10, 0.7), 3);
    assert_eq!(allowed_differences(10, 1.0), 1);
    assert_eq!(allowed_differences(10, f64::NAN), 1);
    assert_eq!(allowed_differences(10, -3.0), 10);
}

#[test]
fn varying_positions_keep_what_their_values_share() {
    let mut m = TemplateMiner::default();
    m.add(
        "connection from 10.0.0.1 () at Wed Jul 27 10:59:53 2005",
        None,
    );
    m.add(
        "connection from 10.0.0.2 (host.example.com) at Thu Jul 28 11:00:01 2005",
        None,
    );
    m.add("auth failure ruser= rhost=10.0.0.9 user=x1", None);
    m.add("auth failure ruser= rhost= user=x2", None);
    let clusters = m.clusters();
    let texts: Vec<&str> = clusters.iter().map(|c| c.template.as_str()).collect();
    // Empty and filled parentheses share the parentheses; a run of three or
    // more variables (a date) is one value, joined as the field writes it.
    assert!(
        texts.contains(&"connection from <*> (<*>) at <*>:<*>:<*>"),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"auth failure ruser= rhost=<*> user=<*>"),
        "{texts:?}"
    );
    for cluster in &clusters {
        assert_eq!(
            cluster.params.len(),
            cluster.template.matches(WILDCARD).count(),
            "one value list per <*> in {}",
            cluster.template
        );
    }
    let date = clusters
        .iter()
        .find(|c| c.template.starts_with("connection"))
        .unwrap();
    assert_eq!(date.params[0], ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(date.params[1], ["()", "(host.example.com)"]);
}

mod fast_path {
    use super::super::line::tests::caches::line;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The caches and the match memo are only speed: the same events
        /// give the same ids and the same templates, counts, examples and
        /// values as a miner that masks and compares every line afresh —
        /// with a small template cap too, so eviction takes part.
        #[test]
        fn the_fast_path_mines_what_the_plain_path_mines(
            seeds in prop::collection::vec(line(), 1..30),
            picks in prop::collection::vec((0usize..30, 0u32..1000), 1..300),
            max_templates in 2usize..8,
        ) {
            let config = MinerConfig { max_templates, ..MinerConfig::default() };
            let mut fast = TemplateMiner::new(config.clone());
            let mut plain = TemplateMiner::uncached(config);
            for (pick, salt) in picks {
                // A seed line with its digits varied: same shape, new values.
                let seed = &seeds[pick % seeds.len()];
                let event: String = seed
                    .chars()
                    .enumerate()
                    .map(|(i, c)| match c.to_digit(10) {
                        Some(d) => char::from_digit((d + salt + i as u32) % 10, 10).unwrap_or(c),
                        None => c,
                    })
                    .collect();
                prop_assert_eq!(fast.add(&event, None), plain.add(&event, None), "event {:?}", event);
            }
            prop_assert_eq!(report(&fast), report(&plain));
            prop_assert_eq!(fast.evicted_templates(), plain.evicted_templates());
        }

        /// The same with the merges at work: plain words that vary in one
        /// place (fans, small K), values of one or several tokens
        /// (skeletons), few templates (merge targets evicted).
        #[test]
        fn the_fast_path_mines_what_the_plain_path_mines_while_merging(
            seeds in prop::collection::vec(prop::collection::vec(0usize..WORDS.len(), 2..7), 1..12),
            picks in prop::collection::vec((0usize..12, 0usize..WORDS.len(), 0usize..7), 1..300),
            k in 2usize..5,
            max_templates in 2usize..10,
        ) {
            let config = MinerConfig {
                max_templates,
                distinct_values_for_variable: k,
                ..MinerConfig::default()
            };
            let mut fast = TemplateMiner::new(config.clone());
            let mut plain = TemplateMiner::uncached(config);
            for (pick, word, at) in picks {
                // A seed line with one word swapped: one varying run.
                let mut words: Vec<&str> = seeds[pick % seeds.len()].iter().map(|&w| WORDS[w]).collect();
                let at = at % words.len();
                words[at] = WORDS[word];
                let event = words.join(" ");
                prop_assert_eq!(fast.add(&event, None), plain.add(&event, None), "event {:?}", event);
            }
            prop_assert_eq!(report(&fast), report(&plain));
        }
    }

    /// Everything a miner reports of its templates, for comparing two.
    fn report(m: &TemplateMiner) -> Vec<String> {
        m.clusters()
            .iter()
            .map(|c| {
                format!(
                    "{} {} {:?} {:?} {:?}",
                    c.id, c.template, c.count, c.examples, c.params
                )
            })
            .collect()
    }

    /// Words for the merging property: plain words, values of one token and
    /// of several (`<1 sec`), a unit, a key=value.
    const WORDS: [&str; 14] = [
        "open", "close", "alice", "bob", "carol", "dave", "from", "lifetime", "<1 sec", "00:01",
        "12 KB", "0x1f", "user=x", "done",
    ];
}

#[test]
fn non_ascii_values_render_without_panicking() {
    let mut m = TemplateMiner::default();
    for e in ["open file Ünïcode-42 now", "open file Ünïcode-7/x now"] {
        m.add(e, None);
    }
    let clusters = m.clusters();
    assert_eq!(clusters.len(), 1);
    // Rendering cuts the values into units byte by byte, through `Ü`.
    assert_eq!(clusters[0].template, "open file Ünïcode-<*> now");
    assert_eq!(clusters[0].params.len(), 1);
}

/// The match memo must not outlive the template it points at: here the
/// template of `alpha` is evicted and its slot reused before `alpha` returns.
#[test]
fn memo_does_not_follow_a_reused_slot() {
    let config = MinerConfig {
        max_templates: 2,
        ..MinerConfig::default()
    };
    let mut fast = TemplateMiner::new(config.clone());
    let mut plain = TemplateMiner::uncached(config);
    let events = [
        "alpha job 1 done",
        "alpha job 2 done",
        "alpha job 3 done",
        "beta task 4 failed",
        "beta task 5 failed",
        "beta task 6 failed",
        "beta task 6 failed",
        "gamma step 7 skipped",
        "gamma step 8 skipped",
        "gamma step 9 skipped",
        "alpha job 4 done",
        "alpha job 5 done",
    ];
    for e in events {
        assert_eq!(fast.add(e, None), plain.add(e, None), "{e}");
    }
    assert_eq!(templates(&fast), templates(&plain));
}

/// A line's memo holds until its own group of templates changes: a new
/// message elsewhere (a late template in a long log) does not send every
/// known line back to comparing candidates; a new one in its group does.
#[test]
fn a_memo_outlives_changes_in_other_groups_only() {
    let mut m = TemplateMiner::default();
    m.add("disk 7 full on node", None);
    m.add("disk 8 full on node", None);
    let remembered = |m: &mut TemplateMiner| {
        let mut line = m.scratch.take().unwrap_or_default();
        line.prepare("disk 9 full on node");
        let index = &m.index;
        let memo = line.memo(m.epoch, |group| index.epoch_at(group));
        m.scratch = Some(line);
        memo
    };
    assert!(remembered(&mut m).is_some(), "memo set by the second line");
    m.add("user alice logged in", None);
    assert!(remembered(&mut m).is_some(), "another group changed");
    m.add("disk 9 gone on node", None);
    assert!(remembered(&mut m).is_none(), "its own group changed");
}
