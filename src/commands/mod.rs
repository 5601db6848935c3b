//! What each command does, on top of the library.

pub mod ask;
pub mod serve;
