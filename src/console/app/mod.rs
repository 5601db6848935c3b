//! The console's pure model: every state change happens in
//! [`update::update`]`(&mut App, Msg) -> Vec<Effect>` without I/O or clock reads.
//! The terminal runtime is in [`super::runtime`]; the drawing in [`super::ui`].

pub mod approval;
pub mod board;
pub mod calls;
pub mod capture;
pub mod chat;
pub mod colon;
pub mod details;
pub mod follow;
pub mod inspector;
pub mod json_view;
pub mod keymap;
pub mod layout;
pub mod pane;
pub mod update;
