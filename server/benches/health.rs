//! The data health page at 1 000 and at 10 000 vehicles, with a week of delivery counts
//! and with the 90 days the sweep keeps, as printed figures.
//!
//! `cargo bench -p server --bench health` loads a simulated fleet (`chargelog simulate`'s
//! generator, half a day of deliveries each) into SQLite through the webhook's
//! parse-and-store and apply paths, which count each delivery into `delivery_stats`;
//! times sequential requests of `/health` over HTTP as a logged-in operator (the first
//! page, one make and model, the second page); then adds 89 earlier days of counts for
//! every vehicle (three lag buckets a day, as a vehicle that reports all day has) and
//! times them again. The page reads only the week, so the older days must not show.
//! Knobs: `BENCH_FLEETS` ("1000,10000"), `BENCH_FLEET_DAYS` (0.5), `BENCH_RUNS` (20).

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;
use common::pages::{knob, load, server, time_get, Server};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QuerySelect};

/// Earlier days of counts added for the second measurement (the sweep keeps 90).
const OLDER_DAYS: i64 = 89;

/// The requests timed: (label, path).
async fn requests(server: &Server) -> Vec<(&'static str, String)> {
    use app::server::entities::vehicles::{Column, Entity};
    let first: Option<(Option<String>, Option<String>)> = Entity::find()
        .select_only()
        .columns([Column::Make, Column::Model])
        .order_by_asc(Column::Id)
        .into_tuple()
        .one(&server.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (make, model) = first.unwrap_or_default();
    let escape = |s: Option<String>| s.unwrap_or_default().replace(' ', "%20");
    let fiftieth: Vec<String> = Entity::find()
        .select_only()
        .column(Column::Id)
        .order_by_asc(Column::SortName)
        .order_by_asc(Column::Id)
        .limit(app::server::health::VEHICLES_PAGE)
        .into_tuple()
        .all(&server.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    vec![
        ("data health, first page", "/health".to_owned()),
        (
            "data health, one make and model",
            format!("/health?make={}&model={}", escape(make), escape(model)),
        ),
        (
            "data health, second page",
            format!(
                "/health?after={}",
                fiftieth.last().cloned().unwrap_or_default()
            ),
        ),
    ]
}

/// Adds [`OLDER_DAYS`] days of counts before today for every vehicle.
async fn add_older_days(server: &Server) -> u64 {
    use app::server::entities::delivery_stats::ActiveModel;
    use app::server::entities::vehicles::{Column, Entity};
    use sea_orm::ActiveValue::Set;
    let ids: Vec<String> = Entity::find()
        .select_only()
        .column(Column::Id)
        .into_tuple()
        .all(&server.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let today = app::domain::health::day_of(server::clock::now_ms());
    let mut rows = Vec::new();
    for id in &ids {
        for day in today - OLDER_DAYS..today - app::domain::health::WINDOW_DAYS + 1 {
            for (bucket, count) in [(2, 180), (6, 20), (-1, 2)] {
                rows.push(ActiveModel {
                    day: Set(day),
                    vehicle_id: Set(id.clone()),
                    bucket: Set(bucket),
                    count: Set(count),
                });
            }
        }
    }
    let added = rows.len() as u64;
    for chunk in rows.chunks(5_000) {
        app::server::entities::delivery_stats::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&server.db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    server
        .db
        .execute_unprepared("ANALYZE")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    added
}

async fn run() {
    let sizes: Vec<usize> = knob("BENCH_FLEETS", "1000,10000".to_owned())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let days: f64 = knob("BENCH_FLEET_DAYS", 0.5);
    let runs: usize = knob("BENCH_RUNS", 20);
    println!(
        "# Data health page ({} cores, SQLite, {days} days of simulated deliveries, median of {runs})",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| request | vehicles | a week of counts | 90 days of counts | ratio | answer |");
    println!("|---|---|---|---|---|---|");
    for &size in &sizes {
        let server = server().await;
        load(&server.db, size, days, 11).await;
        let requests = requests(&server).await;
        let mut week = Vec::new();
        for (_, path) in &requests {
            week.push(time_get(&server, path, runs).await);
        }
        let added = add_older_days(&server).await;
        eprintln!("added {added} rows of older counts");
        for ((label, path), (median, _, bytes)) in requests.iter().zip(week) {
            let (longer, slowest, _) = time_get(&server, path, runs).await;
            println!(
                "| {label} | {size} | {median:.1} ms | {longer:.1} ms (slowest {slowest:.1}) | {:.2} | {:.1} KB |",
                longer / median,
                bytes as f64 / 1024.0
            );
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}
