//! Any bytes as a signed webhook body (docs/FUZZING.md).
//!
//! Planning a body (`server::webhook::plan::plan_body`: NUL escapes, routing, the typed
//! envelope, one reading per signal) must never panic, whatever it is given; the quick
//! routing look at the raw bytes (`Head::parse`) must agree with `Head::of` on the parsed
//! body, as `head_from_raw_bytes_agrees_with_head_of_the_parsed_body` in
//! app/src/domain/webhook.rs asserts; and reading NULs as U+FFFD (`without_nul`) must
//! keep a JSON body JSON, changing nothing else. What the webhook checks before it
//! answers (`check_body`) must decide what `plan_body` decides.
#![no_main]

use app::domain::sessions::{Observation, ObservedValue};
use app::domain::time::EpochMs;
use app::domain::webhook::{parse_json, Challenge, Head};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use server::webhook::plan::{check_body, plan_body, without_nul, Disposition, Effect};

/// 2026-03-14 21:50 UTC, the fixtures' "now".
const RECEIVED_AT_MS: i64 = 1_773_525_000_000;

fuzz_target!(|data: &[u8]| {
    let received_at = EpochMs::new(RECEIVED_AT_MS).expect("a valid time");

    let head = Head::parse(data);
    if let Ok(value) = parse_json(data) {
        assert_eq!(
            head,
            Ok(Head::of(&value)),
            "Head::parse disagrees with Head::of on {:?}",
            String::from_utf8_lossy(data)
        );
        check_without_nul(data, &value);
    }
    if let Ok(Head::Verify { challenge }) = &head {
        // The handler signs what this accepts; refusing is fine, panicking is not.
        let _ = Challenge::parse(challenge.as_ref()).map(|c| c.as_str().len());
    }

    let planned = plan_body(data, received_at);
    // What the webhook decides before answering must be what the processor's full
    // reading decides: the same row, the same refusal.
    match (check_body(data, received_at), &planned) {
        (Ok((checked, disposition)), Ok((record, effect))) => {
            assert_eq!(format!("{checked:?}"), format!("{record:?}"));
            assert_eq!(disposition, Disposition::from(effect));
        }
        (Err(checked), Err(err)) => assert_eq!(&checked, err),
        (checked, planned) => panic!(
            "check_body {:?} and plan_body {:?} disagree on {:?}",
            checked.map(|c| c.1),
            planned.as_ref().map(|p| Disposition::from(&p.1)),
            String::from_utf8_lossy(data)
        ),
    }
    match planned {
        Ok((record, effect)) => {
            assert_eq!(record.raw_body, data, "the raw body is stored unchanged");
            assert_eq!(record.received_at, received_at);
            match &effect {
                Effect::State {
                    vehicle,
                    readings,
                    first_delivery,
                } => {
                    assert_eq!(record.vehicle_id.as_ref(), Some(&vehicle.id));
                    for reading in readings {
                        if let Some(o) = Observation::from_reading(reading, *first_delivery) {
                            assert_eq!(o.code, reading.code.to_string());
                            if let ObservedValue::Location { .. } = o.value {
                                assert_eq!(o.code, app::domain::signals::PRECISE_LOCATION);
                            }
                        }
                    }
                }
                Effect::Errors { vehicle, errors } => {
                    assert_eq!(record.vehicle_id.as_ref(), Some(&vehicle.id));
                    let _ = errors.len();
                }
                Effect::Nothing(outcome) => {
                    let _ = outcome.as_str();
                }
            }
        }
        Err(err) => {
            // The dead letter keeps this message.
            let _ = err.to_string();
        }
    }
});

/// `without_nul`'s promise: every NUL character (only `\u0000` can carry one in JSON)
/// reads as U+FFFD, and nothing else changes.
fn check_without_nul(data: &[u8], value: &Value) {
    let cleaned = without_nul(data);
    let parsed = parse_json(&cleaned).unwrap_or_else(|e| {
        panic!(
            "without_nul broke a JSON body ({e}): {:?} became {:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&cleaned)
        )
    });
    assert_eq!(
        parsed,
        replace_nul(value),
        "without_nul changed more than NULs in {:?}",
        String::from_utf8_lossy(data)
    );
}

fn replace_nul(value: &Value) -> Value {
    let text = |s: &str| s.replace('\0', "\u{fffd}");
    match value {
        Value::String(s) => Value::String(text(s)),
        Value::Array(items) => Value::Array(items.iter().map(replace_nul).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(text(k), replace_nul(v));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
