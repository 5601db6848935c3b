//! What triage could not read. Only the triaged run must be readable; every
//! other step (definitions, secrets, logs, resources, history, upstream runs)
//! enriches the answer, and one that fails becomes a gap named in it.

use crate::model::contract::EvidenceGap;
use crate::model::estate::EstateCatalog;
use crate::ops::error::OpsError;
use crate::support::text::clip;

/// Longest reason kept for one gap.
const MAX_WHY_CHARS: usize = 300;

/// The gaps met during one triage, each once.
#[derive(Debug, Default)]
pub struct Gaps(Vec<EvidenceGap>);

impl Gaps {
    /// The value, or `None` with the failure kept as the gap `what`.
    pub fn read<T, E: Into<OpsError>>(
        &mut self,
        what: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.note(what, clip(&error.into().message, MAX_WHY_CHARS));
                None
            }
        }
    }

    pub fn note(&mut self, what: impl Into<String>, why: impl Into<String>) {
        let gap = EvidenceGap {
            what: what.into(),
            why: why.into(),
        };
        if !self.0.contains(&gap) {
            self.0.push(gap);
        }
    }

    /// The kinds of definition the catalogue had to go without.
    pub fn note_unreadable_definitions(&mut self, catalog: &EstateCatalog) {
        for missing in &catalog.unreadable {
            self.note(&missing.what, &missing.why);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// For the summary line: ` Not read: linked services: not readable (…).`
    pub fn sentence(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let listed: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        format!(" Not read: {}.", listed.join("; "))
    }

    pub fn into_vec(self) -> Vec<EvidenceGap> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::BackendError;
    use crate::model::estate::UnreadableDefinitions;

    #[test]
    fn failures_become_named_gaps_once_and_values_pass_through() {
        let mut gaps = Gaps::default();
        assert_eq!(gaps.read("logs", Ok::<_, OpsError>(3)), Some(3));
        assert!(gaps.is_empty());
        let denied = || Err::<(), _>(BackendError::Refused("403 AuthorizationFailed".into()));
        assert_eq!(gaps.read("logs", denied()), None);
        assert_eq!(gaps.read("logs", denied()), None);
        let catalog = EstateCatalog {
            unreadable: vec![UnreadableDefinitions {
                what: "linked services".into(),
                why: "403 Forbidden: the identity lacks x/read".into(),
            }],
            ..EstateCatalog::default()
        };
        gaps.note_unreadable_definitions(&catalog);
        assert_eq!(
            gaps.sentence(),
            " Not read: logs: not readable (403 AuthorizationFailed); linked services: not readable (403 Forbidden: the identity lacks x/read)."
        );
        assert_eq!(gaps.into_vec().len(), 2);
    }

    #[test]
    fn a_long_reason_is_clipped() {
        let mut gaps = Gaps::default();
        let huge = Err::<(), _>(BackendError::Unavailable("x".repeat(100_000)));
        gaps.read("resources", huge);
        let kept = gaps.into_vec();
        assert!(kept[0].why.chars().count() <= MAX_WHY_CHARS + 1);
    }
}
