//! opsdeck: the incident console and DataOps MCP tool server for on-call data engineers.
//!
//! The binary is a thin shell over this library so that tests and benches drive
//! the same code the user runs.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod agent;
pub mod backends;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod infra;
pub mod logging;
pub mod logmine;
pub mod mcp;
pub mod model;
pub mod ops;
pub mod server;
pub mod support;
pub mod trace;

#[cfg(test)]
pub(crate) mod test_support;
