//! Where an error happened, in the vendors' own wording: the container and
//! path of a missing blob, the file system and path of a refused lake write,
//! the server and database of a failed connection, the host of an SFTP or
//! HTTP error. The root-cause sentence names it so the engineer does not have
//! to dig it out of a wrapped message.

use std::sync::OnceLock;

use regex::Regex;

use crate::support::{redact, terminal, text};

/// The longest place named; longer is clipped.
const PLACE_CHARS: usize = 160;

/// Writes what a pattern captured as a place.
type Write = fn(&regex::Captures) -> String;

/// Patterns in preference order, each with how to write what it captured.
fn patterns() -> &'static [(Regex, Write)] {
    static PATTERNS: OnceLock<Vec<(Regex, Write)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let specs: [(&str, Write); 5] = [
            // ADF blob: "ContainerName: https://acct.blob.core.windows.net/landing, path: pos/2026/01/15/."
            (
                r"(?i)containername:\s*(?:https?://[^/\s,]+/)?([^,\s/]+)/?,\s*path:\s*([^\s,']+)",
                |c| join_path(&c[1], &c[2]),
            ),
            // ADF ADLS Gen2: "Account: 'stlake'. FileSystem: 'raw'. Path: 'crm/customers/x.parquet'"
            (
                r"(?i)filesystem:\s*'([^']+)'\.?\s*path:\s*'([^']+)'",
                |c| join_path(&c[1], &c[2]),
            ),
            // ADF SQL: "Server: 'syn-x.sql.azuresynapse.net', Database: 'salesdw'"
            (
                r"(?i)server:\s*'([^']+)',\s*database:\s*'([^']+)'",
                |c| format!("database {} on {}", &c[2], &c[1]),
            ),
            // SQL constraint: "… in object 'mart.agg_sales_daily'"
            (r"(?i)in object '([^']+)'", |c| format!("table {}", &c[1])),
            // Hosts: "Sftp server 'h'", "Request URL: https://h/…"
            (
                r"(?i)(?:sftp server|ftp server|host|request url:)\s*'?(?:https?://)?([a-z0-9][a-z0-9.-]+\.[a-z]{2,})",
                |c| format!("host {}", &c[1]),
            ),
        ];
        specs
            .into_iter()
            .filter_map(|(pattern, write)| match Regex::new(pattern) {
                Ok(regex) => Some((regex, write)),
                Err(error) => {
                    tracing::error!(%error, pattern, "place pattern does not compile");
                    None
                }
            })
            .collect()
    })
}

/// `landing` + `pos/2026/01/15/.` → `landing/pos/2026/01/15`.
fn join_path(root: &str, path: &str) -> String {
    let path = path
        .trim_end_matches(['.', ','])
        .trim_end_matches('/')
        .trim_start_matches('/');
    if path.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{path}")
    }
}

/// The place `message` names, redacted and made safe for a terminal.
pub fn named_in(message: &str) -> Option<String> {
    patterns().iter().find_map(|(regex, write)| {
        let captures = regex.captures(message)?;
        let place = write(&captures);
        let redacted = redact::text(&place);
        let safe = terminal::terminal_safe(&redacted);
        Some(text::clip(&safe, PLACE_CHARS))
    })
}

#[cfg(test)]
mod tests {
    use super::named_in;

    #[test]
    fn a_missing_blob_names_container_and_path() {
        let message = "Message=The required Blob is missing. ContainerName: https://stlanding.blob.core.windows.net/landing, path: pos/2026/01/15/03/.,Source=Microsoft.DataTransfer.ClientLibrary,'";
        assert_eq!(
            named_in(message).as_deref(),
            Some("landing/pos/2026/01/15/03")
        );
    }

    #[test]
    fn a_lake_write_names_file_system_and_path() {
        let message = "ADLS Gen2 operation failed for: Operation returned an invalid status code 'Forbidden'. Account: 'stlake'. FileSystem: 'raw'. Path: 'crm/customers/x.parquet'. ErrorCode: 'AuthorizationPermissionMismatch'.";
        assert_eq!(
            named_in(message).as_deref(),
            Some("raw/crm/customers/x.parquet")
        );
    }

    #[test]
    fn sql_names_the_database_then_tables_then_hosts() {
        assert_eq!(
            named_in("Cannot connect to SQL Database. Server: 'syn.sql.azuresynapse.net', Database: 'salesdw', User: 'u'.").as_deref(),
            Some("database salesdw on syn.sql.azuresynapse.net")
        );
        assert_eq!(
            named_in(
                "Cannot insert duplicate key in object 'mart.agg'. The duplicate key value is (1)."
            )
            .as_deref(),
            Some("table mart.agg")
        );
        assert_eq!(
            named_in("Failed to connect to Sftp server 'sftp.partner.example'.").as_deref(),
            Some("host sftp.partner.example")
        );
        assert_eq!(named_in("Job aborted due to stage failure"), None);
    }

    #[test]
    fn a_hostile_place_is_neutralised_and_clipped() {
        let message = format!(
            "ContainerName: https://a.blob.core.windows.net/c, path: \u{1b}[2J{}",
            "p".repeat(5_000)
        );
        let place = named_in(&message).unwrap();
        assert!(!place.contains('\u{1b}'), "{place:?}");
        assert!(place.chars().count() <= 161, "{}", place.len());
    }
}
