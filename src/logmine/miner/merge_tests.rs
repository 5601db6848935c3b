//! Merges after the fact: fans of one varying run, skeletons of varying
//! width, and ids that follow a merge.

use super::*;
use crate::logmine::test_support::letters;

/// Texts every line's resolved id reads now, and how many distinct ones.
fn mine(config: MinerConfig, lines: &[String]) -> (TemplateMiner, Vec<String>) {
    let mut m = TemplateMiner::new(config);
    let ids: Vec<ClusterId> = lines.iter().map(|l| m.add(l, None)).collect();
    let texts = ids
        .iter()
        .map(|id| m.template_of(*id).unwrap_or_default())
        .collect();
    (m, texts)
}

fn distinct(texts: &[String]) -> Vec<&str> {
    let mut d: Vec<&str> = texts.iter().map(String::as_str).collect();
    d.sort_unstable();
    d.dedup();
    d
}

/// Interleaves `n` lines of each template from `makers`, value `i` in line `i`.
fn interleave(n: usize, makers: &[&dyn Fn(usize) -> String]) -> Vec<String> {
    (0..n)
        .flat_map(|i| makers.iter().map(move |f| f(i)))
        .collect()
}

#[test]
fn a_plain_word_with_many_values_is_a_variable_and_old_ids_follow() {
    let k = MinerConfig::default().distinct_values_for_variable;
    for users in [k, 12, 200] {
        let lines = interleave(
            400,
            &[
                &|i| {
                    format!(
                        "Invalid user {} from 10.0.{}.{}",
                        letters(i % users + 3),
                        i % 7,
                        i % 200
                    )
                },
                &|i| format!("Connection closed by 10.1.0.{} [preauth]", i % 250),
            ],
        );
        let (m, texts) = mine(MinerConfig::default(), &lines);
        assert_eq!(
            distinct(&texts),
            [
                "Connection closed by <*> [preauth]",
                "Invalid user <*> from <*>"
            ],
            "{users} users"
        );
        // The first line's id, handed out before any merge, follows it.
        let first = TemplateMiner::new(MinerConfig::default()).add(&lines[0], None);
        assert!(m.contains(first));
        assert_eq!(
            m.resolve(first),
            m.resolve(m.resolve(first)),
            "resolve is idempotent"
        );
        let total: u64 = m.clusters().iter().map(|c| c.count).sum();
        assert_eq!(total, lines.len() as u64, "merges keep every count");
    }
}

#[test]
fn a_few_repeated_states_stay_separate_messages() {
    let states = ["Started", "Paused", "Resumed", "Stopped", "Suspended"];
    assert!(states.len() < MinerConfig::default().distinct_values_for_variable);
    let lines: Vec<String> = (0..300)
        .map(|i| format!("VM {} (Lifecycle Event) id {i}", states[i % states.len()]))
        .collect();
    let (_, texts) = mine(MinerConfig::default(), &lines);
    assert_eq!(
        distinct(&texts).len(),
        states.len(),
        "{:?}",
        distinct(&texts)
    );
}

#[test]
fn a_leading_process_name_of_one_or_two_tokens_does_not_split_a_message() {
    let programs = [
        "chrome.exe",
        "firefox.exe",
        "Dropbox.exe",
        "QQ.exe",
        "putty.exe",
        "Skype.exe",
        "SogouCloud.exe *64",
        "git-remote-https.exe *64",
        "svchost.exe",
    ];
    let lines = interleave(
        300,
        &[
            &|i| {
                format!(
                    "{} - host{}.example.org:443 open through proxy proxy.local:5070 HTTPS",
                    programs[i % programs.len()],
                    i % 13
                )
            },
            &|i| {
                format!(
                    "{} - host{}.example.org:443 error : Could not connect through proxy proxy.local:5070 - Proxy server cannot establish a connection with the target, status code 403",
                    programs[(i * 7) % programs.len()],
                    i % 11
                )
            },
        ],
    );
    let (_, texts) = mine(MinerConfig::default(), &lines);
    let d = distinct(&texts);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(
        d.iter()
            .all(|t| t.starts_with("<*>") && t.contains(" - <*>:<*> ")),
        "{d:#?}"
    );
}

#[test]
fn a_value_spanning_several_tokens_does_not_split_a_message() {
    let lifetimes = ["<1 sec", "00:01", "00:12", "<1 sec", "01:02:03"];
    let sizes = ["(1.16 KB)", "(854 B)", "(2.30 MB)"];
    let lines: Vec<String> = (0..300)
        .map(|i| {
            format!(
                "app.exe - h{}.example.org:443 close, {} bytes {} sent, lifetime {}",
                i % 9,
                i * 31,
                sizes[i % sizes.len()],
                lifetimes[i % lifetimes.len()]
            )
        })
        .collect();
    let (_, texts) = mine(MinerConfig::default(), &lines);
    assert_eq!(distinct(&texts).len(), 1, "{:#?}", distinct(&texts));
    let off = MinerConfig {
        merge_variable_lengths: false,
        ..MinerConfig::default()
    };
    let (_, texts) = mine(off, &lines);
    assert!(distinct(&texts).len() > 1, "the switch turns it off");
}

#[test]
fn merge_memory_stays_bounded_under_a_flood_of_distinct_messages() {
    let config = MinerConfig {
        max_templates: 50,
        ..MinerConfig::default()
    };
    let mut m = TemplateMiner::new(config);
    for i in 0..20_000 {
        // Every line a new message; every fourth one a new fan member.
        m.add(
            &format!(
                "{} {} said {} to {}",
                letters(i),
                letters(i * 7 + 1),
                letters(i / 4),
                letters(i % 4)
            ),
            None,
        );
    }
    assert!(m.len() <= 50);
    let (fans, skeletons, aliases, known) = m.merges.sizes();
    let cap = 50 * 16;
    assert!(
        fans <= cap + 64 && skeletons <= cap + 1 && aliases <= cap + 1 && known <= cap + 64,
        "{fans} {skeletons} {aliases} {known}"
    );
}

#[test]
fn k_zero_turns_fan_merging_off() {
    let config = MinerConfig {
        distinct_values_for_variable: 0,
        ..MinerConfig::default()
    };
    let lines: Vec<String> = (0..100)
        .map(|i| format!("Invalid user {} from 10.0.0.{}", letters(i + 3), i))
        .collect();
    let (_, texts) = mine(config, &lines);
    assert_eq!(distinct(&texts).len(), 100);
}

/// A few plain words where masking found a value in the same position of
/// the same message (`user test9`): those words are values too.
#[test]
fn a_value_masking_found_makes_its_position_variable_for_few_words() {
    for masked_first in [false, true] {
        let mut lines: Vec<String> = (0..120)
            .map(|i| ["news", "cyrus", "backup"][i % 3])
            .map(|u| format!("session closed for user {u}"))
            .collect();
        let masked = "session closed for user svc42".to_string();
        if masked_first {
            lines.insert(0, masked);
        } else {
            lines.push(masked);
        }
        let (_, texts) = mine(MinerConfig::default(), &lines);
        assert_eq!(
            distinct(&texts),
            ["session closed for user <*>"],
            "masked first: {masked_first}"
        );
    }
}

/// An optional trailing field (`user=x` present or not) with a few values
/// is not a value of varying width: two messages.
#[test]
fn an_optional_field_with_few_values_stays_a_separate_message() {
    let lines: Vec<String> = (0..200)
        .map(|i| match i % 4 {
            0 => format!("authentication failure; rhost=10.0.0.{i}"),
            1 => format!("authentication failure; rhost=10.0.0.{i} user=guest"),
            2 => format!("authentication failure; rhost=10.0.0.{i} user=root"),
            _ => format!("authentication failure; rhost=10.0.0.{i} user=test"),
        })
        .collect();
    let (_, texts) = mine(MinerConfig::default(), &lines);
    let d = distinct(&texts);
    assert!(d.contains(&"authentication failure; rhost=<*>"), "{d:#?}");
    assert!(d.iter().any(|t| t.contains("user=")), "{d:#?}");
}

/// A list of any length (`node-3 0x1f <ok> node-4 0x2e <ok> …`) is one
/// value: the message does not split by how many items it lists.
#[test]
fn a_list_of_any_length_does_not_split_a_message() {
    let lines: Vec<String> = (0..200)
        .map(|i| {
            let items: Vec<String> = (0..2 + i % 6)
                .map(|n| format!("node-{} 0x{:x} <ok>", n * 7 + i, 0xfff0 + n))
                .collect();
            format!("inconsistent nodesets {} seen by monitor", items.join(" "))
        })
        .collect();
    let (_, texts) = mine(MinerConfig::default(), &lines);
    assert_eq!(distinct(&texts).len(), 1, "{:#?}", distinct(&texts));
}

/// Long lines do not let the fans outgrow their bound.
#[test]
fn fans_stay_bounded_on_long_distinct_lines() {
    let config = MinerConfig {
        max_templates: 20,
        ..MinerConfig::default()
    };
    let mut m = TemplateMiner::new(config);
    for i in 0..2_000 {
        let words: Vec<String> = (0..200).map(|j| letters(i * 200 + j)).collect();
        m.add(&words.join(" "), None);
    }
    let (fans, skeletons, aliases, known) = m.merges.sizes();
    let cap = 20 * 16;
    assert!(fans <= 20 * 48 + 2 * 24, "{fans}");
    assert!(skeletons <= cap + 1 && aliases <= cap + 1 && known <= cap + 64);
}

/// A fan merged into a template that was then evicted does not stop later
/// lines of the fan from finding each other (nor from matching elsewhere).
#[test]
fn a_fan_whose_template_was_evicted_forms_again() {
    let mut m = TemplateMiner::new(MinerConfig {
        max_templates: 20,
        distinct_values_for_variable: 3,
        ..MinerConfig::default()
    });
    for user in ["alice", "bob", "carol"] {
        m.add(&format!("rejected user {user} at gate"), None);
    }
    // Enough other messages to evict it.
    for i in 0..70 {
        m.add(&format!("{} {}", letters(i), letters(i + 100)), None);
    }
    let ids: Vec<ClusterId> = ["dave", "erin", "frank", "grace", "heidi"]
        .iter()
        .map(|u| m.add(&format!("rejected user {u} at gate"), None))
        .collect();
    let last = m.resolve(ids[4]);
    assert!(
        ids.iter().all(|&id| m.resolve(id) == last),
        "{:?}",
        ids.iter().map(|&id| m.template_of(id)).collect::<Vec<_>>()
    );
    assert_eq!(
        m.template_of(last).as_deref(),
        Some("rejected user <*> at gate")
    );
}

/// Templates of one length and one skeleton whose values sit in different
/// places are not lined up position by position: no literal is lost.
#[test]
fn a_same_length_skeleton_keeps_its_words() {
    let mut m = TemplateMiner::default();
    let a = m.add("fetch 10 20 ok in 5 ms", None);
    let b = m.add("fetch 10 ok in 5 6 ms", None);
    for id in [a, b] {
        let text = m.template_of(id).unwrap_or_default();
        assert!(text.contains("ok in"), "{text}");
    }
}

/// K below 2 turns fans off: one value is no evidence of a variable.
#[test]
fn one_value_does_not_make_a_variable() {
    let mut m = TemplateMiner::new(MinerConfig {
        distinct_values_for_variable: 1,
        ..MinerConfig::default()
    });
    let id = m.add("VM Started on host", None);
    m.add("VM Paused on host", None);
    assert_eq!(m.template_of(id).as_deref(), Some("VM Started on host"));
}
