//! The console's pure model (issue #4, in progress): every state change happens in
//! [`update::update`]`(&mut App, Msg) -> Vec<Effect>` without I/O or clock reads.
//! Built so far: the keymap as data, the run board's, the chat's and the inspector's state, and the
//! update function over them; the terminal runtime and the drawing come next.

pub mod board;
pub mod chat;
pub mod inspector;
pub mod keymap;
pub mod update;
