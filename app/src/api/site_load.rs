//! The load page's data (a place's load and a what-if) and the fleet's monthly site
//! peaks, for server rendering. The parameters are read and bounded as the JSON API
//! reads them (`domain::site_load::query`).

use crate::api::error::AppError;
use crate::wire::{PlaceLoad, SitePeaks, WhatIf};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn bad(err: crate::domain::site_load::query::Invalid) -> AppError {
    AppError::BadRequest(format!("{}: {}", err.param, err.message))
}

/// The range of `from` and `to` in the place's zone, and the place's zone's today.
#[cfg(feature = "ssr")]
async fn days(
    ctx: &crate::server::ServerContext,
    id: &str,
    (from, to): (Option<String>, Option<String>),
    (default_days, max_days): (u64, u64),
) -> Result<crate::domain::site_load::query::LocalDays, AppError> {
    let (_, tz) = crate::server::site_load::place_zone(&ctx.db, id, ctx.timezone)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No place with id {id:?}.")))?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    crate::domain::site_load::query::range(
        from.as_deref(),
        to.as_deref(),
        today,
        default_days,
        max_days,
    )
    .map_err(bad)
}

/// A place's load over `from`..`to` (its local days) in intervals of `interval`.
#[server(endpoint = "place_load", output = crate::api::codec::Json)]
pub async fn get_place_load(
    id: String,
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
) -> Result<PlaceLoad, AppError> {
    crate::api::error::with_status(load_inner(id, from, to, interval).await)
}

#[cfg(feature = "ssr")]
async fn load_inner(
    id: String,
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
) -> Result<PlaceLoad, AppError> {
    use crate::domain::site_load::query;
    let ctx = crate::server::context()?;
    let interval = query::interval(interval.as_deref()).map_err(bad)?;
    let range = (query::DEFAULT_LOAD_DAYS, query::MAX_LOAD_DAYS);
    let days = days(&ctx, &id, (from, to), range).await?;
    crate::server::site_load::load(&ctx.db, &id, days, interval, ctx.timezone)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No place with id {id:?}.")))
}

/// The place's sessions over `from`..`to` replayed under `cap_kw`.
#[server(endpoint = "place_what_if", output = crate::api::codec::Json)]
pub async fn get_what_if(
    id: String,
    cap_kw: String,
    from: Option<String>,
    to: Option<String>,
) -> Result<WhatIf, AppError> {
    crate::api::error::with_status(what_if_inner(id, cap_kw, from, to).await)
}

#[cfg(feature = "ssr")]
async fn what_if_inner(
    id: String,
    cap_kw: String,
    from: Option<String>,
    to: Option<String>,
) -> Result<WhatIf, AppError> {
    use crate::domain::site_load::query;
    let ctx = crate::server::context()?;
    let cap = query::cap_kw(Some(&cap_kw)).map_err(bad)?;
    let range = (query::DEFAULT_WHAT_IF_DAYS, query::MAX_WHAT_IF_DAYS);
    let days = days(&ctx, &id, (from, to), range).await?;
    crate::server::site_load::what_if(&ctx.db, &id, days, cap, ctx.timezone)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No place with id {id:?}.")))
}

/// Every place's highest 15-minute interval of `month` (`YYYY-MM`, the current one in
/// the viewer's zone when empty).
#[server(endpoint = "site_peaks", output = crate::api::codec::Json)]
pub async fn get_site_peaks(month: Option<String>) -> Result<SitePeaks, AppError> {
    crate::api::error::with_status(peaks_inner(month).await)
}

#[cfg(feature = "ssr")]
async fn peaks_inner(month: Option<String>) -> Result<SitePeaks, AppError> {
    let ctx = crate::server::context()?;
    let today = chrono::Utc::now()
        .with_timezone(&crate::viewer::viewer_tz())
        .date_naive();
    let month = crate::domain::reports::month_or_current(month.as_deref(), today)
        .ok_or_else(|| AppError::BadRequest("month: expected a month such as 2026-03.".into()))?;
    Ok(crate::server::site_load::site_peaks(&ctx.db, month, ctx.timezone).await?)
}
