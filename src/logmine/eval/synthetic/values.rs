//! Value generators: the words and values a generated log is made of. Every
//! call draws fresh vocabulary from the seed, so no test is tied to one
//! example's words.

use super::prng::Prng;
use super::template::Slot;

const CONSONANTS: &[u8] = b"bcdfghjklmnprstvz";
const VOWELS: &[u8] = b"aeiou";

/// A pronounceable lowercase word of 2–4 consonant-vowel syllables: letters
/// only, so nothing but its position can say whether it is a variable.
pub fn word(rng: &mut Prng) -> String {
    let syllables = rng.range(2, 4);
    let mut w = String::with_capacity(syllables * 2);
    for _ in 0..syllables {
        w.push(char::from(*rng.pick(CONSONANTS)));
        w.push(char::from(*rng.pick(VOWELS)));
    }
    w
}

pub fn capitalised(rng: &mut Prng) -> String {
    let w = word(rng);
    let mut chars = w.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `n` lowercase words joined by spaces.
pub fn words(rng: &mut Prng, n: usize) -> String {
    (0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
}

/// `n` words, the first capitalised half the time, joined by spaces.
pub fn phrase(rng: &mut Prng, n: usize) -> String {
    let mut words = Vec::with_capacity(n);
    for i in 0..n {
        words.push(if i == 0 && rng.chance(0.5) {
            capitalised(rng)
        } else {
            word(rng)
        });
    }
    words.join(" ")
}

/// `n` distinct values drawn with `make` (gives up on duplicates after a
/// bounded number of tries, so a narrow generator cannot loop forever).
pub fn vocabulary(rng: &mut Prng, n: usize, make: fn(&mut Prng) -> String) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n.saturating_mul(20) {
        if out.len() == n {
            break;
        }
        let v = make(rng);
        if seen.insert(v.clone()) {
            out.push(v);
        }
    }
    out
}

/// A plain-word value the way names are written: a word, or two joined by
/// `-`, `_` or `.` (`orders-archive`, `svc_batch`).
pub fn name(rng: &mut Prng) -> String {
    match rng.below(6) {
        0 => format!("{}-{}", word(rng), word(rng)),
        1 => format!("{}_{}", word(rng), word(rng)),
        2 => format!("{}.{}", word(rng), word(rng)),
        _ => word(rng),
    }
}

/// A slot drawing from a fixed vocabulary, common values first.
pub fn from_vocabulary(values: Vec<String>) -> Slot {
    Box::new(move |rng| values[rng.skewed(values.len())].clone())
}

/// A slot for an integer in `lo..=hi`.
pub fn integer(lo: usize, hi: usize) -> Slot {
    Box::new(move |rng| rng.range(lo, hi).to_string())
}

/// A number the way sizes and rates are printed: `12`, `0.5`, `1.16`.
pub fn decimal(rng: &mut Prng) -> String {
    match rng.below(3) {
        0 => rng.range(0, 999).to_string(),
        1 => format!("{}.{}", rng.range(0, 99), rng.range(0, 9)),
        _ => format!("{}.{:02}", rng.range(0, 999), rng.range(0, 99)),
    }
}

pub fn ipv4(rng: &mut Prng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.range(1, 223),
        rng.below(256),
        rng.below(256),
        rng.range(1, 254)
    )
}

pub fn hex(rng: &mut Prng, digits: usize) -> String {
    (0..digits)
        .map(|_| char::from(*rng.pick(b"0123456789abcdef")))
        .collect()
}

/// An id as services print them, in one shape per slot (a statement prints
/// its ids one way): hex, `word_1234`, or a UUID.
pub fn identifier_slot(rng: &mut Prng) -> Slot {
    let stem = word(rng);
    match rng.below(3) {
        0 => Box::new(|rng: &mut Prng| format!("0x{}", hex(rng, 8))),
        1 => Box::new(move |rng: &mut Prng| format!("{stem}_{}", rng.range(1, 99_999))),
        _ => Box::new(|rng: &mut Prng| {
            format!(
                "{}-{}-{}-{}-{}",
                hex(rng, 8),
                hex(rng, 4),
                hex(rng, 4),
                hex(rng, 4),
                hex(rng, 12)
            )
        }),
    }
}

/// A host name: a dotted name with a number, an address, or a bare word.
pub fn host(rng: &mut Prng) -> String {
    match rng.below(4) {
        0 => ipv4(rng),
        1 => format!("{}-{}.{}.{}", word(rng), rng.range(1, 40), word(rng), "net"),
        2 => format!("{}{}", word(rng), rng.range(1, 99)),
        _ => word(rng),
    }
}

pub fn port(rng: &mut Prng) -> String {
    rng.range(1024, 65_535).to_string()
}

/// A path: `/var/lib/x/y.log` or `C:\…`-free Unix form, 2–4 levels.
pub fn path(rng: &mut Prng) -> String {
    let depth = rng.range(2, 4);
    let mut p = String::new();
    for _ in 0..depth {
        p.push('/');
        p.push_str(&word(rng));
    }
    if rng.chance(0.5) {
        p.push_str(&format!(".{}", rng.pick(&["log", "json", "dat", "tmp"])));
    }
    p
}

/// `1.16 KB`, `854 B`, `2.3 MB`: a size whose unit varies (one value, two
/// tokens).
pub fn spaced_size(rng: &mut Prng) -> String {
    let unit = *rng.pick(&["B", "KB", "MB", "GB"]);
    if unit == "B" {
        format!("{} B", rng.range(0, 1023))
    } else {
        format!("{} {unit}", decimal(rng))
    }
}

/// `<1 sec`, `00:01`, `01:02:03`, `2 min`: a duration printed in several
/// shapes (one value, one or two tokens).
pub fn spaced_duration(rng: &mut Prng) -> String {
    match rng.below(5) {
        0 => "<1 sec".to_string(),
        1 => format!("{:02}:{:02}", rng.below(60), rng.below(60)),
        2 => format!(
            "{:02}:{:02}:{:02}",
            rng.below(24),
            rng.below(60),
            rng.below(60)
        ),
        3 => format!("{} min", rng.range(1, 59)),
        _ => format!("{} ms", rng.range(1, 999)),
    }
}

/// A number with its unit attached, one kind per slot, the unit varying
/// within the kind as humanised values do: durations (`850ms`, `1.5s`,
/// `3m12s`, `2h`), sizes (`250KB`, `3.2MiB`), or shares (`87%`).
pub fn attached_unit_slot(rng: &mut Prng) -> Slot {
    match rng.below(3) {
        0 => Box::new(|rng: &mut Prng| match rng.below(4) {
            0 => format!("{}ms", rng.range(0, 999)),
            1 => format!("{}.{}s", rng.range(1, 59), rng.below(10)),
            2 => format!("{}m{}s", rng.range(1, 59), rng.range(0, 59)),
            _ => format!("{}h{}m", rng.range(1, 48), rng.range(0, 59)),
        }),
        1 => Box::new(|rng: &mut Prng| {
            let unit = *rng.pick(&["KB", "MB", "GB", "KiB", "MiB"]);
            format!("{}{unit}", decimal(rng))
        }),
        _ => Box::new(|rng: &mut Prng| format!("{}%", rng.range(0, 100))),
    }
}

/// How many shapes [`thread`] knows.
pub const THREAD_FAMILIES: usize = 6;

/// A thread as loggers print it, in one of [`THREAD_FAMILIES`] shapes:
/// `Thread-12`, `pool-3-thread-7`, `<pool>-4`, `http-nio-8080-exec-3`, a
/// number, or one of a few bare names (`main`), drawn from `names`.
pub fn thread(rng: &mut Prng, family: usize, names: &[String]) -> String {
    match family % THREAD_FAMILIES {
        0 => format!("Thread-{}", rng.range(0, 400)),
        1 => format!("pool-{}-thread-{}", rng.range(1, 9), rng.range(1, 64)),
        2 => format!("{}-{}", rng.pick(names), rng.range(0, 31)),
        3 => format!(
            "http-nio-{}-exec-{}",
            rng.range(1024, 9999),
            rng.range(1, 200)
        ),
        4 => rng.range(1, 140_000).to_string(),
        _ => rng.pick(names).clone(),
    }
}

/// A process image name: `chrome.exe`, `sshd`, `kworker`, `Helper.app`.
pub fn process(rng: &mut Prng) -> String {
    match rng.below(4) {
        0 => format!("{}.exe", word(rng)),
        1 => format!("{}d", word(rng)),
        2 => format!("{}.{}", capitalised(rng), rng.pick(&["app", "bin"])),
        _ => word(rng),
    }
}

/// 1–4 words, a path or a number: what ends up between quotes.
pub fn quoted_content(rng: &mut Prng) -> String {
    match rng.below(4) {
        0 => {
            let n = rng.range(2, 4);
            phrase(rng, n)
        }
        1 => path(rng),
        2 => decimal(rng),
        _ => name(rng),
    }
}
