//! A factory's catalogue when some kinds of definition could not be read:
//! what each gap is called, why it is there in few words, and whether it
//! will still be there in five minutes (worth caching) or may clear at once.

use crate::backends::http::RestError;
use crate::model::estate::UnreadableDefinitions;

/// Longest service message quoted in a gap.
const MAX_QUOTED_CHARS: usize = 240;

/// The gap for a kind of definition the factory would not list.
pub fn unreadable(what: &str, error: &RestError) -> UnreadableDefinitions {
    UnreadableDefinitions {
        what: what.to_string(),
        why: reason(error),
    }
}

/// A refusal or an absence lasts; a timeout or a 503 may be gone on the next call.
pub fn is_lasting(error: &RestError) -> bool {
    matches!(error.status(), Some(403 | 404))
}

/// The error in a few words, with the missing permission when ARM names it.
fn reason(error: &RestError) -> String {
    match error {
        RestError::Status {
            status: 403,
            code,
            message,
            ..
        } => match missing_permission(message) {
            Some(action) => format!("403 Forbidden: the identity lacks {action}"),
            None => format!("403 Forbidden ({code}): {}", clip(message)),
        },
        RestError::Status {
            status,
            code,
            message,
            ..
        } => format!("{status} {code}: {}", clip(message)),
        RestError::Transport { message, .. } => format!("unreachable: {}", clip(message)),
        RestError::SignIn(message) => format!("sign-in failed: {}", clip(message)),
        RestError::Unreadable(message) => format!("unexpected answer: {}", clip(message)),
    }
}

/// The action in ARM's `AuthorizationFailed` message: "… does not have
/// authorization to perform action 'Microsoft.DataFactory/factories/linkedservices/read' over scope …".
fn missing_permission(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("perform action '")?;
    let (action, _) = rest.split_once('\'')?;
    let plausible = !action.is_empty()
        && action.len() <= 200
        && action
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '*'));
    plausible.then_some(action)
}

fn clip(text: &str) -> String {
    crate::support::text::clip(text, MAX_QUOTED_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, code: &str, message: &str) -> RestError {
        RestError::Status {
            service: "Azure",
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn a_403_names_the_permission_the_identity_lacks() {
        let denied = status(
            403,
            "AuthorizationFailed",
            "The client 'c0ffee' with object id 'c0ffee' does not have authorization to perform action 'Microsoft.DataFactory/factories/linkedservices/read' over scope '/subscriptions/x' or the scope is invalid.",
        );
        let gap = unreadable("linked services", &denied);
        assert_eq!(gap.what, "linked services");
        assert_eq!(
            gap.why,
            "403 Forbidden: the identity lacks Microsoft.DataFactory/factories/linkedservices/read"
        );
        assert!(is_lasting(&denied));
    }

    #[test]
    fn other_failures_are_said_briefly_and_may_clear() {
        let odd = status(403, "Forbidden", &"x".repeat(1_000));
        assert!(reason(&odd).starts_with("403 Forbidden (Forbidden): xxx"));
        assert!(
            reason(&odd).chars().count() < 300,
            "long messages are clipped"
        );
        let down = status(503, "ServiceUnavailable", "try later");
        assert_eq!(reason(&down), "503 ServiceUnavailable: try later");
        assert!(!is_lasting(&down));
        let timeout = RestError::Transport {
            service: "Azure",
            message: "timed out".into(),
            maybe_sent: true,
        };
        assert_eq!(reason(&timeout), "unreachable: timed out");
        assert!(!is_lasting(&timeout));
        assert_eq!(missing_permission("perform action 'a b'"), None);
    }
}
