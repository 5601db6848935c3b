//! The console, in one wing: [`app`] is the pure model (state, messages,
//! `update`, approvals, tool calls); [`ui`] draws it; [`runtime`] owns the
//! terminal, the servers and the tasks, and turns effects into work.
//! Imports run downward only: runtime → ui → app.

pub mod app;
pub mod runtime;
pub mod ui;

pub use runtime::{builtin_args, run};
