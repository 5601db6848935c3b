//! The knowledge base, entry by entry, and against the sandbox's real messages.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::model::contract::FailureCategory as C;

#[test]
fn every_file_loads_without_problems() {
    if let Err(errors) = load::load(files()) {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        panic!("knowledge base is broken:\n{}", list.join("\n"));
    }
    assert!(files().len() >= 8, "one file per vendor family");
}

#[test]
fn the_knowledge_base_is_broad() {
    let all: Vec<&Entry> = entries().collect();
    assert!(all.len() >= 120, "only {} entries", all.len());
    let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
    for entry in &all {
        *by_category
            .entry(format!("{:?}", entry.category))
            .or_default() += 1;
    }
    for category in [
        C::ExpiredCredential,
        C::AuthFailure,
        C::MissingInput,
        C::SchemaDrift,
        C::OutOfMemory,
        C::NetworkAccess,
        C::Timeout,
        C::Transient,
        C::Throttling,
        C::ComputeUnavailable,
        C::CapacityQuota,
        C::PermissionDenied,
        C::HostKeyOrCertificate,
        C::DataQuality,
        C::Configuration,
        C::CodeError,
        C::ConcurrencyConflict,
        C::WorkerLost,
        C::StorageFull,
        C::StaleUpstream,
    ] {
        assert!(
            by_category.contains_key(&format!("{category:?}")),
            "no entry for {category:?}"
        );
    }
}

#[test]
fn every_example_classifies_to_its_own_entry() {
    let mut wrong = Vec::new();
    let mut count = 0;
    for entry in entries() {
        for example in &entry.examples {
            count += 1;
            let got = classify(example.code(), example.message());
            let got_id = got.entry.map(|e| e.id.as_str()).unwrap_or("(nothing)");
            if got_id != entry.id || got.category != entry.category {
                wrong.push(format!(
                    "{}: example classified as {got_id} ({:?}): {:?}",
                    entry.id,
                    got.category,
                    crate::support::text::clip(example.message(), 160)
                ));
            }
        }
    }
    assert!(count >= 150, "only {count} examples");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_entry_cites_a_vendor_page_and_a_documented_fix() {
    for entry in entries() {
        assert!(entry.source.url.starts_with("https://"), "{}", entry.id);
        assert!(!entry.source.title.trim().is_empty(), "{}", entry.id);
        assert!((1..=3).contains(&entry.fix.len()), "{}", entry.id);
        assert!(entry.cause.len() >= 20, "{}: cause too short", entry.id);
    }
}

#[test]
fn an_error_matching_nothing_is_unknown_and_quoted() {
    let got = classify("42", "The flux capacitor reported value 88 twice.");
    assert_eq!(got.category, C::Unknown);
    assert!(got.entry.is_none() && got.matched.is_none());
    assert_eq!(got.quote, "The flux capacitor reported value 88 twice.");
}

#[test]
fn a_bare_number_is_a_code_only_where_a_code_is_written() {
    // 2627 is SQL Server's duplicate-key error; a row count is not.
    assert_eq!(
        classify("", "Copied 2627 rows; 1205 files skipped").category,
        C::Unknown
    );
    assert_eq!(
        classify(
            "",
            "Sql error number: 2627. The statement has been terminated."
        )
        .category,
        C::DataQuality
    );
    assert_eq!(classify("2627", "").category, C::DataQuality);
}

#[test]
fn a_generic_wrapper_loses_to_the_error_it_wraps() {
    let wrapped = classify(
        "2200",
        "Failure happened on 'Sink' side. ErrorCode=UserErrorSourceBlobNotExists,'Type=Microsoft.DataTransfer.Common.Shared.HybridDeliveryException,Message=The required Blob is missing.'",
    );
    assert_eq!(wrapped.category, C::MissingInput);
    assert!(!wrapped.is_generic());
    let alone = classify("3204", "Job execution failed.");
    assert!(alone.is_generic(), "{alone:?}");
}

#[test]
fn the_innermost_error_wins() {
    let got = classify(
        "2200",
        "ErrorCode=AdlsGen2OperationFailed,'Message=ADLS Gen2 operation failed for: Failed to get access token by using service principal. Error: invalid_client, Error Message: AADSTS7000222: The provided client secret keys for app 'x' are expired.",
    );
    assert_eq!(got.category, C::ExpiredCredential);
    assert_eq!(got.entry.unwrap().id, "entra.aadsts7000222");
    assert!(got.quote.contains("AADSTS7000222"), "{}", got.quote);
}

#[test]
fn a_huge_message_is_read_by_its_head_and_tail() {
    let message = format!(
        "Job aborted.{}Caused by: java.lang.OutOfMemoryError: Java heap space",
        " at x.y.Z(Z.java:1)\n".repeat(50_000)
    );
    let got = classify("", &message);
    assert_eq!(got.category, C::OutOfMemory);
    assert!(got.quote.len() < 2_000);
}

/// Every error the sandbox scenarios raise, with the category each must keep.
#[test]
fn the_sandbox_scenarios_keep_their_categories() {
    let expected: BTreeMap<&str, C> = BTreeMap::from([
        ("expired-secret", C::ExpiredCredential),
        ("late-partition", C::MissingInput),
        ("schema-drift", C::SchemaDrift),
        ("cluster-oom", C::OutOfMemory),
        ("cluster-quota", C::CapacityQuota),
        ("duplicate-key", C::DataQuality),
        ("paused-warehouse", C::ComputeUnavailable),
        ("revoked-role", C::PermissionDenied),
        ("sftp-host-key", C::HostKeyOrCertificate),
        ("throttled-rest", C::Throttling),
    ]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sandbox");
    let mut checked = 0;
    let mut scenarios: Vec<_> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    scenarios.sort();
    for path in scenarios {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (code, message) in error_templates(&json) {
            let got = classify(&code, &message);
            checked += 1;
            match expected.get(name.as_str()) {
                Some(category) => assert_eq!(got.category, *category, "{name}: {message}"),
                None => assert_ne!(got.category, C::Unknown, "{name}: {message}"),
            }
            assert!(
                !got.is_generic(),
                "{name}: only a wrapper matched: {message}"
            );
        }
    }
    assert!(checked >= 6, "{checked}");
    let estate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("estate.json")).unwrap()).unwrap();
    for (code, message) in error_templates(&estate["transient_errors"]) {
        assert_eq!(
            classify(&code, &message).category,
            C::Transient,
            "{message}"
        );
    }
    let traces = [
        (
            "databricks_aad_client_secret_expired.txt",
            C::ExpiredCredential,
        ),
        ("spark_analysis_exception_discount_pct.txt", C::SchemaDrift),
        ("spark_executor_lost_oom.txt", C::OutOfMemory),
    ];
    for (file, category) in traces {
        let text = std::fs::read_to_string(root.join("errors").join(file)).unwrap();
        assert_eq!(classify("", &text).category, category, "{file}");
    }
    assert_eq!(
        classify(
            "STALE_UPSTREAM",
            "Upstream data is stale: ds_curated_sales (writer x failing since t)"
        )
        .category,
        C::StaleUpstream
    );
}

/// `(errorCode, message)` of every error template in a scenario.
fn error_templates(value: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match value {
        serde_json::Value::Object(map) => {
            if let (Some(code), Some(message)) = (
                map.get("errorCode").and_then(|v| v.as_str()),
                map.get("message").and_then(|v| v.as_str()),
            ) {
                out.push((code.to_string(), message.to_string()));
            }
            for v in map.values() {
                out.extend(error_templates(v));
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                out.extend(error_templates(v));
            }
        }
        _ => {}
    }
    out
}
