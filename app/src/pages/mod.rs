//! Pages: each owns its data loading; components only display.
//!
//! The app runs in islands mode: every page is rendered on the server (with its data,
//! so it reads without JavaScript), and only its interactive part, an `#[island]` fed
//! the server's data as props, is hydrated in the browser. Page islands are lazy: with
//! `cargo leptos build --split` each one's code is a file of its own, fetched when a
//! page that shows it is first visited. Links between pages are plain page loads.

pub mod alerts;
pub mod events;
pub mod fleet;
pub mod health;
pub mod not_found;
pub mod notifications;
pub mod places;
pub mod readiness;
pub mod reports;
pub mod session;
pub mod settings;
pub mod site_load;
pub mod vehicle;
