//! Command-line interface, designed for the whole product.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "opsdeck",
    version,
    about = "Incident console and DataOps MCP tool server for on-call data engineers",
    long_about = "opsdeck brings pipeline runs, failures, logs, secrets and infrastructure into one terminal.\n\
                  With no command it opens the console; `opsdeck serve` runs the MCP tool server;\n\
                  `opsdeck ask` answers one question headless; `--replay` plays back a recorded session."
)]
pub struct Cli {
    /// Replay a recorded session trace headless instead of opening the console.
    #[arg(long, value_name = "TRACE")]
    pub replay: Option<PathBuf>,

    /// How `--replay` prints the session: a transcript, a postmortem timeline, or JSON.
    #[arg(long, value_enum, default_value_t = ReplayFormat::Text, requires = "replay")]
    pub format: ReplayFormat,

    /// With --replay: re-run the trace's read-only tool calls against the servers
    /// configured now (--mcp-config, or the built-in sandbox) and report which
    /// results differ. Destructive tools are never called.
    #[arg(long, requires = "replay")]
    pub verify: bool,

    #[command(flatten)]
    pub console: ConsoleArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of the console (`opsdeck` with no command).
#[derive(Debug, Clone, Default, Args)]
pub struct ConsoleArgs {
    /// MCP servers to use (mcpServers JSON). Default: ~/.config/opsdeck/mcp.json, else the built-in sandbox server.
    #[arg(long, value_name = "FILE")]
    pub mcp_config: Option<PathBuf>,

    /// Console settings (refresh, notifications, keys). Default: ~/.config/opsdeck/config.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Refuse every remediation; no approval dialog appears.
    #[arg(long)]
    pub read_only: bool,

    /// Board refresh interval in seconds (overrides config.toml; default 10).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub refresh: Option<u64>,

    /// No colour (also when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,

    /// Let the mouse scroll and pick panes (off by default, so the terminal's own selection works).
    #[arg(long)]
    pub mouse: bool,

    /// Built-in sandbox: incident scenario (see `opsdeck serve --list-scenarios`).
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,

    /// Built-in sandbox: seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Built-in sandbox: freeze its clock at this RFC 3339 instant.
    #[arg(long, value_name = "TIME")]
    pub frozen_clock: Option<String>,

    /// Record the session trace here (default: ~/.local/state/opsdeck/traces/).
    #[arg(long, value_name = "FILE", conflicts_with = "no_trace")]
    pub trace: Option<PathBuf>,

    /// Do not record a session trace.
    #[arg(long)]
    pub no_trace: bool,

    /// Continue a recorded session: its conversation is restored (the chat on
    /// screen and the model's context) and the board goes live again.
    #[arg(long, value_name = "TRACE", conflicts_with = "replay")]
    pub resume: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the DataOps MCP tool server (stdio by default).
    Serve(Box<ServeArgs>),
    /// Ask the triage agent one question and print the answer.
    Ask(AskArgs),
    /// Work with log files directly (no server, no model).
    #[command(subcommand)]
    Logs(LogsCommand),
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Collapse log files (or stdin) into templates: count, first/last seen,
    /// level, examples and the values seen in each <*>.
    Summarize(SummarizeArgs),
}

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Log files to read, in order; `-` or none reads stdin. Any size: one
    /// streaming pass, bounded memory.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Only events at or after this time: a timestamp as the log writes it
    /// (2026-11-23 02:00:00, RFC 3339…) or a duration back from now (30m, 6h).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only events at or above this level: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,

    /// Templates to print, most frequent first (0 prints all).
    #[arg(long, default_value_t = 20)]
    pub top: usize,

    /// Print the whole summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The embedded sandbox estate (no cloud account needed).
    Sandbox,
    /// Real Azure: Data Factory, Key Vault, Resource Manager, Log Analytics
    /// (set up with AZURE_* variables or --azure-config; see the README).
    #[value(alias = "azure")]
    Adf,
    /// A real Apache Airflow 2.x (AIRFLOW_URL, AIRFLOW_USERNAME/AIRFLOW_PASSWORD or
    /// AIRFLOW_TOKEN); with DATABRICKS_HOST set, the Databricks runs its tasks start too.
    Airflow,
    /// A Databricks workspace's jobs (DATABRICKS_HOST, DATABRICKS_TOKEN or an Azure sign-in).
    Databricks,
    /// A Microsoft Fabric workspace's data pipelines, dataflows and copy jobs
    /// (FABRIC_WORKSPACE, id or name; signed in through the Azure credential chain).
    Fabric,
}

impl BackendChoice {
    /// The name `--backend` takes.
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Sandbox => "sandbox",
            BackendChoice::Adf => "adf",
            BackendChoice::Airflow => "airflow",
            BackendChoice::Databricks => "databricks",
            BackendChoice::Fabric => "fabric",
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve over stdin/stdout (the default).
    #[arg(long, conflicts_with = "http")]
    pub stdio: bool,

    /// Serve streamable HTTP on this address, e.g. 127.0.0.1:8765 (path /mcp).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,

    /// Where the data comes from. Repeat it, or separate names with commas
    /// (`--backend adf,fabric`), to serve several as one estate; each at most once.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BackendChoice::Sandbox])]
    pub backend: Vec<BackendChoice>,

    /// Azure environments, factories, vaults and workspaces (TOML; default
    /// ~/.config/opsdeck/azure.toml when it exists, else the AZURE_* variables).
    #[arg(long, value_name = "FILE", env = "OPSDECK_AZURE_CONFIG")]
    pub azure_config: Option<PathBuf>,

    /// Serve only this environment of the Azure config (e.g. prod).
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,

    /// Sandbox incident scenario (see --list-scenarios). Default: the estate's default.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,

    /// Sandbox seed: the same seed and clock give the same runs.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,

    /// Freeze the sandbox clock at this RFC 3339 instant (reproducible demos and tests).
    #[arg(long, value_name = "TIME")]
    pub frozen_clock: Option<String>,

    /// Read the sandbox estate from this directory instead of the built-in copy.
    #[arg(long, value_name = "DIR")]
    pub sandbox_dir: Option<PathBuf>,

    /// Refuse every remediation (rerun, cancel) whatever the caller asks.
    #[arg(long)]
    pub read_only: bool,

    /// Remediation policy (TOML): per-environment allowed/approval/forbidden,
    /// reruns per run per hour, a required preview, the audit log's path
    /// (see assets/policy.example.toml).
    #[arg(long, value_name = "FILE", env = "OPSDECK_POLICY")]
    pub policy: Option<PathBuf>,

    /// File holding the bearer token HTTP clients must send (or set OPSDECK_HTTP_TOKEN).
    /// Without a token, HTTP callers get reads and dry runs only.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Over HTTP without a bearer token, let callers rerun and cancel for real
    /// anyway: anyone who can reach the port (any local user) could then act.
    /// Logged as a warning at start and shown in /health/ready.
    #[arg(long, requires = "http")]
    pub http_allow_unauthenticated_remediation: bool,

    /// Most MCP sessions open at once over HTTP (beyond: 503 with Retry-After). Default 256.
    #[arg(long, value_name = "N", requires = "http", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub http_max_sessions: Option<u64>,

    /// Seconds an unused HTTP session lives before it is closed. Default 60.
    #[arg(long, value_name = "SECONDS", requires = "http", value_parser = clap::value_parser!(u64).range(5..=86_400))]
    pub http_session_idle_seconds: Option<u64>,

    /// Keep no MCP sessions: every POST is answered on its own (JSON, no
    /// Mcp-Session-Id), so any replica behind a load balancer can serve any
    /// request. Not with --http-max-sessions / --http-session-idle-seconds.
    #[arg(long, requires = "http")]
    pub stateless: bool,

    /// The name this replica gives in the `opsdeck-replica` response header
    /// with --stateless (default: the host name, a pod's name in Kubernetes).
    #[arg(
        long,
        value_name = "NAME",
        requires = "stateless",
        env = "OPSDECK_REPLICA_NAME"
    )]
    pub replica_name: Option<String>,

    /// On SIGTERM/SIGINT: seconds /health/ready answers 503 while requests are
    /// still served, so load balancers stop sending new ones before the port closes.
    #[arg(long, value_name = "SECONDS", requires = "http", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub drain_delay_seconds: u64,

    /// After the drain delay: the longest to wait for requests in flight to
    /// finish before they are cancelled and the process exits.
    #[arg(long, value_name = "SECONDS", requires = "http", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub shutdown_grace_seconds: u64,

    /// Log lines as text or as JSON objects (one a line, for a log collector).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "OPSDECK_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Where logs go: the daily file in the state directory, or a stream
    /// (a container's collector reads stdout; stdout is refused with --stdio,
    /// where it carries the protocol).
    #[arg(long, value_enum, default_value_t = LogOutput::File, env = "OPSDECK_LOG_OUTPUT")]
    pub log_output: LogOutput,

    /// Where the remediation audit goes: stdout, stderr or a file path
    /// (overrides the policy's audit_log; stdout is refused with --stdio).
    #[arg(long, value_name = "stdout|stderr|PATH", env = "OPSDECK_AUDIT_LOG")]
    pub audit_log: Option<String>,

    #[command(flatten)]
    pub oauth: OAuthArgs,

    /// Most POST/DELETE requests on /mcp in flight at once (each may hold a 4 MiB body).
    #[arg(long, requires = "http", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1_024))]
    pub http_max_in_flight: u64,

    /// Also accept this browser Origin over HTTP (repeatable), e.g. https://console.example.com.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,

    /// Also accept this Host header over HTTP (repeatable).
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,

    /// List the sandbox scenarios and exit.
    #[arg(long)]
    pub list_scenarios: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogOutput {
    File,
    Stdout,
    Stderr,
}

/// Sign-in of HTTP callers with OAuth 2.1 access tokens (e.g. Microsoft Entra ID).
#[derive(Debug, Clone, Default, Args)]
pub struct OAuthArgs {
    /// Accept access tokens from this issuer (repeatable, or comma-separated),
    /// e.g. https://login.microsoftonline.com/TENANT/v2.0. Turns sign-in on.
    #[arg(
        long = "oauth-issuer",
        value_name = "URL",
        value_delimiter = ',',
        env = "OPSDECK_OAUTH_ISSUER"
    )]
    pub issuers: Vec<String>,

    /// The audience tokens must carry (repeatable): the app's client id, or api://….
    #[arg(
        long = "oauth-audience",
        value_name = "AUDIENCE",
        value_delimiter = ',',
        requires = "issuers",
        env = "OPSDECK_OAUTH_AUDIENCE"
    )]
    pub audiences: Vec<String>,

    /// This server's public URL, as named in the protected-resource metadata
    /// (e.g. https://opsdeck.example.com/mcp).
    #[arg(
        long = "oauth-resource",
        value_name = "URL",
        requires = "issuers",
        env = "OPSDECK_OAUTH_RESOURCE"
    )]
    pub resource: Option<String>,

    /// The issuer's signing keys (default: jwks_uri of its openid-configuration).
    #[arg(
        long = "oauth-jwks-uri",
        value_name = "URL",
        requires = "issuers",
        env = "OPSDECK_OAUTH_JWKS_URI"
    )]
    pub jwks_uri: Option<String>,

    /// The scope or app role that lets a caller read and dry-run.
    #[arg(
        long = "oauth-read-permission",
        value_name = "NAME",
        default_value = "opsdeck.read",
        env = "OPSDECK_OAUTH_READ_PERMISSION"
    )]
    pub read_permission: String,

    /// The scope or app role that lets a caller rerun and cancel for real.
    #[arg(
        long = "oauth-remediate-permission",
        value_name = "NAME",
        default_value = "opsdeck.remediate",
        env = "OPSDECK_OAUTH_REMEDIATE_PERMISSION"
    )]
    pub remediate_permission: String,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Print JSON lines of events instead of text.
    #[arg(long)]
    pub json: bool,
    /// Refuse every destructive tool call.
    #[arg(long)]
    pub read_only: bool,
    /// Approve one call up front, with its exact arguments:
    /// `--approve 'rerun_pipeline:{"pipeline":"p","dry_run":false}'` (repeatable;
    /// each approves one call; a bare tool name is refused).
    #[arg(long, value_name = "TOOL:JSON")]
    pub approve: Vec<crate::agent::policy::PreApproval>,
    /// Most rounds of tool calls the LLM agent may make before it must answer.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub max_rounds: u32,
    /// Bytes of each tool result sent to the model (the rest is cut with a marker).
    #[arg(long, default_value_t = 16 * 1024, value_parser = clap::value_parser!(u64).range(256..=1_048_576))]
    pub max_result_bytes: u64,
    /// Seconds the model's stream may stay silent before the request is abandoned.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(5..=3600))]
    pub llm_timeout: u64,
    /// MCP servers to use, in the mcpServers JSON format (default: ~/.config/opsdeck/mcp.json, else the built-in server).
    #[arg(long, value_name = "FILE")]
    pub mcp_config: Option<std::path::PathBuf>,

    /// Record the session trace here (default: ~/.local/state/opsdeck/traces/).
    #[arg(long, value_name = "FILE", conflicts_with = "no_trace")]
    pub trace: Option<PathBuf>,

    /// Do not record a session trace.
    #[arg(long)]
    pub no_trace: bool,

    /// Continue the conversation recorded in this trace: the model gets its
    /// earlier questions, tool results and answers (the offline agent reads
    /// follow-ups against them).
    #[arg(long, value_name = "TRACE")]
    pub resume: Option<PathBuf>,

    /// Wait for the runs the answer started (a rerun, a run on demand) to
    /// end, and exit 1 unless every one succeeded.
    #[arg(long)]
    pub follow: bool,

    /// With --follow: seconds between two looks at a started run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub follow_seconds: u64,

    /// With --follow: stop waiting for a run still going after this many minutes.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub follow_minutes: u64,

    /// The question.
    pub question: String,
}
