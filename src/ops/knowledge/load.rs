//! Reading and checking the knowledge files: every problem is named by file
//! and entry, so a broken edit says exactly what to fix.

use std::collections::HashMap;

use super::entry::{Entry, KnowledgeFile};

/// Bounds on what one entry may hold: the matcher runs on every failed
/// activity, so a runaway entry must not make that slow.
const MAX_NEEDLES_PER_ENTRY: usize = 64;
const MAX_NEEDLE_CHARS: usize = 300;
const MAX_FIX_STEPS: usize = 3;

/// What is wrong with a knowledge file, naming the file and the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub entry: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.entry {
            Some(id) => write!(f, "knowledge/{}: entry {id}: {}", self.file, self.problem),
            None => write!(f, "knowledge/{}: {}", self.file, self.problem),
        }
    }
}

/// Parses and checks every file; all problems are returned, not just the first.
pub fn load(files: &[(&str, &str)]) -> Result<Vec<(String, Entry)>, Vec<LoadError>> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (file, text) in files {
        let parsed: KnowledgeFile = match toml::from_str(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                errors.push(LoadError {
                    file: file.to_string(),
                    entry: None,
                    problem: format!("not a valid knowledge file: {e}"),
                });
                continue;
            }
        };
        if parsed.entry.is_empty() {
            errors.push(LoadError {
                file: file.to_string(),
                entry: None,
                problem: "has no [[entry]] tables".into(),
            });
        }
        for entry in parsed.entry {
            let problems = check(&entry);
            if let Some(first) = seen.insert(entry.id.clone(), file.to_string()) {
                errors.push(LoadError {
                    file: file.to_string(),
                    entry: Some(entry.id.clone()),
                    problem: format!("id already used in knowledge/{first}; ids must be unique"),
                });
            }
            errors.extend(problems.into_iter().map(|problem| LoadError {
                file: file.to_string(),
                entry: Some(entry.id.clone()),
                problem,
            }));
            entries.push((file.to_string(), entry));
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// Everything wrong with one entry on its own.
fn check(entry: &Entry) -> Vec<String> {
    let mut problems = Vec::new();
    let id_ok = !entry.id.is_empty()
        && entry
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !id_ok {
        problems.push("id must be lower-case letters, digits, '.', '_' or '-'".into());
    }
    for (field, value) in [
        ("title", &entry.title),
        ("cause", &entry.cause),
        ("source.title", &entry.source.title),
    ] {
        if value.trim().is_empty() {
            problems.push(format!("{field} is empty"));
        }
    }
    if !entry.source.url.starts_with("https://") || entry.source.url.contains(char::is_whitespace) {
        problems.push(format!(
            "source.url {:?} must be an https:// address of the vendor's page",
            entry.source.url
        ));
    }
    if entry.fix.is_empty() || entry.fix.len() > MAX_FIX_STEPS {
        problems.push(format!(
            "fix has {} steps; give 1 to {MAX_FIX_STEPS}",
            entry.fix.len()
        ));
    }
    if entry.fix.iter().any(|step| step.trim().is_empty()) {
        problems.push("a fix step is empty".into());
    }
    let needles = entry.codes.len() + entry.phrases.len() + entry.patterns.len();
    if needles == 0 {
        problems.push("has no codes, phrases or patterns to recognise it by".into());
    }
    if needles > MAX_NEEDLES_PER_ENTRY {
        problems.push(format!(
            "has {needles} codes/phrases/patterns; at most {MAX_NEEDLES_PER_ENTRY}"
        ));
    }
    for needle in entry
        .codes
        .iter()
        .chain(&entry.phrases)
        .chain(&entry.patterns)
    {
        if needle.trim().chars().count() < 3 || needle.chars().count() > MAX_NEEDLE_CHARS {
            problems.push(format!(
                "{needle:?} must be 3 to {MAX_NEEDLE_CHARS} characters: shorter matches too much"
            ));
        }
    }
    for code in &entry.codes {
        if code.contains(char::is_whitespace) {
            problems.push(format!(
                "code {code:?} contains spaces; put wording in phrases"
            ));
        }
    }
    for pattern in &entry.patterns {
        if let Err(e) = regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
        {
            problems.push(format!("pattern {pattern:?} is not a valid regex: {e}"));
        }
    }
    if entry.examples.is_empty() {
        problems.push("has no examples; add a real message that must classify to it".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[entry]]
id = "x.one"
title = "One"
category = "timeout"
phrases = ["took too long"]
cause = "It took too long."
fix = ["Wait less."]
source = { title = "Doc", url = "https://example.com/doc" }
examples = ["the call took too long"]
"#;

    #[test]
    fn a_good_file_loads() {
        let entries = load(&[("x.toml", GOOD)]).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].1.id, "x.one");
    }

    #[test]
    fn problems_name_the_file_and_the_entry() {
        let bad = GOOD
            .replace("https://example.com/doc", "http://example.com/doc")
            .replace("\"timeout\"", "\"timeout\"\npatterns = [\"(unclosed\"]");
        let errors = load(&[("bad.toml", &bad)]).unwrap_err();
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("knowledge/bad.toml: entry x.one") && t.contains("https"))
        );
        assert!(text.iter().any(|t| t.contains("not a valid regex")));
    }

    #[test]
    fn duplicate_ids_and_unknown_categories_are_refused() {
        let errors = load(&[("a.toml", GOOD), ("b.toml", GOOD)]).unwrap_err();
        assert!(
            errors[0]
                .to_string()
                .contains("already used in knowledge/a.toml")
        );
        let unknown = GOOD.replace("\"timeout\"", "\"sleepy\"");
        let errors = load(&[("c.toml", &unknown)]).unwrap_err();
        assert!(
            errors[0].to_string().contains("knowledge/c.toml"),
            "{errors:?}"
        );
        assert!(errors[0].to_string().contains("sleepy"), "{errors:?}");
    }

    #[test]
    fn an_entry_without_recognisers_or_examples_is_refused() {
        let bare = GOOD
            .replace("phrases = [\"took too long\"]\n", "")
            .replace("examples = [\"the call took too long\"]", "examples = []");
        let text = load(&[("d.toml", &bare)]).unwrap_err();
        let text: Vec<String> = text.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("no codes, phrases or patterns"))
        );
        assert!(text.iter().any(|t| t.contains("no examples")));
    }
}
