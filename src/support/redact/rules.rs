//! The free-text rules and the one-pass screen over them. Each rule names the
//! kind of secret it removes; its secret is the first capture group that took
//! part in the match, and the rest of the match (a name, `=`, quotes) is kept.
//!
//! Order matters: rules rewrite in this order, and a later rule leaves alone a
//! value an earlier one already replaced. Specific token families come first
//! (their marker says the most), then header and URL shapes, then `NAME=value`
//! shapes from the most to the least specific.

use std::ops::Range;
use std::sync::LazyLock;

use base64::Engine as _;
use regex::{Captures, Regex, RegexSet};

pub(super) struct Rule {
    pub kind: &'static str,
    pub pattern: Regex,
    /// A second look at a candidate secret the pattern alone cannot judge.
    accept: fn(&str) -> bool,
}

/// The rules and one set of all their patterns, to screen a text in one pass.
pub(super) struct Rules {
    pub rules: Vec<Rule>,
    /// `None` only if the set failed to build: then every rule is tried.
    screen: Option<RegexSet>,
}

/// Word boundaries are ASCII: secrets are ASCII, and a Unicode `\b` would make
/// the matcher leave its fast DFA on any non-ASCII text.
fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

fn any(_: &str) -> bool {
    true
}

fn checked_rule(kind: &'static str, pattern: &str, accept: fn(&str) -> bool) -> Option<Rule> {
    match Regex::new(&ascii_boundaries(pattern)) {
        Ok(pattern) => Some(Rule {
            kind,
            pattern,
            accept,
        }),
        Err(e) => {
            // The patterns are constants covered by tests; this cannot happen at run time.
            tracing::error!(kind, "redaction pattern does not compile: {e}");
            None
        }
    }
}

fn rule(kind: &'static str, pattern: &str) -> Option<Rule> {
    checked_rule(kind, pattern, any)
}

/// The marker's kind for PEM blocks; the stream redactor writes the same marker.
pub(super) const PRIVATE_KEY: &str = "private key";

/// A PEM private key's first and last lines (PKCS#1/#8, EC, OpenSSH, encrypted, PGP).
pub(super) const PEM_BEGIN: &str = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----";
pub(super) const PEM_END: &str = r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----";

/// Names whose value is a password or a key, in any case, after any prefix
/// (`db_password`, `spring.datasource.password`, `X-Api-Key`, `clientSecret`).
const PASSWORD_NAMES: &str = r"password|passwd|passphrase|client[_-]?secret|api[_-]?key|secret[_-]?value|access[_-]?token|refresh[_-]?token";

/// Names whose value is some other credential. `*_key` only with a qualifier
/// that makes it one: `partition_key` and `sort_key` are not secrets.
const CREDENTIAL_NAMES: &str = r"secret|token|credentials?|(?:fernet|secret|private|encryption|signing|access|account|storage|master|subscription|functions?|client|sas|shared[_-]?access|app|admin)[_-]?key|sas[_-]?ur[il]|client[_-]?assertion|(?:amz|goog)[_-]signature";

/// Short names that are secrets only as a whole word (`MYSQL_PWD`, `basic_auth`),
/// not inside another (`oauth`).
const SHORT_NAMES: &str = r"pwd|auth";

/// What may stand between a name and its separator: a closing quote (escaped
/// too, in JSON inside a JSON string) or backtick, or Markdown emphasis
/// (`**Password:** x`).
const NAME_END: &str = r#"(?:\\?["'`]|\*\*?|__)?"#;

/// `=`, `:`, `=>` or `:=`, with the spaces and emphasis around them. Only
/// blanks before it: a name at a line's end is not tied to a `=` on the next.
const SEP: &str = r"[ \t]*(?:=>|:=|[=:])(?:\*\*?|__)?\s*(?:\*\*?|__)?";

/// A value after a separator: triple-quoted, double-quoted (with `\"`
/// escapes), quoted with escaped quotes (`Password=\"a;b\"` inside a JSON
/// string), single-quoted, backquoted, braced (ODBC's `PWD={a;b}`, where `}}`
/// is a brace) or bare. A bare value does not start with `{`, `[`, `=`, `>`
/// or `*`: an object is the JSON rule's, `==` is a comparison, `*` is emphasis.
const VALUE: &str = r#"(?:"""(.*?)"""|"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'|`([^`\n]*)`|\\"((?:[^\\\n]|\\[^"\n])*)\\"|\{((?:[^}\n]|\}\})*)\}|([^\s;,"'&{}\[=>*][^\s;,"'&}]*))"#;

/// A bracketed JSON value nested up to three deep (what a secret-named key in
/// JSON-as-text may hold: ADF's `{"type": "SecureString", "value": "…"}`).
fn balanced(depth: u32) -> String {
    if depth == 0 {
        return r"[^{}\[\]]*".into();
    }
    let inner = balanced(depth - 1);
    format!(r"(?:[^{{}}\[\]]|\{{{inner}\}}|\[{inner}\])*")
}

/// Names JSON-as-text hides the value of (the same words as [`super::json`] knows).
pub(super) const JSON_NAMES: &str = r"password|passwd|pwd|passphrase|secret|token|api[_-]?key|(?:account|storage|access|shared[_-]?access|secret[_-]?access|fernet|secret|private|encryption|signing|master|subscription|functions?|client|sas|app|admin)[_-]?key|connection[_-]?string|credentials?|authorization|sas[_-]?ur[il]|client[_-]?assertion|cookie";

/// Short names JSON-as-text hides the value of only as a whole word (`"pin"`,
/// `"db_pwd"`), not inside another (`"spin"`).
const SHORT_JSON_NAMES: &str = r"pwd|pin|pat|pass|auth";

/// Authorization schemes, so `Authorization: Basic x` hides `x`, not `Basic`.
const SCHEMES: &str = r"(?:Basic|Bearer|Token|Digest|Negotiate|NTLM|SharedKey(?:Lite)?|SharedAccessSignature|AWS4-HMAC-SHA256|SSWS|GenieKey|Api-?Key)[ \t]+";

/// `Basic …` credentials are base64 of `user:password`; prose ("Basic
/// authentication") is not.
fn is_basic_credential(candidate: &str) -> bool {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(candidate.trim_end_matches('='))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|decoded| decoded.contains(':'))
}

pub(super) static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let name_value = |names: &str| format!(r"{names}\b{NAME_END}{SEP}{VALUE}");
    let json_value = {
        let nested = balanced(3);
        format!(
            r#"(?i)"(?:[A-Za-z0-9_\-]*?(?:{JSON_NAMES})|(?:[A-Za-z0-9_\-]*[_\-])?(?:{SHORT_JSON_NAMES}))"\s*:\s*(?:"((?:[^"\\\n]|\\.)*)"|(\{{{nested}\}})|(\[{nested}\])|(-?[0-9][0-9.eE+\-]*))"#
        )
    };
    // `{"name": "AIRFLOW_PASSWORD", …, "value": "…"}` in either order, a
    // storage key listing's `{"keyName": "key1", "value": "…"}`, and a Key
    // Vault secret bundle's `{"value": "…", "id": "…/secrets/…"}`.
    let pair_name = format!(
        r#"(?:"(?:name|key|variable)"\s*:\s*"[^"\n]*?(?:{JSON_NAMES})"|"keyName"\s*:\s*"[^"\n]*"|"id"\s*:\s*"[^"\n]*/secrets/[^"\n]*")"#
    );
    let other_field = r#"\s*"[A-Za-z0-9_\-]+"\s*:\s*(?:"(?:[^"\\\n]|\\.)*"|[^,{}\[\]"\n]*)\s*,"#;
    let json_pair = format!(
        r#"(?i){pair_name}\s*,(?:{other_field})*?\s*"value"\s*:\s*"((?:[^"\\\n]|\\.)*)"|"value"\s*:\s*"((?:[^"\\\n]|\\.)*)"\s*,(?:{other_field})*?\s*{pair_name}"#
    );
    let rules: Vec<Rule> = [
        // The body of a PEM private key goes, up to its END line; of a cut-off
        // key, only the lines that can be key (base64, or its Proc-Type and
        // DEK-Info headers) — text after them is not hidden, so nothing else
        // can hide behind a BEGIN line.
        rule(
            PRIVATE_KEY,
            &format!(
                r"(?s){PEM_BEGIN}(.+?){PEM_END}|{PEM_BEGIN}[ \t]*\r?\n((?:(?:[A-Za-z0-9+/=]+|(?:Proc-Type|DEK-Info):[^\r\n]*)[ \t]*(?:\r?\n|\z))+)"
            ),
        ),
        // Storage / Event Hubs / Service Bus connection strings.
        rule(
            "storage account key",
            r#"(?i)\b(?:Account|Shared|SharedAccess)Key\s*=\s*["']?([A-Za-z0-9+/=]{16,})"#,
        ),
        rule(
            "shared access signature",
            r"(?i)\bSharedAccessSignature\s*=\s*([^;\s\x22']+)",
        ),
        // SAS tokens in URLs, query strings, log lines and JSON: the signature
        // is the secret part (`sig=`, `sig: `, `'sig'='…'`, `sig%3D`).
        rule(
            "SAS signature",
            r#"(?i)(?:\A|[?&;\s"'(,{]|%26)["']?sig["']?(?:[ \t]*[=:][ \t]*["']?|%3D)([^&\s"'<>,;]+)"#,
        ),
        // Databricks personal access tokens (dapi + 32 hex, sometimes `-2`; a
        // few hex short still counts) and service principals' secrets (dose…).
        rule(
            "Databricks token",
            r"\b((?:dapi|dose)[0-9a-fA-F]{20,}(?:-[0-9]+)?)\b",
        ),
        // AWS access key ids (long-term AKIA, temporary ASIA) and secret keys.
        rule("AWS access key id", r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b"),
        rule(
            "AWS secret key",
            r#"(?i)\b(?:aws_?)?(?:secret_?access_?key|session_?token)\b["']?\s*[=:]\s*["']?([A-Za-z0-9/+=]{16,})"#,
        ),
        // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
        rule(
            "GitHub token",
            r"\b((?:gh[pousr]_[A-Za-z0-9]{30,})|(?:github_pat_[A-Za-z0-9_]{30,}))",
        ),
        rule("GitLab token", r"\b(glpat-[A-Za-z0-9_\-]{20,})"),
        // Slack bot, user, app, refresh and session tokens, and incoming webhooks.
        rule(
            "Slack token",
            r"\b((?:xox[abeoprs]-[A-Za-z0-9-]{10,})|(?:xapp-[0-9]-[A-Za-z0-9-]{10,}))",
        ),
        rule(
            "Slack webhook",
            r"(?i)\bhooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]+)",
        ),
        rule("Hugging Face token", r"\b(hf_[A-Za-z0-9]{30,})\b"),
        rule("Google API key", r"\b(AIza[0-9A-Za-z_\-]{35})"),
        rule(
            "package registry token",
            r"\b(npm_[A-Za-z0-9]{36}|pypi-AgE[A-Za-z0-9_\-]{50,})",
        ),
        rule(
            "Stripe key",
            r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})",
        ),
        // JWTs (Entra ID access tokens, id tokens, workload identity tokens).
        rule(
            "JWT",
            r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)",
        ),
        // Authorization: Bearer <token> (whatever its shape).
        rule("bearer token", r"(?i)\bBearer\s+([A-Za-z0-9\-._~+/]{8,}=*)"),
        checked_rule(
            "basic credentials",
            r"\bBasic[ \t]+([A-Za-z0-9+/]{6,}={0,2})",
            is_basic_credential,
        ),
        // Any other Authorization header value, with or without a scheme.
        rule(
            "authorization",
            &format!(
                r#"(?i)\b(?:proxy-)?authorization\b["']?[ \t]*[:=][ \t]*(?:"(?:{SCHEMES})?([^"\r\n]+)"|'(?:{SCHEMES})?([^'\r\n]+)'|(?:{SCHEMES})?([^\s"',;]+))"#
            ),
        ),
        rule(
            "cookie",
            r#"(?i)\b(?:set-)?cookie\b["']?[ \t]*[:=][ \t]*["']?([^\r\n"']+)"#,
        ),
        // Anthropic keys first: the OpenAI rule would take them by their `sk-`.
        rule("Anthropic key", r"\b(sk-ant-[A-Za-z0-9_\-]{20,})"),
        // OpenAI API keys: sk-…, sk-proj-…, sk-svcacct-….
        rule(
            "OpenAI key",
            r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})",
        ),
        // Entra ID client secrets: three characters, a digit, `Q~`, then 31–34 more.
        rule(
            "client secret",
            r"(?:\A|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})",
        ),
        // scheme://user:password@host, and scheme://:password@host (Redis).
        rule(
            "password in URL",
            r"(?i)\b[a-z][a-z0-9+.\-]*://[^/\s:@\x22']*:([^@\s/\x22']+)@",
        ),
        // Variables as task logs and environment dumps show them:
        // DATABRICKS_TOKEN=…, AIRFLOW__CORE__FERNET_KEY=…, PGPASSWORD=…,
        // export STORAGE_KEY="…". `KEY` and `TOKEN` need a `_` before them
        // (MONKEY, TOKENIZER are words).
        rule(
            "secret variable",
            &name_value(
                r"\b(?:[A-Z0-9_]*_)?(?:[A-Z0-9]*(?:PASSWORD|PASSWD|PASSPHRASE|PWD|SECRET|APIKEY)|TOKEN|KEY|CREDENTIALS?|AUTH)S?",
            ),
        ),
        // password=…, Pwd=…;, db_password: …, api_key="…", "password": "…".
        rule(
            "password",
            &name_value(&format!(
                r"(?i)\b(?:[A-Za-z0-9_.\-]*?(?:{PASSWORD_NAMES})|(?:[A-Za-z0-9_.\-]*[_.\-])?(?:{SHORT_NAMES}))"
            )),
        ),
        // --password x, --client-secret "x" (the `=` forms are the rule above's).
        rule(
            "password",
            &format!(
                r#"(?i)(?:\A|\s)--?[A-Za-z0-9_\-]*?(?:{PASSWORD_NAMES}|{CREDENTIAL_NAMES}|{SHORT_NAMES})[ \t]+(?:"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'|([^\s"'\-][^\s"']*))"#
            ),
        ),
        // mysql's -p'x' and -px (only after mysql: elsewhere -p is a port).
        rule(
            "password",
            r#"(?:\A|\s)-p(?:'([^'\n]+)'|"([^"\n]+)")|\bmysql[a-z]*\b[^\n]*?[ \t]-p([^\s'"\-][^\s'"]*)"#,
        ),
        // .netrc (`machine h login u password x`) and curl's `-u user:password`.
        rule(
            "password",
            r#"(?i)\bmachine[ \t]+\S+[ \t]+(?:login[ \t]+\S+[ \t]+)?password[ \t]+(\S+)|\bcurl\b[^\n]*?[ \t](?:-u|--user)[ \t=]*["']?[^\s:"']+:([^\s"'@]+)"#,
        ),
        // URL-encoded: password%3Dx, client_secret%22%3A%22x.
        rule(
            "password",
            &format!(
                r#"(?i)\b[A-Za-z0-9_.\-]*?(?:{PASSWORD_NAMES}|{CREDENTIAL_NAMES}|{SHORT_NAMES})(?:%22)?(?:%3D|%3A)(?:%22|%20)*((?:[^\s&%"'<>]|%(?:[013-9A-Fa-f][0-9A-Fa-f]|2[0-57-9A-Fa-f]))+)"#
            ),
        ),
        // XML: <password>x</password>, and .NET's <add key="Password" value="x"/>.
        rule(
            "password",
            &format!(
                r#"(?i)<[A-Za-z0-9_.:\-]*?(?:{PASSWORD_NAMES}|{CREDENTIAL_NAMES}|{SHORT_NAMES})(?:\s[^>]*)?>([^<]+)</|\b(?:key|name)\s*=\s*"[^"\n]*?(?:{PASSWORD_NAMES}|{CREDENTIAL_NAMES}|{SHORT_NAMES})"\s+value\s*=\s*"([^"\n]*)""#
            ),
        ),
        // JSON as text (a tool result's text, a log line): the value of a key
        // named like a secret, whether a string, a number or a whole object or array.
        rule("secret value", &json_value),
        rule("secret value", &json_pair),
        // The same pair in YAML (a Kubernetes env entry): `- name: DB_PASSWORD` then `value: …`.
        rule(
            "secret value",
            &format!(
                r#"(?i)\b(?:name|key|variable)[ \t]*:[ \t]*["']?[A-Za-z0-9_.\-]*?(?:{JSON_NAMES})["']?[ \t]*\r?\n[ \t]*(?:-[ \t]+)?value[ \t]*:[ \t]*{VALUE}"#
            ),
        ),
        // token=…, secret: …, azure_client_secret=…, fernet_key=…, X-Functions-Key: ….
        rule(
            "credential",
            &name_value(&format!(r"(?i)\b[A-Za-z0-9_.\-]*?(?:{CREDENTIAL_NAMES})")),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let screen = RegexSet::new(rules.iter().map(|r| r.pattern.as_str()))
        .map_err(|e| tracing::error!("the redaction screen does not build: {e}"))
        .ok();
    Rules { rules, screen }
});

impl Rules {
    /// The rules whose pattern occurs in the text, in rule order: one pass.
    pub(super) fn matching(&self, input: &str) -> Vec<&Rule> {
        match &self.screen {
            Some(screen) => screen
                .matches(input)
                .into_iter()
                .filter_map(|i| self.rules.get(i))
                .collect(),
            None => self.rules.iter().collect(),
        }
    }
}

impl Rule {
    /// The match with its secret replaced by a marker naming the kind; the
    /// match unchanged when there is no secret in it (empty, already a marker,
    /// or judged not to be one).
    pub(super) fn replacement(&self, caps: &Captures) -> String {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let secret = caps.iter().skip(1).flatten().next();
        match secret {
            Some(secret)
                if !secret.is_empty()
                    && !super::is_marker(secret.as_str())
                    && (self.accept)(secret.as_str()) =>
            {
                let offset = caps.get(0).map_or(0, |m| m.start());
                let start = secret.start() - offset;
                let end = secret.end() - offset;
                format!(
                    "{}[redacted: {}]{}",
                    &whole[..start],
                    self.kind,
                    &whole[end..]
                )
            }
            _ => whole.to_string(),
        }
    }
}

/// Where in the text any rule matches (whole matches, overlapping across
/// rules): a stream must not cut there.
pub(super) fn spans(input: &str) -> Vec<Range<usize>> {
    RULES
        .matching(input)
        .into_iter()
        .flat_map(|rule| rule.pattern.find_iter(input).map(|m| m.range()))
        .collect()
}
