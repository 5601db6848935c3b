//! The console's pure model (issue #4, in progress): state changes happen in
//! `update(&mut App, Msg) -> Vec<Effect>` without I/O or clock reads. This first
//! piece is the keymap as data.

pub mod keymap;
