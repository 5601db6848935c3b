//! The ground floor: small helpers every other part may use and which use no
//! other part of opsdeck — text clipping, redaction, terminal-safe text,
//! retry timing and lock handling.

pub mod exit;
pub mod redact;
pub mod retry;
pub mod sync;
pub mod terminal;
pub mod text;
