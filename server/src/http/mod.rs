//! What a client reaches over HTTP, apart from the webhook (`crate::webhook`): each
//! module exports its `routes()`, and `startup::router` composes them, open or behind the
//! operator gates (`auth::guard`).

pub mod alerts;
pub mod api;
pub mod assets;
pub mod auth;
pub mod client;
pub mod error;
pub mod export;
pub mod forms;
pub mod health;
pub mod json_body;
pub mod layers;
pub mod live;
pub mod load;
pub mod metrics;
pub mod pages;
pub mod places;
pub mod readiness;
pub mod reports;
pub mod serve;
