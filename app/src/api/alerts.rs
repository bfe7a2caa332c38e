//! The alerts page's data and the top bar's count, for server rendering.

use crate::api::error::AppError;
use crate::wire::AlertsView;
use leptos::prelude::*;

/// Alerts on one page of `/alerts`.
pub const ALERTS_PAGE: u64 = 50;

/// One page of alerts, open first (filtered by `status`, `kind` and `vehicle`, after the
/// cursor `after`).
#[server(endpoint = "alerts_page", output = crate::api::codec::Json)]
pub async fn get_alerts(
    status: Option<String>,
    kind: Option<String>,
    vehicle: Option<String>,
    after: Option<String>,
) -> Result<AlertsView, AppError> {
    crate::api::error::with_status(alerts_inner(status, kind, vehicle, after).await)
}

#[cfg(feature = "ssr")]
async fn alerts_inner(
    status: Option<String>,
    kind: Option<String>,
    vehicle: Option<String>,
    after: Option<String>,
) -> Result<AlertsView, AppError> {
    use crate::server::alerts::{open_counts, open_state, page, Cursor, Filter};
    let ctx = crate::server::context()?;
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let filter = Filter::parse(status.as_deref(), kind.as_deref(), vehicle.as_deref())
        .map_err(|(name, message)| AppError::BadRequest(format!("{name}: {message}")))?;
    let cursor = match given(&after) {
        None => None,
        Some(raw) => Some(Cursor::parse(&raw).ok_or_else(|| {
            AppError::BadRequest("That link to a later page is broken; start again.".into())
        })?),
    };
    // Read the state first: if an alert changes while the page is read, the live
    // stream's next announcement differs from it and the page is drawn again.
    let state = open_state(&ctx.db).await?;
    let (alerts, next_cursor) = page(&ctx.db, &filter, cursor.as_ref(), ALERTS_PAGE).await?;
    let (open_total, open_by_kind) = open_counts(&ctx.db).await?;
    Ok(AlertsView {
        list: crate::wire::AlertList {
            alerts,
            next_cursor,
            open: open_total,
            open_by_kind,
        },
        state: state.encode(),
    })
}

/// How many alerts are open, for the top bar.
#[server(endpoint = "alert_count", output = crate::api::codec::Json)]
pub async fn get_open_alert_count() -> Result<u64, AppError> {
    let ctx = crate::server::context()?;
    Ok(crate::server::alerts::open_count(&ctx.db).await?)
}

/// The notifications page: every endpoint, and the delivery log of `endpoint` (else
/// the first in use) before attempt `before`.
#[server(endpoint = "notifications_page", output = crate::api::codec::Json)]
pub async fn get_notifications(
    endpoint: Option<i64>,
    before: Option<i64>,
) -> Result<crate::wire::NotificationsView, AppError> {
    crate::api::error::with_status(notifications_inner(endpoint, before).await)
}

#[cfg(feature = "ssr")]
async fn notifications_inner(
    endpoint: Option<i64>,
    before: Option<i64>,
) -> Result<crate::wire::NotificationsView, AppError> {
    use crate::server::notifications::{attempts, endpoints};
    let ctx = crate::server::context()?;
    let endpoints = endpoints(&ctx.db).await?;
    let shown = match endpoint {
        Some(id) if endpoints.iter().any(|e| e.id == id) => Some(id),
        Some(id) => return Err(AppError::NotFound(format!("There is no endpoint {id}."))),
        None => endpoints.first().map(|e| e.id),
    };
    let (log, next_before) = match shown {
        Some(id) => attempts(&ctx.db, id, before).await?,
        None => (Vec::new(), None),
    };
    Ok(crate::wire::NotificationsView {
        endpoints,
        shown,
        attempts: log,
        next_before,
    })
}
