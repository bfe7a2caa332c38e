//! chargelog's server, grouped by what runs it:
//!
//! - `webhook`: Smartcar's deliveries, from raw bytes to stored rows (the handler, and
//!   the ingest pipeline behind it).
//! - `http`: everything else a client reaches: the UI's pages, the JSON API and exports,
//!   login and its gates, health, metrics, the live stream, static files, and the
//!   connection handling under them.
//! - `tasks`: what runs in the background beside them (sweeping stale sessions, the
//!   demo's simulated fleet).
//! - `cli`: the commands of the `chargelog` binary (serve, migrate, user, token,
//!   rederive, prune, simulate).
//! - infrastructure: `config` (settings), `db` (connections, migrations), `state` (what
//!   handlers share), `startup` (composing it all), `telemetry` (logs), `budget` (rates of
//!   log lines and rows a stranger can cause).
//!
//! The fleet simulator (`chargelog simulate`, demo mode, tests and benchmarks) is a crate
//! of its own, `simulator`.
// The app's page views, with their islands, are deep types for the compiler.
#![recursion_limit = "256"]
#![cfg_attr(
    test,
    allow(
        unused_crate_dependencies,
        reason = "the dev-dependencies serve the integration tests and benchmarks"
    )
)]

/// mimalloc rather than the C library's allocator, for every binary built on this crate
/// (the server, its tests and benchmarks): reading, planning and applying a delivery
/// allocate thousands of small values (JSON, rows, statements), and glibc's malloc and
/// free were a fifth of the CPU time under a steady load (`docs/PERFORMANCE.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod budget;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod http;
pub mod notify;
pub mod secret;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod webhook;
