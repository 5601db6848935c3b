//! The console's pure model (issue #4, in progress): state changes happen in
//! `update(&mut App, Msg) -> Vec<Effect>` without I/O or clock reads. The first
//! pieces are the keymap as data, the run board's state and the chat's state.

pub mod board;
pub mod chat;
pub mod keymap;
