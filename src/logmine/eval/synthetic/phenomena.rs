//! One generator per phenomenon: the statements of a made-up system in
//! which that phenomenon is everywhere. Words, vocabulary sizes, positions
//! and value shapes all come from the seed.

use super::prng::Prng;
use super::template::{Slot, Statement};
use super::values::{
    THREAD_FAMILIES, attached_unit_slot, capitalised, decimal, from_vocabulary, host,
    identifier_slot, integer, ipv4, name, path, phrase, port, process, quoted_content,
    spaced_duration, spaced_size, thread, vocabulary, word, words,
};

/// A few values that are obviously variables (digits), so statements are
/// not all bare text.
fn numeric_value(rng: &mut Prng) -> Slot {
    match rng.below(3) {
        0 => integer(0, 99_999),
        1 => identifier_slot(rng),
        _ => Box::new(|rng: &mut Prng| ipv4(rng)),
    }
}

/// ` <word> <number>` half the time: a statement's ordinary tail.
fn maybe_numeric_tail(rng: &mut Prng, statement: Statement) -> Statement {
    if rng.chance(0.5) {
        let label = format!(" {} ", word(rng));
        let value = numeric_value(rng);
        statement.text(label).value(value)
    } else {
        statement
    }
}

/// ` word word` (0..=max words).
fn maybe_words(rng: &mut Prng, max: usize) -> String {
    let n = rng.range(0, max);
    if n == 0 {
        String::new()
    } else {
        format!(" {}", words(rng, n))
    }
}

/// Ordinary statements every generated system also has, with values any
/// masker recognises: they catch a miner that merges too much.
pub fn background(rng: &mut Prng) -> Vec<Statement> {
    (0..rng.range(3, 5))
        .map(|_| {
            let n = rng.range(2, 4);
            let statement = Statement::new().text(format!("{} ", phrase(rng, n)));
            let value = numeric_value(rng);
            let tail = maybe_words(rng, 3);
            maybe_numeric_tail(rng, statement.value(value).text(tail))
        })
        .collect()
}

/// A slot of plain words (user, table, host names) with 5–200 values.
fn word_slot(rng: &mut Prng) -> Slot {
    let size = rng.log_uniform(5, 200);
    from_vocabulary(vocabulary(rng, size, name))
}

/// `Invalid user <*> from <*>`: a plain word that is a variable because it
/// takes many values, never in the first position.
pub fn plain_word_variables(rng: &mut Prng) -> Vec<Statement> {
    (0..rng.range(5, 8))
        .map(|_| {
            let before = rng.range(1, 3);
            let mut s = Statement::new()
                .text(format!("{} ", phrase(rng, before)))
                .value(word_slot(rng));
            s = s.text(maybe_words(rng, 3));
            if rng.chance(0.25) {
                let label = format!(" {} ", word(rng));
                s = s.text(label).value(word_slot(rng));
            }
            maybe_numeric_tail(rng, s)
        })
        .collect()
}

/// `VM Started` / `VM Paused`: a position with two or three words, each
/// repeated many times, is a different message each.
pub fn few_valued_words_are_messages(rng: &mut Prng) -> Vec<Statement> {
    let mut out = Vec::new();
    for _ in 0..rng.range(2, 4) {
        let before = rng.range(1, 3);
        let (frame, after) = (phrase(rng, before), maybe_words(rng, 3));
        let count = rng.range(2, 3);
        let states = vocabulary(rng, count, capitalised);
        let (prefixed, with_id) = (rng.chance(0.5), rng.chance(0.3));
        let label = word(rng);
        for state in states {
            let mut s = Statement::new();
            if prefixed {
                s = s
                    .text(format!("[{label}: "))
                    .value(identifier_slot(rng))
                    .text("] ");
            }
            s = s.text(format!("{frame} {state}{after}"));
            if with_id {
                s = s.text(" id ").value(identifier_slot(rng));
            }
            out.push(s.frequent());
        }
    }
    out
}

/// `chrome.exe - <*>:<*> open`, `sshd Accepted …`: the first token names
/// the process and varies; the rest is one message.
pub fn leading_variable_field(rng: &mut Prng) -> Vec<Statement> {
    let size = rng.log_uniform(3, 40);
    let processes = vocabulary(rng, size, process);
    (0..rng.range(5, 8))
        .map(|_| {
            let separator = *rng.pick(&[" ", " - ", ": "]);
            let n = rng.range(2, 5);
            let s = Statement::new()
                .value(from_vocabulary(processes.clone()))
                .text(format!("{separator}{}", words(rng, n)));
            maybe_numeric_tail(rng, s)
        })
        .collect()
}

/// `… [pool-3-thread-7]`, `… (thread main)`: a trailing thread that must
/// not split the message, whatever shape its names take.
pub fn trailing_thread_id(rng: &mut Prng) -> Vec<Statement> {
    let count = rng.range(2, 6);
    let names = vocabulary(rng, count, word);
    (0..rng.range(5, 8))
        .map(|_| {
            let family_count = rng.range(1, 3);
            let families: Vec<usize> = (0..family_count)
                .map(|_| rng.below(THREAD_FAMILIES))
                .collect();
            let names = names.clone();
            let slot: Slot = Box::new(move |rng: &mut Prng| {
                let family = *rng.pick(&families);
                thread(rng, family, &names)
            });
            let n = rng.range(2, 5);
            let opening = Statement::new().text(phrase(rng, n));
            let s = maybe_numeric_tail(rng, opening);
            let (open, close) = *rng.pick(&[
                (" [", "]"),
                (" (thread ", ")"),
                (" on ", ""),
                (" in thread ", ""),
            ]);
            s.text(open).value(slot).text(close)
        })
        .collect()
}

/// `lifetime <1 sec` / `lifetime 00:01`, `(1.16 KB)` / `(854 B)`: one value
/// spanning one or two tokens.
pub fn multi_token_values(rng: &mut Prng) -> Vec<Statement> {
    (0..rng.range(5, 8))
        .map(|_| {
            let n = rng.range(1, 3);
            let mut s = Statement::new().text(phrase(rng, n));
            for _ in 0..rng.range(1, 2) {
                let label = word(rng);
                s = if rng.chance(0.5) {
                    s.text(format!(" {label} ("))
                        .value(Box::new(|rng: &mut Prng| spaced_size(rng)))
                        .text(")")
                } else {
                    s.text(format!(" {label} "))
                        .value(Box::new(|rng: &mut Prng| spaced_duration(rng)))
                };
                s = s.text(maybe_words(rng, 2));
            }
            maybe_numeric_tail(rng, s)
        })
        .collect()
}

/// `user=alice status=200 path=/x`: every value after `=` is a variable,
/// plain words included.
pub fn key_value(rng: &mut Prng) -> Vec<Statement> {
    (0..rng.range(5, 8))
        .map(|_| {
            let n = rng.range(1, 3);
            let mut s = Statement::new().text(phrase(rng, n));
            let separator = *rng.pick(&[" ", ", "]);
            for i in 0..rng.range(2, 5) {
                let key = word(rng);
                let value: Slot = match rng.below(5) {
                    0 => integer(0, 99_999),
                    1 => word_slot(rng),
                    2 => Box::new(|rng: &mut Prng| path(rng)),
                    3 => attached_unit_slot(rng),
                    _ => identifier_slot(rng),
                };
                let lead = if i == 0 { " " } else { separator };
                s = s.text(format!("{lead}{key}=")).value(value);
            }
            s
        })
        .collect()
}

/// `to db-3.corp.net:5432`, `from 10.1.2.3:80`, `broker:9092`: a host and
/// a port are two values (`<*>:<*>`), whatever the host looks like.
pub fn host_port(rng: &mut Prng) -> Vec<Statement> {
    (0..rng.range(5, 8))
        .map(|_| {
            let n = rng.range(1, 4);
            let size = rng.log_uniform(3, 80);
            let hosts = from_vocabulary(vocabulary(rng, size, host));
            let slash = if rng.chance(0.25) { "/" } else { "" };
            let s = Statement::new()
                .text(format!("{} {slash}", phrase(rng, n)))
                .value(hosts)
                .text(":")
                .value(Box::new(|rng: &mut Prng| port(rng)));
            let tail = maybe_words(rng, 3);
            maybe_numeric_tail(rng, s.text(tail))
        })
        .collect()
}

/// `Table 'orders' not found`, `Job "nightly backup" failed`: what is
/// between quotes is one value, however many tokens.
pub fn quoted_strings(rng: &mut Prng) -> Vec<Statement> {
    (0..rng.range(5, 8))
        .map(|_| {
            let quote = *rng.pick(&["'", "\""]);
            let n = rng.range(1, 3);
            let opening = format!("{} {quote}", phrase(rng, n));
            let size = rng.log_uniform(5, 200);
            let values = vocabulary(rng, size, quoted_content);
            let s = Statement::new()
                .text(opening)
                .value(from_vocabulary(values))
                .text(quote);
            let tail = maybe_words(rng, 3);
            maybe_numeric_tail(rng, s.text(tail))
        })
        .collect()
}

/// `took 12ms`, `1.5s`, `250KB`, `87%`, `after 30 ms`: a number with a unit
/// attached is one value; a fixed unit written apart stays literal.
pub fn units_sizes_durations(rng: &mut Prng) -> Vec<Statement> {
    (0..rng.range(5, 8))
        .map(|_| {
            let n = rng.range(1, 3);
            let mut s = Statement::new().text(phrase(rng, n));
            for _ in 0..rng.range(1, 2) {
                let label = word(rng);
                s = if rng.chance(0.6) {
                    s.text(format!(" {label} ")).value(attached_unit_slot(rng))
                } else {
                    let unit = *rng.pick(&["ms", "seconds", "bytes", "MB", "KB/s"]);
                    s.text(format!(" {label} "))
                        .value(Box::new(|rng: &mut Prng| decimal(rng)))
                        .text(format!(" {unit}"))
                };
            }
            let tail = maybe_words(rng, 2);
            s.text(tail)
        })
        .collect()
}
