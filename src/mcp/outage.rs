//! What to tell a caller about a server that is not ready: which one, why, and
//! when to try again — instead of an empty list of available tools.

use std::time::Duration;

use tokio::time::Instant;

use super::state::ConnectionState;

/// A server's run of failed attempts (all default while it is ready).
#[derive(Debug, Clone, Default)]
pub(super) struct Outage {
    /// Failed attempts in a row.
    pub attempt: u32,
    pub error: Option<String>,
    /// When the attempt under way gives up, or when the next one starts.
    pub until: Option<Instant>,
}

/// A server that is not ready, as one clause, and how long until it may be.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Down {
    pub server: String,
    pub clause: String,
    pub retry_in: Option<Duration>,
}

/// `None` when the server is ready; else e.g. "server 'x' is reconnecting (attempt 3: …)".
pub(super) fn describe(
    server: &str,
    state: &ConnectionState,
    outage: &Outage,
    now: Instant,
) -> Option<Down> {
    let clause = match state {
        ConnectionState::Ready { .. } => return None,
        ConnectionState::Stopped => {
            return Some(Down {
                server: server.to_string(),
                clause: format!("server '{server}' is stopped"),
                retry_in: None,
            });
        }
        ConnectionState::Reconnecting { attempt, error, .. } => {
            format!("server '{server}' is reconnecting (attempt {attempt}: {error})")
        }
        ConnectionState::Connecting => match (&outage.error, outage.attempt) {
            (Some(error), attempt) if attempt > 0 => format!(
                "server '{server}' is reconnecting (attempt {} under way; attempt {attempt}: {error})",
                attempt.saturating_add(1)
            ),
            _ => format!("server '{server}' is still connecting"),
        },
    };
    let retry_in = outage
        .until
        .map(|until| until.saturating_duration_since(now))
        .map(|left| left.max(Duration::from_secs(1)));
    Some(Down {
        server: server.to_string(),
        clause,
        retry_in,
    })
}

/// The answer to a call of a tool the catalogue does not have.
pub(super) fn missing_tool(name: &str, down: &[Down], available: &[&str]) -> String {
    let name = clip(name);
    if down.is_empty() {
        return format!(
            "there is no tool named '{name}'; available: {}",
            available.join(", ")
        );
    }
    format!(
        "there is no tool named '{name}' right now: {}. Available now: {}",
        unavailable(down),
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    )
}

/// "server 'x' is reconnecting (…); its tools are not available right now — try again in 4 s"
pub(super) fn unavailable(down: &[Down]) -> String {
    let clauses: Vec<&str> = down.iter().map(|d| d.clause.as_str()).collect();
    let whose = if down.len() == 1 { "its" } else { "their" };
    let mut text = format!(
        "{}; {whose} tools are not available right now",
        clauses.join("; ")
    );
    if let Some(wait) = down.iter().filter_map(|d| d.retry_in).max() {
        text.push_str(&format!(" — try again in {}", seconds(wait)));
    }
    text
}

/// A duration as people say it: "1 s", "30 s", "1.5 s", "250 ms".
pub(super) fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1_000 {
        format!("{millis} ms")
    } else if millis.is_multiple_of(1_000) {
        format!("{} s", millis / 1_000)
    } else if duration.as_secs() >= 10 {
        format!("{} s", millis.div_ceil(1_000))
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// A peer's error text as kept in a state or a message: at most 300 characters
/// (a hostile server's error can be megabytes).
pub(super) fn clip(text: &str) -> String {
    crate::support::text::clip(text, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reconnecting() -> ConnectionState {
        ConnectionState::Reconnecting {
            attempt: 3,
            error: "the server closed the connection".into(),
            retry_in_ms: 4_000,
        }
    }

    #[test]
    fn a_reconnecting_server_is_named_with_its_attempt_error_and_wait() {
        let now = Instant::now();
        let outage = Outage {
            attempt: 3,
            error: Some("the server closed the connection".into()),
            until: Some(now + Duration::from_millis(3_200)),
        };
        let down = describe("opsdeck", &reconnecting(), &outage, now).unwrap();
        let text = missing_tool("list_pipelines", &[down], &[]);
        assert_eq!(
            text,
            "there is no tool named 'list_pipelines' right now: server 'opsdeck' is reconnecting \
             (attempt 3: the server closed the connection); its tools are not available right now \
             — try again in 3.2 s. Available now: none"
        );
    }

    #[test]
    fn with_every_server_ready_the_message_lists_the_tools() {
        let text = missing_tool("nope", &[], &["a", "b"]);
        assert_eq!(text, "there is no tool named 'nope'; available: a, b");
        let ready = ConnectionState::Ready { tools: 2 };
        assert!(describe("s", &ready, &Outage::default(), Instant::now()).is_none());
    }

    #[test]
    fn a_first_connection_and_a_retry_under_way_are_told_apart() {
        let now = Instant::now();
        let first = describe("s", &ConnectionState::Connecting, &Outage::default(), now).unwrap();
        assert_eq!(first.clause, "server 's' is still connecting");
        let retrying = Outage {
            attempt: 2,
            error: Some("did not answer initialize within 10 s".into()),
            until: Some(now + Duration::from_secs(10)),
        };
        let again = describe("s", &ConnectionState::Connecting, &retrying, now).unwrap();
        assert!(
            again.clause.contains("attempt 3 under way")
                && again
                    .clause
                    .contains("did not answer initialize within 10 s"),
            "{}",
            again.clause
        );
        assert_eq!(again.retry_in, Some(Duration::from_secs(10)));
    }

    #[test]
    fn several_servers_down_are_all_named_and_the_longest_wait_given() {
        let down = [
            Down {
                server: "a".into(),
                clause: "server 'a' is still connecting".into(),
                retry_in: Some(Duration::from_secs(2)),
            },
            Down {
                server: "b".into(),
                clause: "server 'b' is stopped".into(),
                retry_in: None,
            },
        ];
        let text = unavailable(&down);
        assert!(text.contains("'a'") && text.contains("'b'") && text.contains("their tools"));
        assert!(text.ends_with("try again in 2 s"), "{text}");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(seconds(Duration::from_millis(1_500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(250)), "250 ms");
        assert_eq!(seconds(Duration::from_millis(12_300)), "13 s");
    }

    #[test]
    fn a_huge_name_or_error_is_clipped() {
        let text = missing_tool(&"x".repeat(100_000), &[], &[]);
        assert!(text.len() < 400, "{}", text.len());
        assert!(clip(&"e".repeat(10_000)).chars().count() <= 301);
    }
}
