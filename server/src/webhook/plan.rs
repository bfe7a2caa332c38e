//! What a verified body means, without a database: its delivery row
//! ([`DeliveryRecord`]) and what applying it changes ([`Effect`]), or why it cannot be
//! processed ([`PayloadError`]). Pure: the same bytes give the same plan, and nothing
//! here reads the clock or storage.
//!
//! The webhook only [`check`]s a body before it answers (the row, and whether it waits
//! for the processor: [`Disposition`]); the processor reads the whole plan from the
//! stored body later ([`plan_body`]). Both read it the same way, and a test holds them
//! to the same row and the same refusal.

use app::domain::events::Outcome;
use app::domain::ids::{EventId, VehicleId};
use app::domain::reading::Reading;
use app::domain::time::EpochMs;
use app::domain::webhook::{parse_json, Checked, Envelope, EventType, Head, Mode, PayloadError};

/// The delivery row, as the handler saw it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub event_id: Option<EventId>,
    pub delivery_id: Option<String>,
    pub webhook_id: Option<String>,
    pub event_type: String,
    pub mode: Option<String>,
    pub vehicle_id: Option<VehicleId>,
    pub triggers: Vec<String>,
    pub delivered_at: Option<EpochMs>,
    pub received_at: EpochMs,
    pub signature: Option<String>,
    pub user_agent: Option<String>,
    pub raw_body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct VehicleFacts {
    pub id: VehicleId,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct ErrorRecord {
    pub kind: Option<String>,
    pub code: Option<String>,
    pub state: Option<String>,
    pub description: Option<String>,
    pub suggested_user_message: Option<String>,
    pub doc_url: Option<String>,
    pub resolution: Option<String>,
    pub signals: Vec<String>,
}

/// What storing a delivery needs to know of it: whether it is complete once stored,
/// or waits for the processor to apply its vehicle data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Stored with this outcome; nothing else to do.
    Complete(Outcome),
    /// Vehicle data (VEHICLE_STATE with this many signals, or VEHICLE_ERROR) that the
    /// processor applies after the webhook has answered.
    Waiting { signal_count: usize },
}

impl Disposition {
    /// The outcome its delivery row and log row record.
    pub fn outcome(self) -> Outcome {
        match self {
            Disposition::Complete(outcome) => outcome,
            Disposition::Waiting { .. } => Outcome::Stored,
        }
    }

    pub fn is_waiting(self) -> bool {
        matches!(self, Disposition::Waiting { .. })
    }
}

impl From<&Effect> for Disposition {
    fn from(effect: &Effect) -> Self {
        match effect {
            Effect::Nothing(outcome) => Disposition::Complete(*outcome),
            Effect::State { readings, .. } => Disposition::Waiting {
                signal_count: readings.len(),
            },
            Effect::Errors { .. } => Disposition::Waiting { signal_count: 0 },
        }
    }
}

/// What the delivery does beyond being stored.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Stored raw; changes nothing else.
    Nothing(Outcome),
    /// VEHICLE_STATE: the vehicle, one row per signal, and its latest state.
    State {
        vehicle: VehicleFacts,
        readings: Vec<Reading>,
        /// The delivery carried a FIRST_DELIVERY trigger.
        first_delivery: bool,
    },
    /// VEHICLE_ERROR: the vehicle and its error entries.
    Errors {
        vehicle: VehicleFacts,
        errors: Vec<ErrorRecord>,
    },
}

/// The body with every NUL character (`\u0000`, the only way JSON carries one) read as
/// U+FFFD instead. PostgreSQL's text columns cannot hold NUL, and the same delivery must
/// give the same rows on either database; the raw bytes are stored unchanged.
pub fn without_nul(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const NUL: &[u8] = b"\\u0000";
    if memchr::memmem::find(body, NUL).is_none() {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' {
            // An escape: `\u0000` becomes `\ufffd`; any other is copied whole, so an
            // escaped backslash followed by `u0000` stays text.
            if body[i..].starts_with(NUL) {
                out.extend_from_slice(b"\\ufffd");
                i += NUL.len();
            } else {
                out.extend_from_slice(&body[i..(i + 2).min(body.len())]);
                i += 2;
            }
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// What a signed body would store, without storing it: for the processor, which applies
/// stored deliveries, and for loading many deliveries at once (benchmarks, imports),
/// which then derive sessions once per vehicle at the end.
pub fn plan_body(
    body: &[u8],
    received_at: EpochMs,
) -> Result<(DeliveryRecord, Effect), PayloadError> {
    on_body(body, received_at, plan)
}

/// What the webhook decides of a body: its row, and what storing it needs (`T`).
type Decided<T> = Result<(DeliveryRecord, T), PayloadError>;

/// `decide` on a signed body as the webhook sees it (NULs read as U+FFFD), its record
/// keeping the raw body unchanged.
fn on_body<T>(
    body: &[u8],
    received_at: EpochMs,
    decide: fn(Head, &[u8], EpochMs) -> Decided<T>,
) -> Decided<T> {
    let text = without_nul(body);
    let (record, decided) = decide(Head::parse(&text)?, &text, received_at)?;
    Ok((
        DeliveryRecord {
            received_at,
            raw_body: body.to_vec(),
            ..record
        },
        decided,
    ))
}

/// What a verified JSON body is, read far enough to store it: its row, and for vehicle
/// data, the envelope with the vehicle and every signal's code checked. `B` is how the
/// signals' bodies are read (see [`Envelope`]).
enum Read<B> {
    /// Stored as it is: legacy, TEST mode, event types chargelog does not process.
    Complete(DeliveryRecord, Outcome),
    /// VEHICLE_STATE: `data.signals` is there and every signal has a valid code.
    State(DeliveryRecord, VehicleFacts, Envelope<B>),
    /// VEHICLE_ERROR.
    Errors(DeliveryRecord, VehicleFacts, Envelope<B>),
}

fn read<B: serde::de::DeserializeOwned + Default>(
    head: Head,
    raw: &[u8],
    received_at: EpochMs,
) -> Result<Read<B>, PayloadError> {
    let base = |event_type: String| DeliveryRecord {
        event_id: None,
        delivery_id: None,
        webhook_id: None,
        event_type,
        mode: None,
        vehicle_id: None,
        triggers: Vec::new(),
        delivered_at: None,
        received_at,
        signature: None,
        user_agent: None,
        raw_body: Vec::new(),
    };
    match head {
        Head::Unrecognised => Err(PayloadError::Missing { path: "eventType" }),
        Head::Verify { .. } => Err(PayloadError::Invalid {
            path: "eventType".into(),
            message: "VERIFY is answered before storage".into(),
        }),
        Head::Legacy { event_name } => {
            let value = parse_json(raw)?;
            let text = |p: &str| value.pointer(p).and_then(|v| v.as_str()).map(str::to_owned);
            let event_id = text("/payload/eventId").and_then(|id| EventId::parse(&id).ok());
            let vehicle_id = text("/payload/vehicleId").and_then(|id| VehicleId::parse(&id).ok());
            Ok(Read::Complete(
                DeliveryRecord {
                    event_id,
                    vehicle_id,
                    webhook_id: text("/webhookId"),
                    mode: text("/mode"),
                    ..base(format!("legacy:{event_name}"))
                },
                Outcome::Ignored,
            ))
        }
        Head::Event(event_type) => {
            let envelope = Envelope::<B>::read(raw)?;
            let event_id = envelope.event_id()?;
            let meta = envelope.meta();
            let mode = envelope.mode();
            let mut record = DeliveryRecord {
                event_id: Some(event_id),
                delivery_id: meta.and_then(|m| m.delivery_id.clone()),
                webhook_id: meta.and_then(|m| m.webhook_id.clone()),
                mode: mode.as_ref().map(|m| m.as_wire().to_owned()),
                vehicle_id: envelope.vehicle_id().ok(),
                triggers: envelope.triggers().map(|t| t.label()).collect(),
                delivered_at: meta.and_then(|m| m.delivered_at),
                ..base(event_type.as_wire().to_owned())
            };
            let is_test = mode == Some(Mode::Test);
            match event_type {
                EventType::VehicleState => {
                    let vehicle = vehicle_facts(&envelope)?;
                    let signals = envelope
                        .data
                        .as_ref()
                        .and_then(|d| d.signals.as_ref())
                        .ok_or(PayloadError::Missing {
                            path: "data.signals",
                        })?;
                    for (i, signal) in signals.iter().enumerate() {
                        signal.code_at(i)?;
                    }
                    record.vehicle_id = Some(vehicle.id.clone());
                    Ok(if is_test {
                        Read::Complete(record, Outcome::Test)
                    } else {
                        Read::State(record, vehicle, envelope)
                    })
                }
                EventType::VehicleError => {
                    let vehicle = vehicle_facts(&envelope)?;
                    record.vehicle_id = Some(vehicle.id.clone());
                    Ok(if is_test {
                        Read::Complete(record, Outcome::Test)
                    } else {
                        Read::Errors(record, vehicle, envelope)
                    })
                }
                EventType::Verify | EventType::Other(_) => {
                    Ok(Read::Complete(record, Outcome::Ignored))
                }
            }
        }
    }
}

/// Decides, from a verified JSON body, what row to write and what it changes.
fn plan(
    head: Head,
    raw: &[u8],
    received_at: EpochMs,
) -> Result<(DeliveryRecord, Effect), PayloadError> {
    Ok(match read::<serde_json::Value>(head, raw, received_at)? {
        Read::Complete(record, outcome) => (record, Effect::Nothing(outcome)),
        Read::State(record, vehicle, envelope) => {
            let readings = envelope
                .signals()
                .iter()
                .enumerate()
                .map(|(i, s)| Reading::from_signal(i, s))
                .collect::<Result<Vec<_>, _>>()?;
            let first_delivery = envelope.is_first_delivery();
            (
                record,
                Effect::State {
                    first_delivery,
                    vehicle,
                    readings,
                },
            )
        }
        Read::Errors(record, vehicle, envelope) => {
            let errors = envelope.errors().iter().map(error_record).collect();
            (record, Effect::Errors { vehicle, errors })
        }
    })
}

/// What the webhook decides before it answers: the same row and the same acceptance
/// or refusal as [`plan`], with the signals' bodies checked but not read (the
/// processor reads them from the stored body).
pub fn check(
    head: Head,
    raw: &[u8],
    received_at: EpochMs,
) -> Result<(DeliveryRecord, Disposition), PayloadError> {
    Ok(match read::<Checked>(head, raw, received_at)? {
        Read::Complete(record, outcome) => (record, Disposition::Complete(outcome)),
        Read::State(record, _, envelope) => (
            record,
            Disposition::Waiting {
                signal_count: envelope.signals().len(),
            },
        ),
        Read::Errors(record, _, _) => (record, Disposition::Waiting { signal_count: 0 }),
    })
}

/// [`check`] on a signed body, as the webhook does it: for tests and fuzzing, which
/// hold it to [`plan_body`].
pub fn check_body(
    body: &[u8],
    received_at: EpochMs,
) -> Result<(DeliveryRecord, Disposition), PayloadError> {
    on_body(body, received_at, check)
}

fn vehicle_facts<B>(envelope: &Envelope<B>) -> Result<VehicleFacts, PayloadError> {
    let id = envelope.vehicle_id()?;
    let vehicle = envelope.vehicle();
    Ok(VehicleFacts {
        id,
        make: vehicle.and_then(|v| v.make.clone()),
        model: vehicle.and_then(|v| v.model.clone()),
        year: vehicle
            .and_then(|v| v.year)
            .and_then(|y| i32::try_from(y).ok()),
    })
}

fn error_record(e: &app::domain::webhook::VehicleErrorEntry) -> ErrorRecord {
    ErrorRecord {
        kind: e.kind.clone(),
        code: e.code.clone(),
        state: e.state.clone(),
        description: e.description.clone(),
        suggested_user_message: e.suggested_user_message.clone(),
        doc_url: e.doc_url.clone(),
        resolution: e.resolution_type(),
        signals: e.signal_codes().into_iter().map(String::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_body, plan_body, without_nul, Disposition};
    use app::domain::time::EpochMs;

    /// What the webhook answers from `check_body` must be what `plan_body` (the
    /// processor's full reading) decides: the same row, the same refusal.
    fn assert_check_agrees_with_plan(body: &[u8]) {
        let at = EpochMs::new(1_773_525_000_000).unwrap();
        let shown = || {
            String::from_utf8_lossy(body)
                .chars()
                .take(300)
                .collect::<String>()
        };
        match (check_body(body, at), plan_body(body, at)) {
            (Ok((checked, disposition)), Ok((planned, effect))) => {
                assert_eq!(
                    format!("{checked:?}"),
                    format!("{planned:?}"),
                    "{}",
                    shown()
                );
                assert_eq!(disposition, Disposition::from(&effect), "{}", shown());
            }
            (Err(checked), Err(planned)) => assert_eq!(checked, planned, "{}", shown()),
            (checked, planned) => panic!(
                "check_body: {:?}, plan_body: {:?}, on {}",
                checked.map(|c| c.1),
                planned.map(|p| Disposition::from(&p.1)),
                shown()
            ),
        }
    }

    #[test]
    fn checking_a_body_decides_what_planning_it_does() {
        let dirs = ["tests/fixtures", "../fuzz/regressions"];
        let mut seen = 0;
        for dir in dirs {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            for entry in std::fs::read_dir(&dir).unwrap() {
                assert_check_agrees_with_plan(&std::fs::read(entry.unwrap().path()).unwrap());
                seen += 1;
            }
        }
        assert!(seen > 12, "{seen} files");
        let sim = simulator::generate(&simulator::SimConfig {
            vehicles: 6,
            days: 3.0,
            seed: 7,
            start_ms: 1_773_525_000_000,
            noise: simulator::Noise::HEAVY,
            misbehave: false,
        });
        for delivery in &sim.deliveries {
            assert_check_agrees_with_plan(delivery.body.as_bytes());
        }
        // Bodies a skipping reader would take and the full one refuses, or the reverse.
        let state = |signals: &str| {
            format!(
                r#"{{"eventId":"e","eventType":"VEHICLE_STATE","data":{{"vehicle":{{"id":"v"}},"signals":{signals}}}}}"#
            )
        };
        for signals in [
            r#"[{"code":"charge-ischarging","body":{"value":1e400}}]"#,
            r#"[{"code":"charge-ischarging","body":{"value":"\ud800"}}]"#,
            r#"[{"code":"charge-ischarging","body":{"value":"\ud800\u0041"}}]"#,
            r#"[{"code":"charge-ischarging","body":{"value":-0,"x":[1,{"y":null}]}}]"#,
            r#"[{"code":"charge-ischarging","body":{"value":18446744073709551616}}]"#,
            r#"[{"code":"charge-ischarging","body":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}]"#,
            r#"[{"code":"charge-ischarging","body":{"value":true,"value":false}}]"#,
            r#"[{"code":"charge-ischarging","body":{"a":1}},{"code":"a b","body":{}}]"#,
            r#"[{"code":"charge-ischarging","status":5}]"#,
            r#"[{"code":"charge-ischarging","body":null}]"#,
            r#"[{"code":"charge-ischarging"}]"#,
            r#"{"code":"charge-ischarging"}"#,
            r#"[]"#,
            r#"null"#,
        ] {
            assert_check_agrees_with_plan(state(signals).as_bytes());
        }
        let deep = format!("[{}1{}]", "[".repeat(200), "]".repeat(200));
        assert_check_agrees_with_plan(
            state(&format!(
                r#"[{{"code":"charge-ischarging","body":{deep}}}]"#
            ))
            .as_bytes(),
        );
        assert_check_agrees_with_plan(
            state(r#"[{"code":"charge-ischarging","body":{"value":"\xff"}}]"#).as_bytes(),
        );
        let mut invalid_utf8 =
            state(r#"[{"code":"charge-ischarging","body":{"value":"#).into_bytes();
        invalid_utf8.truncate(invalid_utf8.len() - 2);
        invalid_utf8.extend_from_slice(b"\"\xff\xfe\"}}]}}");
        assert_check_agrees_with_plan(&invalid_utf8);
    }

    #[test]
    fn nul_escapes_are_read_as_replacement_characters() {
        assert_eq!(
            &*without_nul(br#"{"a":"x\u0000y"}"#),
            br#"{"a":"x\ufffdy"}"#
        );
        // An escaped backslash before `u0000` is text, not a NUL.
        assert_eq!(&*without_nul(br#"{"a":"\\u0000"}"#), br#"{"a":"\\u0000"}"#);
        assert_eq!(&*without_nul(br#"{"\u0000":1}"#), br#"{"\ufffd":1}"#);
        assert!(matches!(
            without_nul(br#"{"a":"plain"}"#),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}

/// The simulator's fleets, many seeds and heavy noise, without a database: the
/// deliveries go through the webhook's parsing and the pure engine, as ingest would
/// store and derive them, and come out as the simulator's truth.
#[cfg(test)]
mod engine_agrees {
    use super::Effect;
    use app::domain::sessions::Session;
    use app::domain::sessions::{derive, EngineConfig, Observation};
    use app::domain::time::EpochMs;
    use simulator::{compare, generate, Noise, SimConfig, Simulation};
    use std::collections::{BTreeMap, HashSet};

    fn derived(sim: &Simulation, now: i64) -> Vec<Session> {
        let mut seen = HashSet::new();
        let mut by_vehicle: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
        for delivery in &sim.deliveries {
            let at = EpochMs::new(delivery.delivered_at).unwrap();
            let (record, effect) = super::plan_body(delivery.body.as_bytes(), at).unwrap();
            // A retry of a stored event changes nothing.
            if !seen.insert(record.event_id.clone()) {
                continue;
            }
            if let Effect::State {
                vehicle,
                readings,
                first_delivery,
            } = effect
            {
                by_vehicle
                    .entry(vehicle.id.to_string())
                    .or_default()
                    .extend(
                        readings
                            .iter()
                            .filter_map(|r| Observation::from_reading(r, first_delivery)),
                    );
            }
        }
        let as_of = EpochMs::new(now).unwrap();
        by_vehicle
            .iter()
            .flat_map(|(id, obs)| derive(id, obs, &EngineConfig::default(), as_of))
            .collect()
    }

    #[test]
    fn the_engine_derives_the_truth_for_many_seeds() {
        let now = 1_800_000_000_000;
        let mut sessions = 0;
        for seed in 100..106 {
            let days = 8.0;
            let sim = generate(&SimConfig {
                vehicles: 10,
                days,
                seed,
                start_ms: now - (days * 86_400_000.0) as i64,
                noise: Noise::HEAVY,
                misbehave: false,
            });
            let problems = compare(&sim.truth.sessions, &derived(&sim, now));
            assert!(
                problems.is_empty(),
                "seed {seed}: {}",
                problems
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            sessions += sim.truth.sessions.len();
        }
        assert!(sessions > 200, "{sessions} sessions checked");
    }
}
