//! Every input that made a fuzz target fail (`fuzz/regressions/`, see docs/FUZZING.md),
//! replayed against the real server on both databases.
//!
//! - `payload-*`: one body. Routing it from the raw bytes agrees with routing the parsed
//!   body, and posted signed it is answered below 500.
//! - `ingest-*`: several bodies separated by the byte 0x1E, posted one at a time. The
//!   sessions kept up to date delivery by delivery equal a fresh `rederive`.

use crate::helpers::{engine_for_fixtures, spawn_app_with, Backend, TOKEN};
use app::domain::webhook::{parse_json, Head};
use std::path::PathBuf;

crate::on_both_backends!(saved_fuzz_inputs_keep_their_promises);

fn regressions(prefix: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".bin"))
        })
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    found.sort();
    found
}

async fn saved_fuzz_inputs_keep_their_promises(backend: Backend) {
    let payloads = regressions("payload-");
    let ingests = regressions("ingest-");
    assert!(!payloads.is_empty() && !ingests.is_empty(), "inputs found");

    for (name, body) in &payloads {
        if let Ok(value) = parse_json(body) {
            assert_eq!(Head::parse(body), Ok(Head::of(&value)), "{name}: routing");
        }
        let app = spawn_app_with(backend, Some(TOKEN), engine_for_fixtures()).await;
        let status = app.post_signed(body.clone()).await.status();
        assert!(status.as_u16() < 500, "{name}: answered {status}");
    }

    for (name, input) in &ingests {
        // A database of its own for each input: they share vehicle ids.
        let app = spawn_app_with(backend, Some(TOKEN), engine_for_fixtures()).await;
        for body in input.split(|b| *b == 0x1E).filter(|b| !b.is_empty()) {
            let status = app.post_signed(body.to_vec()).await.status();
            assert!(status.as_u16() < 500, "{name}: answered {status}");
        }
        let kept = app.sessions().await;
        assert!(!kept.is_empty(), "{name}: it derives a session");
        let as_of = app::domain::time::EpochMs::from_datetime(chrono::Utc::now()).unwrap();
        server::cli::rederive::run(&app.db, None, &engine_for_fixtures(), as_of, false)
            .await
            .unwrap();
        assert_eq!(
            kept,
            app.sessions().await,
            "{name}: sessions kept delivery by delivery (left) and re-derived (right)"
        );
    }
}
