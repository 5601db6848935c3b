//! The console's pure model: every state change happens in
//! [`update::update`]`(&mut App, Msg) -> Vec<Effect>` without I/O or clock reads.
//! The terminal runtime is in [`crate::console`]; the drawing in [`crate::ui`].

pub mod approval;
pub mod board;
pub mod capture;
pub mod chat;
pub mod command;
pub mod details;
pub mod inspector;
pub mod json_view;
pub mod keymap;
pub mod layout;
pub mod update;
