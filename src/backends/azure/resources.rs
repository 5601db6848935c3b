//! Azure Resource Manager as an [`InfraSource`]: the resources of an
//! environment's resource group (with provisioning state, for resource health
//! and drift), and the Terraform plans of that environment from a directory of
//! `terraform show -json` files (plans are not kept in Azure).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Url;
use serde_json::json;

use super::arm::parse_resource_list;
use crate::backends::http::{RestClient, url_with};
use crate::backends::{BackendError, InfraSource, PlanRef};
use crate::model::resource::Resource;

pub const API_VERSION: &str = "2021-04-01";
pub const READ_ROLE: &str = "the Reader role on the resource group";
const MAX_RESOURCES: usize = 20_000;
/// Plans larger than this are refused rather than read into memory.
const MAX_PLAN_BYTES: u64 = 64 * 1024 * 1024;

pub struct ArmInfra {
    client: Arc<RestClient>,
    scope: String,
    resource_manager: Url,
    subscription: String,
    resource_group: String,
    plans: Option<PathBuf>,
}

impl ArmInfra {
    pub fn new(
        client: Arc<RestClient>,
        resource_manager: &Url,
        scope: &str,
        subscription: &str,
        resource_group: &str,
        plans: Option<PathBuf>,
    ) -> ArmInfra {
        ArmInfra {
            client,
            scope: scope.to_string(),
            resource_manager: resource_manager.clone(),
            subscription: subscription.to_string(),
            resource_group: resource_group.to_string(),
            plans,
        }
    }

    fn plan_names(&self) -> Result<Vec<String>, BackendError> {
        let Some(dir) = &self.plans else {
            return Ok(Vec::new());
        };
        let entries = std::fs::read_dir(dir).map_err(|e| {
            BackendError::Unavailable(format!(
                "cannot list the Terraform plans in {}: {e}",
                dir.display()
            ))
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
            .filter_map(|p| {
                let stem = p.file_stem()?.to_string_lossy().into_owned();
                Some(
                    stem.strip_suffix(".plan")
                        .map(str::to_string)
                        .unwrap_or(stem),
                )
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

#[async_trait]
impl InfraSource for ArmInfra {
    async fn list_resources(&self) -> Result<Vec<Resource>, BackendError> {
        let url = url_with(
            &self.resource_manager,
            &[
                "subscriptions",
                &self.subscription,
                "resourceGroups",
                &self.resource_group,
                "resources",
            ],
            &[
                ("api-version", API_VERSION),
                ("$expand", "provisioningState,createdTime,changedTime"),
            ],
        );
        let path = url.path().to_string();
        let items = self
            .client
            .list(url, &self.scope, &|u: &Url| u.path() == path, MAX_RESOURCES)
            .await
            .map_err(|e| e.about("resource group", &self.resource_group, READ_ROLE))?;
        let (resources, _) = parse_resource_list(&json!({ "value": items }).to_string())
            .map_err(BackendError::Unavailable)?;
        Ok(resources)
    }

    async fn list_plans(&self) -> Result<Vec<PlanRef>, BackendError> {
        Ok(self
            .plan_names()?
            .into_iter()
            .map(|name| PlanRef {
                name,
                description: self.plans.as_ref().map(|d| format!("from {}", d.display())),
            })
            .collect())
    }

    async fn read_plan(&self, name: &str) -> Result<String, BackendError> {
        let known = self.plan_names()?;
        if !known.iter().any(|n| n == name) {
            return Err(BackendError::not_found_among("plan", name, &known));
        }
        // The name is one of the directory's own file names, so it cannot escape it.
        let dir = self.plans.as_ref().ok_or_else(|| {
            BackendError::Unavailable("no Terraform plan directory is configured".into())
        })?;
        let path = [format!("{name}.plan.json"), format!("{name}.json")]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| BackendError::not_found_among("plan", name, &known))?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size > MAX_PLAN_BYTES {
            return Err(BackendError::Unavailable(format!(
                "plan {} is {size} bytes, more than the {MAX_PLAN_BYTES} opsdeck reads",
                path.display()
            )));
        }
        std::fs::read_to_string(&path)
            .map_err(|e| BackendError::Unavailable(format!("cannot read {}: {e}", path.display())))
    }
}
