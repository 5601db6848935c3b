//! Opening a connection to one server, with nothing left to wait on forever: a
//! stdio child in its own process group with a cleared environment, stopped in
//! bounded steps; or a streamable HTTP client with connect and read timeouts.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::common::client_side_sse::ExponentialBackoff;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::config::child_env;
use crate::config::servers::ServerSpec;

mod challenge;
mod signin;
mod stderr;

use signin::{SignIn, SignedInClient};
pub use signin::{SignInError, call_failure};

/// How long a stdio child gets after its stdin is closed, and again after SIGTERM.
const STOP_GRACE: Duration = Duration::from_millis(1_000);
/// How long to wait for the kernel to reap a child after SIGKILL.
const KILL_WAIT: Duration = Duration::from_millis(1_000);
/// The longest a TCP (and TLS) connect may take, whatever the init timeout.
const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(10);
/// The longest pause between reconnects of a server's event stream.
const SSE_RETRY_MAX: Duration = Duration::from_secs(30);

/// A started stdio server: the pipes to speak MCP over, and the process.
pub(super) struct StdioProcess {
    pub stdout: ChildStdout,
    pub stdin: ChildStdin,
    pub child: StdioChild,
}

/// Starts a stdio server. Its environment is the defaults plus what the spec names
/// (and what `serve` reads when the command is opsdeck itself); its stderr goes to
/// the log; it leads its own process group, so stopping it stops what it started.
pub(super) fn spawn_stdio(spec: &ServerSpec) -> Result<StdioProcess, String> {
    let crate::config::servers::ServerTransport::Stdio {
        command,
        args,
        env,
        cwd,
        pass_env,
    } = &spec.transport
    else {
        return Err("not a stdio server".into());
    };
    let mut patterns: Vec<&str> = pass_env.iter().map(String::as_str).collect();
    if child_env::is_this_executable(command, std::env::var_os("PATH").as_deref()) {
        patterns.extend(child_env::OPSDECK_SERVE_PASS_ENV);
    }
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args)
        .env_clear()
        .envs(child_env::build(std::env::vars_os(), &patterns, env))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{command}`: {e}"))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(format!("`{command}` started without pipes"));
    };
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(drain_stderr(spec.name.clone(), stderr));
    }
    let pid = child.id();
    Ok(StdioProcess {
        stdout,
        stdin,
        child: StdioChild {
            child,
            pid,
            reaped: false,
        },
    })
}

/// A stdio server's process. Stop it with [`StdioChild::stop`]; dropping it
/// SIGKILLs its process group as a last resort.
pub(super) struct StdioChild {
    child: Child,
    pid: Option<u32>,
    reaped: bool,
}

impl StdioChild {
    /// Ends the process, in at most about three seconds: it has [`STOP_GRACE`] to
    /// exit on its own (its stdin should be closed by now), then SIGTERM and
    /// another grace, then SIGKILL. It is reaped, so no zombie is left, and what
    /// is left of its process group is killed, so no orphan either.
    pub async fn stop(mut self) {
        let mut exited = self.wait_for(STOP_GRACE).await;
        if !exited {
            self.signal_group(Signal::Terminate);
            exited = self.wait_for(STOP_GRACE).await;
        }
        if !exited {
            self.signal_group(Signal::Kill);
            let _ = self.child.start_kill();
            exited = self.wait_for(KILL_WAIT).await;
        }
        // The leader is gone; whatever it started in its group goes with it.
        self.signal_group(Signal::Kill);
        if !exited {
            tracing::warn!(pid = ?self.pid, "a server process did not exit after SIGKILL");
        }
    }

    async fn wait_for(&mut self, limit: Duration) -> bool {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(_) => {
                self.reaped = true;
                true
            }
            Err(_) => false,
        }
    }

    fn signal_group(&self, signal: Signal) {
        #[cfg(unix)]
        if let Some(pid) = self.pid.and_then(|p| i32::try_from(p).ok()) {
            let signal = match signal {
                Signal::Terminate => nix::sys::signal::Signal::SIGTERM,
                Signal::Kill => nix::sys::signal::Signal::SIGKILL,
            };
            // ESRCH (the group is already empty) is the expected outcome; nothing to do.
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
        }
        #[cfg(not(unix))]
        let _ = signal;
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Terminate,
    Kill,
}

impl Drop for StdioChild {
    fn drop(&mut self) {
        if !self.reaped {
            // Only reached when a stop was cut short (the runtime is going away):
            // kill the whole group now; tokio reaps the leader in the background.
            self.signal_group(Signal::Kill);
        }
    }
}

/// The streamable HTTP transport, on a client whose connects and reads time
/// out, that signs in for `token_scope` (see [`signin`]) and explains refusals.
pub(super) fn http_transport(
    spec: &ServerSpec,
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
    token_scope: Option<&str>,
) -> Result<StreamableHttpClientTransport<SignedInClient>, String> {
    let mut custom = HashMap::new();
    for (name, value) in headers {
        let name = name
            .parse()
            .map_err(|e| format!("header name {name:?} is invalid: {e}"))?;
        // The value is not quoted: it is often a token.
        let value = value
            .parse()
            .map_err(|e| format!("header value for {name} is invalid: {e}"))?;
        custom.insert(name, value);
    }
    let authorization_header = custom.contains_key(&reqwest::header::AUTHORIZATION);
    let sign_in = match token_scope {
        None => None,
        // mcp.json refuses both; a spec built in code could still say both,
        // and two Authorization headers would go out.
        Some(_) if authorization_header => {
            return Err("tokenScope and an Authorization header are both set; keep one".into());
        }
        Some(scope) => Some(SignIn {
            // The scope becomes an argument of `az`: checked here too, for
            // specs built in code rather than read from mcp.json.
            scope: crate::config::servers::token_scope::check(scope)
                .and_then(|()| crate::config::servers::token_scope::check_url(url))
                .map(|()| scope.to_string())?,
            credential: signin::console_credential()
                .map_err(|e| format!("cannot sign in for {scope}: {e}"))?,
        }),
    };
    let mut config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(custom);
    let mut backoff = ExponentialBackoff::default();
    backoff.max_delay = Some(SSE_RETRY_MAX);
    config.retry_config = std::sync::Arc::new(backoff);
    let client = SignedInClient::new(http_client(spec)?, sign_in, authorization_header);
    Ok(StreamableHttpClientTransport::with_client(client, config))
}

/// A client that gives up on a silent peer: connects within the init timeout (at
/// most ten seconds), and no read waits longer than the longest legitimate
/// silence (a call's or the handshake's whole timeout) plus a margin.
fn http_client(spec: &ServerSpec) -> Result<reqwest::Client, String> {
    let read_idle = spec
        .call_timeout
        .max(spec.init_timeout)
        .saturating_add(Duration::from_secs(5));
    reqwest::Client::builder()
        .connect_timeout(spec.init_timeout.min(CONNECT_TIMEOUT_MAX))
        .read_timeout(read_idle)
        // As rmcp's default client: no idle pooling (avoids delayed-ACK stalls).
        .pool_max_idle_per_host(0)
        .redirect(same_origin_redirects())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Follows only same-origin 307/308 redirects (which keep the POST body), as
/// rmcp's default client does: a cross-origin one would replay the session id
/// and the configured headers (often a bearer token) to another host.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|original| original.origin() == attempt.url().origin());
        if !keeps_body || !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > 10 {
            attempt.error("more than 10 redirects")
        } else {
            attempt.follow()
        }
    })
}

/// Reads a child's stderr continuously into the log so it can never block on a
/// full pipe; [`stderr::StderrLog`] keeps memory, secrets and volume in bounds.
async fn drain_stderr(server: String, mut stderr: tokio::process::ChildStderr) {
    let mut buffer = vec![0u8; 8_192];
    let mut log = stderr::StderrLog::default();
    loop {
        let read = match stderr.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for line in log.feed(&buffer[..read], std::time::Instant::now()) {
            tracing::info!(server = %server, "stderr: {line}");
        }
    }
    for line in log.finish(std::time::Instant::now()) {
        tracing::info!(server = %server, "stderr: {line}");
    }
}
