//! `POST /webhooks/smartcar`: raw bytes in, verified, checked, accepted, answered.
//!
//! Cheapest refusal first, so that what an anonymous client can make the server do is
//! bounded: read the raw body under a size limit; refuse a body that does not begin a
//! JSON object (400: nothing Smartcar sends, and nothing a signed VERIFY challenge can
//! be, see [`Challenge`]); with an `SC-Signature`, check it on the raw bytes before
//! reading anything else (one HMAC, then 401); without one, only a small VERIFY is read
//! and answered (guarded against the signing oracle). Then the body is checked
//! (`plan::check`): a signed body that cannot be processed is kept as a dead letter
//! (202, one row per distinct body, at most [`crate::budget::PER_SECOND`] a second); any
//! other is accepted through the ingestor and answered 200 once committed. Only a
//! storage failure answers 5xx, because only then does Smartcar's retry help.

use super::accept::{self, DeadLetter, Stored};
use super::ingestor::Ingestor;
use super::plan::{self, without_nul, DeliveryRecord};
use super::signature::{SignatureError, Verifier};
use crate::budget::PerSecond;
use crate::budgeted_warn;
use crate::clock::now;
use crate::http::live::LiveFeed;
use crate::http::metrics::Metrics;
use app::domain::events::Outcome;
use app::domain::ids::{EventId, VehicleId};
use app::domain::time::EpochMs;
use app::domain::webhook::{Challenge, Head};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sea_orm::DatabaseConnection;
use serde_json::{json, Value};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tracing::Instrument;

/// Larger bodies get 413. Smartcar documents 50 KB at most; this leaves room.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Only a VERIFY comes without `SC-Signature`, and Smartcar's are a few hundred bytes:
/// a larger unsigned body is refused (401) without being read.
pub const MAX_UNSIGNED_BYTES: usize = 4 * 1024;

pub const SIGNATURE_HEADER: &str = "sc-signature";

/// What the endpoint works with (its part of the server's state).
pub struct Webhooks {
    pub db: DatabaseConnection,
    /// `None` when no management token is configured: webhooks are then refused.
    pub verifier: Option<Arc<Verifier>>,
    /// Deliveries refused for a missing or wrong `SC-Signature` since start.
    pub rejected_signatures: Arc<AtomicU64>,
    /// Log rows for requests that stored nothing, a second.
    pub log_budget: PerSecond,
    /// Dead letters kept, a second.
    pub dead_letter_budget: PerSecond,
    /// WARN lines about what strangers cause, a second (shared with the login forms).
    pub warn_budget: Arc<PerSecond>,
    /// Webhook bodies arriving at once, in KiB (see [`BODIES_IN_FLIGHT_KIB`]).
    pub bodies: tokio::sync::Semaphore,
    /// How deliveries are committed (batched on SQLite).
    pub ingestor: Ingestor,
    /// Told when something new is stored.
    pub live: Arc<LiveFeed>,
    pub metrics: Arc<Metrics>,
}

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
    answered(response, "unavailable")
}

/// What became of a request, for `/metrics`: set on the response by the handler.
#[derive(Debug, Clone, Copy)]
struct Answered(&'static str);

fn answered(mut response: Response, outcome: &'static str) -> Response {
    response.extensions_mut().insert(Answered(outcome));
    response
}

pub async fn receive(
    State(state): State<Arc<Webhooks>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let response = match state.verifier.as_deref() {
        None => {
            budgeted_warn!(
                state.warn_budget,
                "webhook refused: SMARTCAR_MANAGEMENT_TOKEN is not configured"
            );
            answered(
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
        .get::<Answered>()
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
    state: &Webhooks,
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
            answered(
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
    let Ok(_held) = state.bodies.try_acquire_many(kib) else {
        budgeted_warn!(
            state.warn_budget,
            "webhook answered 503: too many bodies arriving at once"
        );
        return Err(answered(
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
        Err(_) => Err(answered(
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
    state: &Webhooks,
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
        return answered(
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
    let checked = head.and_then(|head| plan::check(head, &text, received_at));
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
    let stored_as = disposition.outcome().as_str();
    let span = tracing::info_span!(
        "delivery",
        event_id = record.event_id.as_ref().map(EventId::as_str),
        vehicle_id = record.vehicle_id.as_ref().map(VehicleId::as_str),
        event_type = %record.event_type,
    );
    match state
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
            answered(
                Json(json!({ "status": "stored" })).into_response(),
                stored_as,
            )
        }
        Ok(Stored::InInbox { inbox_id }) => {
            span.in_scope(|| tracing::info!(inbox_id, "delivery stored in the inbox"));
            answered(
                Json(json!({ "status": "stored" })).into_response(),
                stored_as,
            )
        }
        Ok(Stored::Duplicate { .. }) => {
            state.live.nudge();
            span.in_scope(|| tracing::info!("repeated eventId; nothing changed"));
            answered(
                Json(json!({ "status": "duplicate" })).into_response(),
                Outcome::Duplicate.as_str(),
            )
        }
        Err(err) => span.in_scope(|| unavailable(&err)),
    }
}

/// Answers a VERIFY with the HMAC of its challenge, if the challenge has Smartcar's form.
async fn answer_verify(
    state: &Webhooks,
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
            answered(
                Json(json!({ "challenge": verifier.sign(challenge.as_str().as_bytes()) }))
                    .into_response(),
                Outcome::Verified.as_str(),
            )
        }
        Err(err) => {
            budgeted_warn!(state.warn_budget, reason = %err, "refused to sign a VERIFY challenge");
            answered(
                error_body(StatusCode::BAD_REQUEST, format!("VERIFY refused: {err}")),
                "verify_refused",
            )
        }
    }
}

/// Keeps a signed body that cannot be processed: one row per distinct body, counted
/// each time it comes again, at most [`crate::budget::PER_SECOND`] a second. Past that
/// the sender is asked to retry (429), so nothing is lost and nothing piles up.
async fn keep_dead_letter(state: &Webhooks, letter: DeadLetter) -> Response {
    if state.dead_letter_budget.take().is_none() {
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
        return answered(response, "dead_letter_deferred");
    }
    let error = letter.error.clone();
    match accept::dead_letter(&state.db, letter).await {
        Ok(kept) => {
            state.live.nudge();
            budgeted_warn!(
                state.warn_budget,
                dead_letter_id = kept.id,
                times_received = kept.times_received,
                error = %error,
                "signed delivery could not be processed; kept as a dead letter"
            );
            answered(
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
async fn log_unstored(state: &Webhooks, at: EpochMs, outcome: Outcome, detail: Option<String>) {
    if state.log_budget.take().is_none() {
        return;
    }
    match accept::log_unstored(&state.db, at, outcome, detail).await {
        Ok(_) => state.live.nudge(),
        Err(err) => tracing::warn!(error = %err, "could not write the webhook log"),
    }
}

async fn refuse_signature(
    state: &Webhooks,
    verifier: &Verifier,
    err: SignatureError,
    received_at: EpochMs,
) -> Response {
    let count = state.rejected_signatures.fetch_add(1, Ordering::Relaxed) + 1;
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
    answered(
        error_body(
            StatusCode::UNAUTHORIZED,
            format!("invalid signature: {err}"),
        ),
        Outcome::RejectedSignature.as_str(),
    )
}
