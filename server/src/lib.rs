//! chargelog's server: configuration, the webhook ingest, the HTTP application, the CLI.

pub mod api;
pub mod auth;
pub mod budget;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod demo;
pub mod export;
pub mod live;
pub mod metrics;
pub mod prune;
pub mod rederive;
pub mod serve;
pub mod simulate;
pub mod startup;
pub mod sweep;
pub mod telemetry;
pub mod webhook;
