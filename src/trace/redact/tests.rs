//! The redaction rules, family by family, and what they must leave alone.

use super::*;
use serde_json::json;

/// Planted secrets of each kind, each with the marker that must replace it.
pub const PLANTED: &[(&str, &str, &str)] = &[
    (
        "DefaultEndpointsProtocol=https;AccountName=stlake;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cQ==;EndpointSuffix=core.windows.net",
        "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4",
        "storage account key",
    ),
    (
        "BlobEndpoint=https://stlake.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-01T00:00:00Z&sig=AbCdEf0123456789%2BxyZ%3D",
        "AbCdEf0123456789",
        "shared access signature",
    ),
    (
        "https://stlake.blob.core.windows.net/raw/file.csv?sv=2022-11-02&se=2026-12-01&sr=b&sp=r&sig=QWxhZGRpbjpvcGVuIHNlc2FtZQ%3D%3D",
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ",
        "SAS signature",
    ),
    (
        "Server=tcp:sql-prod.database.windows.net,1433;User ID=etl;Password=Sup3r$ecret!2026;Encrypt=True",
        "Sup3r$ecret!2026",
        "password",
    ),
    (
        "Authorization: Bearer ya29.a0AfH6SMBx3kT9opaqueTokenValue1234567890",
        "ya29.a0AfH6SMBx3kT9opaqueTokenValue",
        "bearer token",
    ),
    (
        "token eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJlLXBhcnQtb2YtdGhlLWp3dA",
        "eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0",
        "JWT",
    ),
    (
        "OPENAI_API_KEY is sk-proj-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789",
        "Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789",
        "OpenAI key",
    ),
    (
        "the app's secret is Xy78Q~abcdefghijklmnopqrstuvwxyz0123456 (rotate it)",
        "Xy78Q~abcdefghijklmnopqrstuvwxyz0123456",
        "client secret",
    ),
    (
        "connecting to postgres://etl_user:hunter2pass@db.internal:5432/warehouse",
        "hunter2pass",
        "password in URL",
    ),
    (
        "config: api_key=\"abc123def456ghi789\" retries=3",
        "abc123def456ghi789",
        "password",
    ),
];

#[test]
fn every_planted_secret_is_replaced_by_a_marker_naming_its_kind() {
    for (input, secret, kind) in PLANTED {
        let out = text(input);
        assert!(!out.contains(secret), "{kind} survived: {out}");
        assert!(
            out.contains(&format!("[redacted: {kind}]")),
            "{kind}: {out}"
        );
    }
}

#[test]
fn ordinary_text_is_left_alone_and_borrowed() {
    for input in [
        "Operation on target CopyClickstream failed: ErrorCode=2200",
        "secret adls-sp-client-secret expires in 3 days",
        "run 738623db-2602-48ac-a0af-12376af50b3e of ingest_web_events",
        "https://adb-4471920385162214.14.azuredatabricks.net/?o=4471920385162214#job/856584/run/58212623",
        "prompt_tokens: 120, tokens used",
    ] {
        assert!(
            matches!(text(input), Cow::Borrowed(_)),
            "{input} was changed: {}",
            text(input)
        );
    }
}

#[test]
fn redaction_is_idempotent() {
    for (input, _, _) in PLANTED {
        let once = text(input).into_owned();
        assert_eq!(text(&once), once);
    }
}

#[test]
fn json_values_under_secret_keys_are_replaced_and_metadata_kept() {
    let input = json!({
        "secret_name": "adls-sp-client-secret",
        "password": "p4ss",
        "clientSecret": "abc",
        "x-api-key": "k",
        "prompt_tokens": 12,
        "nested": [{"accessToken": "t0k", "message": "Bearer abcdefghijklmnop"}],
        "continuation_token": "page-2"
    });
    let out = value(&input);
    assert_eq!(out["secret_name"], "adls-sp-client-secret");
    assert_eq!(out["password"], "[redacted: value of password]");
    assert_eq!(out["clientSecret"], "[redacted: value of clientSecret]");
    assert_eq!(out["x-api-key"], "[redacted: value of x-api-key]");
    assert_eq!(out["prompt_tokens"], 12);
    assert_eq!(
        out["nested"][0]["accessToken"],
        "[redacted: value of accessToken]"
    );
    assert_eq!(
        out["nested"][0]["message"],
        "Bearer [redacted: bearer token]"
    );
    assert!(!out.to_string().contains("p4ss"));
}

#[test]
fn agent_events_carry_no_planted_secret() {
    for (input, secret, _) in PLANTED {
        let events = [
            AgentEvent::TextDelta {
                text: input.to_string(),
            },
            AgentEvent::Error {
                message: input.to_string(),
            },
            AgentEvent::ToolCallStarted {
                call_id: "c".into(),
                server: "s".into(),
                tool: "t".into(),
                arguments: json!({"note": input}),
            },
            AgentEvent::ToolCallFinished {
                call_id: "c".into(),
                server: "s".into(),
                tool: "t".into(),
                duration_ms: 1,
                is_error: false,
                result: json!({"content": [input]}),
                truncated: false,
            },
        ];
        for e in events {
            let out = serde_json::to_string(&event(e)).unwrap();
            assert!(!out.contains(secret), "{out}");
        }
    }
}

#[test]
fn secret_key_names() {
    for key in [
        "password",
        "Password",
        "client_secret",
        "apiKey",
        "AccountKey",
        "connectionString",
        "sas_token",
        "Authorization",
    ] {
        assert!(is_secret_key(key), "{key}");
    }
    for key in [
        "secret_name",
        "secrets",
        "prompt_tokens",
        "token_count",
        "pipeline",
        "expires_on",
        "key_vault",
    ] {
        assert!(!is_secret_key(key), "{key}");
    }
}

/// The token families met in plain text in task logs and environment dumps:
/// (input, the secret that must go, the marker that must replace it).
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "Authorization: token dapi0123456789abcdef0123456789abcdef sent",
        "dapi0123456789abcdef0123456789abcdef",
        "Databricks token",
    ),
    (
        "pat=dapi0123456789abcdef0123456789abcdef-2 (workspace 2)",
        "0123456789abcdef0123456789abcdef-2",
        "Databricks token",
    ),
    (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuYp2bDm0\nQWxhZGRpbjpvcGVuIHNlc2FtZQ\n-----END RSA PRIVATE KEY-----\nnext line",
        "MIIEowIBAAKCAQEAuYp2bDm0",
        "private key",
    ),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "private key",
    ),
    (
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk\n-----END EC PRIVATE KEY-----",
        "MHcCAQEEIBkg4LVWM9nuwNSk",
        "private key",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
        "private key",
    ),
    (
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqhkiG9w0BBQ0wPDAb\n-----END ENCRYPTED PRIVATE KEY-----",
        "MIIFHzBJBgkqhkiG9w0BBQ0wPDAb",
        "private key",
    ),
    (
        "log cut mid-key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ",
        "MIIEvQIBADANBgkqhkiG9w0BAQ",
        "private key",
    ),
    (
        "using AKIAIOSFODNN7EXAMPLE for s3://raw",
        "AKIAIOSFODNN7EXAMPLE",
        "AWS access key id",
    ),
    (
        "temporary ASIAY34FZKBOKMUTVV7A expires soon",
        "ASIAY34FZKBOKMUTVV7A",
        "AWS access key id",
    ),
    (
        "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nregion = eu-west-1",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS secret key",
    ),
    (
        "git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/org/repo",
        "16C7e42F292c6912E7710c838347Ae178B4a",
        "GitHub token",
    ),
    (
        "GH_TOKEN is gho_16C7e42F292c6912E7710c838347Ae178B4a now",
        "16C7e42F292c6912E7710c838347Ae178B4a",
        "GitHub token",
    ),
    (
        "tokens ghu_16C7e42F292c6912E7710c838347Ae178B4a ghs_16C7e42F292c6912E7710c838347Ae178B4b ghr_16C7e42F292c6912E7710c838347Ae178B4c",
        "16C7e42F292c6912E7710c838347Ae178B4",
        "GitHub token",
    ),
    (
        "fine-grained github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab",
        "11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz",
        "GitHub token",
    ),
    (
        "slack bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx posted",
        "AbCdEfGhIjKlMnOpQrStUvWx",
        "Slack token",
    ),
    (
        "xoxp-1234-5678-9012-abcdefabcdef xoxa-2-abcdefghijkl xoxr-abcdefghijkl xoxs-abcdefghijkl",
        "abcdefghijkl",
        "Slack token",
    ),
    (
        "alert via https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX ok",
        "XXXXXXXXXXXXXXXXXXXXXXXX",
        "Slack webhook",
    ),
    (
        "DATABRICKS_TOKEN=notadapitoken-but-secret-all-the-same",
        "notadapitoken-but-secret-all-the-same",
        "secret variable",
    ),
    (
        "AZURE_CLIENT_SECRET=abc~def.ghi_jkl",
        "abc~def.ghi_jkl",
        "secret variable",
    ),
    (
        "export STORAGE_KEY=\"two words, and a comma\"\nexport NEXT=1",
        "two words, and a comma",
        "secret variable",
    ),
    (
        "env: OPSDECK_HTTP_TOKEN='s3cr3t-value' AIRFLOW_PASSWORD=hunter22 HOME=/root",
        "s3cr3t-value",
        "secret variable",
    ),
    (
        "AIRFLOW_PASSWORD=hunter22 HOME=/root",
        "hunter22",
        "secret variable",
    ),
    (
        "the SAS token sv=2022-11-02&sr=c sig=QWxhZGRpbjpvcGVuIHNlc2FtZQ%3D se=2026",
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ",
        "SAS signature",
    ),
    (
        "{\"user\": \"etl\", \"password\": \"correct horse battery\"}",
        "correct horse battery",
        "password",
    ),
    (
        "service principal secret dose0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef",
        "Databricks token",
    ),
    (
        "aws_session_token = IQoJb3JpZ2luX2VjEHIaCXVzLWVhc3QtMSJHMEUCIQD",
        "IQoJb3JpZ2luX2VjEHIaCXVzLWVhc3QtMSJHMEUCIQD",
        "AWS secret key",
    ),
    (
        "{\"sv\": \"2022-11-02\", \"sig\": \"c2lnbmF0dXJlaW5qc29u\"}",
        "c2lnbmF0dXJlaW5qc29u",
        "SAS signature",
    ),
    (
        "{\"name\": \"sp\", \"apiKey\": \"k3y with \\\"quotes\\\" inside\", \"n\": 1}",
        "quotes",
        "password",
    ),
    (
        "{\"refresh\": {\"token\": \"opaque-refresh-value\"}}",
        "opaque-refresh-value",
        "secret value",
    ),
    (
        "{\"storageAccountKey\":\"c3RvcmFnZWtleWluanNvbg==\"}",
        "c3RvcmFnZWtleWluanNvbg",
        "secret value",
    ),
];

#[test]
fn every_token_family_is_replaced_by_a_marker_naming_its_kind() {
    for (input, secret, kind) in FAMILIES {
        let out = text(input);
        assert!(!out.contains(secret), "{kind} survived: {out}");
        assert!(
            out.contains(&format!("[redacted: {kind}]")),
            "{kind}: {out}"
        );
        assert_eq!(text(&out), out, "redacting twice changes nothing: {out}");
    }
}

#[test]
fn a_pem_block_keeps_its_frame_and_the_text_after_it() {
    let out = text(FAMILIES[2].0);
    assert_eq!(
        out,
        "key:\n-----BEGIN RSA PRIVATE KEY-----[redacted: private key]-----END RSA PRIVATE KEY-----\nnext line"
    );
}

#[test]
fn an_environment_dump_loses_every_secret_and_keeps_the_rest() {
    let dump = "PATH=/usr/bin\nHOME=/home/etl\nDATABRICKS_HOST=https://adb-1.azuredatabricks.net\n\
        DATABRICKS_TOKEN=dapi0123456789abcdef0123456789abcdef\nAZURE_CLIENT_ID=0f6a\n\
        AZURE_CLIENT_SECRET=Xy78Q~abcdefghijklmnopqrstuvwxyz0123456\n\
        AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\
        SLACK_BOT_TOKEN=xoxb-1-2-abcdefghijkl\nGITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a\n\
        STORAGE_KEY=Zm9vYmFy\nSQL_PASSWORD=hunter2\nLANG=C.UTF-8\n";
    let out = text(dump);
    for secret in [
        "dapi0123",
        "Xy78Q~",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI",
        "abcdefghijkl",
        "16C7e42F",
        "Zm9vYmFy",
        "hunter2",
    ] {
        assert!(!out.contains(secret), "{secret} survived: {out}");
    }
    for kept in [
        "PATH=/usr/bin",
        "HOME=/home/etl",
        "DATABRICKS_HOST=https://adb-1.azuredatabricks.net",
        "AZURE_CLIENT_ID=0f6a",
        "LANG=C.UTF-8",
    ] {
        assert!(out.contains(kept), "{kept} was lost: {out}");
    }
    assert!(
        out.contains("DATABRICKS_TOKEN=[redacted: Databricks token]"),
        "{out}"
    );
}

#[test]
fn look_alikes_are_not_secrets() {
    for input in [
        "dapi0123 is too short to be a token",
        "AKIA is a prefix, AKIAshort is not a key",
        "ghp_short and xoxb- alone",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
        "MONKEY=banana TOKENIZER=bpe",
        "xsig=abc is a parameter, not a signature",
        "partition key region, tokens: 12",
        "{\"secret_name\": \"adls-sp-client-secret\", \"prompt_tokens\": 12, \"token_count\": \"3\"}",
    ] {
        assert!(
            matches!(text(input), Cow::Borrowed(_)),
            "{input} was changed: {}",
            text(input)
        );
    }
}

#[test]
fn only_the_rules_the_screen_matched_rewrite_the_text() {
    // One rule matched: the others never ran, and their kinds are absent.
    let out = text("a Bearer abcdefghijklmnopqrstu and nothing else");
    assert_eq!(out, "a Bearer [redacted: bearer token] and nothing else");
    // Several families in one string are all caught in the one pass.
    let out = text("AKIAIOSFODNN7EXAMPLE then xoxb-1-2-abcdefghijkl then sig=abcdef");
    assert!(!out.contains("AKIAIOSFODNN7EXAMPLE") && !out.contains("abcdefghijkl"));
    assert!(out.ends_with("sig=[redacted: SAS signature]"), "{out}");
}

#[test]
fn secret_keys_hide_numbers_and_new_key_names() {
    let out =
        value(&json!({"pin_password": 123456, "sig": "abc", "SecretAccessKey": "k", "count": 3}));
    assert_eq!(out["pin_password"], "[redacted: value of pin_password]");
    assert_eq!(out["sig"], "[redacted: value of sig]");
    assert_eq!(
        out["SecretAccessKey"],
        "[redacted: value of SecretAccessKey]"
    );
    assert_eq!(out["count"], 3);
}

#[test]
fn runs_lose_secrets_in_parameters_message_and_trigger() {
    use crate::model::run::PipelineRun;
    let raw: PipelineRun = serde_json::from_value(json!({
        "run_id": "r1", "pipeline": "copy_sales", "backend": "adf", "environment": "prod",
        "status": "Failed", "run_start": null, "run_end": null, "duration_ms": null,
        "invoked_by": {"name": "AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4", "kind": "Manual"},
        "message": "copy failed for https://st.blob.core.windows.net/c?sv=1 sig=c2VjcmV0c2ln",
        "parameters": {
            "source": "Server=tcp:sql;User ID=etl;Password=Sup3r$ecret!;Encrypt=True",
            "storageKey": "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4",
            "nested": {"conn": "AccountName=st;AccountKey=QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
            "retries": 3
        }
    }))
    .unwrap();
    let clean = run(raw);
    let text = serde_json::to_string(&clean).unwrap();
    for secret in ["Sup3r$ecret!", "Zm9vYmFy", "c2VjcmV0c2ln", "QWxhZGRpbjpv"] {
        assert!(!text.contains(secret), "{secret} survived: {text}");
    }
    assert_eq!(clean.run_id, "r1");
    assert_eq!(clean.parameters["retries"], 3);
    assert_eq!(
        clean.parameters["storageKey"],
        "[redacted: value of storageKey]"
    );
}

#[test]
fn runs_changed_records_reach_the_trace_redacted() {
    use crate::trace::schema::RunChange;
    let run: crate::model::run::PipelineRun = serde_json::from_value(json!({
        "run_id": "r1", "pipeline": "p", "backend": "adf", "environment": "prod",
        "status": "Failed", "run_start": null, "run_end": null, "duration_ms": null,
        "invoked_by": {"name": "t", "kind": "Manual"},
        "parameters": {"connection": "Data Source=x;Password=hunter2pass;", "sas_token": "sv=1&sig=abc"}
    }))
    .unwrap();
    let clean = Clean::new(TraceMessage::RunsChanged {
        changes: vec![RunChange { from: None, run }],
        removed: Vec::new(),
    });
    let line = serde_json::to_string(&clean.into_inner()).unwrap();
    assert!(
        !line.contains("hunter2pass") && !line.contains("sig=abc"),
        "{line}"
    );
    assert!(line.contains("[redacted: password]"), "{line}");
}

mod shapes;
mod stream_events;

#[test]
fn a_begin_line_without_its_end_hides_only_what_can_be_key() {
    let text_in = "SELECT count(*) FROM customers -- routine check\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\nAbCd+/==\nDROP TABLE customers; DROP TABLE orders;";
    let out = text(text_in);
    assert!(
        !out.contains("MIIEowIBAAKCAQEAx") && !out.contains("AbCd+/=="),
        "{out}"
    );
    assert!(
        out.contains("DROP TABLE customers; DROP TABLE orders;"),
        "{out}"
    );
    let cut_off = text("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
    assert!(
        !cut_off.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
        "{cut_off}"
    );
}
