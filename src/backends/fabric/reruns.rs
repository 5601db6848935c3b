//! Counting reruns on Fabric. The job scheduler links no job instance to the
//! one it re-ran, so every `Manual` instance of the item since the limit's
//! window opened counts (conservative: a person's own run-now counts too).

use chrono::{DateTime, Utc};

use super::wire::JobInstance;
use crate::backends::{BackendError, PastRerun};
use crate::model::time::parse_service_instant;

/// The manual job instances among `instances` (an item's listing) that
/// started at or after `since`, the reference run included when it is one of
/// them (a rerun of a rerun another replica started is still a rerun). `cut` says the
/// listing stopped at its bound: then it must reach back past `since`, or
/// the count could be short and is refused.
pub fn manual_since(
    instances: &[JobInstance],
    since: DateTime<Utc>,
    cut: bool,
) -> Result<Vec<PastRerun>, BackendError> {
    let started = |i: &JobInstance| parse_service_instant(i.start_time_utc.as_deref());
    if cut
        && !instances
            .iter()
            .any(|i| started(i).is_some_and(|t| t < since))
    {
        return Err(BackendError::Unavailable(format!(
            "Fabric listed {} job instances of the item, all since {since}; its reruns cannot all be counted",
            instances.len()
        )));
    }
    Ok(instances
        .iter()
        .filter(|i| {
            i.invoke_type
                .as_deref()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("manual"))
        })
        .filter_map(|i| {
            // Not started yet: asked for after `since`, so it counts.
            let at = started(i).unwrap_or(since);
            (at >= since).then(|| PastRerun {
                id: i.id.clone(),
                at,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use super::*;

    /// `<ancestor>/shared/fixtures/vendor`, the vendor's published examples.
    fn vendor_dir() -> PathBuf {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        manifest
            .ancestors()
            .map(|dir| dir.join("shared/fixtures/vendor"))
            .find(|dir| dir.is_dir())
            .unwrap_or_else(|| panic!("no shared/fixtures/vendor above {}", manifest.display()))
    }

    fn vendor_instances() -> Vec<JobInstance> {
        let path = vendor_dir()
            .join("fabric-rest-api-specs/platform/examples/platform/ListItemJobInstances.json");
        let example: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        serde_json::from_value(example["responses"]["200"]["body"]["value"].clone()).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn manual_instances_of_the_vendor_listing_count_the_reference_too() {
        let instances = vendor_instances();
        let since = at("2024-06-22T06:00:00Z");
        // Asked to rerun c0c99aed, itself a manual run in the window (another
        // replica's rerun): it counts, with the other manual instance.
        let found = manual_since(&instances, since, false).unwrap();
        let ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "f2d65699-dd22-4889-980c-15226deb0e1b",
                "c0c99aed-be56-4fe0-a6e5-6de5fe277f16"
            ],
            "{found:?}"
        );
        let later = at("2024-06-22T07:00:00Z");
        assert!(manual_since(&instances, later, false).unwrap().is_empty());
    }

    #[test]
    fn scheduled_runs_do_not_count_and_a_short_cut_listing_refuses() {
        let mut instances = vendor_instances();
        instances[0].invoke_type = Some("Scheduled".into());
        let since = at("2024-06-22T06:00:00Z");
        assert_eq!(manual_since(&instances, since, false).unwrap().len(), 1);
        let err = manual_since(&instances, since, true).unwrap_err();
        assert!(err.to_string().contains("cannot all be counted"), "{err}");
        let reaches_back = at("2024-06-22T07:00:00Z");
        assert!(manual_since(&instances, reaches_back, true).is_ok());
    }
}
