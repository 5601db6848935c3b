//! Session traces (issue #5, in progress): what leaves the process as text is
//! redacted first ([`redact`]).

pub mod redact;
