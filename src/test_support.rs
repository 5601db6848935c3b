//! Helpers shared by the unit tests of several modules.

use std::collections::HashMap;

/// An environment lookup that knows only `pairs` (for code that reads variables
/// through an injected `Fn(&str) -> Option<String>`).
pub fn fake_env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}
