//! Pages: each owns its data loading; components only display.

pub mod events;
pub mod fleet;
pub mod not_found;
pub mod session;
pub mod vehicle;
