//! Secrets in JSON values: the values of keys named like secrets (a whole
//! object or array under such a key included), the value of a name/value pair
//! whose name is a secret's, and every string's text.

use serde_json::{Map, Value};

use super::{is_marker, text};

/// Keys whose values are secrets, compared without case, `_`, `-` or spaces;
/// a key that ends with one of them is one too (`db_password`, `x-functions-key`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secretvalue",
    "clientsecret",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "apikey",
    "accesskey",
    "accountkey",
    "storagekey",
    "sharedaccesskey",
    "secretaccesskey",
    "secretkey",
    "privatekey",
    "encryptionkey",
    "signingkey",
    "fernetkey",
    "masterkey",
    "functionkey",
    "functionskey",
    "subscriptionkey",
    "primarykey",
    "secondarykey",
    "connectionstring",
    "sastoken",
    "sasuri",
    "sasurl",
    "credential",
    "credentials",
    "clientassertion",
    "authorization",
    "cookie",
];

/// Secret names too short to find inside another word: they count only as the
/// key's last word (`pwd`, `db_pwd`, `userPin`, but not `spin` or `oauth`).
const SHORT_SECRET_WORDS: &[&str] = &["pwd", "pass", "pat", "sig", "pin", "auth"];

/// Keys that name the entry in a name/value pair (`{"name": "DB_PASSWORD", "value": …}`).
const PAIR_NAME_KEYS: &[&str] = &["name", "key", "variable", "var", "envvar", "parametername"];

/// Keys that hold the entry's value in such a pair.
const PAIR_VALUE_KEYS: &[&str] = &["value", "defaultvalue", "val"];

fn normalized(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The key's last word, lower-cased: after the last separator or camel-case hump.
fn last_word(key: &str) -> String {
    let mut start = 0;
    let mut previous: Option<char> = None;
    for (i, c) in key.char_indices() {
        if !c.is_alphanumeric() {
            start = i + c.len_utf8();
        } else if c.is_uppercase() && previous.is_some_and(char::is_lowercase) {
            start = i;
        }
        previous = Some(c);
    }
    key[start..].to_lowercase()
}

/// True for keys like `password`, `client_secret`, `apiKey`, `AccountKey`,
/// `x-api-key`, `db_pwd` — but not `secret_name` or `prompt_tokens` (metadata,
/// not secrets).
pub fn is_secret_key(key: &str) -> bool {
    let normal = normalized(key);
    SECRET_KEYS.iter().any(|k| normal.ends_with(k))
        || SHORT_SECRET_WORDS.contains(&last_word(key).as_str())
}

/// The entry's name when the object is a name/value pair whose name is a
/// secret's (`{"name": "DB_PASSWORD", "value": …}`), a storage account's key
/// listing (`{"keyName": "key1", "value": …}`) or a Key Vault secret bundle.
fn secret_pair_name(map: &Map<String, Value>) -> Option<&str> {
    map.iter().find_map(|(key, v)| {
        let key = normalized(key);
        match v {
            Value::String(name) if key == "keyname" => Some(name.as_str()),
            // A Key Vault secret bundle: `{"value": …, "id": "https://kv…/secrets/name/version"}`.
            Value::String(id) if key == "id" && id.contains("/secrets/") => Some(id.as_str()),
            Value::String(name)
                if PAIR_NAME_KEYS.contains(&key.as_str()) && is_secret_key(name) =>
            {
                Some(name.as_str())
            }
            _ => None,
        }
    })
}

/// A JSON value with secret-named keys' values replaced, objects and arrays
/// under them wholly, and every string's text redacted.
pub fn value(input: &Value) -> Value {
    match input {
        Value::String(s) => Value::String(text(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(value).collect()),
        Value::Object(map) => {
            let pair = secret_pair_name(map);
            Value::Object(
                map.iter()
                    .map(|(key, v)| {
                        let label = match pair {
                            Some(name) if PAIR_VALUE_KEYS.contains(&normalized(key).as_str()) => {
                                Some(name)
                            }
                            _ => is_secret_key(key).then_some(key.as_str()),
                        };
                        let clean = match label {
                            Some(label) => hidden(label, v),
                            None => value(v),
                        };
                        (key.clone(), clean)
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// A secret's value with every string and number (a numeric PIN is a secret
/// too) replaced by a marker. Objects and arrays keep their shape, so typed
/// readers of the document still parse it.
fn hidden(key: &str, input: &Value) -> Value {
    match input {
        Value::String(s) if s.is_empty() || is_marker(s) => input.clone(),
        Value::String(_) | Value::Number(_) => Value::String(format!("[redacted: value of {key}]")),
        Value::Array(items) => Value::Array(items.iter().map(|v| hidden(key, v)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), hidden(key, v)))
                .collect(),
        ),
        Value::Bool(_) | Value::Null => input.clone(),
    }
}
