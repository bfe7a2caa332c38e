//! Smartcar webhook payloads (v4), parsed tolerantly.
//!
//! Two shapes reach us: the live one (`triggers` and `meta` at the top level) and the
//! documented one (`vehicleId`, `data.triggers`, `data.meta`, `fetchedAt`, ISO
//! `deliveryTimestamp`). Fields a struct does not name are skipped, not refused: a field
//! Smartcar adds tomorrow does no harm, and it is kept, like everything else, in the
//! stored raw body. (They are not copied into the structs: `serde(flatten)` buffers every
//! level of the body a second time, which made parsing the dearest step of a webhook
//! request.) Enumerations are open: an unknown value is kept as text. Only what ingest
//! cannot do without (an event id, a vehicle id, each signal's code) is required, and
//! that is checked by [`Envelope::parse`] with the JSON path of the problem.

use super::ids::{EventId, IdError, SignalCode, VehicleId};
use super::time::{lenient_epoch_ms, lenient_scalar, EpochMs};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// `eventType`, an open enumeration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventType {
    Verify,
    VehicleState,
    VehicleError,
    Other(String),
}

impl EventType {
    pub fn from_wire(s: &str) -> EventType {
        match s {
            "VERIFY" => EventType::Verify,
            "VEHICLE_STATE" => EventType::VehicleState,
            "VEHICLE_ERROR" => EventType::VehicleError,
            other => EventType::Other(other.to_owned()),
        }
    }

    pub fn as_wire(&self) -> &str {
        match self {
            EventType::Verify => "VERIFY",
            EventType::VehicleState => "VEHICLE_STATE",
            EventType::VehicleError => "VEHICLE_ERROR",
            EventType::Other(s) => s,
        }
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_wire())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(EventType::from_wire(&String::deserialize(d)?))
    }
}

/// `meta.mode`: `LIVE`, `TEST`, presumably `SIMULATED`; legacy v2 used lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Live,
    Test,
    Simulated,
    Other(String),
}

impl Mode {
    pub fn from_wire(s: &str) -> Mode {
        match s.to_ascii_uppercase().as_str() {
            "LIVE" => Mode::Live,
            "TEST" => Mode::Test,
            "SIMULATED" => Mode::Simulated,
            _ => Mode::Other(s.to_owned()),
        }
    }

    pub fn as_wire(&self) -> &str {
        match self {
            Mode::Live => "LIVE",
            Mode::Test => "TEST",
            Mode::Simulated => "SIMULATED",
            Mode::Other(s) => s,
        }
    }
}

/// Lenient integer: a number or a string of digits; anything else is absent.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Lenient text: a string, or a number written as text; anything else is absent.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match lenient_scalar(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Any JSON value, read and checked as [`Value`] reads it (the same parser calls, so
/// the same values are refused: a number out of range, a lone surrogate escape, nesting
/// too deep) but not kept: nothing is allocated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Checked;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any valid JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_unit<E>(self) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_none<E>(self) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Checked, D::Error> {
                Checked::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Checked, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Checked)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Checked, A::Error> {
                while map.next_entry::<Checked, Checked>()?.is_some() {}
                Ok(Checked)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The top-level envelope of every event.
///
/// `B` is what a signal's body is read as: [`Value`] to use it, [`Checked`] to accept or
/// refuse the body exactly as with [`Value`] without building it (what the webhook
/// does before it answers; the processor reads the body in full later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<B = Value> {
    #[serde(default, deserialize_with = "lenient_string")]
    pub event_id: Option<String>,
    #[serde(default)]
    pub event_type: Option<EventType>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub vehicle_id: Option<String>,
    #[serde(default)]
    pub data: Option<EventData<B>>,
    #[serde(default)]
    pub triggers: Option<Vec<Trigger>>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

/// `data`: its content depends on the event type, so every part is optional here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData<B = Value> {
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub vehicle: Option<Vehicle>,
    #[serde(default)]
    pub signals: Option<Vec<Signal<B>>>,
    #[serde(default)]
    pub errors: Option<Vec<VehicleErrorEntry>>,
    #[serde(default)]
    pub triggers: Option<Vec<Trigger>>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub make: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub year: Option<i64>,
}

/// `meta`, at the top level (live) or inside `data` (one guide).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, deserialize_with = "lenient_string")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub webhook_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub webhook_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub delivery_id: Option<String>,
    #[serde(
        default,
        alias = "deliveryTimestamp",
        deserialize_with = "lenient_epoch_ms"
    )]
    pub delivered_at: Option<EpochMs>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub mode: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub signal_count: Option<i64>,
}

/// One entry of `data.signals`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signal<B = Value> {
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub group: Option<String>,
    /// Shapes differ per signal (`value`, `capacity`, `latitude`, `values`...), so the
    /// body stays JSON and is decoded per code in [`super::reading`].
    #[serde(default)]
    pub body: Option<B>,
    #[serde(default)]
    pub status: Option<SignalStatus>,
    #[serde(default)]
    pub meta: Option<SignalMeta>,
}

impl<B> Signal<B> {
    /// The signal's code, or the error that makes its delivery a dead letter: the
    /// signal is `data.signals[index]`.
    pub fn code_at(&self, index: usize) -> Result<SignalCode, PayloadError> {
        self.signal_code().map_err(|e| PayloadError::Invalid {
            path: format!("data.signals[{index}].code"),
            message: e.to_string(),
        })
    }

    /// The stable key: `code` where given, else `group-name` lower-cased.
    pub fn signal_code(&self) -> Result<SignalCode, IdError> {
        match (&self.code, &self.group, &self.name) {
            (Some(code), _, _) => SignalCode::parse(code),
            (None, Some(group), Some(name)) => SignalCode::from_group_name(group, name),
            _ => Err(IdError::Empty {
                kind: "signal code",
            }),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalStatus {
    #[serde(default, deserialize_with = "lenient_string")]
    pub value: Option<String>,
    #[serde(default)]
    pub error: Option<SignalError>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalError {
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignalMeta {
    #[serde(default, deserialize_with = "lenient_epoch_ms")]
    pub oem_updated_at: Option<EpochMs>,
    #[serde(default, alias = "fetchedAt", deserialize_with = "lenient_epoch_ms")]
    pub retrieved_at: Option<EpochMs>,
}

/// A trigger, in any of the forms the spec lists (§5.2). The last variant takes any
/// other JSON so an odd trigger never fails a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    Text(String),
    Object(Box<TriggerObject>),
    Unknown(Value),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerObject {
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    #[serde(default)]
    pub signal: Option<SignalRef>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub group: Option<String>,
}

/// A reference to a signal: `{code, name, group}` or the dotted `"Group.Name"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SignalRef {
    Dotted(String),
    Object {
        #[serde(default, deserialize_with = "lenient_string")]
        code: Option<String>,
        #[serde(default, deserialize_with = "lenient_string")]
        name: Option<String>,
        #[serde(default, deserialize_with = "lenient_string")]
        group: Option<String>,
    },
    Unknown(Value),
}

impl SignalRef {
    pub fn code(&self) -> Option<SignalCode> {
        match self {
            SignalRef::Dotted(s) => SignalCode::from_dotted(s).ok(),
            SignalRef::Object {
                code, name, group, ..
            } => code_of(code.as_deref(), group.as_deref(), name.as_deref()),
            SignalRef::Unknown(_) => None,
        }
    }
}

fn code_of(code: Option<&str>, group: Option<&str>, name: Option<&str>) -> Option<SignalCode> {
    match (code, group, name) {
        (Some(code), _, _) => SignalCode::parse(code).ok(),
        (None, Some(g), Some(n)) => SignalCode::from_group_name(g, n).ok(),
        _ => None,
    }
}

/// What a trigger means, whatever form it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerKind {
    FirstDelivery,
    SignalUpdated(SignalCode),
    Other(String),
}

const FIRST_DELIVERY: &str = "FIRST_DELIVERY";

impl Trigger {
    pub fn kind(&self) -> TriggerKind {
        match self {
            Trigger::Text(s) if s.eq_ignore_ascii_case(FIRST_DELIVERY) => {
                TriggerKind::FirstDelivery
            }
            Trigger::Text(s) => match SignalCode::from_dotted(s) {
                Ok(code) => TriggerKind::SignalUpdated(code),
                Err(_) => TriggerKind::Other(s.clone()),
            },
            Trigger::Object(o) => {
                let is_first = |v: &Option<String>| {
                    v.as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(FIRST_DELIVERY))
                };
                if is_first(&o.kind) || is_first(&o.code) {
                    return TriggerKind::FirstDelivery;
                }
                let code =
                    o.signal.as_ref().and_then(SignalRef::code).or_else(|| {
                        code_of(o.code.as_deref(), o.group.as_deref(), o.name.as_deref())
                    });
                match code {
                    Some(code) => TriggerKind::SignalUpdated(code),
                    None => TriggerKind::Other(o.kind.clone().unwrap_or_default()),
                }
            }
            Trigger::Unknown(v) => TriggerKind::Other(v.to_string()),
        }
    }

    /// A short label for storage and display: `FIRST_DELIVERY` or the signal code.
    pub fn label(&self) -> String {
        match self.kind() {
            TriggerKind::FirstDelivery => FIRST_DELIVERY.to_owned(),
            TriggerKind::SignalUpdated(code) => code.to_string(),
            TriggerKind::Other(s) => s,
        }
    }
}

/// One entry of a VEHICLE_ERROR's `data.errors`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VehicleErrorEntry {
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub suggested_user_message: Option<String>,
    #[serde(rename = "docURL", default, deserialize_with = "lenient_string")]
    pub doc_url: Option<String>,
    /// `{"type": …}`, `null`, or (defensively) a bare string.
    #[serde(default)]
    pub resolution: Option<Value>,
    #[serde(default)]
    pub signals: Option<Vec<SignalRef>>,
}

impl VehicleErrorEntry {
    pub fn resolution_type(&self) -> Option<String> {
        match self.resolution.as_ref()? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("type").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }
    }

    /// The affected signals' codes; empty means the whole vehicle.
    pub fn signal_codes(&self) -> Vec<SignalCode> {
        self.signals
            .iter()
            .flatten()
            .filter_map(SignalRef::code)
            .collect()
    }
}

/// Why a signed body could not be processed. It is kept as a dead letter with this
/// message, which names the JSON path at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("body is JSON but not an object")]
    NotAnObject,
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path} is required")]
    Missing { path: &'static str },
}

/// The first look at a body: just enough to route it (§11 step 2).
#[derive(Debug, Clone, PartialEq)]
pub enum Head {
    /// v4 VERIFY or legacy v2 `eventName: "verify"`, with the challenge if one is there.
    Verify { challenge: Option<Value> },
    /// A v4 event other than VERIFY.
    Event(EventType),
    /// Legacy v2 (`eventName`, no `eventType`): stored raw and otherwise ignored.
    Legacy { event_name: String },
    /// Neither `eventType` nor `eventName`.
    Unrecognised,
}

/// The routing fields of a body, borrowed: `data` and `payload` are only skipped over
/// (checked to be JSON) unless the body turns out to be a VERIFY.
#[derive(Deserialize)]
struct HeadFields<'a> {
    #[serde(rename = "eventType", default, deserialize_with = "present")]
    event_type: Option<Value>,
    #[serde(rename = "eventName", default, deserialize_with = "present")]
    event_name: Option<Value>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// A field that is there, `null` included (as `Head::of` sees it): serde would read a
/// `null` into an `Option` as absent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Head {
    /// [`Head::of`] straight from the raw bytes, without building the whole body as a
    /// JSON tree: what every webhook request does first. Errors as [`parse_json`].
    pub fn parse(raw: &[u8]) -> Result<Head, PayloadError> {
        // A struct would also be read from an array; only an object is a body.
        let object = raw.trim_ascii_start().first() == Some(&b'{');
        let Some(fields) = object
            .then(|| serde_json::from_slice::<HeadFields<'_>>(raw).ok())
            .flatten()
        else {
            // Not JSON, not an object, or odd (a key given twice): the general way
            // gives the exact answer and error.
            return parse_json(raw).map(|value| Head::of(&value));
        };
        let challenge = |part: Option<&RawValue>| {
            part.and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
                .and_then(|value| value.get("challenge").cloned())
        };
        Ok(match (&fields.event_type, &fields.event_name) {
            (Some(Value::String(t)), _) => match EventType::from_wire(t) {
                EventType::Verify => Head::Verify {
                    challenge: challenge(fields.data),
                },
                other => Head::Event(other),
            },
            (None, Some(Value::String(name))) if name.eq_ignore_ascii_case("verify") => {
                Head::Verify {
                    challenge: challenge(fields.payload),
                }
            }
            (None, Some(Value::String(name))) => Head::Legacy {
                event_name: name.clone(),
            },
            _ => Head::Unrecognised,
        })
    }

    pub fn of(body: &Value) -> Head {
        let Some(obj) = body.as_object() else {
            return Head::Unrecognised;
        };
        match (obj.get("eventType"), obj.get("eventName")) {
            (Some(Value::String(t)), _) => match EventType::from_wire(t) {
                EventType::Verify => Head::Verify {
                    challenge: body.pointer("/data/challenge").cloned(),
                },
                other => Head::Event(other),
            },
            (None, Some(Value::String(name))) if name.eq_ignore_ascii_case("verify") => {
                Head::Verify {
                    challenge: body.pointer("/payload/challenge").cloned(),
                }
            }
            (None, Some(Value::String(name))) => Head::Legacy {
                event_name: name.clone(),
            },
            _ => Head::Unrecognised,
        }
    }
}

/// Parses raw bytes into JSON, reporting the position of a syntax error.
pub fn parse_json(raw: &[u8]) -> Result<Value, PayloadError> {
    let value: Value =
        serde_json::from_slice(raw).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(PayloadError::NotAnObject);
    }
    Ok(value)
}

impl Envelope {
    /// Deserializes the typed envelope, naming the JSON path of any type error.
    pub fn parse(raw: &[u8]) -> Result<Envelope, PayloadError> {
        Envelope::read(raw)
    }
}

impl<B: serde::de::DeserializeOwned + Default> Envelope<B> {
    /// [`Envelope::parse`], with the signals' bodies read as `B`: the same envelope is
    /// accepted or refused, with the same error, whatever `B` is, as long as `B` takes
    /// every JSON value that [`Value`] takes.
    pub fn read(raw: &[u8]) -> Result<Envelope<B>, PayloadError> {
        // Tracking the path costs on every value; only a body that fails needs it.
        if let Ok(envelope) = serde_json::from_slice(raw) {
            return Ok(envelope);
        }
        let mut de = serde_json::Deserializer::from_slice(raw);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            PayloadError::Invalid {
                path,
                message: e.into_inner().to_string(),
            }
        })
    }
}

impl<B> Envelope<B> {
    pub fn event_id(&self) -> Result<EventId, PayloadError> {
        let raw = self
            .event_id
            .as_deref()
            .ok_or(PayloadError::Missing { path: "eventId" })?;
        EventId::parse(raw).map_err(|e| invalid("eventId", e))
    }

    /// `data.vehicle.id`, falling back to the documented top-level `vehicleId`.
    pub fn vehicle_id(&self) -> Result<VehicleId, PayloadError> {
        let (path, raw) = match self.vehicle().and_then(|v| v.id.as_deref()) {
            Some(id) => ("data.vehicle.id", id),
            None => match self.vehicle_id.as_deref() {
                Some(id) => ("vehicleId", id),
                None => {
                    return Err(PayloadError::Missing {
                        path: "data.vehicle.id",
                    })
                }
            },
        };
        VehicleId::parse(raw).map_err(|e| invalid(path, e))
    }

    pub fn vehicle(&self) -> Option<&Vehicle> {
        self.data.as_ref()?.vehicle.as_ref()
    }

    /// Top-level `meta`, falling back to `data.meta`.
    pub fn meta(&self) -> Option<&Meta> {
        self.meta
            .as_ref()
            .or_else(|| self.data.as_ref()?.meta.as_ref())
    }

    pub fn mode(&self) -> Option<Mode> {
        self.meta()?.mode.as_deref().map(Mode::from_wire)
    }

    /// Triggers from the top level and from `data.triggers`, in that order.
    pub fn triggers(&self) -> impl Iterator<Item = &Trigger> {
        let top = self.triggers.iter().flatten();
        let nested = self.data.iter().flat_map(|d| d.triggers.iter().flatten());
        top.chain(nested)
    }

    pub fn is_first_delivery(&self) -> bool {
        self.triggers()
            .any(|t| t.kind() == TriggerKind::FirstDelivery)
    }

    pub fn signals(&self) -> &[Signal<B>] {
        self.data
            .as_ref()
            .and_then(|d| d.signals.as_deref())
            .unwrap_or(&[])
    }

    pub fn errors(&self) -> &[VehicleErrorEntry] {
        self.data
            .as_ref()
            .and_then(|d| d.errors.as_deref())
            .unwrap_or(&[])
    }
}

fn invalid(path: &str, e: IdError) -> PayloadError {
    PayloadError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// A VERIFY challenge that is safe to sign. Answering any challenge would make the
/// endpoint a signing oracle (spec §2.4): someone could submit a forged VEHICLE_STATE
/// as the "challenge" and receive a valid `SC-Signature` for it. Smartcar's
/// challenges are short opaque strings (UUID-like), so only those are answered: 1 to
/// [`MAX_CHALLENGE_LEN`] characters of `[A-Za-z0-9._~-]` (URL-safe, unreserved). None
/// of them can begin a JSON object, and the webhook refuses any body that does not
/// (see `server::webhook`), so a signed challenge is never a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge(String);

pub const MAX_CHALLENGE_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("the VERIFY has no challenge string")]
    Missing,
    #[error("the challenge is empty")]
    Empty,
    #[error("the challenge is longer than {MAX_CHALLENGE_LEN} characters")]
    TooLong,
    #[error("the challenge may hold only letters, digits, `.`, `_`, `~` and `-`")]
    BadCharacter,
}

impl Challenge {
    pub fn parse(value: Option<&Value>) -> Result<Challenge, ChallengeError> {
        let s = match value {
            Some(Value::String(s)) => s,
            _ => return Err(ChallengeError::Missing),
        };
        if s.is_empty() {
            return Err(ChallengeError::Empty);
        }
        if s.len() > MAX_CHALLENGE_LEN {
            return Err(ChallengeError::TooLong);
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
        {
            return Err(ChallengeError::BadCharacter);
        }
        Ok(Challenge(s.clone()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(v: Value) -> Envelope {
        Envelope::parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn every_trigger_form_is_understood() {
        let forms = json!([
            {"type": "SIGNAL_UPDATED", "signal": {"code": "charge-ischarging", "name": "IsCharging", "group": "Charge"}},
            {"type": "SIGNAL_UPDATED", "signal": "Charge.IsCharging"},
            {"code": "charge-ischarging", "name": "IsCharging", "group": "Charge"},
            {"name": "IsCharging", "group": "Charge"},
            "Charge.IsCharging"
        ]);
        let triggers: Vec<Trigger> = serde_json::from_value(forms).unwrap();
        for t in &triggers {
            assert_eq!(
                t.kind(),
                TriggerKind::SignalUpdated(SignalCode::parse("charge-ischarging").unwrap()),
                "{t:?}"
            );
        }
    }

    #[test]
    fn first_delivery_in_every_form() {
        let forms =
            json!([{"type": "FIRST_DELIVERY"}, {"code": "FIRST_DELIVERY"}, "FIRST_DELIVERY"]);
        let triggers: Vec<Trigger> = serde_json::from_value(forms).unwrap();
        assert!(triggers
            .iter()
            .all(|t| t.kind() == TriggerKind::FirstDelivery));
    }

    #[test]
    fn odd_trigger_does_not_fail_the_payload() {
        let triggers: Vec<Trigger> =
            serde_json::from_value(json!([42, {"type": "NEW_KIND"}])).unwrap();
        assert_eq!(triggers[0].kind(), TriggerKind::Other("42".into()));
        assert_eq!(triggers[1].kind(), TriggerKind::Other("NEW_KIND".into()));
    }

    #[test]
    fn triggers_and_meta_are_found_at_top_level_or_in_data() {
        let live = envelope(json!({
            "eventId": "e", "eventType": "VEHICLE_STATE",
            "data": {"vehicle": {"id": "v"}, "signals": []},
            "triggers": [{"type": "FIRST_DELIVERY"}],
            "meta": {"mode": "TEST", "deliveredAt": 1773511330000_i64}
        }));
        assert!(live.is_first_delivery());
        assert_eq!(live.mode(), Some(Mode::Test));
        let doc = envelope(json!({
            "eventId": "e", "eventType": "VEHICLE_STATE", "vehicleId": "v",
            "data": {"signals": [], "triggers": ["FIRST_DELIVERY"],
                     "meta": {"mode": "LIVE", "deliveryTimestamp": "2026-03-14T18:02:10Z"}}
        }));
        assert!(doc.is_first_delivery());
        assert_eq!(doc.mode(), Some(Mode::Live));
        assert_eq!(
            doc.meta()
                .and_then(|m| m.delivered_at)
                .map(EpochMs::as_millis),
            Some(1_773_511_330_000)
        );
        assert_eq!(doc.vehicle_id().unwrap().as_str(), "v");
    }

    #[test]
    fn vehicle_id_prefers_data_vehicle_id() {
        let e = envelope(json!({"vehicleId": "top", "data": {"vehicle": {"id": "inner"}}}));
        assert_eq!(e.vehicle_id().unwrap().as_str(), "inner");
        let none = envelope(json!({"data": {}}));
        assert_eq!(
            none.vehicle_id(),
            Err(PayloadError::Missing {
                path: "data.vehicle.id"
            })
        );
    }

    #[test]
    fn unknown_fields_are_skipped_at_every_level() {
        let e = envelope(json!({
            "eventId": "e", "brandNew": {"x": 1},
            "data": {"vehicle": {"id": "v", "powertrainType": "BEV"},
                     "signals": [{"code": "x-y", "body": {"value": 1}, "futureField": true,
                                  "status": {"value": "SUCCESS", "new": 1},
                                  "meta": {"oemUpdatedAt": 5, "also": [1]}}]},
            "meta": {"sequence": 7, "mode": "LIVE"}
        }));
        assert_eq!(e.event_id(), Ok(EventId::parse("e").unwrap()));
        assert_eq!(e.vehicle_id(), Ok(VehicleId::parse("v").unwrap()));
        let signal = &e.signals()[0];
        assert_eq!(signal.code.as_deref(), Some("x-y"));
        assert_eq!(signal.body, Some(json!({"value": 1})));
        assert_eq!(
            signal.meta.as_ref().and_then(|m| m.oem_updated_at),
            EpochMs::new(5).ok()
        );
        assert_eq!(e.mode(), Some(Mode::Live));
    }

    #[test]
    fn type_errors_name_their_json_path() {
        let err = Envelope::parse(br#"{"data": {"signals": [{"code": "a"}, {"status": 5}]}}"#)
            .unwrap_err();
        match err {
            PayloadError::Invalid { path, .. } => assert_eq!(path, "data.signals[1].status"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn lenient_scalars() {
        let e =
            envelope(json!({"eventId": 12345, "data": {"vehicle": {"id": "v", "year": "2023"}}}));
        assert_eq!(e.event_id().unwrap().as_str(), "12345");
        assert_eq!(e.vehicle().unwrap().year, Some(2023));
    }

    #[test]
    fn head_routes_v4_legacy_and_unknown() {
        assert_eq!(
            Head::of(&json!({"eventType": "VERIFY", "data": {"challenge": "abc"}})),
            Head::Verify {
                challenge: Some(json!("abc"))
            }
        );
        assert_eq!(
            Head::of(
                &json!({"version": "2.0", "eventName": "verify", "payload": {"challenge": "abc"}})
            ),
            Head::Verify {
                challenge: Some(json!("abc"))
            }
        );
        assert_eq!(
            Head::of(&json!({"version": "2.0", "eventName": "eventBased", "payload": {}})),
            Head::Legacy {
                event_name: "eventBased".into()
            }
        );
        assert_eq!(
            Head::of(&json!({"eventType": "VEHICLE_MOVED"})),
            Head::Event(EventType::Other("VEHICLE_MOVED".into()))
        );
        assert_eq!(Head::of(&json!({"hello": 1})), Head::Unrecognised);
    }

    #[test]
    fn head_from_raw_bytes_agrees_with_head_of_the_parsed_body() {
        let bodies: [&[u8]; 17] = [
            br#"{"eventType": "VERIFY", "data": {"challenge": "abc"}}"#,
            br#"{"eventType": "VERIFY", "data": "not an object"}"#,
            br#"{"eventType": "VERIFY"}"#,
            br#"{"eventName": "Verify", "payload": {"challenge": 5}}"#,
            br#"{"eventName": "eventBased", "payload": {"vehicleId": "x"}}"#,
            br#"{"eventType": "VEHICLE_STATE", "data": {"signals": []}}"#,
            br#"{"eventType": 7, "eventName": "verify"}"#,
            br#"{"eventType": null}"#,
            // Found by fuzzing: a null eventType is there, not absent.
            br#"{"eventType":null,"eventName":"verify"}"#,
            br#"{"eventType": null, "eventName": "eventBased"}"#,
            br#"{"eventType": "VEHICLE_STATE", "eventName": null}"#,
            br#"{"eventType": "A", "eventType": "VERIFY", "data": {"challenge": "x"}}"#,
            br#"{"hello": 1}"#,
            b"[1, 2]",
            b"\"VERIFY\"",
            b"not json",
            br#"{"eventType": "VEHICLE_STATE", "data": {"#,
        ];
        for body in bodies {
            assert_eq!(
                Head::parse(body),
                parse_json(body).map(|v| Head::of(&v)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn parse_json_refuses_non_objects() {
        assert!(matches!(
            parse_json(b"not json"),
            Err(PayloadError::NotJson(_))
        ));
        assert_eq!(parse_json(b"[1,2]"), Err(PayloadError::NotAnObject));
    }

    #[test]
    fn smartcar_like_challenges_are_answered() {
        assert!(Challenge::parse(Some(&json!("6f1d2c3b-8a9e-4f70-b1c2-d3e4f5a6b7c8"))).is_ok());
        assert!(Challenge::parse(Some(&json!("challenge"))).is_ok());
    }

    #[test]
    fn oracle_challenges_are_refused() {
        let forged = json!({"eventId": "x", "eventType": "VEHICLE_STATE"}).to_string();
        for bad in [
            forged.as_str(),
            " [1]",
            "{",
            "a b",
            "a\nb",
            "é",
            "a/b",
            "a+b",
            "a=b",
        ] {
            assert_eq!(
                Challenge::parse(Some(&json!(bad))),
                Err(ChallengeError::BadCharacter),
                "{bad:?}"
            );
        }
        assert!(Challenge::parse(Some(&json!("a".repeat(MAX_CHALLENGE_LEN)))).is_ok());
        assert!(Challenge::parse(Some(&json!("Az09._~-"))).is_ok());
        assert_eq!(
            Challenge::parse(Some(&json!("a".repeat(MAX_CHALLENGE_LEN + 1)))),
            Err(ChallengeError::TooLong)
        );
        assert_eq!(
            Challenge::parse(Some(&json!(""))),
            Err(ChallengeError::Empty)
        );
        assert_eq!(
            Challenge::parse(Some(&json!(12))),
            Err(ChallengeError::Missing)
        );
        assert_eq!(Challenge::parse(None), Err(ChallengeError::Missing));
    }
}

/// Every signed example delivery in `server/tests/fixtures`, parsed as ingest parses it.
#[cfg(test)]
mod fixture_tests {
    use super::*;
    use crate::domain::reading::{Reading, ReadingOutcome};
    use crate::domain::units::Unit;
    use std::path::PathBuf;

    fn fixture(name: &str) -> Vec<u8> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/tests/fixtures");
        std::fs::read(dir.join(name)).unwrap()
    }

    fn readings(e: &Envelope) -> Vec<Reading> {
        e.signals()
            .iter()
            .enumerate()
            .map(|(i, s)| Reading::from_signal(i, s).unwrap())
            .collect()
    }

    fn find<'a>(readings: &'a [Reading], code: &str) -> &'a Reading {
        readings.iter().find(|r| r.code.as_str() == code).unwrap()
    }

    #[test]
    fn every_fixture_parses() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/tests/fixtures");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let value = parse_json(&raw).unwrap();
            let envelope = Envelope::parse(&raw).unwrap();
            assert_eq!(Head::parse(&raw).unwrap(), Head::of(&value), "{path:?}");
            match Head::of(&value) {
                Head::Verify { challenge } => {
                    assert!(Challenge::parse(challenge.as_ref()).is_ok(), "{path:?}");
                }
                Head::Event(_) => {
                    envelope.event_id().unwrap();
                    envelope.vehicle_id().unwrap();
                    assert_eq!(readings(&envelope).len(), envelope.signals().len());
                }
                other => panic!("{path:?}: {other:?}"),
            }
            seen += 1;
        }
        assert_eq!(seen, 12);
    }

    #[test]
    fn live_shape_charge_start() {
        let e = Envelope::parse(&fixture("03_charge_start.json")).unwrap();
        assert_eq!(e.event_type, Some(EventType::VehicleState));
        assert_eq!(
            e.vehicle_id().unwrap().as_str(),
            "3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60"
        );
        assert_eq!(e.mode(), Some(Mode::Live));
        assert_eq!(e.meta().unwrap().signal_count, Some(15));
        let labels: Vec<String> = e.triggers().map(Trigger::label).collect();
        assert!(
            labels.contains(&"charge-ischarging".to_owned()),
            "{labels:?}"
        );
        let r = readings(&e);
        assert_eq!(find(&r, "charge-wattage").number(), Some(10_900.0));
        assert_eq!(
            find(&r, "tractionbattery-stateofcharge").number(),
            Some(41.0)
        );
        assert_eq!(
            find(&r, "charge-ischarging")
                .oem_updated_at
                .map(EpochMs::as_millis),
            Some(1_773_511_330_000)
        );
    }

    #[test]
    fn live_shape_first_delivery_and_partial_failure() {
        let first = Envelope::parse(&fixture("02_first_delivery.json")).unwrap();
        assert!(first.is_first_delivery());
        let partial = Envelope::parse(&fixture("07_partial_signal_failure.json")).unwrap();
        let r = readings(&partial);
        assert!(find(&r, "charge-wattage").is_error());
        assert_eq!(find(&r, "charge-energyadded").number(), Some(18.6));
    }

    #[test]
    fn documented_shape_with_old_units() {
        let e = Envelope::parse(&fixture(
            "12_doc_variant_first_delivery_already_charging.json",
        ))
        .unwrap();
        assert!(e.is_first_delivery());
        assert_eq!(
            e.vehicle_id().unwrap().as_str(),
            "9b8a7c6d-1e2f-4a3b-8c5d-0e1f2a3b4c5d"
        );
        let r = readings(&e);
        let energy = find(&r, "charge-energyadded");
        assert_eq!(energy.number(), Some(6.4));
        assert!(matches!(
            energy.outcome,
            ReadingOutcome::Value {
                unit: Some(Unit::KilowattHour),
                ..
            }
        ));
        assert_eq!(
            energy.retrieved_at.map(EpochMs::as_millis),
            Some(1_773_523_798_000)
        );
        let odo = find(&r, "odometer-traveleddistance").number().unwrap();
        assert!((odo - 31_544.0 * 1.609_344).abs() < 1e-6);
    }

    #[test]
    fn vehicle_error_fixture() {
        let e = Envelope::parse(&fixture("08_vehicle_error_unreachable.json")).unwrap();
        assert_eq!(e.event_type, Some(EventType::VehicleError));
        let err = &e.errors()[0];
        assert_eq!(err.state.as_deref(), Some("ERROR"));
        assert_eq!(err.resolution_type().as_deref(), Some("RETRY_LATER"));
        assert_eq!(err.signal_codes().len(), 3);
    }

    #[test]
    fn verify_fixture_challenge() {
        let value = parse_json(&fixture("01_verify.json")).unwrap();
        let Head::Verify { challenge } = Head::of(&value) else {
            panic!("not a VERIFY")
        };
        assert_eq!(
            Challenge::parse(challenge.as_ref()).unwrap().as_str(),
            "6f1d2c3b-8a9e-4f70-b1c2-d3e4f5a6b7c8"
        );
    }
}
