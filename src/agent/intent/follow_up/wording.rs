//! How a question's wording says it refers back. A pronoun alone is not
//! enough: "is there anything failing?", "list them", "everything that
//! failed" use `there`, `them` and `that` without pointing at anything said
//! before. A pronoun points back when it is the subject or object of
//! something done to a pipeline, run or secret: "rerun it", "why did it
//! fail", "its logs", "that run", "what does that break".

/// Words that make a question about everything, not the subject before.
const EVERYWHERE: &[&str] = &[
    "everything",
    "anything",
    "everywhere",
    "anywhere",
    "all",
    "every",
    "overall",
    "estate",
];

/// Words after "it" (or after "that"/"this" behind a verb) that make the
/// pronoun the subject of a question about a thing: "did it fail", "is it
/// still red", "does it depend on".
const AFTER_SUBJECT: &[&str] = &[
    "fail",
    "failed",
    "failing",
    "fails",
    "break",
    "breaks",
    "broke",
    "broken",
    "error",
    "errored",
    "succeed",
    "succeeded",
    "run",
    "ran",
    "running",
    "recover",
    "recovered",
    "work",
    "worked",
    "working",
    "depend",
    "depends",
    "use",
    "uses",
    "read",
    "reads",
    "write",
    "writes",
    "feed",
    "feeds",
    "still",
    "now",
    "ok",
    "okay",
    "fine",
    "green",
    "red",
    "down",
    "healthy",
    "back",
    "stuck",
    "late",
    "happen",
    "happened",
    "go",
    "went",
    "start",
    "started",
    "stop",
    "stopped",
    "finish",
    "finished",
    "expire",
    "expires",
    "expired",
    "again",
];

/// Words before a pronoun that make it the object of something done to a
/// subject: "rerun it", "what caused it", "downstream of it".
const ACTED_ON: &[&str] = &[
    "rerun",
    "re-run",
    "retry",
    "restart",
    "cancel",
    "triage",
    "fix",
    "explain",
    "check",
    "investigate",
    "caused",
    "cause",
    "about",
    "of",
    "for",
    "on",
    "from",
    "to",
    "with",
    "behind",
    "into",
];

/// Auxiliaries that put "that"/"this" in a subject's place: "why did that
/// fail", "is this still failing". (For "it" they prove nothing: "is it just
/// me, or is everything failing?")
const AUXILIARIES: &[&str] = &[
    "did", "does", "do", "is", "was", "will", "would", "can", "could", "has", "had",
];

/// What "that"/"this"/"those" point at: "that run", "those pipelines".
const POINTED_AT: &[&str] = &[
    "run",
    "runs",
    "pipeline",
    "pipelines",
    "job",
    "jobs",
    "dag",
    "secret",
    "one",
    "failure",
    "failures",
    "error",
    "incident",
    "task",
    "activity",
    "plan",
    "change",
    "deployment",
    "notebook",
    "workflow",
    "credential",
];

/// Times "this" names without pointing back: "this morning".
const TIMES: &[&str] = &[
    "morning",
    "afternoon",
    "evening",
    "night",
    "week",
    "weekend",
    "month",
    "year",
    "hour",
    "time",
    "quarter",
];

/// What a follow-up with no subject of its own reads as a question about
/// downstream: "and downstream?", "what is the blast radius".
const DOWNSTREAM: &[&str] = &[
    "downstream",
    "blast radius",
    "impact",
    "affect",
    "depend",
    "knock-on",
    "knock on",
];

/// The question's words, lower-case; `what's` gives `what` and `s`.
pub fn words_of(question: &str) -> Vec<String> {
    question
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn among(word: Option<&String>, list: &[&str]) -> bool {
    word.is_some_and(|w| list.contains(&w.as_str()))
}

/// Whether a pronoun in the question points at something said before.
pub fn points_back(words: &[String]) -> bool {
    (0..words.len()).any(|i| {
        let before = i.checked_sub(1).and_then(|b| words.get(b));
        let after = words.get(i + 1);
        match words[i].as_str() {
            "its" => true,
            "it" => after.is_none() || among(after, AFTER_SUBJECT) || among(before, ACTED_ON),
            "that" | "this" => {
                !among(after, TIMES)
                    && (after.is_none()
                        || among(after, POINTED_AT)
                        || among(before, ACTED_ON)
                        || among(before, AUXILIARIES))
            }
            "them" | "those" | "these" => among(before, ACTED_ON) || among(after, POINTED_AT),
            _ => false,
        }
    })
}

/// Whether the question is about everything ("is anything failing?").
pub fn about_everything(words: &[String]) -> bool {
    words.iter().any(|w| EVERYWHERE.contains(&w.as_str()))
}

/// "and …?", "also …", "what about …?", "how about …?", "same for …":
/// carrying on from the last question.
pub fn carries_on(words: &[String]) -> bool {
    let first = words.first().map(String::as_str);
    let second = words.get(1).map(String::as_str);
    matches!(first, Some("and" | "also"))
        || (matches!(first, Some("what" | "how")) && second == Some("about"))
        || words.iter().any(|w| w == "same")
}

/// Whether the question asks what depends on its subject. "break" counts
/// only as "what does … break", "what else breaks": "why did it break?" asks
/// for a cause.
pub fn asks_downstream(question: &str, words: &[String]) -> bool {
    let lower = question.to_lowercase();
    if DOWNSTREAM.iter().any(|w| lower.contains(w)) {
        return true;
    }
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    has(&["break", "breaks", "breaking"])
        && !has(&["why"])
        && has(&["what", "which", "else", "anything", "who"])
}
