//! Which tools a turn offers the model. OpenAI-style APIs take at most 128
//! tools per request; a host with other MCP servers beside ours can have more.

use crate::mcp::CatalogTool;

use super::runner::ToolRunner;

/// The most tools one request may carry.
pub const MAX_TOOLS_PER_REQUEST: usize = 128;

/// The tools offered for one turn, and how many of the catalogue were left out.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    pub tools: Vec<CatalogTool>,
    pub left_out: usize,
}

/// Chooses the tools for a turn on `question`, with `recent` (the last few
/// questions and answers of the conversation) as context.
pub async fn tools_for_turn(runner: &ToolRunner<'_>, question: &str, recent: &[&str]) -> Offer {
    let _ = (question, recent);
    let mut tools = runner.host().catalog().await;
    let left_out = tools.len().saturating_sub(MAX_TOOLS_PER_REQUEST);
    tools.truncate(MAX_TOOLS_PER_REQUEST);
    Offer { tools, left_out }
}
