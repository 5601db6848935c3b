//! The sink against a local HTTP receiver (plain tokio TCP): the payloads, the
//! redaction, the URL kept out of logs, and receivers that are down or stuck.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing_subscriber::layer::SubscriberExt;

use super::*;

/// The secret part of every test URL: it must never reach a log or an error.
const TOKEN: &str = "T0KENsecretPATH42";
/// A hang guard, far above anything the sink should take.
const GUARD: Duration = Duration::from_secs(10);

fn quick() -> Limits {
    Limits {
        queue: 8,
        post: Duration::from_millis(400),
        retry_wait: Duration::from_millis(50),
        shutdown: Duration::from_millis(300),
    }
}

fn url(listener_addr: std::net::SocketAddr) -> reqwest::Url {
    reqwest::Url::parse(&format!("http://{listener_addr}/hooks/{TOKEN}")).unwrap()
}

fn start(kind: WebhookKind, addr: std::net::SocketAddr, limits: Limits) -> Webhook {
    Webhook::start(kind, url(addr), label("OPSDECK_WEBHOOK_URL"), limits).unwrap()
}

/// Reads one HTTP/1.1 request (headers, then a Content-Length body).
async fn read_request(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before a whole request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
    (head, buf[head_end..head_end + length].to_vec())
}

/// A receiver answering each request with the next of `answers` (the last
/// repeats), reporting every request's head and JSON body.
async fn receiver(
    answers: Vec<&'static str>,
) -> (
    std::net::SocketAddr,
    mpsc::UnboundedReceiver<(String, Value)>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, requests) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut answers = answers.into_iter().peekable();
        let mut last = "";
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            // Keep-alive: several requests may come on one connection.
            loop {
                let mut probe = [0u8; 1];
                if stream.peek(&mut probe).await.unwrap_or(0) == 0 {
                    break;
                }
                let (head, body) = read_request(&mut stream).await;
                let _ = seen.send((head, serde_json::from_slice(&body).unwrap()));
                if let Some(next) = answers.next() {
                    last = next;
                }
                let answer = format!("{last}\r\nContent-Length: 2\r\n\r\nok");
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
        }
    });
    (addr, requests)
}

const OK: &str = "HTTP/1.1 200 OK";
const BUSY_NOW: &str = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0";
const TOO_MANY: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600";

async fn next(requests: &mut mpsc::UnboundedReceiver<(String, Value)>) -> (String, Value) {
    tokio::time::timeout(GUARD, requests.recv())
        .await
        .expect("the receiver got no request")
        .unwrap()
}

/// Every string in a JSON document, wherever it is.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

const SECRET_BODY: &str = "copy failed: password=hunter2pass AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4; \
    \u{1b}]52;c;x\u{7} <!channel> & done";

#[tokio::test]
async fn each_kind_posts_its_documented_shape() {
    for kind in [WebhookKind::Slack, WebhookKind::Teams, WebhookKind::Json] {
        let (addr, mut requests) = receiver(vec![OK]).await;
        let webhook = start(kind, addr, quick());
        assert!(webhook.send("ingest_daily failed", "task load: timeout"));
        let (head, body) = next(&mut requests).await;
        assert!(head.starts_with(&format!("POST /hooks/{TOKEN} ")), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json")
        );
        match kind {
            WebhookKind::Slack => {
                let text = body["text"].as_str().unwrap();
                assert!(
                    text.contains("ingest_daily failed") && text.contains("task load: timeout")
                );
                assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
            }
            WebhookKind::Teams => {
                assert_eq!(body["type"], "message");
                let attachment = &body["attachments"][0];
                assert_eq!(
                    attachment["contentType"],
                    "application/vnd.microsoft.card.adaptive"
                );
                let card = &attachment["content"];
                assert_eq!(card["type"], "AdaptiveCard");
                assert!(card["version"].is_string());
                let texts: Vec<&str> = card["body"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .inspect(|block| assert_eq!(block["type"], "TextBlock"))
                    .map(|block| block["text"].as_str().unwrap())
                    .collect();
                assert_eq!(texts, ["ingest_daily failed", "task load: timeout"]);
            }
            WebhookKind::Json => {
                assert_eq!(body["source"], "opsdeck");
                assert_eq!(body["title"], "ingest_daily failed");
                assert_eq!(body["body"], "task load: timeout");
                let at = body["at"].as_str().unwrap();
                assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
            }
        }
        tokio::time::timeout(GUARD, webhook.shutdown())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn secrets_and_control_characters_never_reach_the_receiver() {
    for kind in [WebhookKind::Slack, WebhookKind::Teams, WebhookKind::Json] {
        let (addr, mut requests) = receiver(vec![OK]).await;
        let webhook = start(kind, addr, quick());
        let long = format!("{SECRET_BODY} {}", "x".repeat(10_000));
        webhook.send(
            "ingest \u{7}failed token=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            &long,
        );
        let (_, body) = next(&mut requests).await;
        let all = strings(&body).join("\n");
        for secret in [
            "hunter2pass",
            "Zm9vYmFy",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        ] {
            assert!(!all.contains(secret), "{kind:?}: {secret} in {all}");
        }
        assert!(all.contains("[redacted"), "{kind:?}: {all}");
        assert!(
            !all.chars().any(|c| c.is_control() && c != '\n'),
            "{kind:?}: a control character in {all:?}"
        );
        assert!(
            all.len() < 3_000,
            "{kind:?}: not clipped ({} bytes)",
            all.len()
        );
        if kind == WebhookKind::Slack {
            assert!(!all.contains("<!channel>") && all.contains("&lt;!channel&gt; &amp; done"));
        }
        webhook.shutdown().await;
    }
}

/// Log lines written while `body` runs (on this thread: a current-thread test
/// runtime runs the sink's task here too).
async fn logged<F: std::future::Future<Output = ()>>(body: F) -> String {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false),
    );
    let guard = tracing::subscriber::set_default(subscriber);
    body.await;
    drop(guard);
    String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn a_busy_receiver_gets_one_retry_and_the_log_never_has_the_url() {
    let (addr, mut requests) = receiver(vec![BUSY_NOW, OK]).await;
    let log = logged(async {
        let webhook = start(WebhookKind::Json, addr, quick());
        webhook.send("a", "b");
        next(&mut requests).await;
        next(&mut requests).await;
        webhook.shutdown().await;
    })
    .await;
    assert!(log.contains("the webhook (OPSDECK_WEBHOOK_URL)"), "{log}");
    assert!(log.contains("retrying once"), "{log}");
    assert!(!log.contains(TOKEN) && !log.contains("/hooks/"), "{log}");

    // Busy twice: two requests in all, however long Retry-After asks for
    // (3600 s here, bounded to the sink's longest wait).
    let (addr, mut requests) = receiver(vec![TOO_MANY]).await;
    let log = logged(async {
        let webhook = start(WebhookKind::Json, addr, quick());
        webhook.send("a", "b");
        next(&mut requests).await;
        next(&mut requests).await;
        tokio::time::timeout(GUARD, webhook.shutdown())
            .await
            .unwrap();
    })
    .await;
    assert!(
        requests.try_recv().is_err(),
        "a third request: a retry storm"
    );
    assert!(log.contains("429"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}

#[tokio::test]
async fn errors_name_the_variable_never_the_url() {
    // A port nobody listens on: bound, then closed.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let target = Target {
        kind: WebhookKind::Slack,
        url: url(addr),
        label: label("OPSDECK_WEBHOOK_URL"),
    };
    let client = reqwest::Client::new();
    let body = serde_json::json!({"text": "x"});
    let error = tokio::time::timeout(GUARD, deliver(&client, &target, &body, &quick()))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        error.starts_with("the webhook (OPSDECK_WEBHOOK_URL): "),
        "{error}"
    );
    assert!(
        !error.contains(TOKEN) && !error.contains("/hooks/"),
        "{error}"
    );

    let log = logged(async {
        let webhook = Webhook::start(
            WebhookKind::Slack,
            url(addr),
            label("OPSDECK_WEBHOOK_URL"),
            quick(),
        )
        .unwrap();
        webhook.send("t", "b");
        tokio::time::sleep(Duration::from_millis(100)).await;
        webhook.shutdown().await;
    })
    .await;
    assert!(log.contains("cannot connect"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");

    // Settings: an unset or malformed variable is a clear error without the value.
    let settings = WebhookSettings {
        kind: WebhookKind::Teams,
        url_env: "ONCALL_HOOK".into(),
    };
    let unset = from_settings(Some(&settings), &|_| None).err().unwrap();
    assert!(unset.contains("ONCALL_HOOK is not set"), "{unset}");
    for bad in [
        format!("ftp://hooks.example/{TOKEN}"),
        format!("hooks.example/{TOKEN}"),
        format!("https://hooks.example/{}", "x".repeat(3_000)),
    ] {
        let error = from_settings(Some(&settings), &|_| Some(bad.clone()))
            .err()
            .unwrap();
        assert!(error.starts_with("the webhook (ONCALL_HOOK): "), "{error}");
        assert!(!error.contains(TOKEN), "{error}");
    }
    assert!(from_settings(None, &|_| None).unwrap().is_none());
}

/// A receiver that takes the connection and never answers.
async fn stuck_receiver() -> (std::net::SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_stuck_receiver_holds_up_neither_send_nor_shutdown() {
    let (addr, task) = stuck_receiver().await;
    // The real limits: a 5 s post, and quitting waits at most a second.
    let limits = Limits::default();
    let webhook = start(WebhookKind::Teams, addr, limits);
    let sending = async {
        for n in 0..5 {
            webhook.send("failed", &format!("run {n}"));
        }
    };
    tokio::time::timeout(Duration::from_millis(500), sending)
        .await
        .expect("send waited on the receiver");
    // Let the task connect and wait for its answer.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    tokio::time::timeout(GUARD, webhook.shutdown())
        .await
        .expect("shutdown hung on a stuck receiver");
    assert!(
        started.elapsed() < limits.post,
        "shutdown waited out a post ({:?})",
        started.elapsed()
    );
    task.abort();
}

#[tokio::test]
async fn a_full_queue_drops_new_notifications_and_counts_them() {
    let (addr, task) = stuck_receiver().await;
    let limits = Limits {
        queue: 3,
        ..quick()
    };
    let log = logged(async {
        let webhook = start(WebhookKind::Json, addr, limits);
        let queued = (0..20)
            .filter(|n| webhook.send("t", &n.to_string()))
            .count() as u64;
        assert!((3..=4).contains(&queued), "queued {queued}");
        assert_eq!(webhook.dropped(), 20 - queued);
        webhook.shutdown().await;
    })
    .await;
    assert!(log.contains("queue is full"), "{log}");
    assert!(log.contains("dropped"), "{log}");
    // Logged on the 1st, 2nd, 4th, 8th… drop, not on every one.
    assert!(log.matches("queue is full").count() <= 5, "{log}");
    task.abort();
}

#[tokio::test]
async fn the_console_sends_each_notification_to_the_webhook_too() {
    use crate::console::app::update::{App, Effect};
    let (addr, mut requests) = receiver(vec![OK]).await;
    let config = crate::console::runtime::config::ConsoleConfig {
        // Nothing for the test's own terminal.
        notifications: Vec::new(),
        ..Default::default()
    };
    let mut runtime = crate::console::runtime::Runtime::new(
        App::default(),
        crate::console::ui::theme::Theme::default(),
        config,
        None,
        "offline".into(),
    );
    runtime.webhook = Some(start(WebhookKind::Json, addr, quick()));
    runtime.apply(Effect::Notify {
        title: "ingest_daily failed".into(),
        body: "task load: password=hunter2pass".into(),
    });
    let (_, body) = next(&mut requests).await;
    assert_eq!(body["title"], "ingest_daily failed");
    let text = body["body"].as_str().unwrap();
    assert!(
        text.starts_with("task load: ") && !text.contains("hunter2pass"),
        "{text}"
    );
    tokio::time::timeout(GUARD, runtime.shutdown())
        .await
        .unwrap();
}
