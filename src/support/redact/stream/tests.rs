//! The stream redactor: secrets split across pieces never show, what it lets
//! out is what whole-text redaction gives, and what it holds stays bounded.

use super::*;

/// Everything the redactor lets out for these pieces, then at the end.
fn streamed(pieces: &[&str]) -> String {
    let mut redactor = StreamRedactor::new();
    let mut out: String = pieces.iter().map(|p| redactor.push(p)).collect();
    out.push_str(&redactor.finish());
    out
}

/// The text cut at `at` (moved to a char boundary).
fn split_at(input: &str, at: usize) -> (&str, &str) {
    input.split_at(floor_boundary(input, at))
}

/// Texts with secrets, one or several lines, as a model might write them.
const ANSWERS: &[&str] = &[
    "the token is dapi0123456789abcdef0123456789abcdef and password=hunter2 ok\n",
    "Set DATABRICKS_TOKEN=dapi0123456789abcdef0123456789abcdef in the job.\nThen rerun.\n",
    "Use this connection string:\nServer=tcp:sql;User ID=etl;Password=Sup3r$ecret!2026;Encrypt=True\nand retry.",
    "The header was Authorization: Bearer ya29.a0AfH6SMBx3kT9opaqueTokenValue1234567890 (expired).\n",
    "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuYp2bDm0\nQWxhZGRpbjpvcGVuIHNlc2FtZQ\n-----END RSA PRIVATE KEY-----\nnext line\n",
    "The linked service has\n```json\n{\n  \"password\": {\n    \"type\": \"SecureString\",\n    \"value\": \"adfsecurestring1\"\n  }\n}\n```\n",
    "```json\n[\n  {\"name\": \"LOG_LEVEL\", \"value\": \"info\"},\n  {\n    \"name\": \"AIRFLOW_PASSWORD\",\n    \"value\": \"airflowpw123\"\n  }\n]\n```\nDone.\n",
    "env:\n  - name: DB_PASSWORD\n    value: yamlpw123\n",
    "password:\n  hunter2nextline\n",
    "**Password:** hunter2md and the SAS is https://st.blob.core.windows.net/c?sv=1&sig=QWxhZGRpbjpvcGVuIHNlc2FtZQ%3D\n",
];

/// The secrets in [`ANSWERS`]; none may appear in anything let out.
const SECRETS: &[&str] = &[
    "0123456789abcdef0123456789abcdef",
    "hunter2",
    "Sup3r$ecret",
    "opaqueTokenValue",
    "MIIEowIBAAKCAQEAuYp2bDm0",
    "QWxhZGRpbjpvcGVuIHNlc2FtZQ",
    "adfsecurestring1",
    "airflowpw123",
    "yamlpw123",
    "hunter2nextline",
    "hunter2md",
];

fn assert_clean(out: &str, context: &str) {
    for secret in SECRETS {
        assert!(!out.contains(secret), "{secret} shown ({context}): {out:?}");
    }
    assert!(
        !out.contains("]ter2"),
        "a secret's tail shown ({context}): {out:?}"
    );
}

#[test]
fn the_reviewed_split_token_and_password_are_never_shown() {
    let pieces = [
        "the token is dapi0123456789abcd",
        "ef0123456789abcdef and password=hun",
        "ter2 ok\n",
    ];
    let mut redactor = StreamRedactor::new();
    assert_eq!(redactor.push(pieces[0]), "", "an incomplete line waits");
    assert_eq!(redactor.push(pieces[1]), "");
    let line = redactor.push(pieces[2]);
    assert_eq!(
        line,
        "the token is [redacted: Databricks token] and password=[redacted: password] ok\n"
    );
    assert_eq!(redactor.finish(), "");
}

#[test]
fn any_split_into_two_or_three_pieces_shows_no_secret() {
    for answer in ANSWERS {
        let whole = text(answer).into_owned();
        assert_clean(&whole, "whole text");
        for at in 0..=answer.len() {
            let (a, b) = split_at(answer, at);
            let out = streamed(&[a, b]);
            assert_clean(&out, &format!("split at {at}"));
            assert_eq!(out, streamed(&[answer]), "split at {at} changes the output");
            for second in (at..=answer.len()).step_by(7) {
                let (b1, b2) = split_at(b, second - at);
                assert_clean(&streamed(&[a, b1, b2]), &format!("split at {at}, {second}"));
            }
        }
    }
}

#[test]
fn one_character_at_a_time_shows_no_secret() {
    for answer in ANSWERS {
        let pieces: Vec<String> = answer.chars().map(String::from).collect();
        let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let out = streamed(&pieces);
        assert_clean(&out, "char by char");
        assert_eq!(out, streamed(&[answer]));
    }
}

#[test]
fn single_line_answers_read_as_whole_text_redaction_does() {
    for answer in ANSWERS.iter().filter(|a| a.trim_end().lines().count() == 1) {
        assert_eq!(streamed(&[answer]), text(answer), "{answer}");
    }
}

#[test]
fn complete_lines_go_out_as_they_complete() {
    let mut redactor = StreamRedactor::new();
    // Plain prose flows a word at a time; the unfinished word waits.
    assert_eq!(redactor.push("hello wor"), "hello ");
    assert_eq!(redactor.push("ld\nnext"), "world\n");
    assert_eq!(redactor.push(" line\nand "), "next line\nand ");
    assert_eq!(redactor.finish(), "");
    assert!(redactor.is_idle());
}

#[test]
fn a_line_ending_in_a_separator_waits_for_its_value() {
    let mut redactor = StreamRedactor::new();
    assert_eq!(redactor.push("Here it is.\npassword:\n"), "Here it is.\n");
    let out = redactor.push("  hunter2nextline\n");
    assert!(out.starts_with("password:\n  [redacted: "), "{out:?}");
}

#[test]
fn a_private_key_body_is_dropped_as_it_arrives() {
    let mut redactor = StreamRedactor::new();
    let shown = redactor.push("key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz");
    assert_eq!(
        shown,
        "key:\n-----BEGIN OPENSSH PRIVATE KEY-----[redacted: private key]"
    );
    for _ in 0..10_000 {
        assert_eq!(redactor.push("aC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"), "");
    }
    assert!(
        redactor.pending.len() <= END_LOOKBACK,
        "the body is not kept"
    );
    assert_eq!(
        redactor.push("-----END OPENSSH PRI"),
        "",
        "an END line split across pieces is still found"
    );
    assert_eq!(
        redactor.push("VATE KEY-----\nafter\n"),
        "-----END OPENSSH PRIVATE KEY-----\nafter\n"
    );
}

#[test]
fn a_key_cut_off_by_the_end_of_the_stream_shows_no_body() {
    let out = streamed(&[
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ",
        "EFAASC",
    ]);
    assert_eq!(out, "-----BEGIN PRIVATE KEY-----[redacted: private key]");
}

#[test]
fn a_json_object_is_let_out_when_it_closes() {
    let mut redactor = StreamRedactor::new();
    let mut shown = String::new();
    for line in [
        "{\n",
        "  \"name\": \"AIRFLOW_PASSWORD\",\n",
        "  \"value\": \"airflowpw123\"\n",
    ] {
        shown.push_str(&redactor.push(line));
    }
    assert_eq!(shown, "", "an open object is held");
    shown.push_str(&redactor.push("}\n"));
    assert!(!shown.contains("airflowpw123"), "{shown}");
    assert!(shown.contains("AIRFLOW_PASSWORD"), "{shown}");
}

#[test]
fn code_braces_do_not_hold_the_answer() {
    let mut redactor = StreamRedactor::new();
    assert_eq!(redactor.push("fn main() {\n"), "", "the line may open JSON");
    assert_eq!(
        redactor.push("    let rows = 1;\n"),
        "fn main() {\n    let rows = 1;\n"
    );
    assert_eq!(redactor.push("}\n"), "}\n");
}

#[test]
fn held_text_stays_bounded_and_nothing_is_lost() {
    let mut redactor = StreamRedactor::new();
    let word = "lorem ipsum dolor ";
    let mut shown = String::new();
    let mut sent = String::new();
    for _ in 0..10_000 {
        shown.push_str(&redactor.push(word));
        sent.push_str(word);
        assert!(redactor.pending.len() <= MAX_PENDING + word.len());
    }
    shown.push_str(&redactor.finish());
    assert_eq!(shown, sent);
}

#[test]
fn a_huge_piece_is_taken_in_bounded_slices() {
    let line = "2026-11-23 INFO copied 1843 rows for ingest_web_events\n";
    let huge = line.repeat(20_000);
    let mut redactor = StreamRedactor::new();
    let out = redactor.push(&huge);
    assert!(redactor.pending.len() <= MAX_PENDING);
    assert_eq!(out + &redactor.finish(), huge);
}

#[test]
fn a_forced_cut_never_splits_a_secret() {
    // The piece after the secret makes the held text overflow, so the cut
    // point (KEEP_AFTER_CUT before the end) lands inside, before or after the
    // secret's match, whose blanks (between a name and its value, inside
    // quotes) are no place to cut.
    for secret in [
        " Authorization: Bearer hunter2forcedtoken and",
        " password = 'with hunter2forced spaces' and",
        " password=hunter2forced and",
    ] {
        for after in [
            KEEP_AFTER_CUT - secret.len(),
            KEEP_AFTER_CUT - 20,
            KEEP_AFTER_CUT,
        ] {
            let least = MAX_PENDING + 1 - secret.len() - after;
            for filler in least..least + 40 {
                let mut redactor = StreamRedactor::new();
                let mut shown = redactor.push(&"x".repeat(filler));
                shown.push_str(&redactor.push(secret));
                shown.push_str(&redactor.push(&" ".repeat(after)));
                shown.push_str(&redactor.push("more words"));
                shown.push_str(&redactor.finish());
                let case = format!("filler {filler}, after {after}: {secret}");
                assert!(!shown.contains("hunter2forced"), "{case}");
                assert!(!shown.contains("forced"), "a tail shown, {case}");
            }
        }
    }
}

#[test]
fn a_secret_longer_than_the_bound_is_not_shown_in_parts() {
    let mut redactor = StreamRedactor::new();
    let mut shown = redactor.push("Authorization: Bearer ");
    for _ in 0..3_000 {
        shown.push_str(&redactor.push("AbCdEfGh"));
        assert!(redactor.pending.len() <= 2 * MAX_PENDING);
    }
    shown.push_str(&redactor.push(" and then the answer goes on\n"));
    shown.push_str(&redactor.finish());
    assert!(
        !shown.contains("AbCdEfGh"),
        "{}",
        &shown[..shown.len().min(200)]
    );
    assert!(shown.contains("[redacted: bearer token]"), "{shown}");
    assert!(shown.ends_with(" and then the answer goes on\n"), "{shown}");
}

#[test]
fn multibyte_text_is_never_cut_inside_a_character() {
    let line = "日本語のテキスト — naïve ✓ ";
    let mut redactor = StreamRedactor::new();
    let mut shown = String::new();
    for _ in 0..2_000 {
        shown.push_str(&redactor.push(line));
    }
    shown.push_str(&redactor.finish());
    assert_eq!(shown, line.repeat(2_000));
}
