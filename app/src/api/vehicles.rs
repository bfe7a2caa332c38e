use crate::api::error::AppError;
use crate::wire::{SessionDetail, VehicleScheduleView, VehicleView};
use leptos::prelude::*;

/// Sessions per page on the vehicle page.
pub const PAGE_SIZE: u64 = 25;

/// `YYYY-MM-DD`, or an error that names the parameter.
#[cfg(feature = "ssr")]
fn date_param(name: &str, raw: Option<&str>) -> Result<Option<chrono::NaiveDate>, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(raw) => crate::domain::buckets::parse_date(raw)
            .map(Some)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "`{name}` must be a date like 2026-03-14, not {raw:?}."
                ))
            }),
    }
}

/// A vehicle, one page of its sessions, its energy chart and its signals.
///
/// `from` and `to` are local dates in the viewer's zone (`YYYY-MM-DD`, both included):
/// they filter the sessions and set the chart's range. `chart` is `day`, `week` or
/// `month`; `cursor` is the previous page's `next_cursor`.
#[server(endpoint = "vehicle_view", output = crate::api::codec::Json)]
pub async fn get_vehicle_view(
    id: String,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    chart: Option<String>,
    place: Option<String>,
) -> Result<VehicleView, AppError> {
    crate::api::error::with_status(get_vehicle_view_inner(id, from, to, cursor, chart, place).await)
}

#[cfg(feature = "ssr")]
async fn get_vehicle_view_inner(
    id: String,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    chart: Option<String>,
    place: Option<String>,
) -> Result<VehicleView, AppError> {
    use crate::domain::buckets::{chart_range, day_start, Bucket};
    use crate::server::sessions::{energy_series, page, PlaceScope, SessionFilter};
    let ctx = crate::server::context()?;
    let tz = crate::viewer::viewer_tz();
    let not_found = || AppError::NotFound(format!("There is no vehicle with id {id}."));
    let id = crate::domain::ids::VehicleId::parse(&id).map_err(|_| not_found())?;
    let now = crate::server::now()?;
    let vehicle = crate::server::fleet::vehicle_item(&ctx.db, &id, &ctx.engine, now)
        .await?
        .ok_or_else(not_found)?;
    let (from, to) = match (
        date_param("from", from.as_deref())?,
        date_param("to", to.as_deref())?,
    ) {
        // Reversed dates are read as the range they name, as the chart reads them.
        (Some(f), Some(t)) if f > t => (Some(t), Some(f)),
        dates => dates,
    };
    let bucket = match chart.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Bucket::Day,
        Some(raw) => Bucket::parse(raw).ok_or_else(|| {
            AppError::BadRequest(format!("`chart` must be day, week or month, not {raw:?}."))
        })?,
    };
    let filter = SessionFilter {
        from: from.map(|d| day_start(tz, d).timestamp_millis()),
        to: to
            .and_then(|d| d.succ_opt())
            .map(|d| day_start(tz, d).timestamp_millis()),
        before: cursor.and_then(|c| c.parse().ok()),
        place: place.as_deref().and_then(PlaceScope::parse),
        limit: PAGE_SIZE,
    };
    let sessions = page(&ctx.db, &id, filter, &ctx.engine, now).await?;
    let (chart_from, chart_to) = chart_range(bucket, tz, now.to_datetime(), from, to);
    let energy = energy_series(&ctx.db, &id, bucket, tz, chart_from, chart_to).await?;
    let signals = crate::server::signals::panel(&ctx.db, &id).await?;
    let places = crate::server::places::places_of(&ctx.db, id.as_str()).await?;
    let unattached_costs = crate::server::places::unattached_costs(&ctx.db, id.as_str()).await?;
    Ok(VehicleView {
        vehicle,
        sessions,
        bucket,
        energy,
        signals,
        places,
        unattached_costs,
    })
}

/// The schedule a vehicle follows and its readiness verdict, for its page's schedule card.
#[server(endpoint = "vehicle_schedule", output = crate::api::codec::Json)]
pub async fn get_vehicle_schedule(id: String) -> Result<VehicleScheduleView, AppError> {
    crate::api::error::with_status(vehicle_schedule_inner(id).await)
}

#[cfg(feature = "ssr")]
async fn vehicle_schedule_inner(id: String) -> Result<VehicleScheduleView, AppError> {
    let ctx = crate::server::context()?;
    let not_found = || AppError::NotFound(format!("There is no vehicle with id {id}."));
    let id = crate::domain::ids::VehicleId::parse(&id).map_err(|_| not_found())?;
    let now = chrono::Utc::now();
    let found = crate::server::schedules::of_vehicle(&ctx.db, &id).await?;
    Ok(VehicleScheduleView {
        schedule: crate::wire::VehicleSchedule::new(id.to_string(), found, now),
        readiness: crate::server::readiness::item(&ctx.db, &id, now).await?,
        default_timezone: ctx.timezone.name().to_owned(),
    })
}

/// A session with its charge curve and the deliveries it was built from.
#[server(endpoint = "session_detail", output = crate::api::codec::Json)]
pub async fn get_session_detail(id: String) -> Result<SessionDetail, AppError> {
    crate::api::error::with_status(get_session_detail_inner(id).await)
}

#[cfg(feature = "ssr")]
async fn get_session_detail_inner(id: String) -> Result<SessionDetail, AppError> {
    let ctx = crate::server::context()?;
    crate::server::sessions::detail(&ctx.db, &id, &ctx.engine, crate::server::now()?)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no session with id {id}.")))
}
