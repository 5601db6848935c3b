use super::*;

fn change(kind: ChangeKind, operation: &str, summary: &str) -> Change {
    Change {
        at: chrono::DateTime::UNIX_EPOCH,
        actor: "someone@contoso.com".into(),
        operation: operation.into(),
        kind,
        resource: "stcontosolakeprod".into(),
        resource_type: "storage account".into(),
        resource_id: None,
        summary: summary.into(),
        origin: None,
        status: None,
        source: "azure activity log".into(),
        touches: Vec::new(),
    }
}

#[test]
fn the_usual_kind_of_change_outranks_a_possible_one() {
    use FailureCategory as F;
    let own = Reach::Own;
    for (kind, category) in [
        (ChangeKind::Access, F::PermissionDenied),
        (ChangeKind::Access, F::AuthFailure),
        (ChangeKind::Compute, F::ComputeUnavailable),
        (ChangeKind::Compute, F::CapacityQuota),
        (ChangeKind::Compute, F::OutOfMemory),
        (ChangeKind::Secret, F::ExpiredCredential),
        (ChangeKind::Configuration, F::HostKeyOrCertificate),
        (ChangeKind::Configuration, F::NetworkAccess),
        (ChangeKind::Deployment, F::SchemaDrift),
        (ChangeKind::Deployment, F::DataQuality),
        (ChangeKind::Deployment, F::CodeError),
        (ChangeKind::Schedule, F::Throttling),
    ] {
        assert_eq!(fit(kind, category, own), Fit::Main, "{kind:?} {category:?}");
    }
    // A configuration change can explain a 403 (a firewall rule), but less often than access.
    assert_eq!(
        fit(ChangeKind::Configuration, F::PermissionDenied, own),
        Fit::Possible
    );
    // The source connection redeployed explains throttling; elsewhere it does not.
    assert_eq!(fit(ChangeKind::Deployment, F::Throttling, own), Fit::Main);
    assert_eq!(
        fit(ChangeKind::Deployment, F::Throttling, Reach::Pipeline),
        Fit::None
    );
    assert_eq!(fit(ChangeKind::Access, F::OutOfMemory, own), Fit::None);
    assert_eq!(fit(ChangeKind::Secret, F::SchemaDrift, own), Fit::None);
    assert_eq!(fit(ChangeKind::Lifecycle, F::StaleUpstream, own), Fit::None);
    assert_eq!(fit(ChangeKind::Other, F::PermissionDenied, own), Fit::None);
}

#[test]
fn tag_writes_are_other_and_explain_nothing() {
    let by_operation = change(
        ChangeKind::Configuration,
        "Microsoft.Resources/tags/write",
        "Updated resource",
    );
    let by_summary = change(
        ChangeKind::Configuration,
        "Microsoft.Storage/storageAccounts/write",
        "Tags written on storage account stcontosolakeprod (owner=x)",
    );
    for tagged in [by_operation, by_summary] {
        assert_eq!(effective_kind(&tagged), ChangeKind::Other);
    }
    let firewall = change(
        ChangeKind::Configuration,
        "Microsoft.Storage/storageAccounts/write",
        "Changed network rules of storage account stcontosolakeprod",
    );
    assert_eq!(effective_kind(&firewall), ChangeKind::Configuration);
}

#[test]
fn a_candidate_is_named_only_when_it_fits_well_enough() {
    let candidate = |fit, reach| Candidate {
        change: change(ChangeKind::Access, "x", "y"),
        reach,
        fit,
        minutes_before: 5,
    };
    assert!(names_a_cause(&candidate(Fit::Main, Reach::Pipeline)));
    assert!(names_a_cause(&candidate(Fit::Possible, Reach::Own)));
    assert!(!names_a_cause(&candidate(Fit::Possible, Reach::Indirect)));
    assert!(!names_a_cause(&candidate(Fit::None, Reach::Own)));
    let sure = finding(
        candidate(Fit::Main, Reach::Own),
        FailureCategory::PermissionDenied,
        "p/a",
        "p",
    );
    assert_eq!(sure.confidence, "high");
    let inherited = finding(
        candidate(Fit::Main, Reach::Indirect),
        FailureCategory::PermissionDenied,
        "p/a",
        "p",
    );
    assert_eq!(inherited.confidence, "medium");
    // The triage's own confidence follows the sentence: the change's is worded apart.
    let sentence = with_change("Writes are refused", &sure);
    assert!(!sentence.contains("confidence"), "{sentence}");
    assert!(sentence.contains("high match"), "{sentence}");
}

#[test]
fn group_and_subscription_scopes_are_recognised() {
    let mut at_group = change(
        ChangeKind::Access,
        "Microsoft.Authorization/roleAssignments/delete",
        "Removed role assignment",
    );
    at_group.resource = "rg-dataops-prod".into();
    at_group.resource_type = "Microsoft.Authorization/roleAssignments".into();
    at_group.resource_id = Some(
        "/subscriptions/5b0c/resourceGroups/rg-dataops-prod/providers/Microsoft.Authorization/roleAssignments/7d2f".into(),
    );
    assert!(at_group_or_subscription(&at_group));
    at_group.resource_id = Some("/subscriptions/5b0c/resourceGroups/rg-dataops-prod".into());
    assert!(at_group_or_subscription(&at_group));
    at_group.resource_id = Some("/subscriptions/5b0c".into());
    assert!(at_group_or_subscription(&at_group));
    at_group.resource_id = Some(
        "/subscriptions/5b0c/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"
            .into(),
    );
    assert!(!at_group_or_subscription(&at_group));
}

#[test]
fn error_names_are_identifiers_not_short_words() {
    let names = names_in_error(
        "Cannot connect to SQL Database: 'syn-contoso-prod.sql.azuresynapse.net', Database: 'salesdw'. Pool is paused.",
    );
    assert!(names.contains(&"syn-contoso-prod.sql.azuresynapse.net".to_string()));
    assert!(names.contains(&"syn-contoso-prod".to_string()));
    assert!(names.contains(&"salesdw".to_string()));
    assert!(!names.iter().any(|n| n == "sql" || n == "pool"));
    let log = names_in_error(
        "PUT https://stcontosolakeprod.dfs.core.windows.net/raw/crm -> 403 AuthorizationPermissionMismatch for principal 3c1d8a52-7f0e-4b7e-9a55-0e6f3c2b9d11",
    );
    for expected in [
        "stcontosolakeprod.dfs.core.windows.net",
        "stcontosolakeprod",
        "3c1d8a52-7f0e-4b7e-9a55-0e6f3c2b9d11",
    ] {
        assert!(log.contains(&expected.to_string()), "{expected}: {log:?}");
    }
}

#[test]
fn timing_reads_both_ways() {
    assert_eq!(timing(14), "14 min before the first failure");
    assert_eq!(timing(-3), "3 min after the first failing run started");
}
