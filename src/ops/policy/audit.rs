//! Where the remediation audit log goes: a private file (the default), or a
//! stream (standard output or standard error) as JSON lines, so a container's
//! log pipeline keeps one record for all replicas and no `HOME` is needed.
//!
//! Every record is one line, redacted (secret-named keys and secret-looking
//! text) and safe for a terminal, written whole under the stream's lock so it
//! never interleaves with log lines written to the same stream.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The names that mean a stream rather than a file, in the policy's
/// `audit_log` and in `--audit-log`.
const STDOUT: &str = "stdout";
const STDERR: &str = "stderr";

/// Where audit records are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    /// Appended to this file, readable by its owner only.
    File(PathBuf),
    Stdout,
    Stderr,
}

impl AuditSink {
    /// `stdout`, `stderr`, or a file path (write `./stdout` for a file of that name).
    pub fn parse(setting: &str) -> Result<AuditSink, String> {
        match setting.trim() {
            "" => Err("the audit log setting is empty: give stdout, stderr or a file path".into()),
            STDOUT => Ok(AuditSink::Stdout),
            STDERR => Ok(AuditSink::Stderr),
            _ => Ok(AuditSink::File(PathBuf::from(setting))),
        }
    }

    /// The policy's `audit_log`, read the same way as `--audit-log`.
    pub fn from_path(path: &Path) -> AuditSink {
        match path.to_str() {
            Some(STDOUT) => AuditSink::Stdout,
            Some(STDERR) => AuditSink::Stderr,
            _ => AuditSink::File(path.to_path_buf()),
        }
    }

    pub fn is_stream(&self) -> bool {
        !matches!(self, AuditSink::File(_))
    }

    /// How the sink is named in messages and the log.
    pub fn describe(&self) -> String {
        match self {
            AuditSink::File(path) => path.display().to_string(),
            AuditSink::Stdout => "standard output (JSON lines)".into(),
            AuditSink::Stderr => "standard error (JSON lines)".into(),
        }
    }

    /// Checks now that the sink can be written (a file is created private).
    pub fn open(&self) -> std::io::Result<()> {
        match self {
            AuditSink::File(path) => open_private_append(path).map(drop),
            AuditSink::Stdout | AuditSink::Stderr => Ok(()),
        }
    }

    /// Writes one record as one line: redacted, terminal-safe, whole.
    pub fn write(&self, record: &Value) -> std::io::Result<()> {
        let redacted = crate::support::redact::value(record);
        let text = redacted.to_string();
        let mut line = crate::support::terminal::json_safe(&text).into_owned();
        line.push('\n');
        match self {
            AuditSink::File(path) => open_private_append(path)?.write_all(line.as_bytes()),
            // One write under the lock: a log line on the same stream cannot
            // land inside the record.
            AuditSink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes())?;
                out.flush()
            }
            AuditSink::Stderr => {
                let mut out = std::io::stderr().lock();
                out.write_all(line.as_bytes())?;
                out.flush()
            }
        }
    }
}

/// Opens the audit log for appending, readable by its owner only: created
/// 0600 (with its directory 0700 when that is made here too), and an existing
/// file with a looser mode narrowed to 0600. It says who acted on what, and
/// its arguments may name connections.
pub fn open_private_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_named_and_anything_else_is_a_file() {
        assert_eq!(AuditSink::parse("stdout"), Ok(AuditSink::Stdout));
        assert_eq!(AuditSink::parse(" stderr "), Ok(AuditSink::Stderr));
        assert_eq!(
            AuditSink::parse("./stdout"),
            Ok(AuditSink::File(PathBuf::from("./stdout")))
        );
        assert!(
            AuditSink::parse("  ")
                .unwrap_err()
                .contains("stdout, stderr")
        );
        assert_eq!(AuditSink::from_path(Path::new("stderr")), AuditSink::Stderr);
        assert!(AuditSink::Stdout.is_stream());
        assert!(!AuditSink::File("/x".into()).is_stream());
    }

    #[test]
    fn a_record_is_one_redacted_line() {
        let dir = std::env::temp_dir().join(format!("opsdeck-audit-sink-{}", std::process::id()));
        let path = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path);
        let sink = AuditSink::File(path.clone());
        let record = serde_json::json!({
            "detail": "line one\nline two \u{1b}[31m",
            "arguments": {"password": "hunter2-very-secret"},
        });
        sink.write(&record).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        let back: Value = serde_json::from_str(text.trim()).unwrap();
        assert!(
            back["detail"]
                .as_str()
                .unwrap()
                .starts_with("line one\nline two")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
