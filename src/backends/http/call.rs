//! One request, and whether it may be sent twice.

use reqwest::{Method, Url};
use serde_json::Value;

/// Whether a request may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Safety {
    /// Reads and queries: sending twice changes nothing.
    Read,
    /// Actions: a second send could start a second run.
    Action,
}

/// One request.
pub struct Call<'a> {
    pub method: Method,
    pub url: Url,
    /// The token scope of the service (`https://management.azure.com/.default`…).
    pub scope: &'a str,
    pub body: Option<&'a Value>,
    pub safety: Safety,
}

impl<'a> Call<'a> {
    pub fn get(url: Url, scope: &'a str) -> Call<'a> {
        Call {
            method: Method::GET,
            url,
            scope,
            body: None,
            safety: Safety::Read,
        }
    }

    /// A POST that only reads (ADF run queries, Log Analytics queries).
    pub fn query(url: Url, scope: &'a str, body: &'a Value) -> Call<'a> {
        Call {
            method: Method::POST,
            url,
            scope,
            body: Some(body),
            safety: Safety::Read,
        }
    }

    /// A POST that changes something; never retried.
    pub fn action(url: Url, scope: &'a str, body: Option<&'a Value>) -> Call<'a> {
        Call {
            method: Method::POST,
            url,
            scope,
            body,
            safety: Safety::Action,
        }
    }
}
