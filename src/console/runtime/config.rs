//! `config.toml`: the console's settings. Every field is optional; keys named
//! under `[keys.SCOPE]` replace only those bindings.
//!
//! ```toml
//! refresh_seconds = 10          # board refresh interval
//! follow_seconds = 10           # how often a run opsdeck started is looked at
//! follow_hours = 12             # stop following a run still going after this
//! notifications = ["bell", "osc9", "osc777"]   # [] for none
//! mouse = false
//! color = true                  # false = monochrome (NO_COLOR also works)
//! [webhook]                     # each notification also POSTed here (optional)
//! kind = "teams"                # "teams", "slack" or "json"
//! url_env = "OPSDECK_WEBHOOK_URL"   # the variable holding the URL (never the file)
//! [keys.board]
//! triage = "t"
//! next_failed = "n, ctrl-n"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::console::app::keymap::{Keymap, Scope};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Notification {
    /// The terminal bell (BEL).
    Bell,
    /// OSC 9 desktop notification (iTerm2, Windows Terminal, kitty, WezTerm, foot).
    Osc9,
    /// OSC 777 desktop notification (rxvt-unicode, VTE terminals such as GNOME Terminal).
    Osc777,
}

/// The payload shape a webhook expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// A Microsoft Teams incoming webhook (or a Workflows one): an Adaptive Card.
    Teams,
    /// A Slack incoming webhook: `{"text": …}`.
    Slack,
    /// Any URL taking JSON: `{"source","title","body","at"}`.
    Json,
}

/// `[webhook]`: where to send notifications besides the terminal. The URL
/// carries its secret (Slack's and Teams' URLs are the credential), so it is
/// only ever read from the environment variable named here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub kind: WebhookKind,
    pub url_env: String,
}

/// The variable read when `url_env` is not given.
pub const DEFAULT_WEBHOOK_ENV: &str = "OPSDECK_WEBHOOK_URL";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookFile {
    kind: WebhookKind,
    url_env: Option<String>,
    /// Accepted only to be refused with advice, not "unknown field".
    url: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    refresh_seconds: Option<u64>,
    follow_seconds: Option<u64>,
    follow_hours: Option<u64>,
    notifications: Option<Vec<Notification>>,
    mouse: Option<bool>,
    color: Option<bool>,
    webhook: Option<WebhookFile>,
    #[serde(default)]
    keys: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub refresh: Duration,
    /// How runs opsdeck started are followed.
    pub follow: super::follower::FollowPace,
    pub notifications: Vec<Notification>,
    pub mouse: bool,
    pub color: bool,
    pub keymap: Keymap,
    pub webhook: Option<WebhookSettings>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            refresh: Duration::from_secs(10),
            follow: super::follower::FollowPace::default(),
            notifications: vec![Notification::Bell, Notification::Osc9, Notification::Osc777],
            mouse: false,
            color: true,
            keymap: Keymap::default(),
            webhook: None,
        }
    }
}

/// `$XDG_CONFIG_HOME/opsdeck/config.toml`, else `~/.config/opsdeck/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    crate::config::servers::default_path().map(|p| p.with_file_name("config.toml"))
}

/// The explicit file (which must exist), else the default file when it exists, else defaults.
pub fn load(explicit: Option<&Path>) -> Result<ConsoleConfig, String> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => match default_path().filter(|p| p.exists()) {
            Some(path) => path,
            None => return Ok(ConsoleConfig::default()),
        },
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read console config {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<ConsoleConfig, String> {
    let file: ConfigFile = toml::from_str(text).map_err(|e| format!("not a valid config: {e}"))?;
    let mut config = ConsoleConfig::default();
    if let Some(seconds) = file.refresh_seconds {
        if seconds == 0 || seconds > 3600 {
            return Err(format!(
                "refresh_seconds = {seconds} is out of range; use 1 to 3600"
            ));
        }
        config.refresh = Duration::from_secs(seconds);
    }
    if let Some(seconds) = file.follow_seconds {
        if seconds == 0 || seconds > 3600 {
            return Err(format!(
                "follow_seconds = {seconds} is out of range; use 1 to 3600"
            ));
        }
        config.follow.every = Duration::from_secs(seconds);
    }
    if let Some(hours) = file.follow_hours {
        if hours == 0 || hours > 168 {
            return Err(format!(
                "follow_hours = {hours} is out of range; use 1 to 168 (a week)"
            ));
        }
        config.follow.give_up_after = Duration::from_secs(hours * 3600);
    }
    if let Some(notifications) = file.notifications {
        config.notifications = notifications;
    }
    config.mouse = file.mouse.unwrap_or(false);
    config.color = file.color.unwrap_or(true);
    if let Some(webhook) = file.webhook {
        config.webhook = Some(webhook_settings(webhook)?);
    }
    for (scope_name, overrides) in &file.keys {
        let scope = Scope::from_name(scope_name).ok_or_else(|| {
            let names: Vec<&str> = Scope::ALL.iter().map(|s| s.name()).collect();
            format!(
                "[keys.{scope_name}] is not a key scope; scopes: {}",
                names.join(", ")
            )
        })?;
        let pairs: Vec<(String, String)> = overrides
            .iter()
            .map(|(action, keys)| (action.clone(), keys.replace(' ', "")))
            .collect();
        config
            .keymap
            .override_with(scope, &pairs)
            .map_err(|e| format!("[keys.{scope_name}]: {e}"))?;
    }
    Ok(config)
}

fn webhook_settings(file: WebhookFile) -> Result<WebhookSettings, String> {
    if file.url.is_some() {
        // The value is not quoted back: it is a secret that should not be in a file.
        return Err(format!(
            "[webhook] url is not read from config.toml (a webhook URL is a secret); \
             remove it, put the URL in an environment variable and name that variable \
             with url_env (default {DEFAULT_WEBHOOK_ENV})"
        ));
    }
    let url_env = file
        .url_env
        .unwrap_or_else(|| DEFAULT_WEBHOOK_ENV.to_string());
    let valid = !url_env.is_empty()
        && url_env.len() <= 64
        && !url_env.starts_with(|c: char| c.is_ascii_digit())
        && url_env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "[webhook] url_env = {:?} is not an environment variable name; \
             use letters, digits and _ (at most 64), e.g. {DEFAULT_WEBHOOK_ENV}",
            crate::support::text::clip(&crate::support::terminal::for_screen(&url_env), 64)
        ));
    }
    Ok(WebhookSettings {
        kind: file.kind,
        url_env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::app::keymap::Action;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn key_overrides_replace_only_the_named_bindings() {
        let config = parse(
            r#"
            refresh_seconds = 3
            notifications = ["bell"]
            [keys.board]
            triage = "x, ctrl-t"
            "#,
        )
        .unwrap();
        assert_eq!(config.refresh, Duration::from_secs(3));
        assert_eq!(config.notifications, vec![Notification::Bell]);
        let press = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(
            config.keymap.action(Scope::Board, &press('x')),
            Some(Action::Triage)
        );
        assert_eq!(
            config.keymap.action(Scope::Board, &press('t')),
            None,
            "t was replaced"
        );
        assert_eq!(
            config.keymap.action(Scope::Board, &press('j')),
            Some(Action::Down),
            "the rest stay"
        );
    }

    #[test]
    fn mistakes_name_the_field() {
        assert!(
            parse("refresh_seconds = 0")
                .unwrap_err()
                .contains("1 to 3600")
        );
        assert!(
            parse("[keys.boards]\ntriage = \"t\"")
                .unwrap_err()
                .contains("[keys.boards] is not a key scope")
        );
        assert!(
            parse("[keys.board]\nfly = \"f\"")
                .unwrap_err()
                .contains("'fly' is not an action")
        );
        assert!(
            parse("[keys.board]\ntriage = \"ctrl-banana\"")
                .unwrap_err()
                .contains("[keys.board]")
        );
        assert!(
            parse("colour = true")
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(
            parse("notifications = [\"email\"]")
                .unwrap_err()
                .contains("not a valid config")
        );
    }

    #[test]
    fn webhook_settings_name_a_variable_never_a_url() {
        let config = parse("[webhook]\nkind = \"slack\"\nurl_env = \"ONCALL_HOOK\"").unwrap();
        assert_eq!(
            config.webhook,
            Some(WebhookSettings {
                kind: WebhookKind::Slack,
                url_env: "ONCALL_HOOK".into()
            })
        );
        let default_env = parse("[webhook]\nkind = \"teams\"").unwrap();
        assert_eq!(default_env.webhook.unwrap().url_env, DEFAULT_WEBHOOK_ENV);
        assert_eq!(parse("").unwrap().webhook, None);
        let refused = parse("[webhook]\nkind = \"json\"\nurl = \"https://hooks.example/T0SECRET\"")
            .unwrap_err();
        assert!(refused.contains("url_env"), "{refused}");
        assert!(!refused.contains("T0SECRET"), "{refused}");
        for bad in ["", "1ABC", "MY-HOOK", "A B", &"X".repeat(65)] {
            let err = parse(&format!("[webhook]\nkind = \"json\"\nurl_env = {bad:?}")).unwrap_err();
            assert!(
                err.contains("not an environment variable name"),
                "{bad}: {err}"
            );
        }
        assert!(
            parse("[webhook]\nkind = \"email\"")
                .unwrap_err()
                .contains("not a valid config")
        );
        assert!(
            parse("[webhook]\nurl_env = \"X\"").is_err(),
            "kind is required"
        );
    }
}
