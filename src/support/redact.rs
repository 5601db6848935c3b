//! Secret redaction, applied before anything leaves the process as text: the
//! session trace, the log file, the screen and exports. A secret is replaced by
//! a marker that says what kind of secret was removed, e.g.
//! `[redacted: storage account key]`, so a reader knows something was there
//! without learning it.
//!
//! Three layers: patterns in free text ([`rules`]: connection strings, SAS
//! signatures, bearer and basic credentials, JWTs, cloud and SaaS token
//! families, PEM private keys, passwords in URLs, `password=…`-style pairs in
//! their shell, header, URL-encoded, XML and JSON-as-text spellings, and
//! `NAME_TOKEN=…`-style variables); in JSON ([`json`]), the values of keys
//! named like secrets, whole subtrees included; and, for text that arrives in
//! pieces, a [`StreamRedactor`] that redacts whole lines so a secret split
//! across two pieces is still seen whole.
//!
//! Each string is screened once by one `RegexSet` of every rule; only the
//! rules that matched rewrite it, and text with no secret is borrowed as is.

use std::borrow::Cow;

use regex::Captures;

mod json;
mod rules;
mod stream;

pub use json::{is_secret_key, value};
use rules::RULES;
pub use stream::StreamRedactor;

/// Text with every secret it carries replaced by a marker; borrowed when there was none.
pub fn text(input: &str) -> Cow<'_, str> {
    let Cow::Owned(mut out) = one_pass(input) else {
        return Cow::Borrowed(input);
    };
    // Rules overlap: a rewrite can expose a match another rule missed (or end
    // one it made). Passes until nothing changes, so redacting twice never
    // changes what once gave; text without secrets takes the one pass above.
    for _ in 1..MAX_PASSES {
        match one_pass(&out) {
            Cow::Borrowed(_) => break,
            Cow::Owned(next) => out = next,
        }
    }
    Cow::Owned(out)
}

/// Enough passes for rewrites that expose further matches to settle.
const MAX_PASSES: usize = 6;

/// Every rule whose pattern occurs, once; borrowed back when nothing changed.
fn one_pass(input: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(input);
    for rule in RULES.matching(input) {
        if let Cow::Owned(replaced) = rule
            .pattern
            .replace_all(&out, |caps: &Captures| rule.replacement(caps))
            // A match that held no secret ("Basic authentication") changes nothing.
            && replaced != *out
        {
            out = Cow::Owned(replaced);
        }
    }
    out
}

fn is_marker(text: &str) -> bool {
    text.starts_with("[redacted")
}

/// Redacts a string in place; leaves it untouched (no copy) when it holds no secret.
pub fn in_place(text: &mut String) {
    if let Cow::Owned(redacted) = self::text(text) {
        *text = redacted;
    }
}
