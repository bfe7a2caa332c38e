//! `POST /webhooks/smartcar`: raw bytes in, verified, parsed, stored, then answered.
//!
//! Order of work (spec §11), cheapest refusal first, so that what an anonymous client
//! can make the server do is bounded: read the raw body under a size limit; refuse a
//! body that does not begin a JSON object (400: nothing Smartcar sends, and nothing a
//! signed VERIFY challenge can be, see [`Challenge`]); with an `SC-Signature`, check
//! it on the raw bytes before reading anything else (one HMAC, then 401); without one,
//! only a small VERIFY is read and answered (guarded against the signing oracle).
//! Then parse. A signed body we cannot process is kept as a dead letter (202, one row
//! per distinct body, at most [`crate::budget::PER_SECOND`] a second), an event type
//! we do not process is kept raw (200), and a delivery with vehicle data is committed
//! raw before the 200 goes out; the processor then applies its readings and sessions
//! from the stored body (`processor`). Only a storage failure answers 5xx, because
//! only then does Smartcar's retry help.

pub mod append;
pub mod processor;
pub mod signature;
pub mod store;
pub mod writer;

use crate::budgeted_warn;
use crate::state::AppState;
use app::domain::ids::{EventId, VehicleId};
use app::domain::reading::Reading;
use app::domain::time::EpochMs;
use app::domain::webhook::{
    parse_json, Challenge, Checked, Envelope, EventType, Head, Mode, PayloadError,
};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use signature::{SignatureError, Verifier};
use std::sync::atomic::Ordering;
use store::{
    DeadLetter, DeliveryRecord, Disposition, Effect, ErrorRecord, Outcome, Stored, VehicleFacts,
};
use tracing::Instrument;

/// Larger bodies get 413. Smartcar documents 50 KB at most; this leaves room.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Only a VERIFY comes without `SC-Signature`, and Smartcar's are a few hundred bytes:
/// a larger unsigned body is refused (401) without being read.
pub const MAX_UNSIGNED_BYTES: usize = 4 * 1024;

pub const SIGNATURE_HEADER: &str = "sc-signature";

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    headers.get(name).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(512)
            .collect()
    })
}

fn error_body(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// An answer that asks the sender to come back in `seconds`.
fn retry_later(status: StatusCode, message: &str, seconds: &'static str) -> Response {
    let mut response = error_body(status, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
    response
}

fn unavailable(err: &sea_orm::DbErr) -> Response {
    tracing::error!(error = %err, "could not store a webhook delivery; answering 503 so Smartcar retries");
    let response = retry_later(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage is unavailable; the delivery was not stored, retry later",
        "30",
    );
    handled(response, "unavailable")
}

pub(crate) fn now() -> EpochMs {
    EpochMs::from_datetime(chrono::Utc::now()).unwrap_or_else(|_| {
        // The clock is before 1970: keep a valid, obviously wrong time rather than fail.
        EpochMs::new(1).unwrap_or_else(|_| unreachable!())
    })
}

/// What became of a request, for `/metrics`: set on the response by the handler.
#[derive(Debug, Clone, Copy)]
struct Handled(&'static str);

fn handled(mut response: Response, outcome: &'static str) -> Response {
    response.extensions_mut().insert(Handled(outcome));
    response
}

/// `POST /webhooks/smartcar`, open to anyone: its guard is the signature. The handler
/// reads its body itself, under its own limits.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/webhooks/smartcar", axum::routing::post(receive))
}

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = std::time::Instant::now();
    let response = match state.webhook.verifier.as_deref() {
        None => {
            budgeted_warn!(
                state.warn_budget,
                "webhook refused: SMARTCAR_MANAGEMENT_TOKEN is not configured"
            );
            handled(
                error_body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "webhooks are not configured on this server (no SMARTCAR_MANAGEMENT_TOKEN)",
                ),
                "not_configured",
            )
        }
        Some(verifier) => match read_body(&state, verifier, &headers, body).await {
            Ok(body) => handle(&state, verifier, &headers, body).await,
            Err(refused) => refused,
        },
    };
    let outcome = response
        .extensions()
        .get::<Handled>()
        .map_or("other", |h| h.0);
    state.metrics.webhook(outcome, started.elapsed());
    response
}

/// Webhook bodies all requests together may hold in memory while they arrive, in KiB:
/// 64 MiB, sixty-four of the largest or some sixteen thousand of Smartcar's usual 4 KB.
pub const BODIES_IN_FLIGHT_KIB: usize = 64 * 1024;

/// Reads a webhook body: at most [`MAX_BODY_BYTES`] with a signature, and at most
/// [`MAX_UNSIGNED_BYTES`] without one (only a VERIFY comes unsigned), refused before it
/// is read when its `Content-Length` says more. While it arrives it holds its declared
/// size (or the most it may be) of [`BODIES_IN_FLIGHT_KIB`]; when those are taken, 503.
async fn read_body(
    state: &AppState,
    verifier: &Verifier,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Response> {
    use http_body_util::BodyExt;
    let signed = headers.contains_key(SIGNATURE_HEADER);
    let limit = if signed {
        MAX_BODY_BYTES
    } else {
        MAX_UNSIGNED_BYTES
    };
    // Too large: 413 for a signed body; an unsigned one is refused as unsigned.
    let refuse_size = || async move {
        if signed {
            handled(
                error_body(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                ),
                "too_large",
            )
        } else {
            refuse_signature(state, verifier, SignatureError::Missing, now()).await
        }
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(refuse_size().await);
    }
    let kib = u32::try_from(declared.unwrap_or(limit).div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let Ok(_held) = state.webhook.bodies.try_acquire_many(kib) else {
        budgeted_warn!(
            state.warn_budget,
            "webhook answered 503: too many bodies arriving at once"
        );
        return Err(handled(
            retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many deliveries arriving at once; retry later",
                "1",
            ),
            "bodies_in_flight",
        ));
    };
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(refuse_size().await),
        Err(_) => Err(handled(
            error_body(
                StatusCode::BAD_REQUEST,
                "the body did not arrive whole in time",
            ),
            "incomplete",
        )),
    }
}

/// Whether a body begins a JSON object, as every Smartcar delivery does.
fn begins_an_object(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'{')
}

async fn handle(
    state: &AppState,
    verifier: &Verifier,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = now();
    if !begins_an_object(&body) {
        budgeted_warn!(
            state.warn_budget,
            bytes = body.len(),
            "webhook refused: the body is not a JSON object"
        );
        return handled(
            error_body(
                StatusCode::BAD_REQUEST,
                "not a Smartcar delivery: the body is not a JSON object",
            ),
            "not_an_object",
        );
    }

    match headers.get(SIGNATURE_HEADER) {
        Some(signature) => {
            if let Err(err) = verifier.verify(&body, Some(signature.as_bytes())) {
                return refuse_signature(state, verifier, err, received_at).await;
            }
        }
        None => {
            // Unsigned: only a VERIFY is answered (the body is at most
            // MAX_UNSIGNED_BYTES: `read_body`).
            return match Head::parse(&body).ok() {
                Some(Head::Verify { challenge }) => {
                    answer_verify(state, verifier, challenge.as_ref(), received_at).await
                }
                _ => refuse_signature(state, verifier, SignatureError::Missing, received_at).await,
            };
        }
    }

    // Signed from here on.
    let text = without_nul(&body);
    let head = Head::parse(&text);
    if let Ok(Head::Verify { challenge }) = &head {
        return answer_verify(state, verifier, challenge.as_ref(), received_at).await;
    }
    let signature = header_text(headers, SIGNATURE_HEADER);
    let user_agent = header_text(headers, header::USER_AGENT);
    let checked = head.and_then(|head| check(head, &text));
    let (record, disposition) = match checked {
        Ok(checked) => checked,
        Err(err) => {
            let letter = DeadLetter {
                received_at,
                signature,
                user_agent,
                content_type: header_text(headers, header::CONTENT_TYPE),
                error: err.to_string(),
                raw_body: body.to_vec(),
            };
            return keep_dead_letter(state, letter).await;
        }
    };

    let record = DeliveryRecord {
        received_at,
        signature,
        user_agent,
        raw_body: body.to_vec(),
        ..record
    };
    let stored_as = match disposition {
        Disposition::Complete(outcome) => outcome.as_str(),
        Disposition::Waiting { .. } => Outcome::Stored.as_str(),
    };
    let span = tracing::info_span!(
        "delivery",
        event_id = record.event_id.as_ref().map(EventId::as_str),
        vehicle_id = record.vehicle_id.as_ref().map(VehicleId::as_str),
        event_type = %record.event_type,
    );
    match state
        .webhook
        .ingestor
        .ingest(&state.db, record, disposition)
        .instrument(span.clone())
        .await
    {
        Ok(Stored::New {
            delivery_row_id,
            waiting,
        }) => {
            if !waiting {
                // Complete already, log row included; otherwise the processor announces it.
                state.live.nudge();
            }
            span.in_scope(|| tracing::info!(delivery_row_id, "delivery stored"));
            handled(
                Json(json!({ "status": "stored" })).into_response(),
                stored_as,
            )
        }
        Ok(Stored::Duplicate { .. }) => {
            state.live.nudge();
            span.in_scope(|| tracing::info!("repeated eventId; nothing changed"));
            handled(
                Json(json!({ "status": "duplicate" })).into_response(),
                Outcome::Duplicate.as_str(),
            )
        }
        Err(err) => span.in_scope(|| unavailable(&err)),
    }
}

/// Answers a VERIFY with the HMAC of its challenge, if the challenge has Smartcar's form.
async fn answer_verify(
    state: &AppState,
    verifier: &Verifier,
    challenge: Option<&Value>,
    received_at: EpochMs,
) -> Response {
    match Challenge::parse(challenge) {
        Ok(challenge) => {
            crate::budgeted_event!(
                state.warn_budget,
                tracing::Level::INFO,
                "answered a VERIFY challenge"
            );
            log_unstored(state, received_at, Outcome::Verified, None).await;
            handled(
                Json(json!({ "challenge": verifier.sign(challenge.as_str().as_bytes()) }))
                    .into_response(),
                Outcome::Verified.as_str(),
            )
        }
        Err(err) => {
            budgeted_warn!(state.warn_budget, reason = %err, "refused to sign a VERIFY challenge");
            handled(
                error_body(StatusCode::BAD_REQUEST, format!("VERIFY refused: {err}")),
                "verify_refused",
            )
        }
    }
}

/// Keeps a signed body that cannot be processed: one row per distinct body, counted
/// each time it comes again, at most [`crate::budget::PER_SECOND`] a second. Past that
/// the sender is asked to retry (429), so nothing is lost and nothing piles up.
async fn keep_dead_letter(state: &AppState, letter: DeadLetter) -> Response {
    if state.webhook.dead_letter_budget.take().is_none() {
        budgeted_warn!(
            state.warn_budget,
            error = %letter.error,
            "signed delivery could not be processed, and too many did this second; answered 429 so it is sent again"
        );
        let response = retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many unprocessable deliveries this second; not stored, retry later",
            "1",
        );
        return handled(response, "dead_letter_deferred");
    }
    let error = letter.error.clone();
    match store::dead_letter(&state.db, letter).await {
        Ok(kept) => {
            state.live.nudge();
            budgeted_warn!(
                state.warn_budget,
                dead_letter_id = kept.id,
                times_received = kept.times_received,
                error = %error,
                "signed delivery could not be processed; kept as a dead letter"
            );
            handled(
                (
                    StatusCode::ACCEPTED,
                    Json(json!({
                        "status": "dead_letter",
                        "id": kept.id,
                        "times_received": kept.times_received,
                        "error": error,
                        "note": "the body was kept whole; chargelog could not process it",
                    })),
                )
                    .into_response(),
                Outcome::DeadLetter.as_str(),
            )
        }
        Err(db_err) => unavailable(&db_err),
    }
}

/// Writes a log row for a request that stored nothing. Best effort: the answer to the
/// request does not depend on it, and at most [`crate::budget::PER_SECOND`] are
/// written a second, since refused requests cost an attacker nothing.
async fn log_unstored(state: &AppState, at: EpochMs, outcome: Outcome, detail: Option<String>) {
    if state.webhook.log_budget.take().is_none() {
        return;
    }
    match store::log_unstored(&state.db, at, outcome, detail).await {
        Ok(_) => state.live.nudge(),
        Err(err) => tracing::warn!(error = %err, "could not write the webhook log"),
    }
}

async fn refuse_signature(
    state: &AppState,
    verifier: &Verifier,
    err: SignatureError,
    received_at: EpochMs,
) -> Response {
    let count = state
        .webhook
        .rejected_signatures
        .fetch_add(1, Ordering::Relaxed)
        + 1;
    let received = match &err {
        SignatureError::Missing => String::new(),
        SignatureError::Malformed { received } | SignatureError::Mismatch { received } => {
            received.clone()
        }
    };
    // Never the MAC this server computes over the body: that would sign a stranger's
    // bytes for him. The key's fingerprint tells a wrong token apart instead.
    budgeted_warn!(
        state.warn_budget,
        reason = %err,
        received_signature = %received,
        key_fingerprint = %verifier.fingerprint(),
        rejected_total = count,
        "webhook refused: bad SC-Signature (if every LIVE delivery fails, check that the \
         management token's fingerprint, printf %s \"$TOKEN\" | sha256sum, begins with key_fingerprint)"
    );
    log_unstored(
        state,
        received_at,
        Outcome::RejectedSignature,
        Some(format!("invalid signature: {err}")),
    )
    .await;
    handled(
        error_body(
            StatusCode::UNAUTHORIZED,
            format!("invalid signature: {err}"),
        ),
        Outcome::RejectedSignature.as_str(),
    )
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

/// What a signed body would store, without storing it: for loading many deliveries at
/// once (benchmarks, imports), which then derive sessions once per vehicle at the end,
/// and for the processor, which applies stored deliveries.
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
    decide: fn(Head, &[u8]) -> Decided<T>,
) -> Decided<T> {
    let text = without_nul(body);
    let (record, decided) = decide(Head::parse(&text)?, &text)?;
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
        received_at: now(),
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
fn plan(head: Head, raw: &[u8]) -> Result<(DeliveryRecord, Effect), PayloadError> {
    Ok(match read::<serde_json::Value>(head, raw)? {
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
fn check(head: Head, raw: &[u8]) -> Result<(DeliveryRecord, Disposition), PayloadError> {
    Ok(match read::<Checked>(head, raw)? {
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
    use super::store::Disposition;
    use super::{check_body, plan_body, without_nul};
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
    use super::store::Effect;
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
