//! A backend of a mixed estate that could not start (Data Factory could not
//! list the factories of a resource group, say). It stands in the estate so
//! the others still serve, and every question put to it is answered with why
//! it is missing; a lone backend that cannot start stops the server instead.

use async_trait::async_trait;

use super::{
    BackendError, BackendHealth, CancelRequest, LivePlan, PipelineBackend, RemediationOutcome,
    RemediationPlan, RerunRequest, RunPage, RunQuery,
};
use crate::model::estate::EstateCatalog;
use crate::model::run::{ActivityRun, BackendKind, PipelineRun};

pub struct Unstarted {
    kind: BackendKind,
    environment: String,
    why: String,
}

impl Unstarted {
    pub fn new(kind: BackendKind, environment: &str, why: &str) -> Unstarted {
        Unstarted {
            kind,
            environment: environment.to_string(),
            why: why.to_string(),
        }
    }

    fn error(&self) -> BackendError {
        BackendError::Unavailable(format!(
            "{} did not start: {}. Fix that and restart opsdeck serve",
            self.kind.as_str(),
            self.why
        ))
    }
}

#[async_trait]
impl PipelineBackend for Unstarted {
    fn kind(&self) -> BackendKind {
        self.kind
    }

    fn environment(&self) -> &str {
        &self.environment
    }

    async fn catalog(&self) -> Result<EstateCatalog, BackendError> {
        Err(self.error())
    }

    async fn query_runs(&self, _query: &RunQuery) -> Result<RunPage, BackendError> {
        Err(self.error())
    }

    async fn get_run(&self, _run_id: &str) -> Result<Option<PipelineRun>, BackendError> {
        Err(self.error())
    }

    async fn activity_runs(&self, _run_id: &str) -> Result<Vec<ActivityRun>, BackendError> {
        Err(self.error())
    }

    async fn plan_rerun(&self, _request: &RerunRequest) -> Result<RemediationPlan, BackendError> {
        Err(self.error())
    }

    async fn plan_cancel(&self, _request: &CancelRequest) -> Result<RemediationPlan, BackendError> {
        Err(self.error())
    }

    async fn act(&self, _plan: LivePlan) -> Result<RemediationOutcome, BackendError> {
        Err(self.error())
    }

    async fn health(&self) -> BackendHealth {
        BackendHealth {
            name: format!("{}/{}", self.kind.as_str(), self.environment),
            ok: false,
            detail: self.error().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_question_is_answered_with_why_it_did_not_start() {
        let backend = Unstarted::new(BackendKind::Adf, "prod", "listing factories failed (401)");
        let said = backend.catalog().await.unwrap_err().to_string();
        assert!(
            said.contains("adf did not start") && said.contains("listing factories failed (401)"),
            "{said}"
        );
        assert!(backend.get_run("r1").await.is_err());
        let health = backend.health().await;
        assert!(!health.ok);
        assert_eq!(health.name, "adf/prod");
        assert!(health.detail.contains("401"), "{}", health.detail);
    }
}
