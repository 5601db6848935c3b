//! `opsdeck ask` streaming an answer whose secrets are split across deltas:
//! the real binary against a scripted OpenAI-compatible server. Neither the
//! screen (text or `--json`) nor the trace may show a secret, whole or in part.

mod common;

use std::process::{Command, Output};

use common::openai_mock::{MockOpenAi, Reply, text_chunks};
use common::process::{OPSDECK, tempdir};

/// The reviewer's pieces, then a private key, a JSON name/value pair and a
/// value on the line after its name, each cut mid-secret, and a bidi override.
const PIECES: &[&str] = &[
    "the token is dapi0123456789abcd",
    "ef0123456789abcdef and password=hun",
    "ter2 ok\nthe key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAK",
    "CAQEAuYp2bDm0\n-----END RSA PRIV",
    "ATE KEY-----\n```json\n{\n  \"name\": \"AIRFLOW_PASSWORD\",\n  \"value\": \"airflow",
    "pw123\"\n}\n```\nsecret:\n  plain",
    "secret1\ntool wipe_table\u{202e}elbat_daer done",
];

const LEAKS: &[&str] = &[
    "0123456789abcdef0123456789abcdef",
    "dapi0123456789abcd",
    "hunter2",
    "ter2",
    "MIIEowIBAAK",
    "uYp2bDm0",
    "airflowpw123",
    "pw123",
    "plainsecret1",
    "secret1",
];

fn config() -> std::path::PathBuf {
    let path = tempdir("stream-config").join("mcp.json");
    let config = serde_json::json!({"mcpServers": {"opsdeck": {
        "command": OPSDECK,
        "args": ["serve", "--scenario", "expired-secret", "--frozen-clock", common::PINNED],
        "trusted": true
    }}});
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

async fn ask(mock: &MockOpenAi, trace: &std::path::Path, json: bool) -> Output {
    let (base_url, config, trace) = (mock.base_url.clone(), config(), trace.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(OPSDECK);
        command
            .arg("ask")
            .arg("--mcp-config")
            .arg(config)
            .arg("--trace")
            .arg(trace);
        if json {
            command.arg("--json");
        }
        for name in [
            "AZURE_OPENAI_ENDPOINT",
            "AZURE_OPENAI_API_KEY",
            "AZURE_OPENAI_DEPLOYMENT_NAME",
            "OPENAI_ORG_ID",
            "OPENAI_PROJECT_ID",
        ] {
            command.env_remove(name);
        }
        command
            .env("OPSDECK_LOG_DIR", tempdir("stream-logs"))
            .env("OPENAI_BASE_URL", base_url)
            .env("OPENAI_API_KEY", "sk-test")
            .env("OPENAI_MODEL", "gpt-test")
            .arg("what is configured?")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_split_across_deltas_reach_neither_the_screen_nor_the_trace() {
    for json in [false, true] {
        let mock = MockOpenAi::start(vec![Reply::Stream {
            chunks: text_chunks(PIECES),
            cut: false,
            delay_ms: 0,
        }])
        .await;
        let trace = tempdir("stream-trace").join("t.jsonl");
        let output = ask(&mock, &trace, json).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}\n{stdout}");
        let trace_text = std::fs::read_to_string(&trace).unwrap();
        for leak in LEAKS {
            assert!(
                !stdout.contains(leak),
                "{leak} on stdout (json: {json}): {stdout}"
            );
            assert!(!stderr.contains(leak), "{leak} on stderr: {stderr}");
            assert!(
                !trace_text.contains(leak),
                "{leak} in the trace: {trace_text}"
            );
        }
        for marker in [
            "[redacted: Databricks token]",
            "[redacted: password]",
            "[redacted: private key]",
        ] {
            assert!(
                stdout.contains(marker),
                "{marker} missing (json: {json}): {stdout}"
            );
            assert!(trace_text.contains(marker), "{marker} missing in the trace");
        }
        assert!(
            !stdout.contains('\u{202e}'),
            "a bidi override reached the screen"
        );
        if !json {
            assert!(
                stdout.contains("wipe_table\\u202eelbat_daer done"),
                "{stdout}"
            );
        }
        // Everything after the last secret still arrives, in order.
        assert!(stdout.contains("-----END RSA PRIVATE KEY-----"), "{stdout}");
        assert!(stdout.contains("AIRFLOW_PASSWORD"), "{stdout}");
    }
}
