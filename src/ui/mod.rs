//! Drawing only: every function here reads the [`crate::app::update::App`] and
//! paints a frame; none changes state or does I/O.

pub mod theme;
