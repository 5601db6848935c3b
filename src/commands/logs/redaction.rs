//! Secrets out of a mined summary: its templates, the values seen at each
//! `<*>`, and its examples.
//!
//! A value is judged where it sat. The template is handed to the redactor
//! with every `<*>` held by a placeholder (so `password=<*>` reads as a
//! password, which `<*>` alone would not), once as is and once per value with
//! that value in its slot. What the redactor rewrote is found by aligning its
//! output with its input, byte span by byte span: a value is a secret when any
//! of its own bytes were rewritten. (Asking whether the value still occurs in
//! the output passes `password` in `password=[redacted: password]`.)
//!
//! The printed template keeps one `<*>` per value list whatever is redacted:
//! rewrites are applied to its literal text only, and a `<*>` whose context
//! alone makes it a secret (`password=<*>`, `Bearer <*>`) stays and has all
//! its values hidden, with no check of each.

use std::borrow::Cow;
use std::ops::Range;

use crate::logmine::{Cluster, Summary, WILDCARD};
use crate::support::redact;

/// What a hidden value is shown as.
pub(super) const REDACTED_VALUE: &str = "[redacted]";

/// What rewritten template text is shown as when the redactor's own marker
/// cannot be placed (the rewrite also took a `<*>` or a value).
const REDACTED_TEXT: &str = "[redacted]";

/// Bytes of template on each side of a value that its check reads: every
/// rule that needs far context (`mysql … -p…`, a JSON pair) already fires
/// on the placeholder in the whole template; a value's own shape matters only
/// to rules that read a few words around it (`Basic <*>`, `dapi<*>`).
const CONTEXT_BYTES: usize = 1024;

/// Bytes all value checks of one summary may hand the redactor (each value
/// alone, then in its window). Past it the values left are hidden unchecked,
/// so a summary of huge templates with many values each takes bounded time.
pub(super) const CHECK_BUDGET_BYTES: usize = 32 << 20;

/// Markers aligned one by one in one redacted text; past this the rest of
/// the text is taken as rewritten (more redacted, never less).
const MAX_ALIGNED_MARKERS: usize = 64;

/// Where a placeholder's text starts: letters that name no secret and occur
/// in no marker. Each placeholder is distinct, so the text the redactor kept
/// around it occurs once, and the rewritten spans beside it are placed exactly.
const PLACEHOLDER: &str = "Zxqslot";

/// Redacts the summary in place; returns how many values were hidden because
/// the budget ran out before they were checked.
pub(super) fn redact_summary(summary: &mut Summary, mut budget: usize) -> u64 {
    let mut unchecked = 0;
    for item in &mut summary.clusters {
        unchecked += redact_cluster(&mut item.cluster, &mut budget);
    }
    unchecked
}

/// One template, its values and examples; returns the values hidden unchecked.
fn redact_cluster(cluster: &mut Cluster, budget: &mut usize) -> u64 {
    let layout = Layout::new(&cluster.template);
    // One list per `<*>`, whatever the miner handed over.
    cluster.params.resize(layout.slots.len(), Vec::new());
    let mut verdict = Verdict::new(&layout);
    verdict.absorb(&layout.hits(&Probe::whole(&layout)), None);
    let (secret, unchecked) = judge_values(&layout, &mut verdict, &cluster.params, budget);
    for (slot, values) in cluster.params.iter_mut().enumerate() {
        for (n, value) in values.iter_mut().enumerate() {
            // A slot found secret by a later value's check hides all its values.
            if verdict.secret_slots[slot] || secret[slot][n] {
                *value = REDACTED_VALUE.to_string();
            }
        }
    }
    cluster.template = verdict.template(&cluster.template);
    for example in &mut cluster.examples {
        redact::in_place(example);
    }
    unchecked
}

/// Which values are secrets (or could not be checked: they count as
/// secrets), and how many could not be checked. Values of a slot whose
/// context alone is a secret are not checked one by one.
fn judge_values(
    layout: &Layout,
    verdict: &mut Verdict,
    params: &[Vec<String>],
    budget: &mut usize,
) -> (Vec<Vec<bool>>, u64) {
    let mut unchecked = 0;
    let mut secret: Vec<Vec<bool>> = params.iter().map(|v| vec![false; v.len()]).collect();
    for (slot, values) in params.iter().enumerate() {
        for (n, value) in values.iter().enumerate() {
            if verdict.secret_slots[slot] || value.is_empty() {
                continue;
            }
            secret[slot][n] = match check_value(layout, verdict, slot, value, budget) {
                Check::Secret => true,
                Check::Clean => false,
                Check::OverBudget => {
                    unchecked += 1;
                    true
                }
            };
        }
    }
    (secret, unchecked)
}

enum Check {
    Secret,
    Clean,
    OverBudget,
}

/// Whether `value` is a secret alone or in its slot; what it makes of the
/// template around it (another slot, a literal) goes into `verdict`.
fn check_value(
    layout: &Layout,
    verdict: &mut Verdict,
    slot: usize,
    value: &str,
    budget: &mut usize,
) -> Check {
    if !spend(budget, value.len()) {
        return Check::OverBudget;
    }
    if matches!(redact::text(value), Cow::Owned(_)) {
        return Check::Secret;
    }
    let probe = Probe::value_in(layout, slot, value);
    if !spend(budget, probe.text.len()) {
        return Check::OverBudget;
    }
    let hits = layout.hits(&probe);
    verdict.absorb(&hits, Some(slot));
    if hits.slots.contains(&slot) {
        Check::Secret
    } else {
        Check::Clean
    }
}

/// Takes `bytes` from `budget`; false (and nothing taken) when it has not that many.
fn spend(budget: &mut usize, bytes: usize) -> bool {
    match budget.checked_sub(bytes) {
        Some(left) => {
            *budget = left;
            true
        }
        None => false,
    }
}

/// The template as the redactor reads it: its literal pieces, and each `<*>`
/// held by a placeholder of its own.
struct Layout {
    text: String,
    /// Byte ranges in `text`: the pieces around the slots (one more than the
    /// slots), and the slots' placeholders, both in order.
    literals: Vec<Range<usize>>,
    slots: Vec<Range<usize>>,
}

impl Layout {
    fn new(template: &str) -> Layout {
        let mut layout = Layout {
            text: String::with_capacity(template.len() + 32),
            literals: Vec::new(),
            slots: Vec::new(),
        };
        for (i, piece) in template.split(WILDCARD).enumerate() {
            if i > 0 {
                let start = layout.text.len();
                // Letters, digits and length enough for every token-shaped
                // rule (`Bearer …`, `AccountKey=…`) to take it as a secret.
                layout.text.push_str(PLACEHOLDER);
                layout.text.push_str(&(i - 1).to_string());
                layout.text.push_str("Q0123456789");
                layout.slots.push(start..layout.text.len());
            }
            let start = layout.text.len();
            layout.text.push_str(piece);
            layout.literals.push(start..layout.text.len());
        }
        layout
    }

    /// What the redactor rewrote of `probe`, in places of this layout.
    fn hits(&self, probe: &Probe) -> Hits {
        let mut hits = Hits::default();
        let redacted = redact::text(&probe.text);
        if let Cow::Borrowed(_) = redacted {
            return hits;
        }
        for (original, replaced) in rewritten(&probe.text, &redacted) {
            let span = probe.to_layout(self, original);
            let replacement = redacted.get(replaced).map(str::to_string);
            self.record(span, replacement, &mut hits);
        }
        hits
    }

    /// The slots and literal text a rewritten `span` covers.
    fn record(&self, span: Range<usize>, replacement: Option<String>, hits: &mut Hits) {
        for slot in overlapping(&self.slots, &span) {
            hits.slots.push(slot);
        }
        for piece in overlapping(&self.literals, &span) {
            let literal = &self.literals[piece];
            let start = span.start.max(literal.start) - literal.start;
            let end = span.end.min(literal.end) - literal.start;
            // The redactor's marker only where the rewrite lay within this
            // text: one that also took a `<*>` cannot be split between them.
            let within = span.start >= literal.start && span.end <= literal.end;
            hits.literals.push(Cut {
                piece,
                range: start..end,
                replacement: replacement.clone().filter(|_| within),
            });
        }
    }
}

/// Indexes of the sorted, disjoint `ranges` that overlap `span`.
fn overlapping<'a>(
    ranges: &'a [Range<usize>],
    span: &'a Range<usize>,
) -> impl Iterator<Item = usize> + 'a {
    let first = ranges.partition_point(|r| r.end <= span.start);
    ranges[first..]
        .iter()
        .take_while(|r| r.start < span.end)
        .enumerate()
        .filter(|(_, r)| r.start < r.end)
        .map(move |(i, _)| first + i)
}

/// A text handed to the redactor: the layout's text, or a window of it with
/// a value in place of one placeholder.
struct Probe {
    text: String,
    /// Where `text` starts in the layout's text.
    start: usize,
    /// The slot holding a value, and where that value is in `text`.
    value: Option<(usize, Range<usize>)>,
}

impl Probe {
    fn whole(layout: &Layout) -> Probe {
        Probe {
            text: layout.text.clone(),
            start: 0,
            value: None,
        }
    }

    /// `value` in `slot`, with up to [`CONTEXT_BYTES`] of template around it.
    fn value_in(layout: &Layout, slot: usize, value: &str) -> Probe {
        let text = &layout.text;
        let at = layout.slots[slot].clone();
        let window = window(text, at.clone());
        let before = text.get(window.start..at.start).unwrap_or_default();
        let after = text.get(at.end..window.end).unwrap_or_default();
        let mut probe = String::with_capacity(before.len() + value.len() + after.len());
        probe.push_str(before);
        probe.push_str(value);
        probe.push_str(after);
        Probe {
            text: probe,
            start: window.start,
            value: Some((slot, before.len()..before.len() + value.len())),
        }
    }

    /// `span` of this probe's text as a span of the layout's text; a span
    /// that reaches into the value covers its whole slot.
    fn to_layout(&self, layout: &Layout, span: Range<usize>) -> Range<usize> {
        let Some((slot, value)) = &self.value else {
            return self.start + span.start..self.start + span.end;
        };
        let placeholder = &layout.slots[*slot];
        let map = |at: usize, inside: usize| {
            if at <= value.start {
                self.start + at
            } else if at >= value.end {
                placeholder.end + (at - value.end)
            } else {
                inside
            }
        };
        map(span.start, placeholder.start)..map(span.end, placeholder.end)
    }
}

/// Up to [`CONTEXT_BYTES`] each side of `at`, ending at whitespace where
/// there is some (half a word could read as a secret's name).
fn window(text: &str, at: Range<usize>) -> Range<usize> {
    let mut start = floor_boundary(text, at.start.saturating_sub(CONTEXT_BYTES));
    if start > 0
        && let Some(space) = text
            .get(start..at.start)
            .and_then(|t| t.find(char::is_whitespace))
    {
        start += space;
    }
    let mut end = ceil_boundary(text, at.end.saturating_add(CONTEXT_BYTES));
    if end < text.len()
        && let Some(space) = text
            .get(at.end..end)
            .and_then(|t| t.rfind(char::is_whitespace))
    {
        end = at.end + space;
    }
    start..end
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// What one redaction rewrote: slots (placeholder or value) it reached into,
/// and literal text it replaced.
#[derive(Default)]
struct Hits {
    slots: Vec<usize>,
    literals: Vec<Cut>,
}

/// A span of one literal piece of the template to show redacted.
#[derive(Debug, Clone, PartialEq)]
struct Cut {
    piece: usize,
    range: Range<usize>,
    /// The redactor's marker for it, when the rewrite lay within the piece.
    replacement: Option<String>,
}

/// What one template's checks decided so far.
struct Verdict {
    /// Slots all of whose values are hidden: their context alone is a secret.
    secret_slots: Vec<bool>,
    /// Per literal piece, the spans to show redacted.
    cuts: Vec<Vec<Cut>>,
}

impl Verdict {
    fn new(layout: &Layout) -> Verdict {
        Verdict {
            secret_slots: vec![false; layout.slots.len()],
            cuts: vec![Vec::new(); layout.literals.len()],
        }
    }

    /// Takes in what one redaction rewrote. Any slot it reached, other than
    /// the one holding the value under test, is a secret by context (a value
    /// can make its neighbour one: `<*>=<*>` with `password` in the first).
    fn absorb(&mut self, hits: &Hits, tested: Option<usize>) {
        for &slot in &hits.slots {
            if Some(slot) != tested
                && let Some(secret) = self.secret_slots.get_mut(slot)
            {
                *secret = true;
            }
        }
        for cut in &hits.literals {
            if let Some(cuts) = self.cuts.get_mut(cut.piece)
                && !cuts.contains(cut)
            {
                cuts.push(cut.clone());
            }
        }
    }

    /// The template with its literal text redacted and every `<*>` kept.
    fn template(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        for (i, piece) in template.split(WILDCARD).enumerate() {
            if i > 0 {
                out.push_str(WILDCARD);
            }
            let cuts = self.cuts.get(i).map(Vec::as_slice).unwrap_or_default();
            out.push_str(&apply_cuts(piece, cuts));
        }
        out
    }
}

/// `piece` with each cut span replaced by its marker; overlapping spans are
/// one span shown as [`REDACTED_TEXT`].
fn apply_cuts(piece: &str, cuts: &[Cut]) -> String {
    if cuts.is_empty() {
        return piece.to_string();
    }
    let mut sorted: Vec<&Cut> = cuts.iter().collect();
    sorted.sort_by_key(|c| (c.range.start, c.range.end));
    let mut merged: Vec<(Range<usize>, Option<&str>)> = Vec::new();
    for cut in sorted {
        match merged.last_mut() {
            Some((range, replacement)) if cut.range.start < range.end => {
                if cut.range != *range || cut.replacement.as_deref() != *replacement {
                    *replacement = None;
                }
                range.end = range.end.max(cut.range.end);
            }
            _ => merged.push((cut.range.clone(), cut.replacement.as_deref())),
        }
    }
    let mut out = String::with_capacity(piece.len());
    let mut at = 0;
    for (range, replacement) in merged {
        let (Some(kept), true) = (piece.get(at..range.start), range.end <= piece.len()) else {
            // Spans off the piece's characters cannot happen; hide it all.
            return REDACTED_TEXT.to_string();
        };
        out.push_str(kept);
        out.push_str(replacement.unwrap_or(REDACTED_TEXT));
        at = range.end;
    }
    match piece.get(at..) {
        Some(rest) => out.push_str(rest),
        None => return REDACTED_TEXT.to_string(),
    }
    out
}

/// The spans the redactor replaced: pairs of a byte span of `original` and
/// the span of `redacted` it became. The redactor keeps all text but each
/// secret, which becomes a `[redacted…]` marker; so the text between markers
/// is found in `original` in order, and where it occurs once in what is left,
/// the span before it was the secret. Text that occurs more than once cannot
/// be placed: from there on, all up to the text after the last marker counts
/// as rewritten.
fn rewritten(original: &str, redacted: &str) -> Vec<(Range<usize>, Range<usize>)> {
    if original == redacted {
        return Vec::new();
    }
    align(original, redacted, &markers(redacted))
        .unwrap_or_else(|| vec![differing(original, redacted)])
}

/// Where `[redacted…]` markers are in `text`.
fn markers(text: &str) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> = Vec::new();
    for (at, _) in text.match_indices("[redacted") {
        if found.last().is_some_and(|last| at < last.end) {
            continue;
        }
        let end = text[at..].find(']').map_or(text.len(), |e| at + e + 1);
        found.push(at..end);
    }
    found
}

/// The markers of `redacted` placed in `original`; `None` when the texts do
/// not fit together that way.
fn align(
    original: &str,
    redacted: &str,
    markers: &[Range<usize>],
) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let (first, last) = (markers.first()?, markers.last()?);
    let head = redacted.get(..first.start)?;
    let tail = redacted.get(last.end..)?;
    if !original.starts_with(head)
        || !original.ends_with(tail)
        || original.len() <= head.len() + tail.len()
    {
        return None;
    }
    let limit = original.len() - tail.len();
    let mut spans = Vec::new();
    let (mut at, mut from) = (head.len(), first.start);
    for (placed, pair) in markers.windows(2).enumerate() {
        let kept = redacted.get(pair[0].end..pair[1].start)?;
        if kept.is_empty() {
            continue; // markers side by side: one span
        }
        if placed >= MAX_ALIGNED_MARKERS {
            break;
        }
        // A secret is never empty: its kept text starts a character later.
        let search = ceil_boundary(original, at + 1);
        match find_once(original.get(search..limit)?, kept) {
            Found::Once(offset) => {
                let next = search + offset;
                spans.push((at..next, from..pair[0].end));
                at = next + kept.len();
                from = pair[1].start;
            }
            Found::Many => break,
            Found::None => return None,
        }
    }
    if at >= limit {
        return None;
    }
    spans.push((at..limit, from..last.end));
    Some(spans)
}

enum Found {
    Once(usize),
    Many,
    None,
}

fn find_once(haystack: &str, needle: &str) -> Found {
    let Some(at) = haystack.find(needle) else {
        return Found::None;
    };
    let next = ceil_boundary(haystack, at + 1);
    match haystack.get(next..).and_then(|rest| rest.find(needle)) {
        Some(_) => Found::Many,
        None => Found::Once(at),
    }
}

/// The one span from the first to the last byte where the texts differ
/// (never empty), for text whose markers cannot be placed.
fn differing(original: &str, redacted: &str) -> (Range<usize>, Range<usize>) {
    let (a, b) = (original.as_bytes(), redacted.as_bytes());
    let mut prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    while !original.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let room = a.len().min(b.len()) - prefix;
    let mut suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    while !original.is_char_boundary(a.len() - suffix)
        || !redacted.is_char_boundary(b.len() - suffix)
    {
        suffix -= 1;
    }
    let mut start = prefix;
    let mut end = a.len() - suffix;
    if start == end {
        // Nothing of the original left out: widen to the characters around.
        start = floor_boundary(original, start.saturating_sub(1));
        end = ceil_boundary(original, end + 1);
    }
    (start..end, prefix..b.len() - suffix)
}

#[cfg(test)]
mod tests;
