//! What each command does, on top of the library.

pub mod ask;
pub mod replay;
pub mod serve;
