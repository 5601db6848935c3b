//! Shape recognisers: does a token core look like a number, an address, a
//! path, ...? Each works on bytes without allocating; order in `classify`
//! goes from cheap and specific to the generic digit rule.

use super::{VarKind, is_key};

/// Whole-core classification; `None` means "constant as far as we can tell".
pub(super) fn classify(s: &str) -> Option<VarKind> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let has_digit = b.iter().any(u8::is_ascii_digit);
    if has_digit {
        if let Some(kind) = numeric_kind(b) {
            return Some(kind);
        }
        if is_uuid(b) {
            return Some(VarKind::Uuid);
        }
        if let Some(kind) = ip_or_host_port(s) {
            return Some(kind);
        }
        if is_timestamp(b) {
            return Some(VarKind::Timestamp);
        }
        if is_hex(b) {
            return Some(VarKind::Hex);
        }
    } else if b.len() >= 16 && b.iter().all(u8::is_ascii_hexdigit) {
        return Some(VarKind::Hex);
    }
    if s.contains("://") {
        return Some(VarKind::Url);
    }
    if is_email(b) {
        return Some(VarKind::Email);
    }
    if is_path(b) {
        return Some(VarKind::Path);
    }
    if is_ipv6(b) {
        return Some(VarKind::Ip);
    }
    if has_digit && !has_key_value(s) && !is_known_constant(s) {
        // Generic id rule: a token that carries digits and matched nothing
        // more specific is almost always an identifier (blk_-12, attempt_..,
        // container_.., eth0, node-17). `key=value` is left to the partial
        // masker so the key survives.
        return Some(VarKind::Id);
    }
    None
}

/// Number, quantity with a short unit, or duration.
fn numeric_kind(b: &[u8]) -> Option<VarKind> {
    let n = b.len();
    let mut i = 0;
    if matches!(b[0], b'+' | b'-') {
        i = 1;
    }
    let mut mantissa_digits = 0;
    while i < n && b[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < n && b[i] == b'.' {
        i += 1;
        while i < n && b[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return None;
    }
    if i + 1 < n && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if matches!(b[j], b'+' | b'-') {
            j += 1;
        }
        if j < n && b[j].is_ascii_digit() {
            while j < n && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let suffix = &b[i..];
    if suffix.is_empty() {
        return Some(VarKind::Number);
    }
    if is_duration_unit(suffix) {
        return Some(VarKind::Duration);
    }
    if suffix == b"%" || (suffix.len() <= 3 && suffix.iter().all(u8::is_ascii_alphabetic)) {
        return Some(VarKind::Number);
    }
    None
}

fn is_duration_unit(s: &[u8]) -> bool {
    const UNITS: &[&[u8]] = &[
        b"ns",
        b"us",
        "µs".as_bytes(),
        b"ms",
        b"s",
        b"sec",
        b"secs",
        b"second",
        b"seconds",
        b"m",
        b"min",
        b"mins",
        b"minute",
        b"minutes",
        b"h",
        b"hr",
        b"hrs",
        b"hour",
        b"hours",
        b"d",
        b"day",
        b"days",
    ];
    UNITS.iter().any(|u| u.eq_ignore_ascii_case(s))
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_ipv4(b: &[u8]) -> bool {
    let mut parts = 0;
    for part in b.split(|&c| c == b'.') {
        parts += 1;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
    }
    parts == 4
}

fn is_hostname(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter().any(|c| c.is_ascii_alphabetic())
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
}

/// `1.2.3.4`, `/1.2.3.4:80`, `host.example.com:8080`, `name/1.2.3.4:80`.
fn ip_or_host_port(s: &str) -> Option<VarKind> {
    let s = s.strip_prefix('/').unwrap_or(s);
    let (host, port) = match s.rfind(':') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    // Hadoop-style `hostname/ip`.
    let host_b = host.as_bytes();
    let ip_part = host.rsplit('/').next().unwrap_or(host).as_bytes();
    let prefix_ok =
        ip_part.len() == host_b.len() || is_hostname(&host_b[..host_b.len() - ip_part.len() - 1]);
    if prefix_ok && is_ipv4(ip_part) {
        return Some(if port.is_some() {
            VarKind::HostPort
        } else {
            VarKind::Ip
        });
    }
    if port.is_some() && is_hostname(host_b) {
        return Some(VarKind::HostPort);
    }
    None
}

fn is_ipv6(b: &[u8]) -> bool {
    let b = match b.iter().position(|&c| c == b'%') {
        Some(i) => &b[..i], // zone id
        None => b,
    };
    b.len() >= 3
        && b.iter().filter(|&&c| c == b':').count() >= 2
        && b.iter().any(u8::is_ascii_hexdigit)
        && b.iter()
            .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
}

/// Digit groups separated by `-/.:,` with a recognisable date or time shape;
/// letters only as ISO `T`/`Z`.
fn is_timestamp(b: &[u8]) -> bool {
    if !b.iter().all(|&c| {
        c.is_ascii_digit()
            || matches!(
                c,
                b'-' | b'/' | b':' | b'.' | b',' | b'T' | b'Z' | b'+' | b'_'
            )
    }) {
        return false;
    }
    // (digit-run length, separator after it) for the first three groups.
    let mut groups: [(usize, u8); 3] = [(0, 0); 3];
    let mut g = 0;
    let mut i = 0;
    while g < 3 && i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let sep = b.get(i).copied().unwrap_or(0);
        groups[g] = (i - start, sep);
        g += 1;
        i += 1;
    }
    let [(l0, s0), (l1, s1), (l2, _)] = groups;
    let date_sep = matches!(s0, b'-' | b'/' | b'.') && s1 == s0;
    let ymd = l0 == 4 && (1..=2).contains(&l1) && (1..=2).contains(&l2) && date_sep;
    let dmy = (1..=2).contains(&l0) && (1..=2).contains(&l1) && (2..=4).contains(&l2) && date_sep;
    let time = (1..=2).contains(&l0) && s0 == b':' && l1 == 2;
    ymd || dmy || time
}

fn is_hex(b: &[u8]) -> bool {
    if b.len() > 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X') {
        return b[2..].iter().all(u8::is_ascii_hexdigit);
    }
    b.len() >= 8 && b.iter().all(u8::is_ascii_hexdigit)
}

fn is_email(b: &[u8]) -> bool {
    let Some(at) = b.iter().position(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    !local.is_empty()
        && local
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'))
        && domain.len() >= 3
        && domain.contains(&b'.')
        && domain.first() != Some(&b'.')
        && domain.last() != Some(&b'.')
        && domain
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
}

fn is_path(b: &[u8]) -> bool {
    if b.len() < 2 {
        return false;
    }
    let starts = |p: &[u8]| b.starts_with(p);
    starts(b"/")
        || starts(b"./")
        || starts(b"../")
        || starts(b"~/")
        || starts(b"\\\\")
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
        || b.iter().filter(|&&c| c == b'/').count() >= 2
}

fn has_key_value(s: &str) -> bool {
    s.split([',', ';', '&'])
        .any(|seg| matches!(seg.find('='), Some(eq) if eq > 0 && is_key(&seg[..eq])))
}

/// Well-known technical words that contain digits but are never variables.
/// Kept short and generic on purpose.
const KNOWN_CONSTANTS: &[&str] = &[
    "ipv4", "ipv6", "utf-8", "utf8", "utf-16", "log4j", "slf4j", "s3", "x86", "x86_64", "amd64",
    "arm64", "i386", "md5", "sha1", "sha256", "sha512", "base64", "k8s", "oauth2", "http/1.0",
    "http/1.1", "http/2", "http2", "win32", "win64", "2xx", "3xx", "4xx", "5xx", "e2e", "p2p",
    "h2", "tls1.2", "tls1.3",
];

fn is_known_constant(s: &str) -> bool {
    s.len() <= 8 && KNOWN_CONSTANTS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// Whether `s` is a known constant with some of its digits changed (`s7`
/// for `s3`): the one rule where which digit it is matters, not just where
/// digits are.
pub(super) fn may_be_known_constant(s: &str) -> bool {
    s.len() <= 8
        && KNOWN_CONSTANTS.iter().any(|w| {
            w.len() == s.len()
                && w.bytes().zip(s.bytes()).all(|(a, b)| {
                    a.eq_ignore_ascii_case(&b) || (a.is_ascii_digit() && b.is_ascii_digit())
                })
        })
}
