use super::*;

fn cluster(template: &str, params: &[&[&str]]) -> Cluster {
    Cluster {
        id: 1,
        template: template.to_string(),
        count: 1,
        first_seen: None,
        last_seen: None,
        examples: Vec::new(),
        params: params
            .iter()
            .map(|values| values.iter().map(|v| v.to_string()).collect())
            .collect(),
    }
}

/// The template and values as shown, after redaction with the full budget.
fn shown(template: &str, params: &[&[&str]]) -> (String, Vec<Vec<String>>) {
    let mut c = cluster(template, params);
    let mut budget = CHECK_BUDGET_BYTES;
    assert_eq!(redact_cluster(&mut c, &mut budget), 0);
    assert_eq!(
        c.template.matches(WILDCARD).count(),
        c.params.len(),
        "one value list per <*> in {:?}",
        c.template
    );
    (c.template, c.params)
}

const HIDDEN: &str = REDACTED_VALUE;

#[test]
fn a_value_spelled_like_its_name_or_the_marker_is_hidden() {
    let (template, params) = shown(
        "login failed password=<*>",
        &[&["password", "letmein", "redacted"]],
    );
    assert_eq!(template, "login failed password=<*>");
    assert_eq!(params, [[HIDDEN, HIDDEN, HIDDEN]]);
}

#[test]
fn a_value_found_elsewhere_in_the_template_is_hidden() {
    let (template, params) = shown("job nightly failed secret=<*>", &[&["nightly", "s3cr3t"]]);
    assert_eq!(template, "job nightly failed secret=<*>");
    assert_eq!(params, [[HIDDEN, HIDDEN]]);
}

#[test]
fn bearer_tokens_are_hidden_and_their_slot_kept() {
    let (template, params) = shown(
        "request denied Authorization: Bearer <*>",
        &[&["abcdefghijklmnop1234", "Authorization"]],
    );
    assert_eq!(template, "request denied Authorization: Bearer <*>");
    assert_eq!(params, [[HIDDEN, HIDDEN]]);
    let (template, params) = shown("token Bearer <*> expired", &[&["qrstuvwxyz5678901234"]]);
    assert_eq!(template, "token Bearer <*> expired");
    assert_eq!(params, [[HIDDEN]]);
}

#[test]
fn harmless_values_stay_beside_secret_ones() {
    let (template, params) = shown(
        "db login user=<*> password=<*> token=<*> from <*>",
        &[
            &["alice", "password"],
            &["hunter2", "pw"],
            &["t0k3n"],
            &["10.0.0.1", "db-1"],
        ],
    );
    assert_eq!(
        template,
        "db login user=<*> password=<*> token=<*> from <*>"
    );
    assert_eq!(params[0], ["alice", "password"]);
    assert_eq!(params[1], [HIDDEN, HIDDEN]);
    assert_eq!(params[2], [HIDDEN]);
    assert_eq!(params[3], ["10.0.0.1", "db-1"]);
}

#[test]
fn secrets_in_the_template_text_are_redacted_around_the_slots() {
    let (template, params) = shown(
        "connect password=hunter2 to <*> as <*>",
        &[&["db-1"], &["etl"]],
    );
    assert_eq!(
        template,
        "connect password=[redacted: password] to <*> as <*>"
    );
    assert_eq!(params, [["db-1"], ["etl"]]);
    // A rewrite that takes a `<*>` with text around it keeps the `<*>`.
    let (template, params) = shown("password=\"<*> and <*>\" ok", &[&["a"], &["b"]]);
    assert!(!template.contains(" and "), "{template}");
    assert_eq!(params, [[HIDDEN], [HIDDEN]]);
}

#[test]
fn a_value_can_make_its_neighbour_a_secret() {
    let (template, params) = shown("<*>=<*>", &[&["password", "user"], &["hunter2", "alice"]]);
    assert_eq!(template, "<*>=<*>");
    assert_eq!(params[0], ["password", "user"]);
    assert_eq!(params[1], [HIDDEN, HIDDEN]);
}

/// Rules that judge the value's own shape: only some values in the slot are secrets.
#[test]
fn values_judged_by_their_shape_in_context() {
    // base64 of `user:hunter2` is a Basic credential; a word is not.
    let (_, params) = shown(
        "auth Basic <*> sent",
        &[&["dXNlcjpodW50ZXIy", "authentication"]],
    );
    assert_eq!(params, [[HIDDEN, "authentication"]]);
    // A Databricks token the miner cut after its prefix.
    let (template, params) = shown(
        "using dapi<*> now",
        &[&["0123456789abcdef0123456789abcdef", "12"]],
    );
    assert_eq!(params, [[HIDDEN, "12"]]);
    assert!(!template.contains("0123456789abcdef"), "{template}");
    // mysql's -p needs `mysql` anywhere before it on the line.
    let (_, params) = shown(
        "mysql -h db.internal -u root <*> etl",
        &[&["-phunter2", "--verbose"]],
    );
    assert_eq!(params, [[HIDDEN, "--verbose"]]);
}

#[test]
fn secret_values_alone_are_hidden_anywhere() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl";
    let (_, params) = shown(
        "got <*> from <*>",
        &[&[jwt, "x"], &["ghp_abcdefghijklmnopqrstuvwxyz0123456789"]],
    );
    assert_eq!(params[0], [HIDDEN, "x"]);
    assert_eq!(params[1], [HIDDEN]);
}

#[test]
fn past_the_budget_values_are_hidden_unchecked() {
    let mut c = cluster(
        "user=<*> password=<*> got <*>",
        &[
            &["alice", "bob"],
            &["hunter2"],
            &["ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
        ],
    );
    let mut budget = 0;
    // Nothing is checked: hunter2 is hidden by its slot, every other value
    // unchecked.
    assert_eq!(redact_cluster(&mut c, &mut budget), 3);
    assert_eq!(c.params[0], [HIDDEN, HIDDEN]);
    assert_eq!(c.params[1], [HIDDEN]);
    assert_eq!(c.params[2], [HIDDEN]);
    assert_eq!(c.template, "user=<*> password=<*> got <*>");

    // Enough for one value, alone and in its window; not for the next.
    let mut c = cluster("user=<*> ok", &[&["alice", "bob"]]);
    let mut budget = "alice".len() + "user=alice ok".len() + "bob".len();
    assert_eq!(redact_cluster(&mut c, &mut budget), 1);
    assert_eq!(c.params, [["alice", HIDDEN]]);
}

#[test]
fn a_template_with_a_literal_wildcard_count_mismatch_keeps_one_list_per_slot() {
    let mut c = cluster("a <*> b <*>", &[&["x"]]);
    let mut budget = CHECK_BUDGET_BYTES;
    redact_cluster(&mut c, &mut budget);
    assert_eq!(c.params.len(), 2);
    let mut c = cluster("a b", &[&["x"], &["y"]]);
    redact_cluster(&mut c, &mut budget);
    assert!(c.params.is_empty());
}

#[test]
fn examples_are_redacted_whole() {
    let mut c = cluster("login password=<*>", &[&["hunter2"]]);
    c.examples = vec!["login password=hunter2".into()];
    let mut budget = CHECK_BUDGET_BYTES;
    redact_cluster(&mut c, &mut budget);
    assert_eq!(c.examples, ["login password=[redacted: password]"]);
}

#[test]
fn rewritten_spans_are_placed_where_the_kept_text_is_unique() {
    let original = "a password=one b token=two c";
    let redacted = redact::text(original);
    let spans = rewritten(original, &redacted);
    let taken: Vec<&str> = spans.iter().map(|(o, _)| &original[o.clone()]).collect();
    assert_eq!(taken, ["one", "two"]);
    let markers: Vec<&str> = spans.iter().map(|(_, r)| &redacted[r.clone()]).collect();
    assert_eq!(markers, ["[redacted: password]", "[redacted: credential]"]);

    // ` x ` is kept twice after the first secret: it cannot be placed, so
    // from the first secret on all up to the kept tail is one span.
    let original = "a=s1 x s2 x b=s3.";
    let redacted = "a=[redacted: k] x [redacted: k] x b=[redacted: k].";
    assert_eq!(rewritten(original, redacted), [(2..16, 2..49)]);

    // A marker the log itself carried is taken as rewritten: more hidden, never less.
    let original = "note [redacted: x] then password=one";
    let spans = rewritten(original, &redact::text(original));
    let taken: Vec<&str> = spans.iter().map(|(o, _)| &original[o.clone()]).collect();
    assert_eq!(taken, ["[redacted: x]", "one"]);

    assert!(rewritten("nothing here", "nothing here").is_empty());
    // Texts that do not fit marker by marker: the one differing span.
    assert_eq!(rewritten("abcdef", "abXYef"), [(2..4, 2..4)]);
    assert_eq!(rewritten("ab", "aXb"), [(0..2, 1..2)]);
}

#[test]
fn the_window_cuts_at_whitespace_and_never_inside_a_character() {
    let text = format!(
        "{} x{}y {}",
        "é".repeat(CONTEXT_BYTES),
        "<*>",
        "ü".repeat(CONTEXT_BYTES)
    );
    let at = text.find("<*>").unwrap();
    let w = window(&text, at..at + 3);
    assert!(text.is_char_boundary(w.start) && text.is_char_boundary(w.end));
    assert_eq!(&text[w.start..at], " x");
    assert_eq!(&text[at + 3..w.end], "y");
}

/// Every secret context beside every harmless one, in both orders: values in
/// the secret slot are hidden whatever they spell (the name, the marker, a
/// word of the template), values in the harmless slot are shown, and the
/// template keeps both `<*>`.
#[test]
fn secret_and_harmless_slots_side_by_side() {
    let secret_contexts = [
        "password=<*>",
        "Bearer <*>",
        "Authorization: <*>",
        "\"token\": \"<*>\"",
        "https://admin:<*>@db.internal/",
        "AccountKey=<*>;",
        "?sig=<*>&x=1",
        "--password <*>",
        "client_secret: <*>",
    ];
    let harmless_contexts = ["user=<*>", "host <*>", "took <*> ms"];
    let secret_values: &[&str] = &[
        "password",
        "Authorization",
        "redacted",
        "admin",
        "db",
        "s3cr3tvalue12345abcd",
    ];
    let harmless_values: &[&str] = &["alice", "42"];
    for secret in secret_contexts {
        for harmless in harmless_contexts {
            for (template, secret_first) in [
                (format!("login {secret} then {harmless}"), true),
                (format!("login {harmless} then {secret}"), false),
            ] {
                let params: Vec<&[&str]> = if secret_first {
                    vec![secret_values, harmless_values]
                } else {
                    vec![harmless_values, secret_values]
                };
                let (shown_template, shown) = shown(&template, &params);
                assert_eq!(shown_template, template);
                let (hidden, kept) = if secret_first {
                    (&shown[0], &shown[1])
                } else {
                    (&shown[1], &shown[0])
                };
                assert!(hidden.iter().all(|v| v == HIDDEN), "{template}: {shown:?}");
                assert_eq!(kept, harmless_values, "{template}");
            }
        }
    }
}
