//! Smartcar's deliveries, from raw bytes to stored rows, in the order they happen:
//!
//! 1. [`endpoint`]: `POST /webhooks/smartcar` reads the body under its limits, checks
//!    `SC-Signature` ([`signature`]), answers VERIFY, and hands a checked delivery on.
//! 2. [`plan`] (pure): what a verified body means: its delivery row and its effect.
//! 3. **Accept**, before the 2xx: the [`ingestor`] commits the delivery row, raw body
//!    included ([`accept`]; on SQLite in group commits, most rows through
//!    [`sqlite_append`] into the [`inbox`], a file with a write lock of its own). A
//!    signed body that cannot be processed is kept as a dead letter instead.
//! 4. **Apply**, after the 2xx: the [`processor`] task claims the waiting deliveries of
//!    the vehicles that have waited longest ([`queue`]; on SQLite after moving the
//!    inbox's rows into `deliveries`) and applies them ([`apply`]): readings, latest
//!    state, errors, log rows and sessions, in one transaction. On SQLite it takes
//!    [`turns`] at the main file with the general path of step 3.
//!
//! One vocabulary throughout:
//!
//! - A **delivery** is one request's body, stored as one `deliveries` row
//!   ([`plan::DeliveryRecord`]), keyed by Smartcar's `eventId`.
//! - Its **effect** ([`plan::Effect`]) is what applying it changes beyond the row:
//!   nothing, a vehicle's state (readings), or a vehicle's errors.
//! - Its **disposition** ([`plan::Disposition`]) is what accepting it needs to know:
//!   complete once stored (with its outcome), or *waiting* for the processor.
//! - Accepting answers [`accept::Stored`]: a new row, or a *duplicate* of an eventId
//!   already stored. Applying a batch answers [`apply::Applied`].
//! - The **outcome** ([`app::domain::events::Outcome`]) is the log's word for what became
//!   of a request (stored, duplicate, verified, dead letter, refused signature...); the
//!   webhook's metrics count requests by the same words, plus the refusals that store
//!   nothing (too large, not an object, ...).
//! - The **mode** is Smartcar's (`LIVE` or `TEST`, [`app::domain::webhook::Mode`]); how
//!   the ingestor writes is its [`ingestor`]'s choice (per request, or group commit).

pub mod accept;
pub mod apply;
pub mod endpoint;
pub mod inbox;
pub mod ingestor;
pub mod plan;
pub mod processor;
pub mod queue;
pub mod signature;
pub mod sqlite_append;
pub mod turns;

use axum::extract::FromRef;
use std::sync::Arc;

/// `POST /webhooks/smartcar`, open to anyone: its guard is the signature. The handler
/// reads its body itself, under its own limits.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<endpoint::Webhooks>: FromRef<S>,
{
    axum::Router::new().route("/webhooks/smartcar", axum::routing::post(endpoint::receive))
}
