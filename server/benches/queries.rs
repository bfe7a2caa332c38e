//! How long pages and queries take as history grows, as printed figures.
//!
//! `cargo bench -p server --bench queries` loads simulated histories (`chargelog
//! simulate`'s generator) into SQLite through the same parse-and-store path as the
//! webhook, re-derives the sessions, and times, over HTTP with a logged-in operator:
//! the vehicle page (server-rendered), its session list and its energy buckets, for one
//! vehicle with 1 year and with 10 years of history. The fleet's pages have their own
//! benchmark (`fleet`).

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;
use common::pages::{load, row, server, time_get, DAY_MS};

async fn run() {
    println!(
        "# Query and page times ({} cores, SQLite)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| request | median | slowest | answer |");
    println!("|---|---|---|---|");
    for years in [1, 10] {
        let server = server().await;
        let days = 365 * years;
        let ids = load(&server.db, 1, days as f64, 7).await;
        let id = &ids[0];
        let from = chrono::DateTime::from_timestamp_millis(
            chrono::Utc::now().timestamp_millis() - days as i64 * DAY_MS,
        )
        .map(|t| t.format("%Y-%m-%dT00:00:00Z").to_string())
        .unwrap_or_default();
        let label = format!("{years} year{}", if years > 1 { "s" } else { "" });
        row(
            &format!("vehicle page, {label}"),
            time_get(&server, &format!("/vehicles/{id}"), 20).await,
        );
        row(
            &format!("session list (API, first 50), {label}"),
            time_get(&server, &format!("/api/v1/vehicles/{id}/sessions"), 20).await,
        );
        row(
            &format!("energy by day, last 30 days, {label}"),
            time_get(
                &server,
                &format!("/api/v1/vehicles/{id}/energy?bucket=day"),
                20,
            )
            .await,
        );
        row(
            &format!("energy by month, whole history, {label}"),
            time_get(
                &server,
                &format!("/api/v1/vehicles/{id}/energy?bucket=month&from={from}"),
                20,
            )
            .await,
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}
