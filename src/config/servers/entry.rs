//! Reading one `mcpServers` entry. Keys are matched without regard to case, `_`,
//! `-` or spaces (`readOnly`, `read_only`, `read-only`, `READONLY` are one key),
//! so the spellings users type all work. A key that looks like a safety key but
//! is not one, a safety key of the wrong type, or one given twice is an error:
//! running a server without the restriction its owner meant is the one mistake
//! a config reader must not make quietly. Other unknown keys are warnings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::ConfigError;

/// The keys opsdeck reads in a server entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Key {
    Type,
    Command,
    Args,
    Env,
    Cwd,
    Url,
    Headers,
    /// The OAuth scope of a token the console gets for an HTTP server.
    TokenScope,
    Trusted,
    ReadOnly,
    AllowedTools,
    DeniedTools,
    TimeoutSeconds,
    InitTimeoutSeconds,
    PassEnv,
    /// Tools of an untrusted server the operator allows without asking.
    AlwaysAllow,
    Disabled,
    Enabled,
    /// Descriptions and comments other clients keep in the entry; read by no one.
    Note,
}

impl Key {
    /// The spelling the README documents.
    pub fn documented(self) -> &'static str {
        match self {
            Key::Type => "type",
            Key::Command => "command",
            Key::Args => "args",
            Key::Env => "env",
            Key::Cwd => "cwd",
            Key::Url => "url",
            Key::Headers => "headers",
            Key::TokenScope => "tokenScope",
            Key::Trusted => "trusted",
            Key::ReadOnly => "readOnly",
            Key::AllowedTools => "allowedTools",
            Key::DeniedTools => "deniedTools",
            Key::TimeoutSeconds => "timeoutSeconds",
            Key::InitTimeoutSeconds => "initTimeoutSeconds",
            Key::PassEnv => "passEnv",
            Key::AlwaysAllow => "alwaysAllow",
            Key::Disabled => "disabled",
            Key::Enabled => "enabled",
            Key::Note => "description",
        }
    }

    /// Keys whose absence or misreading changes what a server may do.
    fn is_safety(self) -> bool {
        matches!(
            self,
            Key::Trusted | Key::ReadOnly | Key::AllowedTools | Key::DeniedTools
        )
    }
}

/// Normalised spellings (see [`normalise`]). Aliases only ever restrict more or
/// name the same thing: a deny-list under another client's name is still a deny-list.
const SPELLINGS: &[(&str, Key)] = &[
    ("type", Key::Type),
    ("transport", Key::Type),
    ("transporttype", Key::Type),
    ("command", Key::Command),
    ("args", Key::Args),
    ("arguments", Key::Args),
    ("env", Key::Env),
    ("environment", Key::Env),
    ("cwd", Key::Cwd),
    ("workingdirectory", Key::Cwd),
    ("url", Key::Url),
    ("serverurl", Key::Url),
    ("headers", Key::Headers),
    ("tokenscope", Key::TokenScope),
    ("oauthscope", Key::TokenScope),
    ("authscope", Key::TokenScope),
    ("trusted", Key::Trusted),
    ("readonly", Key::ReadOnly),
    ("allowedtools", Key::AllowedTools),
    ("allowtools", Key::AllowedTools),
    ("includetools", Key::AllowedTools),
    ("includedtools", Key::AllowedTools),
    ("enabledtools", Key::AllowedTools),
    ("deniedtools", Key::DeniedTools),
    ("denytools", Key::DeniedTools),
    ("disabledtools", Key::DeniedTools),
    ("excludetools", Key::DeniedTools),
    ("excludedtools", Key::DeniedTools),
    ("blockedtools", Key::DeniedTools),
    ("timeoutseconds", Key::TimeoutSeconds),
    ("timeoutsecs", Key::TimeoutSeconds),
    ("timeoutsec", Key::TimeoutSeconds),
    ("tooltimeoutseconds", Key::TimeoutSeconds),
    ("tooltimeoutsec", Key::TimeoutSeconds),
    ("calltimeoutseconds", Key::TimeoutSeconds),
    ("inittimeoutseconds", Key::InitTimeoutSeconds),
    ("inittimeoutsec", Key::InitTimeoutSeconds),
    ("startuptimeoutseconds", Key::InitTimeoutSeconds),
    ("startuptimeoutsec", Key::InitTimeoutSeconds),
    ("handshaketimeoutseconds", Key::InitTimeoutSeconds),
    ("passenv", Key::PassEnv),
    ("alwaysallow", Key::AlwaysAllow),
    ("envpassthrough", Key::PassEnv),
    ("disabled", Key::Disabled),
    ("enabled", Key::Enabled),
    ("description", Key::Note),
    ("title", Key::Note),
    ("name", Key::Note),
    ("comment", Key::Note),
];

/// Keys other clients use, and what opsdeck says about them.
const FOREIGN: &[(&str, &str)] = &[
    (
        "timeout",
        "ignored; did you mean timeoutSeconds? (opsdeck's timeouts are in seconds)",
    ),
    (
        "timeoutms",
        "ignored; did you mean timeoutSeconds? (opsdeck's timeouts are in seconds)",
    ),
    (
        "envfile",
        "ignored: opsdeck reads no env files; give values in env, or name variables in passEnv",
    ),
    (
        "autoapprove",
        "ignored: to run an untrusted server's tool without asking, name it in alwaysAllow",
    ),
];

/// Fragments that mean the author was reaching for a safety key.
const SAFETY_STEMS: &[(&str, Key)] = &[
    ("readonly", Key::ReadOnly),
    ("write", Key::ReadOnly),
    ("writable", Key::ReadOnly),
    ("trust", Key::Trusted),
    ("allowedtool", Key::AllowedTools),
    ("allowtool", Key::AllowedTools),
    ("toolallow", Key::AllowedTools),
    ("deniedtool", Key::DeniedTools),
    ("denytool", Key::DeniedTools),
    ("tooldeny", Key::DeniedTools),
    ("blocktool", Key::DeniedTools),
];

/// Lower case, letters and digits only: `read_only`, `Read-Only` → `readonly`.
pub(super) fn normalise(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub(super) fn known(normalised: &str) -> Option<Key> {
    SPELLINGS
        .iter()
        .find(|(spelling, _)| *spelling == normalised)
        .map(|(_, key)| *key)
}

/// The safety key an unknown key seems to mean, if any.
pub(super) fn meant_safety_key(normalised: &str) -> Option<Key> {
    if normalised == "ro" {
        return Some(Key::ReadOnly);
    }
    if let Some((_, key)) = SAFETY_STEMS.iter().find(|(s, _)| normalised.contains(s)) {
        return Some(*key);
    }
    nearest(normalised).filter(|key| key.is_safety())
}

/// The known key within two edits of `normalised`, for "did you mean" hints.
fn nearest(normalised: &str) -> Option<Key> {
    if normalised.len() < 4 || normalised.len() > 64 {
        return None;
    }
    SPELLINGS
        .iter()
        .map(|(spelling, key)| (edit_distance(normalised, spelling), *key))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, key)| key)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// A key or value as quoted in a message: at most 60 characters.
pub(super) fn quoted(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("'{}…'", &text[..cut]),
        None => format!("'{text}'"),
    }
}

fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// One server entry, read.
#[derive(Debug, Default)]
pub(super) struct Entry {
    pub kind: Option<String>,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub url: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub token_scope: Option<String>,
    pub trusted: bool,
    pub read_only: bool,
    pub allowed_tools: Option<Vec<String>>,
    pub denied_tools: Vec<String>,
    pub timeout_seconds: Option<u64>,
    pub init_timeout_seconds: Option<u64>,
    pub pass_env: Vec<String>,
    pub always_allow: Vec<String>,
    pub disabled: bool,
}

/// Reads an entry's members (in file order, duplicates kept); `where_` names the
/// file and server in every message. Warnings are appended to `warnings`.
pub(super) fn read(
    members: Vec<(String, Value)>,
    where_: &str,
    warnings: &mut Vec<String>,
) -> Result<Entry, ConfigError> {
    let error = |message: String| ConfigError(format!("{where_}: {message}"));
    let mut seen: BTreeMap<Key, String> = BTreeMap::new();
    let mut entry = Entry::default();
    let mut enabled: Option<bool> = None;
    for (raw, value) in members {
        let normalised = normalise(&raw);
        // `_trusted`, `//readOnly`, `#alwaysAllow`: a key someone meant to
        // switch off. Read as the key it would be, it could make a server
        // trusted by accident; ignored, it could drop a restriction. Neither
        // is guessed.
        if raw
            .chars()
            .next()
            .is_some_and(|c| !c.is_ascii_alphanumeric())
            && let Some(key) = known(&normalised).filter(|k| *k != Key::Note)
        {
            return Err(error(format!(
                "{} looks like {} switched off by a prefix; opsdeck does not guess what was meant: delete the key, or write {} with the value you want",
                quoted(&raw),
                key.documented(),
                key.documented()
            )));
        }
        let Some(key) = known(&normalised) else {
            if let Some(meant) = meant_safety_key(&normalised) {
                return Err(error(format!(
                    "{} is not a key opsdeck knows; did you mean {}? (a server whose safety setting cannot be read is not started)",
                    quoted(&raw),
                    meant.documented()
                )));
            }
            warnings.push(format!("{where_}: {}", unknown_key_note(&raw, &normalised)));
            continue;
        };
        if key != Key::Note {
            if let Some(first) = seen.get(&key) {
                return Err(error(format!(
                    "{} is given twice ({} and {}); keep one",
                    key.documented(),
                    quoted(first),
                    quoted(&raw)
                )));
            }
            seen.insert(key, raw.clone());
        }
        let typed = Typed {
            raw: &raw,
            key,
            value: &value,
        };
        apply(&mut entry, &mut enabled, &typed).map_err(error)?;
    }
    if let Some(enabled) = enabled {
        if seen.contains_key(&Key::Disabled) && enabled == entry.disabled {
            return Err(error(
                "enabled and disabled contradict each other; keep one".into(),
            ));
        }
        entry.disabled = !enabled;
    }
    Ok(entry)
}

/// Stores one known key's value in the entry, checking its type.
fn apply(entry: &mut Entry, enabled: &mut Option<bool>, typed: &Typed) -> Result<(), String> {
    match typed.key {
        Key::Type => entry.kind = Some(typed.string()?),
        Key::Command => entry.command = Some(typed.string()?),
        Key::Args => entry.args = typed.strings()?,
        Key::Env => entry.env = typed.string_map()?,
        Key::Cwd => entry.cwd = Some(PathBuf::from(typed.string()?)),
        Key::Url => entry.url = Some(typed.string()?),
        Key::Headers => entry.headers = typed.string_map()?,
        Key::TokenScope => entry.token_scope = Some(typed.string()?),
        Key::Trusted => entry.trusted = typed.boolean()?,
        Key::ReadOnly => entry.read_only = typed.boolean()?,
        Key::AllowedTools => entry.allowed_tools = Some(typed.strings()?),
        Key::DeniedTools => entry.denied_tools = typed.strings()?,
        Key::TimeoutSeconds => entry.timeout_seconds = Some(typed.seconds()?),
        Key::InitTimeoutSeconds => entry.init_timeout_seconds = Some(typed.seconds()?),
        Key::PassEnv => entry.pass_env = typed.strings()?,
        Key::AlwaysAllow => entry.always_allow = typed.strings()?,
        Key::Disabled => entry.disabled = typed.boolean()?,
        Key::Enabled => *enabled = Some(typed.boolean()?),
        Key::Note => {}
    }
    Ok(())
}

fn unknown_key_note(raw: &str, normalised: &str) -> String {
    if let Some((_, note)) = FOREIGN.iter().find(|(k, _)| *k == normalised) {
        return format!("{} {note}", quoted(raw));
    }
    match nearest(normalised) {
        Some(key) => format!(
            "{} is not a key opsdeck knows and was ignored; did you mean {}?",
            quoted(raw),
            key.documented()
        ),
        None => format!("{} is not a key opsdeck knows and was ignored", quoted(raw)),
    }
}

/// A value checked against the type its key needs.
struct Typed<'a> {
    raw: &'a str,
    key: Key,
    value: &'a Value,
}

impl Typed<'_> {
    fn wrong(&self, expected: &str) -> String {
        let role = if self.key.is_safety() {
            " (a safety key: opsdeck will not guess what was meant)"
        } else {
            ""
        };
        format!(
            "{} must be {expected}, not {}{role}",
            quoted(self.raw),
            shown(self.value)
        )
    }

    fn boolean(&self) -> Result<bool, String> {
        self.value
            .as_bool()
            .ok_or_else(|| self.wrong("true or false"))
    }

    fn string(&self) -> Result<String, String> {
        self.value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.wrong("a string"))
    }

    fn strings(&self) -> Result<Vec<String>, String> {
        let wrong = || self.wrong("a list of strings");
        self.value
            .as_array()
            .ok_or_else(wrong)?
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(wrong))
            .collect()
    }

    fn string_map(&self) -> Result<BTreeMap<String, String>, String> {
        let wrong = || self.wrong("an object of string values");
        self.value
            .as_object()
            .ok_or_else(wrong)?
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_str().ok_or_else(wrong)?.to_string())))
            .collect()
    }

    fn seconds(&self) -> Result<u64, String> {
        self.value
            .as_u64()
            .ok_or_else(|| self.wrong("a whole number of seconds"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn members(value: Value) -> Vec<(String, Value)> {
        value.as_object().unwrap().clone().into_iter().collect()
    }

    fn read_ok(value: Value) -> (Entry, Vec<String>) {
        let mut warnings = Vec::new();
        let entry = read(members(value), "f: server 'a'", &mut warnings).unwrap();
        (entry, warnings)
    }

    fn read_err(value: Value) -> String {
        read(members(value), "f: server 'a'", &mut Vec::new())
            .unwrap_err()
            .0
    }

    #[test]
    fn every_spelling_of_read_only_makes_the_server_read_only() {
        for key in [
            "readOnly",
            "readonly",
            "read_only",
            "read-only",
            "ReadOnly",
            "READ_ONLY",
            "read only",
        ] {
            let (entry, warnings) = read_ok(json!({"command": "x", key: true}));
            assert!(entry.read_only, "{key}");
            assert!(warnings.is_empty(), "{key}: {warnings:?}");
        }
    }

    #[test]
    fn safety_keys_in_other_spellings_are_read() {
        let (entry, _) = read_ok(json!({
            "command": "x", "Trusted": true, "allowed_tools": ["a"], "denied-tools": ["b"],
            "timeout_seconds": 5, "init_timeout_seconds": 2, "pass_env": ["X_*"]
        }));
        assert!(entry.trusted);
        assert_eq!(entry.allowed_tools, Some(vec!["a".to_string()]));
        assert_eq!(entry.denied_tools, vec!["b".to_string()]);
        assert_eq!(
            (entry.timeout_seconds, entry.init_timeout_seconds),
            (Some(5), Some(2))
        );
        assert_eq!(entry.pass_env, vec!["X_*".to_string()]);
        let (entry, _) = read_ok(json!({"command": "x", "disabledTools": ["wipe"]}));
        assert_eq!(entry.denied_tools, vec!["wipe".to_string()]);
    }

    #[test]
    fn a_safety_key_of_the_wrong_type_is_an_error_naming_server_and_key() {
        for (key, value) in [
            ("readOnly", json!("yes")),
            ("read_only", json!(1)),
            ("trusted", json!("true")),
            ("readOnly", Value::Null),
            ("allowedTools", json!("list_runs")),
            ("deniedTools", json!(["ok", 3])),
        ] {
            let err = read_err(json!({"command": "x", key: value}));
            assert!(
                err.contains("server 'a'") && err.contains(key) && err.contains("safety"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_near_miss_of_a_safety_key_is_refused_with_a_hint() {
        for (key, meant) in [
            ("readOnlyy", "readOnly"),
            ("raedOnly", "readOnly"),
            ("isReadOnly", "readOnly"),
            ("writable", "readOnly"),
            ("ro", "readOnly"),
            ("trustedServer", "trusted"),
            ("untrusted", "trusted"),
            ("alowedTools", "allowedTools"),
            ("toolAllowlist", "allowedTools"),
            ("deniedTool", "deniedTools"),
        ] {
            let err = read_err(json!({"command": "x", key: true}));
            assert!(
                err.contains(&format!("did you mean {meant}?")) && err.contains("server 'a'"),
                "{key}: {err}"
            );
        }
    }

    #[test]
    fn the_same_key_twice_is_an_error() {
        let err = read_err(json!({"command": "x", "readOnly": true, "read_only": false}));
        assert!(err.contains("readOnly is given twice"), "{err}");
        let mut warnings = Vec::new();
        let twice = vec![
            ("command".to_string(), json!("x")),
            ("readOnly".to_string(), json!(true)),
            ("readOnly".to_string(), json!(false)),
        ];
        let err = read(twice, "f: server 'a'", &mut warnings).unwrap_err();
        assert!(err.0.contains("given twice"), "{err}");
    }

    #[test]
    fn other_unknown_keys_are_warnings_with_hints() {
        let (_, warnings) = read_ok(json!({
            "command": "x", "comand": "y", "timeout": 30, "colour": "blue", "autoApprove": ["t"],
            "description": "a note"
        }));
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        let all = warnings.join("\n");
        assert!(
            all.contains("'comand'") && all.contains("did you mean command?"),
            "{all}"
        );
        assert!(all.contains("did you mean timeoutSeconds?"), "{all}");
        assert!(all.contains("'colour' is not a key opsdeck knows"), "{all}");
        assert!(all.contains("'autoApprove' ignored"), "{all}");
        assert!(warnings.iter().all(|w| w.starts_with("f: server 'a': ")));
    }

    #[test]
    fn enabled_false_disables_and_contradictions_are_refused() {
        assert!(
            read_ok(json!({"command": "x", "enabled": false}))
                .0
                .disabled
        );
        assert!(!read_ok(json!({"command": "x", "enabled": true})).0.disabled);
        let err = read_err(json!({"command": "x", "enabled": true, "disabled": true}));
        assert!(err.contains("contradict"), "{err}");
    }

    #[test]
    fn long_keys_and_values_are_clipped_in_messages() {
        let key = "k".repeat(10_000);
        let (_, warnings) = read_ok(json!({"command": "x", key: 1}));
        assert!(warnings[0].len() < 200, "{}", warnings[0]);
        let err = read_err(json!({"command": "x", "readOnly": "y".repeat(10_000)}));
        assert!(err.len() < 300, "{err}");
    }

    #[test]
    fn a_key_switched_off_by_a_prefix_is_refused_not_read() {
        for key in [
            "_trusted",
            "//trusted",
            "#alwaysAllow",
            "!readOnly",
            "-deniedTools",
        ] {
            let err = read_err(json!({"command": "x", key: true}));
            assert!(err.contains("switched off"), "{key}: {err}");
        }
        let (_, warnings) = read_ok(json!({"command": "x", "//": "a comment"}));
        assert!(warnings.iter().all(|w| !w.contains("switched off")));
    }
}
