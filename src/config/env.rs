//! The one way opsdeck reads environment variables for its backends: through a
//! lookup function, so tests hand in a map instead of touching the process.

/// Reads one variable (the process environment, or a test's map).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A variable's value, trimmed; unset and blank are the same.
pub fn env_value(lookup: Lookup, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}
