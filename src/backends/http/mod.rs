//! One HTTP client for every REST API opsdeck calls (Azure's, Airflow's,
//! Databricks'), with the manners a shared service expects: a timeout on every request; retries with backoff only for
//! reads, honouring `Retry-After`; never a retry of an action (`createRun`,
//! `cancel`), whose failure may hide a success; a pause when ARM says the
//! subscription's request budget is nearly spent; `nextLink` paging that only
//! follows links back to the same service (a link elsewhere would carry our
//! token away).
//!
//! `client` sends, `retry` decides whether and when to send again, `budget`
//! slows down for ARM, `paging` follows `nextLink`, `error` reads what went
//! wrong, `endpoint` builds and checks the URLs a credential goes to.

mod budget;
mod call;
mod client;
mod endpoint;
mod error;
mod paging;
mod retry;

pub use call::{Call, Safety};
pub use client::{Answer, RestClient};
pub use endpoint::{checked_endpoint, url_with};
pub use error::RestError;
pub(crate) use error::one_line;
pub use retry::RetryPolicy;

/// Where the `Authorization` header comes from: an Azure credential chain, a
/// personal access token, basic auth…
#[async_trait::async_trait]
pub trait Authorizer: Send + Sync {
    /// The header value for a request to a service with token scope `scope`.
    async fn authorization(&self, scope: &str) -> Result<String, String>;
    /// Which identity is in use, for health output (never a secret).
    fn status(&self) -> String;
}
