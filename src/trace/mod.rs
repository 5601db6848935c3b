//! Session traces (issue #5): a versioned JSON-lines log of the session's domain
//! messages ([`schema`]), written by a background task ([`recorder`]) after
//! redaction ([`redact`]); what reaches a terminal is neutralised ([`terminal`]).

pub mod blocks;
pub mod capture;
pub mod reader;
pub mod recorder;
pub mod redact;
pub mod replay;
pub mod schema;
pub mod session;
pub mod terminal;
pub mod transcript;
pub mod verify;
