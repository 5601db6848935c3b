//! Listings: `nextLink` paging that follows links only back to the same
//! service (a link elsewhere would carry our token away), never in a loop, and
//! never past a bound.

use reqwest::Url;
use serde_json::Value;

use super::{Call, RestClient, RestError};

/// Most pages one listing follows.
const MAX_PAGES: usize = 500;

impl RestClient {
    /// Every item of a listing, following `nextLink` (only back to the same
    /// service, and only to paths `allowed` accepts) up to `max_items`.
    pub async fn list(
        &self,
        first: Url,
        scope: &str,
        allowed: &(dyn Fn(&Url) -> bool + Sync),
        max_items: usize,
    ) -> Result<Vec<Value>, RestError> {
        let mut items = Vec::new();
        let mut next = Some(first.clone());
        let mut seen: Vec<String> = Vec::new();
        while let Some(url) = next.take() {
            if seen.len() >= MAX_PAGES {
                return Err(RestError::Unreadable(format!(
                    "the listing went on for more than {MAX_PAGES} pages"
                )));
            }
            seen.push(url.as_str().to_string());
            let page = self.send(&Call::get(url, scope)).await?;
            match page.get("value") {
                Some(Value::Array(values)) => items.extend(values.iter().cloned()),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(RestError::Unreadable(
                        "the listing's `value` is not a list".into(),
                    ));
                }
            }
            if items.len() >= max_items {
                items.truncate(max_items);
                break;
            }
            next = next_link(&page, &first, allowed, &seen)?;
        }
        Ok(items)
    }
}

/// The `nextLink` of a page, if it is one we may follow.
fn next_link(
    page: &Value,
    first: &Url,
    allowed: &(dyn Fn(&Url) -> bool + Sync),
    seen: &[String],
) -> Result<Option<Url>, RestError> {
    let Some(raw) = page.get("nextLink").and_then(Value::as_str) else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(raw)
        .map_err(|e| RestError::Unreadable(format!("nextLink '{raw}' is not a URL: {e}")))?;
    if url.origin() != first.origin() {
        return Err(RestError::Unreadable(format!(
            "nextLink points at another host ({}); refusing to send our token there",
            url.origin().ascii_serialization()
        )));
    }
    if !allowed(&url) {
        return Err(RestError::Unreadable(format!(
            "nextLink points at an unexpected path ({}); refusing to follow it",
            url.path()
        )));
    }
    if seen.iter().any(|s| s == url.as_str()) {
        return Err(RestError::Unreadable(
            "nextLink repeats an earlier page; stopping instead of looping".into(),
        ));
    }
    Ok(Some(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_must_stay_on_the_same_service() {
        let first = Url::parse("https://kv.vault.azure.net/secrets?api-version=7.4").unwrap();
        let any = |_: &Url| true;
        let page = |link: &str| serde_json::json!({"value": [], "nextLink": link});
        let same = next_link(
            &page("https://kv.vault.azure.net:443/secrets?api-version=7.4&$skiptoken=a"),
            &first,
            &any,
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(same.query(), Some("api-version=7.4&$skiptoken=a"));
        let err = next_link(&page("https://evil.example.com/secrets"), &first, &any, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("another host"), "{err}");
        let only_list = |u: &Url| u.path() == "/secrets";
        let err = next_link(
            &page("https://kv.vault.azure.net/secrets/db-password/abc"),
            &first,
            &only_list,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unexpected path"), "{err}");
        let looping = next_link(
            &page("https://kv.vault.azure.net/secrets?x=1"),
            &first,
            &any,
            &["https://kv.vault.azure.net/secrets?x=1".to_string()],
        );
        assert!(looping.is_err());
        assert!(next_link(&page(""), &first, &any, &[]).unwrap().is_none());
    }
}
