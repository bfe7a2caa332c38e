//! Check 3 of `ingest`, on the real store (docs/FUZZING.md): for confirming that a
//! failure of `ingest` is chargelog's, not the database-free mirror's.
//!
//! Same input format (bodies separated by 0x1E) and the same "now". Each planned body is
//! stored with `server::webhook::accept::accept` in a fresh SQLite database and applied
//! at once by the processor (`apply::drain`, one delivery a batch); after each one the
//! vehicle's stored sessions must equal `derive` over its stored readings. About 36
//! inputs a second on 2 cores (a database and its migrations each), so it is a replay
//! tool rather than a fuzzer:
//! `scripts/fuzz N ingest_db` (which replays the saved `ingest-*` inputs first).
#![no_main]

mod input;

use app::domain::sessions::{derive, EngineConfig, Session};
use app::server::entities::sessions;
use input::Input;
use libfuzzer_sys::fuzz_target;
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};
use server::webhook::plan::plan_body;
use server::webhook::plan::Effect;
use server::webhook::{accept, apply};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

static RUNS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let path = std::env::temp_dir().join(format!(
        "chargelog-fuzz-{}-{}.db",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    runtime.block_on(run(data, &path));
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
});

async fn run(data: &[u8], path: &std::path::Path) {
    let input = Input::new(data);
    let as_of = input.as_of;
    let config = EngineConfig::default();
    let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("a SQLite database");
    server::db::migrate(&db).await.expect("migrations");

    let mut vehicles = BTreeSet::new();
    for (i, body, received_at) in input.bodies() {
        let Ok((record, effect)) = plan_body(body, received_at) else {
            continue; // a VERIFY is answered, anything else unplannable is a dead letter
        };
        if let Effect::State { vehicle, .. } = &effect {
            vehicles.insert(vehicle.id.clone());
        }
        accept::accept(&db, record, &effect).await.expect("stored");
        apply::drain(&db, &config, 1, as_of)
            .await
            .unwrap_or_else(|e| panic!("the processor failed: {e:?}"));
        for vehicle in &vehicles {
            let rows = sessions::Entity::find()
                .filter(sessions::Column::VehicleId.eq(vehicle.as_str()))
                .all(&db)
                .await
                .expect("sessions");
            let mut kept: Vec<Session> = rows
                .iter()
                .filter_map(app::server::sessions::from_row)
                .collect();
            kept.sort_by_key(|s| s.started_at);
            let readings = app::server::sessions::observations(&db, vehicle)
                .await
                .expect("readings");
            let expected = derive(vehicle.as_str(), &readings, &config, as_of);
            if kept != expected && format!("{kept:?}") != format!("{expected:?}") {
                panic!(
                    "stored sessions differ from a full derivation after body {i}\n got: \
                     {kept:#?}\nwant: {expected:#?}"
                );
            }
        }
    }
    db.close().await.expect("closed");
}
