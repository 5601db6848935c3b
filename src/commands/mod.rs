//! What each command does, on top of the library.

pub mod ask;
pub mod logs;
pub mod replay;
pub mod serve;
