//! Session traces (issue #5): a versioned JSON-lines log of the session's domain
//! messages ([`schema`]), written by a background task ([`recorder`]) after
//! redaction ([`redact`]); what reaches a terminal is neutralised ([`crate::support::terminal`]).

pub mod blocks;
pub mod reader;
pub mod recorder;
pub mod redact;
pub mod render;
pub mod resume;
pub mod schema;
pub mod session;
pub mod verify;
