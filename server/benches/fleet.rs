//! The fleet page and `/api/v1/vehicles` at 1 000 and at 10 000 vehicles, as printed
//! figures, against the targets of docs/PERFORMANCE.md.
//!
//! `cargo bench -p server --bench fleet` loads a simulated fleet (`chargelog
//! simulate`'s generator) into SQLite through the webhook's parse-and-store and apply
//! paths, once per fleet size, and times sequential requests over HTTP as a logged-in
//! operator: the first page, each sort, a search for one model and
//! one that matches nothing (it reads every name), a status filter, a page deep in the
//! order, and the API's equivalents. Each row prints both sizes, their ratio and the
//! size of the answer, and says where a target is missed; then how long filling every
//! fleet row takes (what the first start after the upgrade does). Knobs: `BENCH_FLEETS`
//! ("1000,10000"), `BENCH_FLEET_DAYS` (0.5), `BENCH_RUNS` (20), and `BENCH_KEEP_DB` (set:
//! each fleet's database file stays, for `sqlite3` and `EXPLAIN QUERY PLAN`).

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;
use common::pages::{knob, load, server, time_get, Server};

/// What a fleet page must stay under: HTML bytes, the first page's time, and any
/// sort's or search's time (ms); and how much slower 10 000 vehicles may be than 1 000.
const MAX_PAGE_BYTES: usize = 100 * 1024;
const MAX_FIRST_PAGE_MS: f64 = 30.0;
const MAX_SORT_MS: f64 = 50.0;
const MAX_RATIO: f64 = 1.5;

/// The requests timed at each size: (label, path, time limit in ms).
fn requests(deep: &str) -> Vec<(&'static str, String, f64)> {
    let sorts = [
        (
            "fleet page, sorted by state of charge (desc)",
            "/?sort=soc&dir=desc",
        ),
        ("fleet page, sorted by status", "/?sort=status"),
        (
            "fleet page, sorted by power (desc)",
            "/?sort=power&dir=desc",
        ),
        ("fleet page, sorted by range", "/?sort=range"),
        (
            "fleet page, sorted by last update (desc)",
            "/?sort=updated&dir=desc",
        ),
        (
            "fleet page, search for one model (\"nissan\")",
            "/?q=nissan",
        ),
        ("fleet page, search matching none (\"zzz\")", "/?q=zzz"),
        ("fleet page, charging only", "/?status=charging"),
    ];
    let mut out = vec![("fleet page, first page", "/".to_owned(), MAX_FIRST_PAGE_MS)];
    out.extend(
        sorts
            .into_iter()
            .map(|(label, path)| (label, path.to_owned(), MAX_SORT_MS)),
    );
    out.push((
        "fleet page, sixth page by name",
        deep.to_owned(),
        MAX_SORT_MS,
    ));
    out.push((
        "API, first 50 by name",
        "/api/v1/vehicles".to_owned(),
        MAX_SORT_MS,
    ));
    out.push((
        "API, 50 by range (desc), search",
        "/api/v1/vehicles?sort=-range&q=nissan".to_owned(),
        MAX_SORT_MS,
    ));
    out
}

/// One request's figures at one size: label, median and slowest ms, answer bytes, and
/// its time limit in ms.
type Timed = (&'static str, f64, f64, usize, f64);

/// How long the server's start takes to fill every fleet row again, as after the
/// migration that added them (seconds).
async fn refill(server: &Server) -> f64 {
    use sea_orm::ConnectionTrait;
    server
        .db
        .execute_unprepared("UPDATE vehicles SET fleet_version = 0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    app::server::fleet::refresh_outdated(
        &server.db,
        &app::domain::sessions::EngineConfig::default(),
        server::clock::now(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    started.elapsed().as_secs_f64()
}

/// The path of the page `hops` "Next" links after the first.
async fn deep_page(server: &Server, hops: usize) -> String {
    let client = reqwest::Client::new();
    let mut path = "/".to_owned();
    for _ in 0..hops {
        let html = client
            .get(format!("{}{path}", server.base))
            .header("cookie", &server.cookie)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let Some(at) = html.find("rel=\"next\"") else {
            return path;
        };
        let start = html[..at].rfind("href=\"").map_or(0, |i| i + 6);
        let href = &html[start..];
        path = format!("/{}", &href[..href.find('"').unwrap_or(0)]).replace("&amp;", "&");
    }
    path
}

async fn run() {
    let sizes: Vec<usize> = knob("BENCH_FLEETS", "1000,10000".to_owned())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let days: f64 = knob("BENCH_FLEET_DAYS", 0.5);
    let runs: usize = knob("BENCH_RUNS", 20);
    let mut results: Vec<Vec<Timed>> = Vec::new();
    let mut fills = Vec::new();
    for &size in &sizes {
        let server = server().await;
        load(&server.db, size, days, 11).await;
        fills.push((size, refill(&server).await));
        let deep = deep_page(&server, 5).await;
        let mut rows = Vec::new();
        for (label, path, limit) in requests(&deep) {
            let (median, max, bytes) = time_get(&server, &path, runs).await;
            rows.push((label, median, max, bytes, limit));
        }
        results.push(rows);
    }
    println!(
        "# Fleet pages ({} cores, SQLite, {days} days of simulated history, median of {runs})",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    let header: Vec<String> = sizes.iter().map(|n| format!("{n} vehicles")).collect();
    println!(
        "| request | {} | ratio | answer | within targets |",
        header.join(" | ")
    );
    println!("|---|{}---|---|---|", "---|".repeat(sizes.len()));
    let (Some(first), Some(last)) = (results.first(), results.last()) else {
        return;
    };
    let mut missed = 0;
    for (i, (label, _, _, _, limit)) in first.iter().enumerate() {
        let medians: Vec<f64> = results.iter().map(|r| r[i].1).collect();
        let bytes = results.iter().map(|r| r[i].3).max().unwrap_or(0);
        let ratio = last[i].1 / first[i].1;
        let html = !label.starts_with("API");
        let mut problems = Vec::new();
        if medians.iter().any(|m| m > limit) {
            problems.push(format!("over {limit} ms"));
        }
        if ratio > MAX_RATIO {
            problems.push(format!("ratio over {MAX_RATIO}"));
        }
        if html && bytes > MAX_PAGE_BYTES {
            problems.push("over 100 KB".to_owned());
        }
        missed += problems.len();
        let cells: Vec<String> = medians.iter().map(|m| format!("{m:.1} ms")).collect();
        println!(
            "| {label} | {} | {ratio:.2} | {:.1} KB | {} |",
            cells.join(" | "),
            bytes as f64 / 1024.0,
            if problems.is_empty() {
                "yes".to_owned()
            } else {
                problems.join(", ")
            }
        );
    }
    println!();
    println!(
        "slowest single request: {:.1} ms",
        results
            .iter()
            .flatten()
            .map(|r| r.2)
            .fold(0.0_f64, f64::max)
    );
    for (size, seconds) in fills {
        println!("filling {size} fleet rows after an upgrade (every row outdated): {seconds:.2} s");
    }
    println!("targets missed: {missed}");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}
