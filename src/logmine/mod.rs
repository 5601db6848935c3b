//! Log template mining for `summarize_error_logs`.
//!
//! Collapses thousands of log lines into a handful of templates
//! (`Connection to <*> timed out after <*> ms` × 4,213):
//!
//! * [`EventAssembler`] joins physical lines into events (stack traces stay
//!   with the message they belong to);
//! * [`TemplateMiner`] masks obvious variables ([`mask_token`]) and groups
//!   events into templates in one streaming pass with bounded memory;
//! * [`compare_with_baseline`] ranks templates of an incident window against
//!   a quiet window: new ones, spiking ones, error-looking ones first.

mod events;
mod hash;
pub mod header;
mod mask;
mod miner;
mod summary;
mod trend;

pub mod eval;

pub use events::{EventAssembler, MAX_EVENT_BYTES};
pub use header::{Header, split_header};
pub use mask::{VarKind, WILDCARD, mask_into, mask_line, mask_token};
pub use miner::{Cluster, ClusterId, MinerConfig, TemplateMiner};
pub use summary::{
    LevelledCluster, LogSummarizer, MAX_READ_LINE_BYTES, Summary, SummaryCounts, SummaryFilter,
    read_capped_line,
};
pub use trend::{ClusterTrend, SPIKE_MIN_COUNT, SPIKE_RATIO, compare_with_baseline};

/// Helpers shared by the miner's tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// Distinct digit-free words: `a`, `b`, … `z`, `ab`, … — values that
    /// masking leaves alone.
    pub(crate) fn letters(mut i: usize) -> String {
        let mut w = String::new();
        loop {
            w.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
            if i == 0 {
                return w;
            }
        }
    }
}
