//! Property: whatever JSON arrives with a valid signature, the webhook answers below 500
//! and nothing panics: the answer comes, the processor keeps applying, the server stays
//! healthy. Bodies come from two generators: arbitrary JSON built from the names
//! Smartcar's payloads use (so it reaches deep into parsing, not only "eventType is
//! required"), and the fixtures with one value somewhere replaced by arbitrary JSON.
//! The cases are drawn with a fixed seed, so a failure repeats; its body is printed.

use crate::helpers::{fixture, fixture_names, spawn_app, Backend};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

crate::on_both_backends!(any_signed_json_is_answered_below_500,);

/// Cases per generator and database: 400 in every run (about 4 s), more with
/// `BAD_INPUT_CASES=5000 cargo test -p server --test api bad_input`.
fn cases() -> usize {
    std::env::var("BAD_INPUT_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400)
}

const NAMES: &[&str] = &[
    "eventId",
    "eventType",
    "eventName",
    "vehicleId",
    "data",
    "payload",
    "challenge",
    "vehicle",
    "id",
    "make",
    "model",
    "year",
    "signals",
    "code",
    "name",
    "group",
    "body",
    "value",
    "unit",
    "values",
    "capacity",
    "latitude",
    "longitude",
    "status",
    "error",
    "type",
    "description",
    "meta",
    "oemUpdatedAt",
    "retrievedAt",
    "fetchedAt",
    "triggers",
    "signal",
    "errors",
    "state",
    "resolution",
    "mode",
    "deliveryId",
    "deliveredAt",
    "deliveryTimestamp",
    "webhookId",
    "version",
    "user",
];

const WORDS: &[&str] = &[
    "VEHICLE_STATE",
    "VEHICLE_ERROR",
    "VERIFY",
    "verify",
    "LIVE",
    "TEST",
    "SIGNAL_UPDATED",
    "FIRST_DELIVERY",
    "SUCCESS",
    "ERROR",
    "charge-ischarging",
    "charge-energyadded",
    "tractionbattery-stateofcharge",
    "charge-chargingpower",
    "location-preciselocation",
    "kilowatt_hours",
    "kilowatts",
    "percent",
    "2026-03-14T17:22:10Z",
    "",
    "\u{0}",
    "\u{202e}",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        prop::sample::select(vec![0i64, -1, 1, 1_773_511_330_000, i64::MAX, i64::MIN])
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        prop::sample::select(WORDS).prop_map(|w| Value::String(w.to_owned())),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => prop::sample::select(NAMES).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    leaf().prop_recursive(5, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer in `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

/// A fixture with the value at one of its paths replaced.
fn mutated_fixture() -> impl Strategy<Value = Value> {
    let fixtures: Vec<Value> = fixture_names()
        .iter()
        .map(|name| serde_json::from_slice(&fixture(name)).unwrap())
        .collect();
    (
        prop::sample::select(fixtures),
        any::<prop::sample::Index>(),
        json(),
    )
        .prop_map(|(mut body, index, replacement)| {
            let mut paths = Vec::new();
            pointers(&body, String::new(), &mut paths);
            if !paths.is_empty() {
                if let Some(slot) = body.pointer_mut(&paths[index.index(paths.len())]) {
                    *slot = replacement;
                }
            }
            body
        })
}

fn draw<S: Strategy<Value = Value>>(strategy: S, seed: u8) -> Vec<Value> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    (0..cases())
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

async fn any_signed_json_is_answered_below_500(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut bodies = draw(json(), 1);
    bodies.extend(draw(mutated_fixture(), 2));
    let mut statuses = std::collections::BTreeMap::new();
    for body in bodies {
        let bytes = serde_json::to_vec(&body).unwrap();
        // post_signed waits until the processor has applied an accepted delivery.
        let status = app.post_signed(bytes.clone()).await.status().as_u16();
        assert!(
            status < 500,
            "{status} for {}",
            String::from_utf8_lossy(&bytes)
        );
        *statuses.entry(status).or_insert(0) += 1;
    }
    eprintln!("{backend:?}: answers {statuses:?}");
    // Still healthy, and the generators reached storage, not only refusals.
    assert_eq!(app.get("/healthz").await.status(), 200);
    // Whatever was acknowledged as stored was applied, none of it marked failed.
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM deliveries WHERE process_error IS NOT NULL")
            .await,
        0
    );
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 20,
        "{statuses:?}"
    );
    assert!(
        statuses.get(&202).copied().unwrap_or(0) > 20,
        "{statuses:?}"
    );
}
