//! Which LLM to talk to, from the environment variables users already have:
//! OpenAI (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_MODEL`), any
//! OpenAI-compatible server (Ollama, vLLM, LiteLLM: `OPENAI_BASE_URL`, key
//! optional), or Azure OpenAI (`AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_API_KEY`,
//! `AZURE_OPENAI_DEPLOYMENT_NAME`, `AZURE_OPENAI_API_VERSION`).

use std::time::Duration;

use async_openai::Client;
use async_openai::config::{AzureConfig, Config, OpenAIConfig};

use super::http::retry_aware_service;

pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4.1-mini";
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    OpenAi {
        base_url: String,
        api_key: String,
        model: String,
    },
    Azure {
        endpoint: String,
        auth: AzureAuth,
        deployment: String,
        api_version: String,
    },
}

/// How to authenticate to Azure OpenAI.
#[derive(Debug, Clone, PartialEq)]
pub enum AzureAuth {
    Key(String),
    /// An Entra ID bearer token per request (no `api-key`).
    EntraId,
}

impl Provider {
    /// The provider the environment describes; `Ok(None)` when none is configured
    /// (then opsdeck answers offline), `Err` when one is half configured.
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<Provider>, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        // Keys go into an HTTP header; one with a newline or control character would be
        // rejected deep inside the HTTP stack, so say which variable is wrong up front.
        for name in ["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"] {
            if get(name).is_some_and(|key| !key.chars().all(|c| c.is_ascii_graphic())) {
                return Err(format!(
                    "{name} contains spaces or control characters; check how it was pasted"
                ));
            }
        }
        if let Some(endpoint) = get("AZURE_OPENAI_ENDPOINT") {
            let deployment = get("AZURE_OPENAI_DEPLOYMENT_NAME")
                .ok_or("AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_DEPLOYMENT_NAME is not: name the deployment to use")?;
            // Without a key, sign in with Entra ID (keys are often disabled on Azure OpenAI).
            let auth = get("AZURE_OPENAI_API_KEY").map_or(AzureAuth::EntraId, AzureAuth::Key);
            return Ok(Some(Provider::Azure {
                endpoint: endpoint.trim_end_matches('/').to_string(),
                auth,
                deployment,
                api_version: get("AZURE_OPENAI_API_VERSION")
                    .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.into()),
            }));
        }
        let base_url = get("OPENAI_BASE_URL");
        let api_key = get("OPENAI_API_KEY");
        if base_url.is_none() && api_key.is_none() {
            return Ok(None);
        }
        Ok(Some(Provider::OpenAi {
            base_url: base_url
                .unwrap_or_else(|| "https://api.openai.com/v1".into())
                .trim_end_matches('/')
                .to_string(),
            // Local OpenAI-compatible servers often need no key.
            api_key: api_key.unwrap_or_default(),
            model: get("OPENAI_MODEL").unwrap_or_else(|| DEFAULT_OPENAI_MODEL.into()),
        }))
    }

    /// What the status bar shows: the model or deployment.
    pub fn model_label(&self) -> String {
        match self {
            Provider::OpenAi { model, .. } => model.clone(),
            Provider::Azure { deployment, .. } => format!("azure:{deployment}"),
        }
    }

    /// The model name sent in requests (Azure routes by deployment and ignores it).
    pub fn model(&self) -> String {
        match self {
            Provider::OpenAi { model, .. } => model.clone(),
            Provider::Azure { deployment, .. } => deployment.clone(),
        }
    }

    /// A client without async-openai's own retries (the agent retries, honouring
    /// `Retry-After`), with connect and read timeouts.
    pub fn client(&self, read_timeout: Duration) -> Result<Client<Box<dyn Config>>, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Per read, not per response: a long, healthy stream is never cut.
            .read_timeout(read_timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let config: Box<dyn Config> = match self {
            Provider::OpenAi {
                base_url, api_key, ..
            } => Box::new(
                OpenAIConfig::new()
                    .with_api_base(base_url)
                    .with_api_key(api_key)
                    .with_org_id("")
                    .with_project_id(""),
            ),
            Provider::Azure {
                endpoint,
                auth: AzureAuth::Key(api_key),
                deployment,
                api_version,
            } => Box::new(
                AzureConfig::new()
                    .with_api_base(endpoint)
                    .with_deployment_id(deployment)
                    .with_api_version(api_version)
                    .with_api_key(api_key),
            ),
            // AzureConfig always sends `api-key`; for a bearer token the deployment is
            // addressed as an OpenAI base URL, and the agent adds `api-version` and
            // `Authorization` to each request (see `LlmAgent::open_stream`).
            Provider::Azure {
                endpoint,
                auth: AzureAuth::EntraId,
                deployment,
                ..
            } => Box::new(
                OpenAIConfig::new()
                    .with_api_base(format!("{endpoint}/openai/deployments/{deployment}"))
                    .with_api_key("")
                    .with_org_id("")
                    .with_project_id(""),
            ),
        };
        Ok(Client::with_config(config).with_http_service(retry_aware_service(http)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fake_env as env;

    #[test]
    fn nothing_configured_means_offline() {
        assert_eq!(Provider::from_env(&env(&[])).unwrap(), None);
    }

    #[test]
    fn openai_and_compatible_servers() {
        let p = Provider::from_env(&env(&[("OPENAI_API_KEY", "sk-x")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            p,
            Provider::OpenAi {
                base_url: "https://api.openai.com/v1".into(),
                api_key: "sk-x".into(),
                model: DEFAULT_OPENAI_MODEL.into()
            }
        );
        let local = Provider::from_env(&env(&[
            ("OPENAI_BASE_URL", "http://localhost:11434/v1/"),
            ("OPENAI_MODEL", "llama3.1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(local.model_label(), "llama3.1");
        assert!(
            matches!(local, Provider::OpenAi { ref base_url, ref api_key, .. } if base_url == "http://localhost:11434/v1" && api_key.is_empty())
        );
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_refused_by_name() {
        let err = Provider::from_env(&env(&[("OPENAI_API_KEY", "sk-abc\ndef")])).unwrap_err();
        assert!(err.contains("OPENAI_API_KEY"), "{err}");
    }

    #[test]
    fn azure_needs_a_deployment_and_takes_a_key_or_entra_id() {
        let err = Provider::from_env(&env(&[(
            "AZURE_OPENAI_ENDPOINT",
            "https://r.openai.azure.com",
        )]))
        .unwrap_err();
        assert!(err.contains("AZURE_OPENAI_DEPLOYMENT_NAME"), "{err}");
        let p = Provider::from_env(&env(&[
            ("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com/"),
            ("AZURE_OPENAI_API_KEY", "k"),
            ("AZURE_OPENAI_DEPLOYMENT_NAME", "gpt4o"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(p.model_label(), "azure:gpt4o");
        assert!(
            matches!(p, Provider::Azure { ref api_version, .. } if api_version == DEFAULT_AZURE_API_VERSION)
        );
    }
}
