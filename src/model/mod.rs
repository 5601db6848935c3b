//! The domain model shared by backends, tools, the agent and the console.

pub mod change;
pub mod contract;
pub mod estate;
pub mod graph;
pub mod log;
pub mod resource;
pub mod run;
pub mod secret;
pub mod time;
