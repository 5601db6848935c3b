//! One template and what the miner remembers about the events behind it.

use std::borrow::Cow;

use super::super::hash::same_bytes;
use super::super::mask::{
    WILDCARD, is_delimiter, is_word_after_key, mask_into, mask_with_captures,
};
use super::line::PreparedLine;
use super::token::WILDCARD_HASH;
use crate::support::text::prefix_within;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

/// Examples are whole events (tracebacks included) cut to this size.
pub(crate) const MAX_EXAMPLE_BYTES: usize = 2048;
/// Parameter values are cut to this size so one huge token cannot pin memory.
pub(crate) const MAX_PARAM_BYTES: usize = 256;

/// A mined template, as reported to callers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Cluster {
    /// Stable for the miner's lifetime (never reused, even after eviction).
    pub id: u64,
    /// Template text; variable positions are `<*>`.
    pub template: String,
    /// Events assigned to this template.
    pub count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    /// First few distinct events, whole (multi-line) but truncated.
    pub examples: Vec<String>,
    /// One list per `<*>` in `template`, in order: distinct values seen, capped.
    pub params: Vec<Vec<String>>,
}

/// One template position.
#[derive(Debug, Clone)]
pub(crate) enum TplToken {
    /// Same masked text in every event so far (may itself contain `<*>`,
    /// e.g. `uid=<*>`).
    Lit {
        text: Box<str>,
        hash: u64,
        masked: bool,
    },
    /// Events disagree here.
    Wild,
}

#[derive(Debug)]
pub(crate) struct ClusterState {
    pub id: u64,
    pub tokens: Vec<TplToken>,
    /// Distinct raw tokens per position, recorded only where the position is
    /// (or contains) a wildcard. Raw tokens rather than per-slot values so a
    /// literal that later turns into `<*>` keeps its history; slots are
    /// derived when reporting.
    pub values: Vec<Vec<Box<str>>>,
    pub count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub first_tick: u64,
    pub last_tick: u64,
    /// Eviction priority (see `evict.rs`).
    pub priority: u64,
    pub examples: Vec<Box<str>>,
    /// Lines of other lengths were merged in (see `merge.rs`): runs of
    /// variable-only positions are one value and are shown as one `<*>`.
    pub mixed_lengths: bool,
}

/// The event being added: its full text, the line the template is built
/// from (a sub-slice of `text`), and its timestamp.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event<'a> {
    pub text: &'a str,
    pub head: &'a str,
    pub ts: Option<DateTime<Utc>>,
}

/// Outcome of comparing a line with a template of the same length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Match {
    /// Positions whose literal equals the line's masked token.
    pub equal: usize,
    /// Positions that are already wildcards.
    pub wild: usize,
    /// Equal positions whose text is (partly) masked, e.g. both `<*>`.
    pub equal_masked: usize,
    /// Positions where the template and the line have different plain words.
    pub word_changes: usize,
}

impl ClusterState {
    /// A template equal to `line`; the caller then `absorb`s the same line,
    /// which records its counts, values and example.
    pub fn new(id: u64, line: &PreparedLine, tick: u64) -> Self {
        let tokens = line
            .tokens
            .iter()
            .map(|t| TplToken::Lit {
                text: line.masked_text(t).into(),
                hash: t.hash,
                masked: t.is_masked,
            })
            .collect();
        let values = line.tokens.iter().map(|_| Vec::new()).collect();
        ClusterState {
            id,
            tokens,
            values,
            count: 0,
            first_seen: None,
            last_seen: None,
            first_tick: tick,
            last_tick: tick,
            priority: 0,
            examples: Vec::new(),
            mixed_lengths: false,
        }
    }

    /// Position-wise comparison; the caller guarantees equal length.
    pub fn compare(&self, line: &PreparedLine) -> Match {
        let mut m = Match {
            equal: 0,
            wild: 0,
            equal_masked: 0,
            word_changes: 0,
        };
        for (tpl, tok) in self.tokens.iter().zip(&line.tokens) {
            match tpl {
                // A variable in the line where the template has one is agreement,
                // not one more difference.
                TplToken::Wild if tok.hash == WILDCARD_HASH => {
                    m.equal += 1;
                    m.equal_masked += 1;
                }
                TplToken::Wild => m.wild += 1,
                TplToken::Lit { text, hash, masked } => {
                    if *hash == tok.hash
                        && (*hash == WILDCARD_HASH || same_bytes(text.as_bytes(), line.masked(tok)))
                    {
                        m.equal += 1;
                        m.equal_masked += usize::from(*masked);
                    } else if !*masked
                        && !tok.is_masked
                        && is_word(text)
                        && is_word(line.masked_text(tok))
                    {
                        m.word_changes += 1;
                    }
                }
            }
        }
        m
    }

    /// Folds one event into the template: disagreeing positions become `<*>`,
    /// statistics, parameter values and examples are updated. Returns
    /// the first position that became a variable (the template changed), if
    /// any. `known_equal` says the caller already
    /// knows every literal position equals the line (see the match memo in
    /// `mod.rs`), which skips those comparisons.
    pub fn absorb(
        &mut self,
        line: &PreparedLine,
        ev: &Event<'_>,
        tick: u64,
        limits: (usize, usize),
        known_equal: bool,
    ) -> Option<usize> {
        let (max_examples, max_values) = limits;
        let mut changed = None;
        let head = ev.head;
        self.note_event(ev, tick, max_examples);
        for (i, tok) in line.tokens.iter().enumerate() {
            let (Some(tpl), Some(values)) = (self.tokens.get_mut(i), self.values.get_mut(i)) else {
                break;
            };
            // Sliced only where a value is kept (most positions keep none).
            let raw = || head.get(tok.raw.range()).unwrap_or_default();
            match tpl {
                TplToken::Wild => remember(values, raw, max_values),
                TplToken::Lit { text, hash, masked } => {
                    let same = known_equal
                        || (*hash == tok.hash && same_bytes(text.as_bytes(), line.masked(tok)));
                    if same {
                        if *masked {
                            remember(values, raw, max_values);
                        }
                    } else {
                        if !*masked {
                            // An unmasked literal is its own raw value.
                            let literal: &str = text;
                            remember(values, || literal, max_values);
                        }
                        remember(values, raw, max_values);
                        *tpl = TplToken::Wild;
                        changed = changed.or(Some(i));
                    }
                }
            }
        }
        changed
    }

    /// Counts, times and the example of an event; the tokens are the
    /// caller's business.
    fn note_event(&mut self, ev: &Event<'_>, tick: u64, max_examples: usize) {
        self.count += 1;
        self.last_tick = tick;
        if let Some(ts) = ev.ts {
            self.first_seen = Some(self.first_seen.map_or(ts, |f| f.min(ts)));
            self.last_seen = Some(self.last_seen.map_or(ts, |l| l.max(ts)));
        }
        if self.examples.len() < max_examples {
            let ex = prefix_within(ev.text.trim_end_matches(['\r', '\n']), MAX_EXAMPLE_BYTES);
            add_example(&mut self.examples, ex, max_examples);
        }
    }

    /// Takes an event that belongs here by its skeleton (see `merge.rs`),
    /// of another length or with its values elsewhere: counted, timed and
    /// kept as an example; its tokens cannot be lined up position by
    /// position, so the template stays.
    pub fn absorb_unaligned(&mut self, ev: &Event<'_>, tick: u64, max_examples: usize) {
        self.note_event(ev, tick, max_examples);
        self.mixed_lengths = true;
    }

    /// Makes `position` a variable (a fan of templates showed many words
    /// there). Returns whether the template changed.
    pub fn make_variable(&mut self, position: usize, max_values: usize) -> bool {
        let (Some(tpl), Some(values)) =
            (self.tokens.get_mut(position), self.values.get_mut(position))
        else {
            return false;
        };
        match tpl {
            TplToken::Wild => false,
            TplToken::Lit { text, masked, .. } => {
                if !*masked {
                    let literal: &str = text;
                    remember(values, || literal, max_values);
                }
                *tpl = TplToken::Wild;
                true
            }
        }
    }

    /// Folds `other`, a template found to be the same message, into this
    /// one: positions where they disagree become variables (same length),
    /// counts, times, examples and values add up.
    pub fn fold(&mut self, other: ClusterState, limits: (usize, usize)) {
        let (max_examples, max_values) = limits;
        if self.tokens.len() == other.tokens.len() {
            let positions = self.tokens.iter_mut().zip(&mut self.values);
            for ((mine, values), (theirs, their_values)) in
                positions.zip(other.tokens.into_iter().zip(other.values))
            {
                let agree = match (&*mine, &theirs) {
                    (TplToken::Wild, TplToken::Wild) => true,
                    (
                        TplToken::Lit {
                            text: a, hash: x, ..
                        },
                        TplToken::Lit {
                            text: b, hash: y, ..
                        },
                    ) => x == y && a == b,
                    _ => false,
                };
                if !agree {
                    for side in [&*mine, &theirs] {
                        if let TplToken::Lit {
                            text,
                            masked: false,
                            ..
                        } = side
                        {
                            let literal: &str = text;
                            remember(values, || literal, max_values);
                        }
                    }
                    *mine = TplToken::Wild;
                }
                for v in &their_values {
                    remember(values, || v, max_values);
                }
            }
        } else {
            self.mixed_lengths = true;
        }
        self.mixed_lengths |= other.mixed_lengths;
        self.count += other.count;
        self.first_seen = earliest(self.first_seen, other.first_seen);
        self.last_seen = match (self.last_seen, other.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.first_tick = self.first_tick.min(other.first_tick);
        self.last_tick = self.last_tick.max(other.last_tick);
        for ex in other.examples {
            add_example(&mut self.examples, &ex, max_examples);
        }
    }

    /// Each position as the template shows it: a literal, or for a position
    /// where events disagree, what all its values share (`(<*>)`,
    /// `core.<*>`, else `<*>`).
    fn rendered(&self) -> Vec<Cow<'_, str>> {
        self.tokens
            .iter()
            .zip(&self.values)
            .map(|(tpl, values)| match tpl {
                // `tty=<*>` whose lines all said `tty=NODEVssh`: masked so
                // that other words would match, but it never varied.
                TplToken::Lit { masked: true, .. }
                    if values.len() == 1 && is_word_after_key(&values[0]) =>
                {
                    Cow::Borrowed(&*values[0])
                }
                TplToken::Lit { text, .. } => Cow::Borrowed(&**text),
                TplToken::Wild => Cow::Owned(render_varying(values)),
            })
            .collect()
    }

    pub fn template(&self) -> String {
        self.report(0).0
    }

    /// The template text and, per `<*>` in it, the distinct values seen
    /// (up to `max_values`): always exactly one list per `<*>`.
    ///
    /// A run of three or more positions that hold only variables (`Wed Jul 27
    /// 10:59:53 2005`) is one value: its positions are joined without the
    /// spaces, so the run reads `<*>:<*>:<*>`.
    pub fn report(&self, max_values: usize) -> (String, Vec<Vec<String>>) {
        let rendered = self.rendered();
        let variable_only: Vec<bool> = rendered
            .iter()
            .map(|t| t.contains(WILDCARD) && !t.bytes().any(|b| b.is_ascii_alphanumeric()))
            .collect();
        let mut in_run = vec![false; rendered.len()];
        let mut i = 0;
        while i < rendered.len() {
            let run = variable_only[i..].iter().take_while(|v| **v).count();
            if run >= 3 || (run >= 2 && self.mixed_lengths) {
                in_run[i..i + run].iter_mut().for_each(|r| *r = true);
            }
            i += run.max(1);
        }
        let mut text = String::new();
        let mut slots: Vec<Vec<String>> = Vec::new();
        // Where the last `<*>` ends in `text`, to join `<*><*>` into one.
        let mut last_slot_end = None;
        for (position, (token, values)) in rendered.iter().zip(&self.values).enumerate() {
            if position > 0 && !(in_run[position] && in_run[position - 1]) {
                text.push(' ');
            }
            let found = if max_values == 0 {
                vec![Vec::new(); token.matches(WILDCARD).count()]
            } else {
                slot_values(token, values, max_values)
            };
            let mut found = found.into_iter();
            for (n, part) in token.split(WILDCARD).enumerate() {
                if n > 0 {
                    let values = found.next().unwrap_or_default();
                    if last_slot_end == Some(text.len()) {
                        if let Some(slot) = slots.last_mut() {
                            for v in values {
                                if slot.len() < max_values && !slot.contains(&v) {
                                    slot.push(v);
                                }
                            }
                        }
                    } else {
                        text.push_str(WILDCARD);
                        slots.push(values);
                    }
                    last_slot_end = Some(text.len());
                }
                text.push_str(part);
            }
        }
        (text, slots)
    }

    pub fn to_cluster(&self, max_values: usize) -> Cluster {
        let (template, params) = self.report(max_values);
        Cluster {
            id: self.id,
            template,
            count: self.count,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            examples: self.examples.iter().map(|e| e.to_string()).collect(),
            params,
        }
    }
}

/// The values of each `<*>` in one position's text, from the raw tokens seen there.
fn slot_values(text: &str, values: &[Box<str>], max_values: usize) -> Vec<Vec<String>> {
    let k = text.matches(WILDCARD).count();
    let mut slots = vec![Vec::new(); k];
    let mut scratch = String::new();
    let mut caps = Vec::new();
    for raw in values {
        scratch.clear();
        caps.clear();
        mask_with_captures(raw, &mut scratch, &mut caps);
        let found: Vec<&str> = if scratch == text && caps.len() == k {
            caps.iter().map(|r| &raw[r.clone()]).collect()
        } else if k == 1 {
            vec![&**raw]
        } else {
            continue;
        };
        for (slot, v) in slots.iter_mut().zip(found) {
            if slot.len() < max_values && !slot.iter().any(|s: &String| s == v) {
                slot.push(v.to_string());
            }
        }
    }
    slots
}

/// What the values of a position share, in the masked form: where they cut
/// into the same pieces, the pieces that agree stay and the rest are `<*>`;
/// otherwise the wrapping punctuation they share around one `<*>`.
pub(crate) fn render_varying(values: &[Box<str>]) -> String {
    let masked: Vec<String> = values
        .iter()
        .map(|v| {
            let mut out = String::new();
            mask_into(v, &mut out);
            out
        })
        .collect();
    let cut: Vec<Vec<&str>> = masked.iter().map(|m| units(m)).collect();
    let Some(first) = cut.first() else {
        return WILDCARD.to_string();
    };
    let same_shape = cut.iter().all(|c| {
        c.len() == first.len()
            && c.iter().zip(first).all(|(a, b)| {
                is_punctuation(a) == is_punctuation(b) && (!is_punctuation(a) || a == b)
            })
    });
    let mut out = String::new();
    if same_shape {
        for (i, unit) in first.iter().enumerate() {
            if cut.iter().all(|c| c[i] == *unit) {
                out.push_str(unit);
            } else {
                out.push_str(WILDCARD);
            }
        }
        return merge_variables(out);
    }
    // Different shapes: the units every value starts and ends with, around one `<*>`.
    let shortest = cut.iter().map(Vec::len).min().unwrap_or(0);
    let lead = (0..shortest)
        .take_while(|&i| cut.iter().all(|c| c[i] == first[i]))
        .count();
    let trail = (0..shortest - lead)
        .take_while(|&i| {
            let unit = first[first.len() - 1 - i];
            cut.iter().all(|c| c[c.len() - 1 - i] == unit)
        })
        .count();
    for unit in &first[..lead] {
        out.push_str(unit);
    }
    out.push_str(WILDCARD);
    for unit in &first[first.len() - trail..] {
        out.push_str(unit);
    }
    merge_variables(out)
}

/// A masked token cut into `<*>`s, single punctuation characters, and the
/// runs between them.
fn units(masked: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = masked.as_bytes();
    // Bytes, not `str` slices: `i` walks through multi-byte characters. Cuts
    // fall only at ASCII bytes (delimiters, `<`), so the units are `str`s.
    let wildcard_at = |i: usize| b[i..].starts_with(WILDCARD.as_bytes());
    let mut i = 0;
    while i < b.len() {
        if wildcard_at(i) {
            out.push(WILDCARD);
            i += WILDCARD.len();
        } else if is_delimiter(b[i]) {
            out.push(&masked[i..=i]);
            i += 1;
        } else {
            let start = i;
            while i < b.len() && !is_delimiter(b[i]) && !wildcard_at(i) {
                i += 1;
            }
            out.push(&masked[start..i]);
        }
    }
    out
}

fn is_punctuation(unit: &str) -> bool {
    unit != WILDCARD && unit.len() == 1 && is_delimiter(unit.as_bytes()[0])
}

/// `<*><*>` and `<*>.<*>` are one variable.
fn merge_variables(mut text: String) -> String {
    loop {
        let merged = text
            .replace("<*>.<*>", WILDCARD)
            .replace("<*><*>", WILDCARD);
        if merged == text {
            return text;
        }
        text = merged;
    }
}

fn is_word(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphabetic())
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn add_example(examples: &mut Vec<Box<str>>, ex: &str, max: usize) {
    if examples.len() < max
        && !examples
            .iter()
            .any(|e| same_bytes(e.as_bytes(), ex.as_bytes()))
    {
        examples.push(ex.into());
    }
}

/// Adds `raw` to a capped set of distinct values. Two are kept even when
/// fewer are reported (`max` 0 or 1): whether a position ever varied
/// decides how it renders (`tty=NODEVssh` against `tty=<*>`).
fn remember<'a>(values: &mut Vec<Box<str>>, raw: impl FnOnce() -> &'a str, max: usize) {
    if values.len() >= max.max(2) {
        return;
    }
    let raw = prefix_within(raw(), MAX_PARAM_BYTES);
    if !values
        .iter()
        .any(|v| same_bytes(v.as_bytes(), raw.as_bytes()))
    {
        values.push(raw.into());
    }
}
