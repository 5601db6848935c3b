//! A server's tool list, page by page, within fixed caps. rmcp's
//! `list_all_tools` follows `nextCursor` for as long as the server names one:
//! a server that serves 50,000 tools a page, forever, took the host to 3.7 GB.
//! Here each page is checked as it arrives, and a server over a cap is refused
//! with a message that says which cap, rather than cut short: a partial
//! catalogue would hide tools without anyone knowing, and a server that large
//! or that endless is broken or hostile either way.

use std::collections::HashSet;

use rmcp::RoleClient;
use rmcp::model::{ListToolsResult, PaginatedRequestParams, Tool};
use rmcp::service::Peer;

/// Pages one listing may take.
pub(crate) const MAX_PAGES: usize = 20;
/// Tools one server may list.
pub(crate) const MAX_TOOLS: usize = 2_000;
/// Bytes of tool definitions (as JSON) one server may list.
pub(crate) const MAX_DEFINITION_BYTES: usize = 8 << 20;
/// The longest cursor kept (cursors are opaque, and each is remembered to spot a loop).
pub(crate) const MAX_CURSOR_BYTES: usize = 16 << 10;

/// What a listing holds so far; each page is checked before the next is asked for.
#[derive(Debug, Default)]
pub(super) struct Listing {
    tools: Vec<Tool>,
    pages: usize,
    definition_bytes: usize,
    cursors: HashSet<String>,
}

impl Listing {
    /// Adds one page: the cursor of the next, `None` at the end, or why to stop.
    pub fn add(&mut self, page: ListToolsResult) -> Result<Option<String>, String> {
        self.pages += 1;
        if self.tools.len().saturating_add(page.tools.len()) > MAX_TOOLS {
            return Err(format!(
                "tools/list returned more than {MAX_TOOLS} tools; opsdeck refuses servers that large"
            ));
        }
        for tool in &page.tools {
            self.definition_bytes = self.definition_bytes.saturating_add(json_size(tool));
        }
        if self.definition_bytes > MAX_DEFINITION_BYTES {
            return Err(format!(
                "tools/list returned more than {} MiB of tool definitions; opsdeck refuses servers that large",
                MAX_DEFINITION_BYTES >> 20
            ));
        }
        self.tools.extend(page.tools);
        let Some(cursor) = page.next_cursor else {
            return Ok(None);
        };
        if self.pages >= MAX_PAGES {
            return Err(format!(
                "tools/list did not end after {MAX_PAGES} pages; opsdeck refuses servers that long"
            ));
        }
        if cursor.len() > MAX_CURSOR_BYTES {
            return Err(format!(
                "tools/list returned a cursor of {} bytes (opsdeck accepts at most {} KiB)",
                cursor.len(),
                MAX_CURSOR_BYTES >> 10
            ));
        }
        if !self.cursors.insert(cursor.clone()) {
            return Err(format!(
                "tools/list named the cursor of an earlier page again after {} pages; opsdeck stops a list that loops",
                self.pages
            ));
        }
        Ok(Some(cursor))
    }

    pub fn into_tools(self) -> Vec<Tool> {
        self.tools
    }
}

/// Why a listing gave no list.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ListingError {
    /// The server went over a cap: it is refused, not retried on the same session.
    OverCap(String),
    /// The request failed or timed out; the server may answer the next one.
    Failed(String),
}

impl std::fmt::Display for ListingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListingError::OverCap(reason) | ListingError::Failed(reason) => f.write_str(reason),
        }
    }
}

/// Every page of `peer`'s tools, or the first error or cap it ran into.
/// The caller bounds the time.
pub(super) async fn list_all(peer: &Peer<RoleClient>) -> Result<Vec<Tool>, ListingError> {
    let mut listing = Listing::default();
    let mut cursor = None;
    loop {
        let params = PaginatedRequestParams::default().with_cursor(cursor);
        let page = peer
            .list_tools(Some(params))
            .await
            .map_err(|e| ListingError::Failed(format!("tools/list failed: {e}")))?;
        match listing.add(page).map_err(ListingError::OverCap)? {
            Some(next) => cursor = Some(next),
            None => return Ok(listing.into_tools()),
        }
    }
}

/// The length of `tool` as JSON, counted without building the text.
fn json_size(tool: &Tool) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serialising a parsed Tool cannot fail; were it to, it counts as what was written.
    let _ = serde_json::to_writer(&mut count, tool);
    count.0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tools(prefix: &str, count: usize, description: &str) -> Vec<Tool> {
        (0..count)
            .map(|i| {
                Tool::new(
                    format!("{prefix}{i}"),
                    description.to_string(),
                    Arc::new(serde_json::Map::new()),
                )
            })
            .collect()
    }

    fn page(tools: Vec<Tool>, next: Option<&str>) -> ListToolsResult {
        let mut page = ListToolsResult::with_all_items(tools);
        page.next_cursor = next.map(str::to_string);
        page
    }

    #[test]
    fn pages_are_followed_to_the_end() {
        let mut listing = Listing::default();
        assert_eq!(
            listing.add(page(tools("a", 3, "x"), Some("1"))),
            Ok(Some("1".into()))
        );
        assert_eq!(listing.add(page(tools("b", 2, "x"), None)), Ok(None));
        let names: Vec<String> = listing
            .into_tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(names, ["a0", "a1", "a2", "b0", "b1"]);
    }

    #[test]
    fn more_tools_than_the_cap_are_refused_on_the_page_that_passes_it() {
        let mut listing = Listing::default();
        assert!(
            listing
                .add(page(tools("a", MAX_TOOLS - 1, "x"), Some("1")))
                .is_ok()
        );
        let error = listing
            .add(page(tools("b", 2, "x"), Some("2")))
            .unwrap_err();
        assert_eq!(
            error,
            "tools/list returned more than 2000 tools; opsdeck refuses servers that large"
        );
        let mut huge = Listing::default();
        assert!(huge.add(page(tools("a", 50_000, "x"), None)).is_err());
    }

    #[test]
    fn definitions_over_the_size_cap_are_refused() {
        let mut listing = Listing::default();
        let big = "d".repeat(100 << 10);
        let error = listing.add(page(tools("a", 90, &big), None)).unwrap_err();
        assert!(
            error.contains("more than 8 MiB of tool definitions"),
            "{error}"
        );
        let mut fits = Listing::default();
        assert_eq!(fits.add(page(tools("a", 70, &big), None)), Ok(None));
    }

    #[test]
    fn a_list_that_does_not_end_stops_at_the_page_cap() {
        let mut listing = Listing::default();
        for n in 1..MAX_PAGES {
            let cursor = n.to_string();
            assert_eq!(
                listing.add(page(tools(&cursor, 1, "x"), Some(&cursor))),
                Ok(Some(cursor))
            );
        }
        let error = listing
            .add(page(tools("last", 1, "x"), Some("next")))
            .unwrap_err();
        assert_eq!(
            error,
            "tools/list did not end after 20 pages; opsdeck refuses servers that long"
        );
    }

    #[test]
    fn a_repeated_cursor_stops_the_listing() {
        let mut listing = Listing::default();
        assert!(listing.add(page(tools("a", 1, "x"), Some("again"))).is_ok());
        let error = listing
            .add(page(tools("b", 1, "x"), Some("again")))
            .unwrap_err();
        assert!(
            error.contains("named the cursor of an earlier page"),
            "{error}"
        );
    }

    #[test]
    fn an_oversized_cursor_is_refused() {
        let mut listing = Listing::default();
        let cursor = "c".repeat(MAX_CURSOR_BYTES + 1);
        let error = listing
            .add(page(tools("a", 1, "x"), Some(&cursor)))
            .unwrap_err();
        assert!(error.contains("a cursor of 16385 bytes"), "{error}");
    }
}
