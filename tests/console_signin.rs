//! The console signs in to a remote `opsdeck serve --http` that wants a bearer
//! token: `tokenScope` in mcp.json, a token from the Azure identity chain (here
//! the Azure CLI, a fake `az` on PATH that prints the token of our choosing and
//! counts its calls), sent on every request, renewed before it expires, and a
//! refusal that says what to do. No token ever reaches a log, a trace or the
//! terminal.
//!
//! Self-contained (no `mod common`), so it builds while the shared harness changes.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const OPSDECK: &str = env!("CARGO_BIN_EXE_opsdeck");
const SCOPE: &str = "api://opsdeck-team/.default";
const QUESTION: &str = "why did transform_inventory fail?";

fn unique() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "opsdeck-signin-{tag}-{}-{}",
        std::process::id(),
        unique()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `opsdeck serve --http` on the sandbox, wanting `token` as its bearer token.
fn start_server(token: &str) -> (Killed, String, PathBuf) {
    let dir = tempdir("server");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    serve_with(
        &dir,
        &["--token-file".into(), token_file.display().to_string()],
    )
}

/// `opsdeck serve --http` on the sandbox with `auth` (its sign-in flags).
fn serve_with(dir: &Path, auth: &[String]) -> (Killed, String, PathBuf) {
    let logs = dir.join("logs");
    let mut child = Command::new(OPSDECK)
        .args(["serve", "--scenario", "expired-secret", "--seed", "7"])
        .args(["--frozen-clock", "2026-11-23T03:42:00Z"])
        .args(["--http", "127.0.0.1:0"])
        .args(auth)
        .env("OPSDECK_LOG_DIR", &logs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("opsdeck serve starts");
    let stderr = child.stderr.take().unwrap();
    let guard = Killed(child);
    let mut reader = BufReader::new(stderr);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(url) = line.trim().strip_prefix("opsdeck: serving MCP at ") {
            let url = url.to_string();
            std::thread::spawn(move || for _ in reader.lines() {});
            return (guard, url, logs);
        }
    }
    panic!("opsdeck serve did not report its address; last line: {line}");
}

/// A stand-in for `az account get-access-token -o json --scope SCOPE`: prints
/// the token in `token` (or fails as the CLI does when nobody is signed in, if
/// the file says `SIGNED-OUT`), valid for the seconds in `lifetime`; logs each
/// scope asked for to `calls.log`.
struct FakeAz {
    dir: PathBuf,
}

impl FakeAz {
    fn new(token: &str, lifetime_secs: u64) -> FakeAz {
        let dir = tempdir("az");
        let script = dir.join("az");
        std::fs::write(
            &script,
            r#"#!/bin/sh
here="$(dirname "$0")"
scope=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--scope" ]; then scope="$2"; fi
  shift
done
echo "$scope" >> "$here/calls.log"
token="$(cat "$here/token")"
if [ "$token" = "SIGNED-OUT" ]; then
  echo "ERROR: Please run 'az login' to setup account." >&2
  exit 1
fi
now=$(date +%s)
cat <<JSON
{"accessToken": "$token", "expiresOn": "2099-01-01 00:00:00.000000",
 "expires_on": $((now + $(cat "$here/lifetime"))), "tokenType": "Bearer",
 "subscription": "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
JSON
"#,
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("token"), token).unwrap();
        std::fs::write(dir.join("lifetime"), lifetime_secs.to_string()).unwrap();
        FakeAz { dir }
    }

    /// The scopes asked for, one per call.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }
}

struct Asked {
    code: i32,
    stdout: String,
    stderr: String,
    /// Every file the console wrote: its log and its trace.
    written: String,
}

/// `opsdeck ask` with one remote server in mcp.json, signing in through `az`.
fn ask(url: &str, entry_extra: serde_json::Value, az: &FakeAz) -> Asked {
    let dir = tempdir("console");
    let mut entry = serde_json::json!({"url": url, "trusted": true, "initTimeoutSeconds": 20});
    if let (Some(entry), Some(extra)) = (entry.as_object_mut(), entry_extra.as_object()) {
        entry.extend(extra.clone());
    }
    let config = dir.join("mcp.json");
    std::fs::write(
        &config,
        serde_json::json!({"mcpServers": {"team": entry}}).to_string(),
    )
    .unwrap();
    let logs = dir.join("logs");
    let state = dir.join("state");
    let output = Command::new(OPSDECK)
        .args(["ask", "--mcp-config"])
        .arg(&config)
        .arg(QUESTION)
        .env("PATH", az.path())
        .env("OPSDECK_AZURE_CREDENTIALS", "azure_cli")
        .env("OPSDECK_LOG_DIR", &logs)
        .env("XDG_STATE_HOME", &state)
        .env("OPSDECK_LOG", "trace")
        .env_remove("OPENAI_API_KEY")
        .env_remove("AZURE_OPENAI_ENDPOINT")
        .env_remove("AZURE_CLIENT_SECRET")
        .output()
        .unwrap();
    Asked {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        written: read_all(&dir),
    }
}

fn read_all(dir: &Path) -> String {
    let mut text = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return text;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&read_all(&path));
        } else if path.file_name().is_some_and(|n| n != "mcp.json") {
            text.push_str(&String::from_utf8_lossy(
                &std::fs::read(&path).unwrap_or_default(),
            ));
        }
    }
    text
}

fn shared_token() -> String {
    format!("team-token-{}", unique())
}

fn assert_no_token(token: &str, asked: &Asked, server_logs: &Path) {
    assert!(!asked.written.is_empty(), "the console wrote no log");
    for (what, text) in [
        ("stdout", &asked.stdout),
        ("stderr", &asked.stderr),
        ("the console's log and trace", &asked.written),
        ("the server's log", &read_all(server_logs)),
    ] {
        assert!(!text.contains(token), "the token is in {what}:\n{text}");
    }
}

#[test]
fn the_console_signs_in_with_the_token_az_gives_and_asks_for_it_once() {
    let token = shared_token();
    let (_server, url, server_logs) = start_server(&token);
    let az = FakeAz::new(&token, 3_600);
    let asked = ask(&url, serde_json::json!({"tokenScope": SCOPE}), &az);
    assert_eq!(
        asked.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        asked.stdout, asked.stderr
    );
    assert!(
        asked.stdout.contains("transform_inventory"),
        "the answer used the remote tools:\n{}",
        asked.stdout
    );
    // Many requests (initialize, tools/list, several tool calls), one sign-in.
    assert_eq!(az.calls(), vec![SCOPE.to_string()]);
    assert_no_token(&token, &asked, &server_logs);
}

#[test]
fn a_short_lived_token_is_renewed_instead_of_sent_near_expiry() {
    let token = shared_token();
    let (_server, url, server_logs) = start_server(&token);
    // Four minutes left: inside the five-minute margin, so never reused.
    let az = FakeAz::new(&token, 240);
    let asked = ask(&url, serde_json::json!({"tokenScope": SCOPE}), &az);
    assert_eq!(asked.code, 0, "stderr:\n{}", asked.stderr);
    let calls = az.calls();
    assert!(
        calls.len() >= 4 && calls.iter().all(|s| s == SCOPE),
        "expected a fresh token per request, az was asked {calls:?}"
    );
    assert_no_token(&token, &asked, &server_logs);
}

#[test]
fn a_token_the_server_refuses_says_to_sign_in_and_names_the_scope() {
    let token = shared_token();
    let (_server, url, server_logs) = start_server(&token);
    let wrong = format!("someone-elses-token-{}", unique());
    let az = FakeAz::new(&wrong, 3_600);
    let asked = ask(&url, serde_json::json!({"tokenScope": SCOPE}), &az);
    assert_eq!(
        asked.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        asked.stdout, asked.stderr
    );
    assert!(
        asked.stderr.contains("team: ")
            && asked
                .stderr
                .contains("refused your token for api://opsdeck-team/.default")
            && asked.stderr.contains("HTTP 401")
            && asked.stderr.contains("`az login`"),
        "{}",
        asked.stderr
    );
    assert!(
        !asked.stderr.contains("handshake failed"),
        "{}",
        asked.stderr
    );
    assert_no_token(&wrong, &asked, &server_logs);
    assert_no_token(&token, &asked, &server_logs);
}

#[test]
fn nobody_signed_in_is_told_to_run_az_login_and_nothing_is_sent() {
    let token = shared_token();
    let (_server, url, _) = start_server(&token);
    let az = FakeAz::new("SIGNED-OUT", 3_600);
    let asked = ask(&url, serde_json::json!({"tokenScope": SCOPE}), &az);
    assert_eq!(asked.code, 1, "stderr:\n{}", asked.stderr);
    assert!(
        asked
            .stderr
            .contains("could not sign in for api://opsdeck-team/.default: run `az login`"),
        "{}",
        asked.stderr
    );
}

#[test]
fn a_server_that_wants_sign_in_without_token_scope_says_how_to_add_it() {
    let token = shared_token();
    let (_server, url, _) = start_server(&token);
    let az = FakeAz::new(&token, 3_600);
    let asked = ask(&url, serde_json::json!({}), &az);
    assert_eq!(asked.code, 1, "stderr:\n{}", asked.stderr);
    assert!(
        asked.stderr.contains("needs sign-in:")
            && asked.stderr.contains("HTTP 401")
            && asked.stderr.contains("tokenScope"),
        "{}",
        asked.stderr
    );
    assert!(az.calls().is_empty(), "az was asked without tokenScope");
}

#[test]
fn token_scope_with_an_authorization_header_is_a_usage_error() {
    let az = FakeAz::new("x", 3_600);
    let asked = ask(
        "https://ops.example/mcp",
        serde_json::json!({"tokenScope": SCOPE, "headers": {"Authorization": "Bearer x"}}),
        &az,
    );
    assert_eq!(asked.code, 2, "stderr:\n{}", asked.stderr);
    assert!(
        asked
            .stderr
            .contains("both tokenScope and an Authorization header"),
        "{}",
        asked.stderr
    );
    assert!(az.calls().is_empty());
}

/// tests/peers/issuer.py (venv-mcp2: PyJWT, cryptography): a local OpenID
/// issuer with its own RSA keys, JWKS and OpenID configuration, minting tokens.
struct Issuer {
    _child: Killed,
    url: String,
}

const AUDIENCE: &str = "api://opsdeck-console-test";

impl Issuer {
    fn start() -> Issuer {
        let peers = std::env::var_os("OPSDECK_PEERS_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/peers"));
        let python = peers.join("venv-mcp2/bin/python");
        assert!(
            python.exists(),
            "the Python peers are not installed in {}: run scripts/peers/setup.sh",
            peers.display()
        );
        let mut child = Command::new(python)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/issuer.py"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the issuer starts");
        let stdout = child.stdout.take().unwrap();
        let guard = Killed(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let ready: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("the issuer said {line:?}: {e}"));
        Issuer {
            _child: guard,
            url: ready["issuer"].as_str().unwrap().to_string(),
        }
    }

    /// An RS256 token for `audience` carrying `permissions` (as `scp`), valid an hour.
    fn mint(&self, audience: &str, permissions: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = serde_json::json!({
            "iss": self.url, "aud": audience, "sub": "sub-ada", "oid": "oid-ada",
            "preferred_username": "ada@example.com", "scp": permissions,
            "iat": now, "nbf": now, "exp": now + 3600,
        });
        let answer: serde_json::Value = reqwest::blocking::Client::new()
            .post(format!("{}/mint", self.url))
            .json(&serde_json::json!({ "claims": claims }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        answer["token"].as_str().unwrap().to_string()
    }
}

#[test]
fn against_a_signed_in_server_the_right_token_reads_and_a_missing_permission_is_named() {
    let issuer = Issuer::start();
    let dir = tempdir("oauth-server");
    let (_server, url, server_logs) = serve_with(
        &dir,
        &[
            "--oauth-issuer".into(),
            issuer.url.clone(),
            "--oauth-audience".into(),
            AUDIENCE.into(),
        ],
    );
    let scope = format!("{AUDIENCE}/.default");
    let entry = serde_json::json!({ "tokenScope": scope });

    let reader = issuer.mint(AUDIENCE, "opsdeck.read");
    let az = FakeAz::new(&reader, 3_600);
    let asked = ask(&url, entry.clone(), &az);
    assert_eq!(
        asked.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        asked.stdout, asked.stderr
    );
    assert!(
        asked.stdout.contains("transform_inventory"),
        "{}",
        asked.stdout
    );
    assert_eq!(az.calls(), vec![scope.clone()]);
    assert_no_token(&reader, &asked, &server_logs);

    let no_role = issuer.mint(AUDIENCE, "profile");
    let asked = ask(&url, entry.clone(), &FakeAz::new(&no_role, 3_600));
    assert_eq!(asked.code, 1, "stderr:\n{}", asked.stderr);
    assert!(
        asked.stderr.contains("HTTP 403")
            && asked.stderr.contains("lacks the permission")
            && asked.stderr.contains("opsdeck.read")
            && asked.stderr.contains(&format!("az login --scope {scope}")),
        "{}",
        asked.stderr
    );
    assert_no_token(&no_role, &asked, &server_logs);

    let elsewhere = issuer.mint("api://another-app", "opsdeck.read");
    let asked = ask(&url, entry, &FakeAz::new(&elsewhere, 3_600));
    assert_eq!(asked.code, 1, "stderr:\n{}", asked.stderr);
    assert!(
        asked
            .stderr
            .contains(&format!("refused your token for {scope}:"))
            && asked.stderr.contains("HTTP 401, invalid_token")
            && asked.stderr.contains("`az login`"),
        "{}",
        asked.stderr
    );
    assert_no_token(&elsewhere, &asked, &server_logs);
}
