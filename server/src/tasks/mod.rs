//! Background tasks started with the server (the webhook's processor lives with the
//! ingest pipeline, in `crate::webhook`).

pub mod demo;
pub mod pricing;
pub mod readiness;
pub mod sweep;
