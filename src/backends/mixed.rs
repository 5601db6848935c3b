//! Several backends served as one estate (`opsdeck serve --backend adf,fabric`):
//! their parts merged, and reads that go on when one backend cannot answer,
//! naming it and why next to what the others returned. A lone backend's
//! error stays the whole answer, as it always was.

use std::sync::Arc;

use super::{BackendError, Backends, PipelineBackend, RunQuery};
use crate::model::estate::{EstateCatalog, UnreadableDefinitions};
use crate::model::run::PipelineRun;
use crate::model::time::SharedClock;

/// Most pages one backend is asked for in one merged run query: a backend
/// whose continuation never ends cannot hold the call.
const MAX_PAGES_PER_BACKEND: usize = 50;

/// A backend that could not answer, named as the estate names it (`fabric/Sales`).
#[derive(Debug, Clone)]
pub struct Unreached {
    pub backend: String,
    pub error: BackendError,
}

impl std::fmt::Display for Unreached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} could not be read: {}", self.backend, self.error)
    }
}

/// The runs of the backends that answered, and the backends that did not.
#[derive(Debug, Default)]
pub struct RunsInPart {
    pub runs: Vec<PipelineRun>,
    pub unreached: Vec<Unreached>,
}

impl RunsInPart {
    /// The runs and a note naming the backends missing from them (". NOT
    /// INCLUDED: fabric/Sales could not be read: …", empty when none), or an
    /// error when none of the estate's `of` pipeline backends answered (a
    /// lone backend's own error).
    pub fn answered(self, of: usize) -> Result<(Vec<PipelineRun>, String), BackendError> {
        if self.unreached.is_empty() {
            return Ok((self.runs, String::new()));
        }
        if of == 1 || self.unreached.len() >= of {
            return Err(unanswered(self.unreached, of));
        }
        let note = format!(". NOT INCLUDED: {}", describe(&self.unreached));
        Ok((self.runs, note))
    }
}

/// `kind/environment` of a pipeline backend (`adf/prod`, `fabric/Sales`).
pub fn backend_name(backend: &dyn PipelineBackend) -> String {
    format!("{}/{}", backend.kind().as_str(), backend.environment())
}

/// "adf/prod could not be read: …; fabric/Sales could not be read: …".
pub fn describe(unreached: &[Unreached]) -> String {
    unreached
        .iter()
        .map(Unreached::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Backends {
    /// One estate of several: every part's sources in the order given,
    /// labelled `adf/prod+fabric/Sales`, read on one clock.
    pub fn merged(parts: Vec<Backends>, clock: SharedClock) -> Backends {
        let mut merged = Backends {
            pipelines: Vec::new(),
            secrets: Vec::new(),
            infra: Vec::new(),
            logs: Vec::new(),
            changes: Vec::new(),
            clock,
            label: String::new(),
        };
        let mut labels = Vec::with_capacity(parts.len());
        for part in parts {
            merged.pipelines.extend(part.pipelines);
            merged.secrets.extend(part.secrets);
            merged.infra.extend(part.infra);
            merged.logs.extend(part.logs);
            merged.changes.extend(part.changes);
            labels.push(part.label);
        }
        merged.label = labels.join("+");
        merged
    }

    /// Each pipeline backend's catalogue, or why it could not be read. Read
    /// side by side, so a slow backend costs its own timeout, not the sum.
    pub(super) async fn catalogs(
        &self,
    ) -> Vec<(
        Arc<dyn PipelineBackend>,
        Result<EstateCatalog, BackendError>,
    )> {
        let reads = self
            .pipelines
            .iter()
            .map(|backend| async move { (backend.clone(), backend.catalog().await) });
        futures::future::join_all(reads).await
    }

    /// The catalogues merged. Of several backends, one that cannot be read is
    /// listed in `unreadable` (what and why) and the others still answer; an
    /// error only when none could be read.
    pub(super) async fn catalog_in_part(&self) -> Result<EstateCatalog, BackendError> {
        let mut merged = EstateCatalog::default();
        let mut unreached = Vec::new();
        for (backend, catalog) in self.catalogs().await {
            match catalog {
                Ok(catalog) => merged.extend(catalog),
                Err(error) => unreached.push(Unreached {
                    backend: backend_name(backend.as_ref()),
                    error,
                }),
            }
        }
        if !unreached.is_empty() && unreached.len() == self.pipelines.len() {
            return Err(unanswered(unreached, self.pipelines.len()));
        }
        merged
            .unreadable
            .extend(unreached.into_iter().map(|u| UnreadableDefinitions {
                what: format!("the pipelines of {}", u.backend),
                why: u.error.to_string(),
            }));
        Ok(merged)
    }

    /// The runs `query` matches in every backend, newest first, at most `max`,
    /// with the backends that could not answer. Named pipelines are asked
    /// only of the backends that have them; a backend whose catalogue cannot
    /// be read counts as unanswered only when some named pipeline was found
    /// nowhere else (the same rule as [`Backends::backend_for_pipeline`]).
    pub async fn runs_in_part(&self, query: &RunQuery, max: usize) -> RunsInPart {
        let mut out = RunsInPart::default();
        let mut blind = Vec::new();
        let mut found = vec![false; query.pipelines.len()];
        let mut asks: Vec<(Arc<dyn PipelineBackend>, RunQuery)> = Vec::new();
        // A lone backend is asked exactly as given (its own not-found errors included).
        if query.pipelines.is_empty() || self.pipelines.len() == 1 {
            asks = self
                .pipelines
                .iter()
                .map(|b| (b.clone(), query.clone()))
                .collect();
        } else {
            for (backend, catalog) in self.catalogs().await {
                let catalog = match catalog {
                    Ok(catalog) => catalog,
                    Err(error) => {
                        blind.push(Unreached {
                            backend: backend_name(backend.as_ref()),
                            error,
                        });
                        continue;
                    }
                };
                let mut own = query.clone();
                own.pipelines.clear();
                for (i, name) in query.pipelines.iter().enumerate() {
                    if catalog.pipeline(name).is_some() {
                        found[i] = true;
                        own.pipelines.push(name.clone());
                    }
                }
                if !own.pipelines.is_empty() {
                    asks.push((backend, own));
                }
            }
            if found.iter().any(|f| !f) {
                out.unreached.extend(blind);
            }
        }
        let reads = asks.into_iter().map(|(backend, ask)| async move {
            let pages = pages_of(backend.as_ref(), ask, max).await;
            (backend_name(backend.as_ref()), pages)
        });
        for (backend, pages) in futures::future::join_all(reads).await {
            match pages {
                Ok(runs) => out.runs.extend(runs),
                Err(error) => out.unreached.push(Unreached { backend, error }),
            }
        }
        out.runs.sort_by_key(|r| std::cmp::Reverse(r.run_start));
        out.runs.truncate(max);
        out
    }
}

/// One backend's runs, its pages followed until it has `max` or they end.
async fn pages_of(
    backend: &dyn PipelineBackend,
    mut query: RunQuery,
    max: usize,
) -> Result<Vec<PipelineRun>, BackendError> {
    let mut runs = Vec::new();
    for _ in 0..MAX_PAGES_PER_BACKEND {
        let page = backend.query_runs(&query).await?;
        runs.extend(page.runs);
        match page.continuation {
            Some(token) if runs.len() < max => query.continuation = Some(token),
            _ => return Ok(runs),
        }
    }
    Err(BackendError::Unavailable(format!(
        "{} still had more pages of runs after {MAX_PAGES_PER_BACKEND}; narrow the window or name the pipeline",
        backend_name(backend)
    )))
}

/// The error for backends that could not answer, of an estate of `of`
/// pipeline backends: a lone backend's own error, else each one named.
pub fn unanswered(mut unreached: Vec<Unreached>, of: usize) -> BackendError {
    if of == 1 && unreached.len() == 1 {
        return unreached.remove(0).error;
    }
    let whole = if unreached.len() == of {
        "no backend of this estate could answer"
    } else {
        "part of this estate could not answer"
    };
    BackendError::Unavailable(format!("{whole}: {}", describe(&unreached)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::backends::sandbox::{Sandbox, SandboxOptions};
    use crate::backends::unstarted::Unstarted;
    use crate::model::run::BackendKind;
    use crate::model::time::FixedClock;

    fn clock() -> SharedClock {
        let at = DateTime::parse_from_rfc3339("2026-11-23T03:42:00Z").unwrap();
        Arc::new(FixedClock(at.with_timezone(&Utc)))
    }

    fn sandbox_part() -> Backends {
        let sandbox = Arc::new(Sandbox::new(SandboxOptions::default(), clock()).unwrap());
        Backends {
            label: "sandbox/default".into(),
            pipelines: vec![sandbox.clone()],
            secrets: vec![sandbox.clone()],
            infra: vec![sandbox.clone()],
            logs: vec![sandbox.clone()],
            changes: vec![sandbox],
            clock: clock(),
        }
    }

    fn down_part() -> Backends {
        Backends {
            label: "fabric/Sales (not started)".into(),
            pipelines: vec![Arc::new(Unstarted::new(
                BackendKind::Fabric,
                "Sales",
                "sign-in refused",
            ))],
            secrets: vec![],
            infra: vec![],
            logs: vec![],
            changes: vec![],
            clock: clock(),
        }
    }

    fn day(pipelines: &[&str]) -> RunQuery {
        RunQuery {
            pipelines: pipelines.iter().map(|p| p.to_string()).collect(),
            statuses: vec![],
            window: crate::model::time::TimeWindow {
                since: clock().now() - Duration::hours(24),
                until: clock().now(),
            },
            limit: 500,
            continuation: None,
        }
    }

    #[tokio::test]
    async fn a_backend_that_cannot_answer_is_named_and_the_others_still_answer() {
        let estate = Backends::merged(vec![down_part(), sandbox_part()], clock());
        assert_eq!(estate.label, "fabric/Sales (not started)+sandbox/default");
        assert_eq!(estate.secrets.len(), 1, "the parts' sources are kept");

        let catalog = estate.catalog().await.unwrap();
        assert!(!catalog.pipelines.is_empty());
        assert_eq!(catalog.unreadable.len(), 1);
        assert_eq!(catalog.unreadable[0].what, "the pipelines of fabric/Sales");
        assert!(catalog.unreadable[0].why.contains("sign-in refused"));

        let found = estate.runs_in_part(&day(&[]), 100).await;
        assert!(!found.runs.is_empty());
        assert_eq!(
            describe(&found.unreached).matches("fabric/Sales").count(),
            1
        );
        let (runs, note) = found.answered(2).unwrap();
        assert!(
            note.contains("NOT INCLUDED: fabric/Sales could not be read"),
            "{note}"
        );
        let (_, run) = estate.find_run(&runs[0].run_id).await.unwrap();
        assert_eq!(run.run_id, runs[0].run_id);

        // A sandbox pipeline is found; the down backend's catalogue is not needed for it.
        let name = catalog.pipelines[0].name.clone();
        assert!(estate.backend_for_pipeline(&name).await.is_ok());
        let named = estate.runs_in_part(&day(&[&name]), 100).await;
        assert!(named.unreached.is_empty(), "{:?}", named.unreached);
        assert!(named.runs.iter().all(|r| r.pipeline == name));

        // What is in no backend that answered may be in the one that did not.
        for err in [
            estate.backend_for_pipeline("nowhere").await.err().unwrap(),
            estate.find_run("no-such-run").await.err().unwrap(),
        ] {
            let said = err.to_string();
            assert!(matches!(err, BackendError::Unavailable(_)), "{said}");
            assert!(
                said.contains("fabric/Sales") && said.contains("may be there"),
                "{said}"
            );
        }
    }

    #[tokio::test]
    async fn a_lone_backend_keeps_its_own_error_and_two_down_are_both_named() {
        let lone = down_part();
        let err = lone.catalog().await.unwrap_err().to_string();
        assert!(err.starts_with("fabric did not start"), "{err}");
        let err = lone
            .runs_in_part(&day(&[]), 10)
            .await
            .answered(1)
            .unwrap_err();
        assert!(err.to_string().starts_with("fabric did not start"), "{err}");

        let both = Backends::merged(vec![down_part(), down_part()], clock());
        let err = both.catalog().await.unwrap_err().to_string();
        assert!(
            err.starts_with("no backend of this estate could answer"),
            "{err}"
        );
        assert_eq!(err.matches("sign-in refused").count(), 2, "{err}");
    }

    #[tokio::test]
    async fn a_name_in_two_backends_is_refused_naming_both() {
        let estate = Backends::merged(vec![sandbox_part(), sandbox_part()], clock());
        let name = estate.catalog().await.unwrap().pipelines[0].name.clone();
        let err = estate.backend_for_pipeline(&name).await.err().unwrap();
        assert!(err.to_string().contains("more than one place"), "{err}");
    }
}
