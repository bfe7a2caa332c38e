//! The places page's data and the month report's, for server rendering.

use crate::api::error::AppError;
use crate::wire::{MonthlyReport, PlacesView, Statement};
use leptos::prelude::*;

/// Places per page on the places page.
pub const PLACES_PAGE: u64 = 50;

/// A page of places (after the name `after`), with their tariffs, the fleet default's,
/// suggestions and the pricing backlog.
#[server(endpoint = "places_page", output = crate::api::codec::Json)]
pub async fn get_places(after: Option<String>) -> Result<PlacesView, AppError> {
    crate::api::error::with_status(places_inner(after).await)
}

#[cfg(feature = "ssr")]
async fn places_inner(after: Option<String>) -> Result<PlacesView, AppError> {
    use crate::server::places;
    let ctx = crate::server::context()?;
    let after = after.filter(|a| !a.is_empty());
    let (page, next_cursor) = places::page(&ctx.db, after.as_deref(), PLACES_PAGE).await?;
    let mut with_tariffs = Vec::with_capacity(page.len());
    for place in page {
        let tariffs = places::tariffs(&ctx.db, Some(&place.id)).await?;
        with_tariffs.push((place, tariffs));
    }
    Ok(PlacesView {
        places: with_tariffs,
        next_cursor,
        default_tariffs: places::tariffs(&ctx.db, None).await?,
        suggestions: places::suggestions(&ctx.db, ctx.timezone).await?,
        pricing_pending: crate::server::pricing::due_count(&ctx.db).await?,
        default_timezone: ctx.timezone.name().to_owned(),
    })
}

/// The month report in the viewer's zone (`month`: `YYYY-MM`, the current month when
/// empty).
#[server(endpoint = "monthly_report", output = crate::api::codec::Json)]
pub async fn get_monthly_report(month: Option<String>) -> Result<MonthlyReport, AppError> {
    crate::api::error::with_status(report_inner(month).await)
}

#[cfg(feature = "ssr")]
fn month_of(month: Option<String>, tz: chrono_tz::Tz) -> Result<chrono::NaiveDate, AppError> {
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    crate::domain::reports::month_or_current(month.as_deref(), today).ok_or_else(|| {
        AppError::BadRequest(format!(
            "{:?} is not a month such as 2026-03.",
            month.unwrap_or_default()
        ))
    })
}

#[cfg(feature = "ssr")]
async fn report_inner(month: Option<String>) -> Result<MonthlyReport, AppError> {
    let ctx = crate::server::context()?;
    let tz = crate::viewer::viewer_tz();
    let month = month_of(month, tz)?;
    crate::server::reports::monthly(&ctx.db, month, tz, ctx.timezone)
        .await?
        .ok_or_else(|| AppError::BadRequest("That month cannot be placed in time.".into()))
}

/// A vehicle's reimbursement statement: its sessions in the month at places of `kind`
/// (`home` when empty), in the viewer's zone.
#[server(endpoint = "statement", output = crate::api::codec::Json)]
pub async fn get_statement(
    vehicle: String,
    month: Option<String>,
    kind: Option<String>,
) -> Result<Statement, AppError> {
    crate::api::error::with_status(statement_inner(vehicle, month, kind).await)
}

#[cfg(feature = "ssr")]
async fn statement_inner(
    vehicle: String,
    month: Option<String>,
    kind: Option<String>,
) -> Result<Statement, AppError> {
    use crate::domain::ids::VehicleId;
    use crate::domain::places::PlaceKind;
    let ctx = crate::server::context()?;
    let tz = crate::viewer::viewer_tz();
    let month = month_of(month, tz)?;
    let kind = match kind.filter(|k| !k.is_empty()) {
        None => PlaceKind::Home,
        Some(raw) => PlaceKind::parse(&raw)
            .ok_or_else(|| AppError::BadRequest(format!("There is no place kind {raw:?}.")))?,
    };
    let not_found = || AppError::NotFound(format!("There is no vehicle with id {vehicle}."));
    let id = VehicleId::parse(&vehicle).map_err(|_| not_found())?;
    crate::server::reports::statement(&ctx.db, &id, month, tz, kind, ctx.timezone)
        .await?
        .ok_or_else(not_found)
}
