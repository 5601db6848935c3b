//! Secrets in the shapes they take in real configs, logs and answers, and the
//! look-alikes that must survive: one table each, checked the same way.

use std::borrow::Cow;

use serde_json::json;

use super::super::{text, value};

/// (input, what must be gone, what must stay).
const SHAPES: &[(&str, &[&str], &[&str])] = &[
    // Variables with prefixes and double underscores.
    (
        "AIRFLOW__CORE__FERNET_KEY=fernetKEYvalue123=",
        &["fernetKEYvalue123"],
        &["AIRFLOW__CORE__FERNET_KEY="],
    ),
    (
        "AIRFLOW__WEBSERVER__SECRET_KEY=websecret99",
        &["websecret99"],
        &["AIRFLOW__WEBSERVER__SECRET_KEY="],
    ),
    ("PGPASSWORD=pgpw42 psql -h db", &["pgpw42"], &["psql -h db"]),
    ("MYSQL_PWD=mysqlpw1", &["mysqlpw1"], &["MYSQL_PWD="]),
    (
        "AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEHIa",
        &["IQoJb3JpZ2luX2VjEHIa"],
        &[],
    ),
    ("__TOKEN=x1y2z3", &["x1y2z3"], &[]),
    (
        "export MY_API_TOKEN=tok_abcdefgh12345",
        &["tok_abcdefgh12345"],
        &["export MY_API_TOKEN="],
    ),
    (
        "airflow__core__fernet_key=fernetKEYvalue123=",
        &["fernetKEYvalue123"],
        &[],
    ),
    (
        "SECRET_KEY = 'django-insecure-xyz123'",
        &["django-insecure-xyz123"],
        &[],
    ),
    (
        "DATABRICKS_TOKEN='dapi_notreal_but_secret'",
        &["dapi_notreal_but_secret"],
        &[],
    ),
    // Password-ish names with prefixes, suffixes and other cases.
    (
        "db_password: lowerpw555",
        &["lowerpw555"],
        &["db_password:"],
    ),
    (
        "azure_client_secret=abcDEF123secret",
        &["abcDEF123secret"],
        &[],
    ),
    ("spring.datasource.password=springpw", &["springpw"], &[]),
    ("token=abc123tok and more", &["abc123tok"], &["and more"]),
    ("Token: abcdefgh12345678", &["abcdefgh12345678"], &[]),
    ("secret: plainsecret1", &["plainsecret1"], &[]),
    ("Secret=MixedCase99", &["MixedCase99"], &[]),
    ("api_key=k3yvalue", &["k3yvalue"], &[]),
    ("apikey: abcdef", &["abcdef"], &[]),
    ("ApiKey=MixedApiKey9", &["MixedApiKey9"], &[]),
    ("password = 'with space pw'", &["with space pw"], &[]),
    ("password:\thunter2tab", &["hunter2tab"], &[]),
    ("Password=\"\"\"triple\"\"\"", &["triple"], &[]),
    ("{'password': 'pythonrepr99'}", &["pythonrepr99"], &[]),
    ("password => 'rubyhash'", &["rubyhash"], &[]),
    (
        "**Password:** hunter2md",
        &["hunter2md"],
        &["**Password:**"],
    ),
    ("the `password` is `hunter2bt`", &[], &[]),
    ("password: `hunter2bt`", &["hunter2bt"], &[]),
    (
        "https://host/notebook?token=jupytertok123&x=1",
        &["jupytertok123"],
        &["&x=1"],
    ),
    // Command lines.
    (
        "run --password hunter2cli --verbose",
        &["hunter2cli"],
        &["--verbose"],
    ),
    ("run --token=flagtok99 next", &["flagtok99"], &["next"]),
    (
        "az login --client-secret \"cli secret\"",
        &["cli secret"],
        &[],
    ),
    ("mysql -u etl -p'mysqlpw' db", &["mysqlpw"], &["db"]),
    ("mysql -u etl -pbarepw db", &["barepw"], &[]),
    // Headers.
    (
        "Authorization: Basic ZXRsOmh1bnRlcjI=",
        &["ZXRsOmh1bnRlcjI"],
        &["Authorization: Basic"],
    ),
    (
        "'Authorization': 'Basic dXNlcjpwYXNz'",
        &["dXNlcjpwYXNz"],
        &[],
    ),
    (
        "\"auth\": \"Basic ZXRsOmh1bnRlcjI=\"",
        &["ZXRsOmh1bnRlcjI"],
        &[],
    ),
    (
        "Authorization: SharedKey acct:c2lnbmF0dXJl",
        &["c2lnbmF0dXJl"],
        &[],
    ),
    ("Authorization: rawtokenvalue42", &["rawtokenvalue42"], &[]),
    (
        "X-Api-Key: apikeyvalue777",
        &["apikeyvalue777"],
        &["X-Api-Key:"],
    ),
    ("x-functions-key: funckey123", &["funckey123"], &[]),
    (
        "Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef",
        &["0123456789abcdef0123"],
        &[],
    ),
    (
        "Set-Cookie: session=cookievalue123; HttpOnly",
        &["cookievalue123"],
        &[],
    ),
    // XML, URL-encoding, URLs, ODBC.
    (
        "<password>xmlpw123</password>",
        &["xmlpw123"],
        &["</password>"],
    ),
    (
        "<add key=\"DbPassword\" value=\"dotnetpw1\" />",
        &["dotnetpw1"],
        &[],
    ),
    (
        "https://x/cb?password%3Dsuperpw1%26a%3Db",
        &["superpw1"],
        &["%26a%3Db"],
    ),
    (
        "client_secret%22%3A%22urlencodedsecret",
        &["urlencodedsecret"],
        &[],
    ),
    ("pwd%3Dencoded99", &["encoded99"], &[]),
    (
        "redis://:redispw66@cache:6379",
        &["redispw66"],
        &["@cache:6379"],
    ),
    (
        "DRIVER={ODBC};UID=etl;PWD={br@ce;pw};Server=x",
        &["br@ce", ";pw}"],
        &["Server=x"],
    ),
    ("Server=x;Password=\"p@ss;word\";", &["p@ss", "word\""], &[]),
    // .netrc and curl.
    (
        "machine db.internal login etl password netrcpw1",
        &["netrcpw1"],
        &["login etl"],
    ),
    (
        "curl -sS -u etl:curlpw99 https://api.internal/x",
        &["curlpw99"],
        &["https://api.internal/x"],
    ),
    // SAS signatures in other spellings.
    ("sig: AbCsigvalue", &["AbCsigvalue"], &[]),
    ("'sig'='quotedsig'", &["quotedsig"], &[]),
    // Token families.
    (
        "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
        &["abcdefghijklmnopqrstuvwxyzABCDEFGH"],
        &[],
    ),
    ("glpat-abcdefghijklmnopqrst", &["abcdefghijklmnopqrst"], &[]),
    (
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz12345",
        &["abcdefghijklmnopqrstuvwxyz12345"],
        &[],
    ),
    (
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789",
        &["abcdefghijklmnopqrstuvwxyz0123456789"],
        &[],
    ),
    (
        "DATABRICKS_TOKEN dapi0123456789abcdef0123456789abcd",
        &["0123456789abcdef0123456789abcd"],
        &[],
    ),
    // JSON as text: objects and arrays under secret names, more names, pairs.
    (
        "{\"typeProperties\": {\"password\": {\"type\": \"SecureString\", \"value\": \"adfsecurestring1\"}}}",
        &["adfsecurestring1"],
        &["typeProperties"],
    ),
    (
        "{\n  \"credentials\": {\n    \"user\": \"etl\",\n    \"pass\": \"hunter2pass\"\n  }\n}",
        &["hunter2pass"],
        &[],
    ),
    (
        "{\"secret_key\":\"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\"}",
        &["wJalrXUtnFEMIK7MDENG"],
        &[],
    ),
    (
        "{\"encryption_key\":\"enckey123\",\"signing_key\":\"sk123\"}",
        &["enckey123", "sk123"],
        &[],
    ),
    (
        "{\"private_key\": \"pkvalue\", \"client_assertion\": \"assertion1\"}",
        &["pkvalue", "assertion1"],
        &[],
    ),
    (
        "{\"sasUri\": \"https://st/c?sv=1&sp=r\", \"sas_token\": \"sastok1\"}",
        &["sv=1&sp=r", "sastok1"],
        &[],
    ),
    (
        "{\"x-functions-key\": \"funckey123\", \"refresh_token\": \"rt1\"}",
        &["funckey123", "rt1"],
        &[],
    ),
    ("{\"password\": 987654}", &["987654"], &[]),
    (
        "{\"name\": \"AIRFLOW_PASSWORD\", \"value\": \"airflowpw123\"}",
        &["airflowpw123"],
        &["AIRFLOW_PASSWORD"],
    ),
    (
        "{\"value\": \"reversedpw1\", \"name\": \"DB_PASSWORD\"}",
        &["reversedpw1"],
        &[],
    ),
    (
        "{\"keys\":[{\"keyName\":\"key1\",\"permissions\":\"FULL\",\"value\":\"c3RvcmFnZWtleQ==\"}]}",
        &["c3RvcmFnZWtleQ"],
        &["key1", "FULL"],
    ),
    (
        "{\"value\": \"kvsecret1\", \"id\": \"https://kv.vault.azure.net/secrets/sql-admin/4387e9f3\"}",
        &["kvsecret1"],
        &["sql-admin"],
    ),
    (
        "env:\n  - name: DB_PASSWORD\n    value: yamlpw123\n  - name: LOG_LEVEL\n    value: info",
        &["yamlpw123"],
        &["value: info"],
    ),
];

/// Text that looks like a secret but is not one: it must come back unchanged.
const LOOK_ALIKES: &[&str] = &[
    "{\"secret_name\": \"adls-sp-client-secret\"}",
    "secret_name: adls-sp-client-secret",
    "set PARTITION_KEY_COLUMN to region in the config",
    "PARTITION_KEY_COLUMN=region",
    "primary_key: id, sort_key: ts",
    "the tokenizer splits words; tokens: 12",
    "TOKENIZER=bpe MONKEY=banana",
    "a keyboard shortcut, the key point",
    "Basic authentication is disabled",
    "if password == \"\" then fail",
    "tokens_used: 1200, max_tokens: 4096",
    "oauth: enabled",
    "passphrase_hint: the usual",
    "docker run -p 8080:80 -p8081:81 -u 1000:1000 image",
    "Done. PASS=12 WARN=0 ERROR=1 SKIP=0 TOTAL=13",
    "the --password flag is deprecated; use --password-file /run/pw",
    "dapi0123 is too short",
];

#[test]
fn every_shape_loses_its_secret_and_keeps_its_context() {
    for (input, gone, kept) in SHAPES {
        let out = text(input);
        for secret in *gone {
            assert!(!out.contains(secret), "{secret} survived in {out:?}");
        }
        if !gone.is_empty() {
            assert!(out.contains("[redacted: "), "no marker in {out:?}");
        }
        for context in *kept {
            assert!(out.contains(context), "{context} was lost: {out:?}");
        }
        assert_eq!(text(&out), out, "redacting twice changes nothing");
    }
}

#[test]
fn look_alikes_come_back_unchanged() {
    for input in LOOK_ALIKES {
        let out = text(input);
        // The flag line keeps its flag name; only a value after it may go.
        if input.contains("--password flag") {
            assert!(out.contains("--password-file"), "{out}");
            continue;
        }
        assert!(
            matches!(out, Cow::Borrowed(_)),
            "{input} was changed: {out}"
        );
    }
}

#[test]
fn json_subtrees_under_secret_keys_lose_every_leaf_and_keep_their_shape() {
    let input = json!({
        "typeProperties": {"password": {"type": "SecureString", "value": "adfsecurestring1"}},
        "credentials": {"user": "etl", "pass": "hunter2pass", "ports": [1, 2], "on": true},
        "secret_name": "adls-sp-client-secret",
    });
    let out = value(&input);
    let text = out.to_string();
    for secret in ["adfsecurestring1", "hunter2pass", "\"etl\""] {
        assert!(!text.contains(secret), "{secret} survived: {text}");
    }
    assert!(out["typeProperties"]["password"].is_object(), "{out}");
    assert_eq!(out["credentials"]["on"], true);
    assert_eq!(
        out["credentials"]["ports"][0],
        "[redacted: value of credentials]"
    );
    assert_eq!(out["secret_name"], "adls-sp-client-secret");
}

#[test]
fn more_json_key_names_are_secrets() {
    let input = json!({
        "secret_key": "a", "encryption_key": "b", "signing_key": "c", "x-functions-key": "d",
        "private_key": "e", "client_assertion": "f", "refresh_token": "g", "sas_token": "h",
        "sasUri": "i", "db_pwd": "j", "pin": 1234, "cookie": "session=k", "auth": "l",
        "pat": "m", "fernet_key": "n", "primaryMasterKey": "o",
    });
    let out = value(&input);
    for (key, v) in out.as_object().unwrap() {
        assert_eq!(v, &json!(format!("[redacted: value of {key}]")), "{key}");
    }
    let kept = json!({
        "private_key_id": "x", "passphrase_hint": "no", "spin": 3, "oauth": "on",
        "secret_name": "s", "token_count": 4, "path": "/p", "key_vault": "kv",
    });
    assert_eq!(value(&kept), kept);
}

#[test]
fn name_value_pairs_with_a_secret_name_lose_their_value() {
    let input = json!({
        "env": [
            {"name": "AIRFLOW_PASSWORD", "value": "airflowpw123"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"Name": "AIRFLOW__CORE__FERNET_KEY", "Value": "fernet1"},
        ],
        "keys": [{"keyName": "key1", "permissions": "FULL", "value": "c3RvcmFnZQ=="}],
        "bundle": {"value": "kvsecret1", "id": "https://kv.vault.azure.net/secrets/sql-admin/4387"},
    });
    let out = value(&input);
    let text = out.to_string();
    for secret in ["airflowpw123", "fernet1", "c3RvcmFnZQ", "kvsecret1"] {
        assert!(!text.contains(secret), "{secret} survived: {text}");
    }
    assert_eq!(out["env"][1]["value"], "info");
    assert_eq!(out["env"][0]["name"], "AIRFLOW_PASSWORD");
    assert_eq!(out["keys"][0]["keyName"], "key1");
}

/// The reviewer's two environment-shaped reproductions, line by line and whole.
#[test]
fn the_reviewed_reproductions_lose_every_secret() {
    let dump = "AIRFLOW__CORE__FERNET_KEY=fernetKEYvalue123=\nAIRFLOW__WEBSERVER__SECRET_KEY=websecret99\n\
        PGPASSWORD=pgpw42\nMYSQL_PWD=mysqlpw1\nToken: abcdefgh12345678\nARM_CLIENT_SECRET=armsecret77\n\
        SPRING_DATASOURCE_PASSWORD=springpw\nclient_secret%22%3A%22urlencodedsecret\npassword%3Dhunter2\n\
        OPSDECK_HTTP_TOKEN=opsdecktoken1234567890\nSecret=MixedCase99\nApiKey=MixedApiKey9\n\
        'Authorization': 'Basic dXNlcjpwYXNz'\n";
    let out = text(dump);
    for secret in [
        "fernetKEYvalue123",
        "websecret99",
        "pgpw42",
        "mysqlpw1",
        "abcdefgh12345678",
        "armsecret77",
        "springpw",
        "urlencodedsecret",
        "hunter2",
        "opsdecktoken",
        "MixedCase99",
        "MixedApiKey9",
        "dXNlcjpwYXNz",
    ] {
        assert!(!out.contains(secret), "{secret} survived: {out}");
    }
}
