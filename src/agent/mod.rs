//! The triage agent: the tool runner with its approval policy, the domain events
//! it emits, and the offline agent that answers without an LLM.

pub mod conversation;
pub mod events;
pub mod intent;
pub mod llm;
pub mod offer;
pub mod offline;
pub mod policy;
pub mod runner;
pub mod turn;
