//! Where the Fabric backend points, from the environment.

use reqwest::Url;

use crate::backends::http::checked_endpoint;
use crate::config::env::env_value;

/// The Fabric REST API's token scope.
pub const FABRIC_SCOPE: &str = "https://api.fabric.microsoft.com/.default";
const DEFAULT_ENDPOINT: &str = "https://api.fabric.microsoft.com";
/// Longest workspace name or id accepted (Fabric names are at most 256 characters).
const MAX_WORKSPACE_CHARS: usize = 256;

#[derive(Debug, Clone)]
pub struct FabricSettings {
    /// The API root, without `/v1`.
    pub endpoint: Url,
    /// The workspace, by id or display name.
    pub workspace: String,
    pub environment: String,
}

impl FabricSettings {
    /// `FABRIC_WORKSPACE` (id or name), `OPSDECK_FABRIC_ENDPOINT`,
    /// `OPSDECK_FABRIC_ENVIRONMENT` or `OPSDECK_ENVIRONMENT`.
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<FabricSettings, String> {
        let get = |name: &str| env_value(lookup, name);
        let workspace = get("FABRIC_WORKSPACE").ok_or(
            "FABRIC_WORKSPACE is not set; the Fabric backend needs the workspace's id or display name (Fabric portal: the workspace's URL holds its id after /groups/)",
        )?;
        if workspace.chars().count() > MAX_WORKSPACE_CHARS
            || workspace.chars().any(char::is_control)
        {
            return Err(format!(
                "FABRIC_WORKSPACE must be a workspace id or display name of at most {MAX_WORKSPACE_CHARS} characters without control characters"
            ));
        }
        let raw = get("OPSDECK_FABRIC_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.into());
        let endpoint = checked_endpoint("OPSDECK_FABRIC_ENDPOINT", &raw, false)?;
        Ok(FabricSettings {
            endpoint,
            workspace,
            environment: get("OPSDECK_FABRIC_ENVIRONMENT")
                .or_else(|| get("OPSDECK_ENVIRONMENT"))
                .unwrap_or_else(|| "fabric".into()),
        })
    }
}

/// Whether `raw` is a GUID (Fabric's ids), so it is used as an id, not a name.
pub fn is_guid(raw: &str) -> bool {
    let groups: Vec<&str> = raw.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn settings_need_a_workspace_and_a_safe_endpoint() {
        let err = FabricSettings::from_env(&lookup(&[])).unwrap_err();
        assert!(err.contains("FABRIC_WORKSPACE"), "{err}");
        let ok = FabricSettings::from_env(&lookup(&[("FABRIC_WORKSPACE", "Sales")])).unwrap();
        assert_eq!(ok.endpoint.as_str(), "https://api.fabric.microsoft.com/");
        assert_eq!(ok.environment, "fabric");
        let err = FabricSettings::from_env(&lookup(&[
            ("FABRIC_WORKSPACE", "Sales"),
            ("OPSDECK_FABRIC_ENDPOINT", "http://example.com"),
        ]))
        .unwrap_err();
        assert!(err.contains("plain HTTP"), "{err}");
        let err =
            FabricSettings::from_env(&lookup(&[("FABRIC_WORKSPACE", "a\u{1b}b")])).unwrap_err();
        assert!(err.contains("control"), "{err}");
    }

    #[test]
    fn guids_are_told_from_names() {
        assert!(is_guid("4b218778-e7a5-4d73-8187-f10824047715"));
        assert!(!is_guid("Sales"));
        assert!(!is_guid("4b218778-e7a5-4d73-8187-f1082404771"));
        assert!(!is_guid("4b218778-e7a5-4d73-8187-f10824047715-00"));
        assert!(!is_guid("../../etc-e7a5-4d73-8187-f10824047715"));
    }
}
