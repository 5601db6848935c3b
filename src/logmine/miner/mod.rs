//! Streaming template miner.
//!
//! Design (a length + prefix tree with position-wise similarity, the
//! structure the Drain paper describes, written from scratch here):
//!
//! 1. The event's head line is tokenised on whitespace and each token is
//!    masked (`mask.rs`), so obvious variables already read `<*>`.
//! 2. Candidates are the templates with the same token count and the same
//!    first two words (`index.rs`). Log statements rarely change their
//!    length or opening words, and bucketing keeps per-line work small.
//! 3. The line joins the candidate with the most equal positions, provided
//!    the differing positions (incl. already generalised ones) stay within
//!    `allowed_differences`; disagreeing positions become `<*>`. Otherwise
//!    the line goes where earlier merges send lines like it, or starts a
//!    new template.
//! 4. Templates merge after the fact when later lines show they are one
//!    message (`merge.rs`); an id handed out before keeps resolving to the
//!    template it went into ([`TemplateMiner::resolve`]).
//!
//! Everything is bounded: at most `max_templates` templates (LFU-DA eviction,
//! `evict.rs`), capped examples and parameter values, capped line length.
//! The hot path reuses one scratch buffer and allocates only when a
//! template is created or a new example/parameter value is stored.

mod cluster;
mod evict;
mod index;
mod line;
mod line_cache;
mod merge;
mod token;
mod token_cache;

pub use cluster::Cluster;

use super::hash::{self, MixMap};
use chrono::{DateTime, Utc};
use cluster::{ClusterState, Event};
use evict::{Candidate, Evictor};
use index::{BucketKey, Index};
use line::{PreparedLine, head_line};
use merge::Merges;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Tuning knobs. One default configuration is meant to work for all logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MinerConfig {
    /// Upper bound on live templates; when full, the template with the
    /// lowest frequency-with-aging score is evicted.
    pub max_templates: usize,
    /// Distinct example events kept per template.
    pub max_examples: usize,
    /// Distinct values kept per `<*>` slot.
    pub max_param_values: usize,
    /// Share (0..=1) of a line's non-variable tokens that must equal a
    /// template's literals for the line to join it; one differing token is
    /// always tolerated when there are 3+ such tokens. Higher keeps more
    /// messages apart, lower merges more. Masking already turns most
    /// variables into `<*>`, so this only governs variables masking misses
    /// (plain words such as user or table names).
    pub similarity_threshold: f64,
    /// How many distinct plain words one position must show, among
    /// templates that agree everywhere else, before it counts as a variable
    /// (`Invalid user alice/bob/carol/…`). Fewer distinct words stay
    /// separate messages (`VM Started` / `VM Paused`). 0 turns this off.
    pub distinct_values_for_variable: usize,
    /// Whether templates whose literals agree but whose variable parts span
    /// different numbers of tokens (`lifetime <1 sec` / `lifetime 00:01`)
    /// are one template.
    pub merge_variable_lengths: bool,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            max_templates: 2000,
            max_examples: 3,
            max_param_values: 8,
            similarity_threshold: 0.7,
            distinct_values_for_variable: 6,
            merge_variable_lengths: true,
        }
    }
}

/// Identifies a template within one miner. Ids start at 1 and are never
/// reused; [`ClusterId::IGNORED`] is returned for events with no content.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct ClusterId(pub u64);

impl ClusterId {
    /// Returned by [`TemplateMiner::add`] for blank events; never a template.
    pub const IGNORED: ClusterId = ClusterId(0);

    pub fn is_ignored(self) -> bool {
        self == ClusterId::IGNORED
    }
}

#[derive(Debug)]
struct Slot {
    key: BucketKey,
    state: ClusterState,
    /// The fans (see `merge.rs`) this template joined when it was created:
    /// the position a one-token fan leaves out (`usize::MAX` for wider
    /// runs) and the fan's key.
    fan_keys: Box<[(usize, u64)]>,
}

impl Candidate for ClusterState {
    fn id(&self) -> u64 {
        self.id
    }
    fn priority(&self) -> u64 {
        self.priority
    }
    fn last_tick(&self) -> u64 {
        self.last_tick
    }
}

/// Collapses a stream of log events into templates.
#[derive(Debug)]
pub struct TemplateMiner {
    config: MinerConfig,
    /// Cluster storage; `None` marks a slot freed by eviction.
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    live: usize,
    by_id: MixMap<u64, usize>,
    index: Index,
    evictor: Evictor,
    /// Templates later lines showed to be one message.
    merges: Merges,
    next_id: u64,
    /// Logical clock: one tick per non-blank event.
    tick: u64,
    /// Changes to the set of templates or their tokens (see `add_prepared`).
    epoch: u64,
    ignored: u64,
    evicted: u64,
    /// Reused per event so the hot path does not allocate.
    /// Boxed: `add` takes it out and puts it back on every line, and a
    /// pointer moves where the line with its two caches would be copied.
    /// `None` only while a line is being added.
    scratch: Option<Box<PreparedLine>>,
}

/// How many positions may differ from a template's literals (already
/// generalised positions included) for a line to join it, given `len`
/// non-variable positions: `⌊(1 − threshold) × len⌋`, but at least one when
/// `len ≥ 3` so short messages (`Dropped table staging`) can still take one
/// variable word. Counting wildcards as differences caps how far a template
/// can generalise, which prevents runaway `<*> <*> <*>` templates.
fn allowed_differences(len: usize, threshold: f64) -> usize {
    let threshold = if threshold.is_finite() {
        threshold.clamp(0.0, 1.0)
    } else {
        1.0
    };
    // Small epsilon: 0.3 × 10 must give 3, not 2.999….
    let by_share = ((1.0 - threshold) * len as f64 + 1e-9).floor() as usize;
    if len >= 3 { by_share.max(1) } else { by_share }
}

impl Default for TemplateMiner {
    fn default() -> Self {
        TemplateMiner::new(MinerConfig::default())
    }
}

impl TemplateMiner {
    pub fn new(config: MinerConfig) -> Self {
        TemplateMiner {
            config,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            by_id: MixMap::default(),
            index: Index::default(),
            evictor: Evictor::default(),
            merges: Merges::default(),
            next_id: 1,
            tick: 0,
            epoch: 0,
            ignored: 0,
            evicted: 0,
            scratch: Some(Box::default()),
        }
    }

    /// A miner without the token/line caches and the match memo: the
    /// reference the fast path is tested against.
    #[cfg(test)]
    fn uncached(config: MinerConfig) -> Self {
        TemplateMiner {
            scratch: Some(Box::new(PreparedLine::uncached())),
            ..TemplateMiner::new(config)
        }
    }

    /// Whether `id` is a live template (not evicted, not unknown), or was
    /// merged into one.
    pub fn contains(&self, id: ClusterId) -> bool {
        self.state(self.resolve(id)).is_some()
    }

    /// The template `id` now belongs to: the id itself, or the template it
    /// was merged into when later lines showed the two to be one message.
    /// Ids of evicted or unknown templates come back unchanged.
    pub fn resolve(&self, id: ClusterId) -> ClusterId {
        ClusterId(self.merges.resolve(id.0))
    }

    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Adds one event (possibly multi-line: the template comes from its
    /// first non-blank line, the example keeps the whole text). Blank events
    /// are ignored and yield [`ClusterId::IGNORED`].
    pub fn add(&mut self, message: &str, timestamp: Option<DateTime<Utc>>) -> ClusterId {
        let head = head_line(message);
        let mut line = self.scratch.take().unwrap_or_default();
        line.prepare(head);
        let id = if line.tokens.is_empty() {
            self.ignored += 1;
            ClusterId::IGNORED
        } else {
            self.add_prepared(
                &mut line,
                Event {
                    text: message,
                    head,
                    ts: timestamp,
                },
            )
        };
        self.scratch = Some(line);
        id
    }

    /// [`add`](Self::add) for raw bytes; invalid UTF-8 is replaced (and the
    /// affected tokens are then masked as binary).
    pub fn add_bytes(&mut self, message: &[u8], timestamp: Option<DateTime<Utc>>) -> ClusterId {
        let text = String::from_utf8_lossy(message);
        self.add(&text, timestamp)
    }

    /// All live templates, most frequent first, then earliest seen.
    pub fn clusters(&self) -> Vec<Cluster> {
        let mut states: Vec<&ClusterState> =
            self.slots.iter().flatten().map(|s| &s.state).collect();
        states.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| match (a.first_seen, b.first_seen) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then_with(|| a.first_tick.cmp(&b.first_tick))
                .then_with(|| a.id.cmp(&b.id))
        });
        states
            .into_iter()
            .map(|s| s.to_cluster(self.config.max_param_values))
            .collect()
    }

    /// Current template text of a live cluster (`None` once evicted),
    /// following merges.
    pub fn template_of(&self, id: ClusterId) -> Option<String> {
        self.state(self.resolve(id)).map(ClusterState::template)
    }

    /// Full report for one live cluster, following merges.
    pub fn cluster(&self, id: ClusterId) -> Option<Cluster> {
        self.state(self.resolve(id))
            .map(|s| s.to_cluster(self.config.max_param_values))
    }

    /// Number of live templates.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Non-blank events added so far (including those of evicted templates).
    pub fn total_events(&self) -> u64 {
        self.tick
    }

    /// Blank events skipped.
    pub fn ignored_events(&self) -> u64 {
        self.ignored
    }

    /// Templates dropped to respect `max_templates`.
    pub fn evicted_templates(&self) -> u64 {
        self.evicted
    }

    fn state(&self, id: ClusterId) -> Option<&ClusterState> {
        let slot = *self.by_id.get(&id.0)?;
        self.slots.get(slot)?.as_ref().map(|s| &s.state)
    }

    /// Matches and absorbs one prepared line.
    ///
    /// The match memo: which template a line joins depends only on its
    /// masked tokens and on the templates. Lines of one shape have the same
    /// masked tokens, and `epoch` counts every change to the templates
    /// (created, generalised, evicted). So when a line of this shape joined
    /// a template without changing it at the current epoch, this line joins
    /// the same one, and every literal there equals it — no candidates to
    /// compare. In a steady log nearly every line takes this path.
    fn add_prepared(&mut self, line: &mut PreparedLine, ev: Event<'_>) -> ClusterId {
        self.tick += 1;
        let index = &self.index;
        let remembered = line
            .memo(self.epoch, |group| index.epoch_at(group))
            .filter(|&slot| matches!(self.slots.get(slot), Some(Some(_))));
        let matched = remembered.or_else(|| self.best_match(line));
        // Found among the line's group: only a change there can change that.
        let local = matched.is_some();
        let (found, unaligned) = match matched {
            Some(slot) => (Some(slot), false),
            None => self
                .merged_target(line)
                .map_or((None, false), |(slot, unaligned)| (Some(slot), unaligned)),
        };
        let (slot, created) = match found {
            Some(slot) => (slot, false),
            None => (self.create(line), true),
        };
        let limits = (self.config.max_examples, self.config.max_param_values);
        let Some(Slot { state, .. }) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            // Unreachable by construction; degrade gracefully rather than panic.
            return ClusterId::IGNORED;
        };
        let same_length = state.tokens.len() == line.tokens.len();
        let aligned = !unaligned && same_length;
        let generalised = if aligned {
            state.absorb(line, &ev, self.tick, limits, remembered.is_some())
        } else {
            state.absorb_unaligned(&ev, self.tick, limits.0);
            None
        };
        let changed = generalised.is_some();
        state.priority = self.evictor.priority_for(state.count);
        let mut id = ClusterId(state.id);
        if created {
            self.evictor.track(slot, state);
            id = self.merge_new(slot, line);
        } else if let Some(position) = generalised {
            id = self.variable_found(slot, position);
        }
        if changed {
            self.touch_slot(slot);
        }
        if changed || created {
            self.epoch += 1;
        } else if remembered.is_none() && (aligned || !same_length) {
            // A remembered line of the template's length is lined up with
            // it; one sent by its skeleton at that length must not be.
            // Nothing changed while this line was added: the epochs read
            // now are those its match was made at.
            if local {
                let group = Index::group_counter(line);
                line.set_memo(self.index.epoch_at(group), slot, Some(group));
            } else {
                line.set_memo(self.epoch, slot, None);
            }
        }
        id
    }

    /// The live template earlier merges send this line to (see
    /// `merge.rs`), and whether it joins without being lined up.
    fn merged_target(&self, line: &PreparedLine) -> Option<(usize, bool)> {
        let by_id = &self.by_id;
        let target = self.merges.target(
            line,
            self.fan_k(),
            self.config.merge_variable_lengths,
            |id| by_id.contains_key(&id),
        )?;
        let slot = *self.by_id.get(&target.id)?;
        self.slots
            .get(slot)?
            .as_ref()
            .map(|_| (slot, target.unaligned))
    }

    /// Registers the template just created at `slot` (from `line`) with the
    /// merge rules and carries out what they ask: a fan that reached K
    /// distinct words is folded into its oldest member with that position
    /// made a variable; a template with another template's skeleton is
    /// folded into that one. Returns the id the line now belongs to.
    fn merge_new(&mut self, slot: usize, line: &PreparedLine) -> ClusterId {
        let Some(id) = self.slot_state(slot).map(|s| s.id) else {
            return ClusterId::IGNORED;
        };
        let registered = {
            let (k, skeletons) = (self.fan_k(), self.config.merge_variable_lengths);
            let (slots, by_id) = (&self.slots, &self.by_id);
            self.merges
                .register(id, line, k, skeletons, |id| len_of(slots, by_id, id))
        };
        if let Some(Some(s)) = self.slots.get_mut(slot) {
            s.fan_keys = registered.fan_keys.into_boxed_slice();
        }
        if !registered.full_fans.is_empty() {
            for fan in registered.full_fans {
                self.merge_fan(fan);
            }
        } else if let Some(into) = registered.same_skeleton {
            self.fold_into(id, into);
        }
        let cap = self.config.max_templates.max(1).saturating_mul(16);
        let by_id = &self.by_id;
        self.merges.prune(cap, |id| by_id.contains_key(&id));
        self.resolve(ClusterId(id))
    }

    /// The template at `slot` took a variable at `position`: the fan of
    /// templates that differ from it only there may now be one message.
    /// Returns the id the template now belongs to.
    fn variable_found(&mut self, slot: usize, position: usize) -> ClusterId {
        let Some(Some(s)) = self.slots.get(slot) else {
            return ClusterId::IGNORED;
        };
        let (id, len) = (s.state.id, s.state.tokens.len());
        let key = s
            .fan_keys
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, k)| *k);
        let k = self.fan_k();
        let after = len.saturating_sub(position + 1);
        let words: Vec<u64> = s
            .state
            .values
            .get(position)
            .map(|values| values.iter().map(|v| hash::fnv1a(v.as_bytes())).collect())
            .unwrap_or_default();
        self.merges.learn_values(words);
        if let Some(fan) = key.and_then(|key| self.merges.variable_found(key, k, position, after)) {
            self.merge_fan(fan);
        }
        self.resolve(ClusterId(id))
    }

    /// Folds a full fan's members into the oldest; the run the fan leaves
    /// out becomes variable.
    fn merge_fan(&mut self, fan: merge::FullFan) {
        let mut members: Vec<u64> = Vec::with_capacity(fan.members.len());
        for m in fan.members {
            let m = self.merges.resolve(m);
            if self.by_id.contains_key(&m) && !members.contains(&m) {
                members.push(m);
            }
        }
        members.sort_unstable();
        let Some((&into, rest)) = members.split_first() else {
            return;
        };
        let into_len = self.live_len(into);
        // Folding members of the same length makes the positions where they
        // differ variables; with none, the whole run is.
        let mut lined_up = false;
        for &other in rest {
            lined_up |= self.live_len(other) == into_len;
            self.fold_into(other, into);
        }
        let max_values = self.config.max_param_values;
        if let (false, Some(state)) = (lined_up, self.live_state_mut(into)) {
            let run = fan.before..state.tokens.len().saturating_sub(fan.after);
            for position in run {
                state.make_variable(position, max_values);
            }
        }
        if let Some(&slot) = self.by_id.get(&into) {
            self.touch_slot(slot);
        }
        self.merges.fan_merged(fan.key, into);
    }

    /// Moves template `from` into template `into` and frees its slot.
    fn fold_into(&mut self, from: u64, into: u64) {
        if from == into || !self.by_id.contains_key(&into) {
            return;
        }
        let Some(slot) = self.by_id.get(&from).copied() else {
            return;
        };
        let Some(gone) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.by_id.remove(&from);
        self.index.remove(gone.key, slot);
        self.free.push(slot);
        self.live -= 1;
        self.merges.alias(from, into, &gone.fan_keys);
        let by_id = &self.by_id;
        self.evictor
            .compact(self.live, |slot, id| by_id.get(&id) == Some(&slot));
        let limits = (self.config.max_examples, self.config.max_param_values);
        let evictor = &self.evictor;
        let Some(slot) = self.by_id.get(&into).copied() else {
            return;
        };
        if let Some(Some(Slot { state, .. })) = self.slots.get_mut(slot) {
            state.fold(gone.state, limits);
            state.priority = evictor.priority_for(state.count);
        }
        self.touch_slot(slot);
    }

    /// The template at `slot` changed: memos of its group no longer hold.
    fn touch_slot(&mut self, slot: usize) {
        if let Some(Some(s)) = self.slots.get(slot) {
            self.index.touch(s.key);
        }
    }

    fn live_len(&self, id: u64) -> Option<usize> {
        len_of(&self.slots, &self.by_id, id)
    }

    /// K for fans: 0 (off) below 2, where one value would make every
    /// template's first word a variable.
    fn fan_k(&self) -> usize {
        match self.config.distinct_values_for_variable {
            0 | 1 => 0,
            k => k,
        }
    }

    fn slot_state(&self, slot: usize) -> Option<&ClusterState> {
        self.slots.get(slot)?.as_ref().map(|s| &s.state)
    }

    fn live_state_mut(&mut self, id: u64) -> Option<&mut ClusterState> {
        let slot = *self.by_id.get(&id)?;
        self.slots.get_mut(slot)?.as_mut().map(|s| &mut s.state)
    }

    /// Most similar template among the line's candidates, if similar enough
    /// (see [`MinerConfig::similarity_threshold`]). Ties prefer the more
    /// general template (more wildcards), then the older one.
    fn best_match(&self, line: &PreparedLine) -> Option<usize> {
        let len = line.tokens.len();
        let threshold = self.config.similarity_threshold;
        let mut best: Option<(usize, usize, usize)> = None; // (equal, wild, slot)
        for slot in self.index.candidates(line) {
            let Some(Some(s)) = self.slots.get(slot) else {
                continue;
            };
            let m = s.state.compare(line);
            // Positions where both sides are masked variables are neither
            // evidence for nor against sameness: judge on the other tokens.
            let allowed = allowed_differences(len - m.equal_masked, threshold);
            if len - m.equal.min(len) > allowed {
                continue;
            }
            // Two events that differ in a plain word (`VM Started` / `VM
            // Paused`) are two messages: variables carry digits or shapes.
            if m.word_changes > 0 {
                continue;
            }
            let better = match best {
                None => true,
                Some((be, bw, _)) => m.equal > be || (m.equal == be && m.wild > bw),
            };
            if better {
                best = Some((m.equal, m.wild, slot));
            }
        }
        best.map(|(_, _, slot)| slot)
    }

    fn create(&mut self, line: &PreparedLine) -> usize {
        if self.live >= self.config.max_templates.max(1) {
            self.evict_one();
        }
        let key = self.index.key_for_new(line);
        let id = self.next_id;
        self.next_id += 1;
        let entry = Slot {
            key,
            state: ClusterState::new(id, line, self.tick),
            fan_keys: Box::default(),
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(entry);
                s
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.by_id.insert(id, slot);
        self.index.insert(key, slot);
        self.live += 1;
        slot
    }

    fn evict_one(&mut self) {
        let slots = &self.slots;
        let victim = self
            .evictor
            .pick(|s| slots.get(s).and_then(Option::as_ref).map(|x| &x.state));
        let Some(slot) = victim else { return };
        let Some(gone) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.by_id.remove(&gone.state.id);
        self.merges.forget(gone.state.id, &gone.fan_keys);
        self.index.remove(gone.key, slot);
        self.free.push(slot);
        self.live -= 1;
        self.evicted += 1;
        self.epoch += 1;
    }
}

/// Whether template `id` is live, and its token count.
fn len_of(slots: &[Option<Slot>], by_id: &MixMap<u64, usize>, id: u64) -> Option<usize> {
    let slot = *by_id.get(&id)?;
    slots.get(slot)?.as_ref().map(|s| s.state.tokens.len())
}

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod tests;
