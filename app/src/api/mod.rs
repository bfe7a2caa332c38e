//! Server functions: thin adapters from the browser to `crate::server` queries.

pub mod alerts;
pub mod codec;
pub mod error;
pub mod events;
pub mod fleet;
pub mod health;
pub mod places;
pub mod readiness;
pub mod settings;
pub mod site_load;
pub mod vehicles;
