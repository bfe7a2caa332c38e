//! One integration binary: the real server on port 0, a fresh database per test, on
//! SQLite always and on PostgreSQL when `CHARGELOG_TEST_POSTGRES_URL` names a server
//! (the README's test command starts one).

#![allow(
    unused_crate_dependencies,
    reason = "the tests share the package's dependencies and use a part of them"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test stops at the first surprise"
)]

mod helpers;

mod abuse;
mod alerts;
mod assets;
mod auth;
mod bad_input;
mod crash;
mod events;
mod fleet_page;
mod fleet_paging;
mod fuzz_regressions;
mod hardening;
mod health;
mod ingest;
mod json_api;
mod notifications;
mod openapi;
mod operations;
mod outage;
mod pages;
mod places;
mod pricing_pages;
mod process;
mod processing;
mod readiness;
mod scale_out;
mod sessions;
mod signatures;
mod simulate;
mod site_load;
mod verify;
