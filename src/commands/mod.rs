//! What each command does, on top of the library.

pub mod serve;
