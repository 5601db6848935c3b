//! What opsdeck is told from outside: its directories, its environment and
//! the servers it connects to.

pub mod child_env;
pub mod env;
pub mod paths;
pub mod servers;
