//! Merging templates after the fact, when later lines show that two
//! templates are one message.
//!
//! Matching compares a line only with templates of the same length and
//! opening words, and keeps a differing plain word apart (`VM Started` /
//! `VM Paused` are two messages). Two kinds of evidence overrule that once
//! enough lines are in:
//!
//! * **Fan-out** — the position-cardinality idea of IPLoM (Makanju et al.,
//!   KDD 2009) and Brain (Yu et al., TSC 2023): templates that agree
//!   everywhere but one run of one or two tokens, and show
//!   `distinct_values_for_variable` or more different values there, are one
//!   message with a variable in that run (a user, a host, a process name in
//!   front of the message, `SogouCloud.exe *64` next to `chrome.exe`).
//!   Being keyed on everything else, not on the opening words, this also
//!   catches a variable first or second word, which the buckets of
//!   `index.rs` keep apart.
//! * **Skeleton** — templates whose literal tokens agree in order and whose
//!   variable-only runs span different numbers of tokens (`lifetime <1 sec`
//!   / `lifetime 00:01`) are one message: a value that is sometimes one
//!   token and sometimes several.
//!
//! A merged-away template's id keeps pointing at the template it went into
//! (`resolve`), so callers holding ids from earlier lines follow the merge.
//! All of this runs only when a template is created or generalised, on the
//! slow path; a steady log never pays for it. Every map is bounded (see `prune`).

use super::super::hash::{MixMap, fnv1a};
use super::line::PreparedLine;
use super::token::{LineToken, WILDCARD_HASH};

/// Alias chains are short (a merge target is live when the alias is made);
/// the cap only guards against a cycle that should not exist.
const MAX_ALIAS_HOPS: usize = 32;
/// Literal tokens a skeleton needs: with fewer, "same literals" says little.
const MIN_SKELETON_LITERALS: usize = 2;
/// The longest group of tokens a skeleton sees repeated as a list.
const MAX_LIST_UNIT: usize = 3;
/// Runs a fan may leave out start within this many tokens: a message's
/// variable words sit early, and this bounds the fans of a 256-token line.
const MAX_FAN_START: usize = 24;

/// The widest run of tokens a fan leaves out.
const MAX_RUN: usize = 2;
/// Fans kept per entry of the miner's bound: a template joins up to
/// `2 × MAX_FAN_START − 1` of them, and a full miner's live templates must
/// fit with room to spare, or the evidence for rare merges is wiped.
const FAN_SHARE: usize = 48;
/// Aliases kept per entry of the miner's bound: 16 bytes each, and every
/// one dropped loses a caller's way from an old id to its template.
const ALIAS_SHARE: usize = 64;

/// Templates that agree everywhere but in one run of tokens.
#[derive(Debug, Default)]
struct Fan {
    /// Hashes of the distinct runs seen (capped at K).
    words: Vec<u64>,
    /// Ids of the templates in the fan, until it is merged.
    members: Vec<u64>,
    /// A member has only a variable in a one-token run: masking already
    /// found a value there, so the other members' words there are values
    /// too.
    masked_member: bool,
    /// Distinct one-token values among `words`: the masked-member rule
    /// merges templates of one length only (a run that is sometimes two
    /// tokens may be an optional field, which takes K values).
    single_words: usize,
    /// Hashes of those one-token values (at most K).
    singles: Vec<u64>,
    /// Tokens before and after a one-token run (the same for every member).
    before: usize,
    after: usize,
    /// The template the fan was merged into: later templates of the fan go
    /// straight there.
    merged_into: Option<u64>,
}

/// A live template earlier merges send a line to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub id: u64,
    /// Sent by its skeleton: the line joins without being lined up.
    pub unaligned: bool,
}

/// What registering a new template asks the miner to do.
#[derive(Debug, Default)]
pub(crate) struct Registered {
    /// The fans the template joined: each run's first position and key.
    pub fan_keys: Vec<(usize, u64)>,
    /// Fans that are now one message each (the narrowest of the new
    /// template's own first): merge each one's members, with its run made a
    /// variable; then call `fan_merged`.
    pub full_fans: Vec<FullFan>,
    /// A live template with the same skeleton and another length.
    pub same_skeleton: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct FullFan {
    pub key: u64,
    /// Tokens before and after the run: the same in every member.
    pub before: usize,
    pub after: usize,
    pub members: Vec<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Merges {
    fans: MixMap<u64, Fan>,
    skeletons: MixMap<u64, u64>,
    /// Merged-away id → the id it went into.
    aliases: MixMap<u64, u64>,
    /// Words seen as values of a position found variable (the process names
    /// of a merged fan): in another fan, two of them are values too, so a
    /// rare message need not show K process names of its own.
    known_values: MixMap<u64, ()>,
    /// For each word, the fans in which it is one of several alternatives
    /// (at most `RECURRING_ALTERNATIVE` kept). A word that is an
    /// alternative in that many different messages is a field's value (a
    /// process name in front of every message), not a message's own word
    /// (`VM Started` / `VM Paused` alternate in one message only).
    alternative_in: MixMap<u64, Vec<u64>>,
}

/// In how many different messages a word must alternate with others to be
/// taken for a value.
const RECURRING_ALTERNATIVE: usize = 3;

impl Merges {
    /// The template `id` now belongs to (itself unless merged away).
    pub fn resolve(&self, id: u64) -> u64 {
        resolve_in(&self.aliases, id)
    }

    /// Where a line that matched no template belongs by earlier merges: the
    /// live template a fan of one of its runs was merged into (it lines up
    /// with the line when their lengths agree: they differ only in that
    /// run), or a live template with the same skeleton (`Target::unaligned`:
    /// its values may sit elsewhere even at the same length, and
    /// `best_match` already said no to lining them up). `live` says whether
    /// an id is live.
    pub fn target(
        &self,
        line: &PreparedLine,
        k: usize,
        skeletons: bool,
        live: impl Fn(u64) -> bool,
    ) -> Option<Target> {
        if k > 0 {
            let mut found = None;
            for_each_fan_key(&line.tokens, |_, key| {
                if found.is_none() {
                    found = self
                        .fans
                        .get(&key)
                        .and_then(|f| f.merged_into)
                        .map(|id| self.resolve(id))
                        .filter(|&id| live(id));
                }
            });
            if let Some(id) = found {
                return Some(Target {
                    id,
                    unaligned: false,
                });
            }
        }
        if skeletons {
            let key = skeleton_key(line)?;
            let id = self.resolve(*self.skeletons.get(&key)?);
            return live(id).then_some(Target {
                id,
                unaligned: true,
            });
        }
        None
    }

    /// Records a new template `id`, built from `line`. `len_of` says whether
    /// an id is live and its token count.
    pub fn register(
        &mut self,
        id: u64,
        line: &PreparedLine,
        k: usize,
        skeletons: bool,
        len_of: impl Fn(u64) -> Option<usize>,
    ) -> Registered {
        let mut out = Registered::default();
        if k > 0 {
            self.join_fans(id, line, k, |id| len_of(id).is_some(), &mut out);
        }
        if skeletons && let Some(key) = skeleton_key(line) {
            let len = line.tokens.len();
            match self.skeletons.get(&key).map(|&s| self.resolve(s)) {
                Some(other) if other != id => match len_of(other) {
                    Some(other_len) if other_len != len => out.same_skeleton = Some(other),
                    Some(_) => {}
                    None => {
                        self.skeletons.insert(key, id);
                    }
                },
                Some(_) => {}
                None => {
                    self.skeletons.insert(key, id);
                }
            }
        }
        out
    }

    /// Adds template `id` to the fan of each of its runs, and lists the fans
    /// that are now one message.
    fn join_fans(
        &mut self,
        id: u64,
        line: &PreparedLine,
        k: usize,
        live: impl Fn(u64) -> bool,
        out: &mut Registered,
    ) {
        let mut keys = Vec::new();
        for_each_fan_key(&line.tokens, |run, key| keys.push((run, key)));
        let len = line.tokens.len();
        let mut own: Option<FullFan> = None;
        let mut recurring = Vec::new();
        for (run, key) in keys {
            let merged_into = self.fans.get(&key).and_then(|f| f.merged_into);
            let target_live = merged_into.map(|into| live(self.resolve(into)));
            let fan = self.fans.entry(key).or_default();
            match target_live {
                // Lines of this fan go to its template: `target` sends them.
                Some(true) => continue,
                // Its template was evicted: the fan starts again.
                Some(false) => *fan = Fan::default(),
                None => {}
            }
            let position = if run.len() == 1 {
                run.start
            } else {
                usize::MAX
            };
            out.fan_keys.push((position, key));
            fan.members.push(id);
            let tokens = line.tokens.get(run.clone()).unwrap_or_default();
            let single = tokens.len() == 1;
            fan.masked_member |= single && !tokens.iter().any(is_literal);
            let value = tokens.iter().fold(fnv1a(b"run"), |h, t| step(h, t.hash));
            let mut new_single = None;
            if !fan.words.contains(&value) && fan.words.len() < k {
                fan.words.push(value);
                fan.single_words += usize::from(single);
                if let [t] = tokens {
                    fan.singles.push(t.hash);
                    (fan.before, fan.after) = (run.start, len - run.end);
                    new_single = Some(t.hash);
                }
            }
            let full = fan.words.len() >= k || (fan.masked_member && fan.single_words >= 2);
            // Words that now alternate in this fan: all of them when the
            // second arrives, else the new one.
            let alternating: Vec<u64> = match (fan.singles.len(), new_single) {
                (2, Some(_)) => fan.singles.clone(),
                (n, Some(word)) if n > 2 => vec![word],
                _ => Vec::new(),
            };
            let members = fan.members.clone();
            for word in alternating {
                recurring.extend(self.note_alternative(word, key));
            }
            // The narrowest full fan says most precisely what varies.
            let narrower = own
                .as_ref()
                .is_none_or(|f| len - f.before - f.after > run.len());
            if (full || self.known_pair(key)) && narrower {
                own = Some(FullFan {
                    key,
                    before: run.start,
                    after: len - run.end,
                    members,
                });
            }
        }
        out.full_fans.extend(own);
        // Fans elsewhere whose words just became known values.
        recurring.sort_unstable();
        recurring.dedup();
        for key in recurring {
            if out.full_fans.iter().any(|f| f.key == key) || !self.known_pair(key) {
                continue;
            }
            if let Some(fan) = self.fans.get(&key).filter(|f| f.merged_into.is_none()) {
                out.full_fans.push(FullFan {
                    key,
                    before: fan.before,
                    after: fan.after,
                    members: fan.members.clone(),
                });
            }
        }
    }

    /// Records that `word` alternates with others in fan `key`; returns the
    /// fans to re-check when that makes it a known value.
    fn note_alternative(&mut self, word: u64, key: u64) -> Vec<u64> {
        if self.known_values.contains_key(&word) {
            return Vec::new();
        }
        let fans = self.alternative_in.entry(word).or_default();
        if !fans.contains(&key) {
            fans.push(key);
        }
        if fans.len() < RECURRING_ALTERNATIVE {
            return Vec::new();
        }
        let fans = self.alternative_in.remove(&word).unwrap_or_default();
        self.known_values.insert(word, ());
        fans
    }

    /// Whether two of the fan's one-token words are known values.
    fn known_pair(&self, key: u64) -> bool {
        self.fans.get(&key).is_some_and(|fan| {
            fan.merged_into.is_none()
                && fan
                    .singles
                    .iter()
                    .filter(|w| self.known_values.contains_key(w))
                    .count()
                    >= 2
        })
    }

    /// Template `id`, a member of the fan `key` (its position left out),
    /// took a variable at that position: masking found a value there, so
    /// the fan's other words there are values too. Returns the fan to merge
    /// when it has two or more words.
    pub fn variable_found(
        &mut self,
        key: u64,
        k: usize,
        before: usize,
        after: usize,
    ) -> Option<FullFan> {
        let fan = self.fans.get_mut(&key)?;
        if k == 0 || fan.merged_into.is_some() {
            return None;
        }
        fan.masked_member = true;
        (fan.single_words >= 2).then(|| FullFan {
            key,
            before,
            after,
            members: fan.members.clone(),
        })
    }

    /// The members of a full fan were merged into `into`.
    pub fn fan_merged(&mut self, key: u64, into: u64) {
        if let Some(fan) = self.fans.get_mut(&key) {
            fan.merged_into = Some(into);
            fan.members = Vec::new();
            for word in std::mem::take(&mut fan.singles) {
                self.known_values.insert(word, ());
            }
        }
    }

    /// Words a position found variable in place held (hashes of the raw
    /// values seen there).
    pub fn learn_values(&mut self, words: impl IntoIterator<Item = u64>) {
        for word in words {
            self.known_values.insert(word, ());
        }
    }

    /// `from` was merged into `into`; `from_keys` are the fans `from` joined.
    pub fn alias(&mut self, from: u64, into: u64, from_keys: &[(usize, u64)]) {
        if from != into {
            self.aliases.insert(from, into);
        }
        self.leave_fans(from, from_keys);
    }

    /// `id` was evicted.
    pub fn forget(&mut self, id: u64, keys: &[(usize, u64)]) {
        self.leave_fans(id, keys);
        self.aliases.remove(&id);
    }

    fn leave_fans(&mut self, id: u64, keys: &[(usize, u64)]) {
        for (_, key) in keys {
            if let Some(fan) = self.fans.get_mut(key) {
                fan.members.retain(|&m| m != id);
                if fan.members.is_empty() && fan.merged_into.is_none() {
                    self.fans.remove(key);
                }
            }
        }
    }

    /// Keeps the maps within their bounds (`cap` entries; fans, of which a
    /// template joins up to `2 × MAX_FAN_START − 1`, within `FAN_SHARE ×
    /// cap`). Entries whose template is gone go first; when the live ones
    /// alone are still near the bound, the map starts afresh, so pruning
    /// runs once per many new templates, not on each. Merges already made
    /// stay made. Aliases to live templates are kept within `ALIAS_SHARE ×
    /// cap`; one dropped past that makes `resolve` answer the merged-away
    /// id, which callers treat as evicted.
    pub fn prune(&mut self, cap: usize, live: impl Fn(u64) -> bool) {
        let fan_cap = cap.saturating_mul(FAN_SHARE);
        if self.fans.len() > fan_cap {
            let aliases = &self.aliases;
            let resolve = |id: u64| resolve_in(aliases, id);
            self.fans.retain(|_, f| {
                !f.members.is_empty() || f.merged_into.is_some_and(|id| live(resolve(id)))
            });
            if self.fans.len() > fan_cap / 4 * 3 {
                self.fans.clear();
            }
        }
        if self.known_values.len() > cap {
            // Relearnt from the next merges; only what is known now is lost.
            self.known_values.clear();
        }
        if self.alternative_in.len() > cap {
            self.alternative_in.clear();
        }
        if self.skeletons.len() > cap {
            self.skeletons.retain(|_, id| live(*id));
            if self.skeletons.len() > cap / 4 * 3 {
                self.skeletons.clear();
            }
        }
        let alias_cap = cap.saturating_mul(ALIAS_SHARE);
        if self.aliases.len() > alias_cap {
            let resolved: MixMap<u64, u64> = self
                .aliases
                .keys()
                .map(|&from| (from, self.resolve(from)))
                .filter(|&(_, to)| live(to))
                .collect();
            self.aliases = resolved;
            if self.aliases.len() > alias_cap / 4 * 3 {
                self.aliases.clear();
            }
        }
    }

    /// Entries held (for tests: memory stays bounded).
    #[cfg(test)]
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        (
            self.fans.len(),
            self.skeletons.len(),
            self.aliases.len(),
            self.known_values.len(),
        )
    }
}

/// Follows `aliases` from `id` to the template it belongs to now.
fn resolve_in(aliases: &MixMap<u64, u64>, mut id: u64) -> u64 {
    for _ in 0..MAX_ALIAS_HOPS {
        match aliases.get(&id) {
            Some(&to) if to != id => id = to,
            _ => break,
        }
    }
    id
}

/// A token that is a variable and nothing else (`<*>`, `(<*>`, `<*>:<*>`),
/// or a unit that belongs to the number before it (`KB)`, `sec`).
fn is_variable_only(line: &PreparedLine, t: &LineToken) -> bool {
    t.hash == WILDCARD_HASH
        || t.unit_word
        || (t.is_masked && !line.masked(t).iter().any(u8::is_ascii_alphanumeric))
}

fn step(h: u64, t: u64) -> u64 {
    (h ^ t).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

fn is_literal(t: &LineToken) -> bool {
    !t.is_masked && t.hash != WILDCARD_HASH
}

/// For each run of one or two tokens, a key for "this template with that
/// run left out": the tokens before and after it and how many there are,
/// so templates whose runs differ in width share the key. Runs that leave
/// fewer than two literals say nothing.
fn for_each_fan_key(tokens: &[LineToken], mut f: impl FnMut(std::ops::Range<usize>, u64)) {
    let literals = tokens.iter().filter(|t| is_literal(t)).count();
    // suffix[i]: the tokens from i to the end.
    let mut suffix = vec![0u64; tokens.len() + 1];
    for i in (0..tokens.len()).rev() {
        suffix[i] = step(suffix[i + 1], tokens[i].hash);
    }
    let mut prefix = fnv1a(b"fan");
    for start in 0..tokens.len().min(MAX_FAN_START) {
        let mut inside = 0;
        for end in start + 1..=(start + MAX_RUN).min(tokens.len()) {
            inside += usize::from(is_literal(&tokens[end - 1]));
            if literals - inside >= 2 {
                let around = step(step(prefix, start as u64), suffix[end]);
                f(start..end, step(around, (tokens.len() - end) as u64));
            }
        }
        prefix = step(prefix, tokens[start].hash);
    }
}

/// The line's literal tokens in order, each run of variable-only tokens
/// written as one gap and a repeated group of up to `MAX_LIST_UNIT` tokens
/// (`node-3 0x1f <ok> node-4 0x2e <ok> …`, a list of any length) written
/// once. `None` when nothing could make lengths differ (no gap, no list)
/// or with too few literals to say anything.
fn skeleton_key(line: &PreparedLine) -> Option<u64> {
    const GAP: u64 = fnv1a(b"<gap>");
    const REPEATED: u64 = fnv1a(b"<repeated>");
    let mut symbols: Vec<u64> = Vec::with_capacity(line.tokens.len());
    let mut literals = 0;
    for t in &line.tokens {
        if is_variable_only(line, t) {
            if symbols.last() != Some(&GAP) {
                symbols.push(GAP);
            }
        } else {
            literals += 1;
            symbols.push(t.hash);
        }
    }
    let gaps = symbols.iter().filter(|&&s| s == GAP).count();
    let mut key = fnv1a(b"skeleton");
    let mut mix = |word: u64| key = (key ^ word).wrapping_mul(0x0100_0000_01b3).rotate_left(17);
    let (mut i, mut lists) = (0, 0);
    while i < symbols.len() {
        let repeated = (1..=MAX_LIST_UNIT).find(|&u| {
            i + 2 * u <= symbols.len() && symbols[i..i + u] == symbols[i + u..i + 2 * u]
        });
        match repeated {
            Some(u) => {
                let mut next = i + 2 * u;
                while next + u <= symbols.len() && symbols[next..next + u] == symbols[i..i + u] {
                    next += u;
                }
                symbols[i..i + u].iter().for_each(|&w| mix(w));
                mix(REPEATED);
                lists += 1;
                i = next;
            }
            None => {
                mix(symbols[i]);
                i += 1;
            }
        }
    }
    (gaps + lists > 0 && literals >= MIN_SKELETON_LITERALS).then_some(key)
}
