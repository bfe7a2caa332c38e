//! `/api/v1/places/{id}/load` and `/api/v1/places/{id}/what-if`: what the fleet drew at a
//! place, its peaks, and what a power cap would have done (`app::server::site_load`);
//! `/places/{id}/load.csv`: the intervals as CSV.

use crate::http::api::Reads;
use crate::http::error::HttpError;
use app::domain::site_load::query::{self, Invalid, LocalDays};
use app::server::site_load;
use app::wire::{ApiErrorBody, PlaceLoad, WhatIf};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;

impl From<Invalid> for HttpError {
    fn from(err: Invalid) -> Self {
        HttpError::BadRequest {
            param: err.param.into(),
            message: err.message,
        }
    }
}

fn no_place(id: &str) -> HttpError {
    HttpError::NotFound(format!("no place with id {id:?}"))
}

/// The range asked for, in the place's zone (404 for an unknown place).
async fn days_at(
    state: &Reads,
    id: &str,
    params: &HashMap<String, String>,
    (default_days, max_days): (u64, u64),
) -> Result<LocalDays, HttpError> {
    let (_, tz) = site_load::place_zone(&state.db, id, state.timezone)
        .await?
        .ok_or_else(|| no_place(id))?;
    let today = crate::clock::now()
        .to_datetime()
        .with_timezone(&tz)
        .date_naive();
    let param = |name: &str| params.get(name).map(String::as_str);
    Ok(query::range(
        param("from"),
        param("to"),
        today,
        default_days,
        max_days,
    )?)
}

async fn load_of(
    state: &Reads,
    id: &str,
    params: &HashMap<String, String>,
) -> Result<PlaceLoad, HttpError> {
    let interval = query::interval(params.get("interval").map(String::as_str))?;
    let days = days_at(
        state,
        id,
        params,
        (query::DEFAULT_LOAD_DAYS, query::MAX_LOAD_DAYS),
    )
    .await?;
    site_load::load(&state.db, id, days, interval, state.timezone)
        .await?
        .ok_or_else(|| no_place(id))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/{id}/load",
    tag = "places",
    params(
        ("id" = String, Path, description = "The place's id"),
        ("from" = Option<String>, Query, description = "First local day, YYYY-MM-DD (default: 30 days before `to`)"),
        ("to" = Option<String>, Query, description = "Last local day, included (default: today in the place's zone); at most 366 days from `from`"),
        ("interval" = Option<String>, Query, description = "5m, 15m (default) or 60m"),
    ),
    responses(
        (status = 200, description = "The fleet's charging power at the place: intervals with charge, each day's and month's peak interval with the vehicles in it, and the weekday × hour profile", body = PlaceLoad),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
        (status = 404, description = "No such place", body = ApiErrorBody),
    )
)]
async fn get_load(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<PlaceLoad>, HttpError> {
    Ok(Json(load_of(&state, &id, &params).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/{id}/what-if",
    tag = "places",
    params(
        ("id" = String, Path, description = "The place's id"),
        ("cap_kw" = f64, Query, description = "The site's power limit in kW (above 0, at most 100000)"),
        ("from" = Option<String>, Query, description = "First local day, YYYY-MM-DD (default: 7 days before `to`)"),
        ("to" = Option<String>, Query, description = "Last local day, included (default: today in the place's zone); at most 31 days from `from`"),
    ),
    responses(
        (status = 200, description = "The recorded sessions replayed a minute at a time under the cap, shared equally and with vehicles leaving soonest first", body = WhatIf),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
        (status = 404, description = "No such place", body = ApiErrorBody),
    )
)]
async fn get_what_if(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<WhatIf>, HttpError> {
    let cap = query::cap_kw(params.get("cap_kw").map(String::as_str))?;
    let days = days_at(
        &state,
        &id,
        &params,
        (query::DEFAULT_WHAT_IF_DAYS, query::MAX_WHAT_IF_DAYS),
    )
    .await?;
    site_load::what_if(&state.db, &id, days, cap, state.timezone)
        .await?
        .map(Json)
        .ok_or_else(|| no_place(&id))
}

/// The intervals of `/api/v1/places/{id}/load` as CSV, with local times.
async fn load_csv(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    let interval = query::interval(params.get("interval").map(String::as_str))?;
    let days = days_at(
        &state,
        &id,
        &params,
        (query::DEFAULT_LOAD_DAYS, query::MAX_LOAD_DAYS),
    )
    .await?;
    let (tz, intervals) = site_load::intervals(&state.db, &id, days, interval, state.timezone)
        .await?
        .ok_or_else(|| no_place(&id))?;
    let header = [
        "start_utc",
        "start_local",
        "avg_kw",
        "max_vehicles",
        "energy_kwh",
        "from_wattage_kwh",
        "from_energy_samples_kwh",
        "from_average_kwh",
    ];
    let rows: Vec<Vec<String>> = intervals
        .iter()
        .map(|i| {
            vec![
                i.start.to_rfc3339(),
                i.start
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                format!("{:.3}", i.avg_kw),
                i.max_vehicles.to_string(),
                format!("{:.6}", i.energy_kwh),
                format!("{:.6}", i.wattage_kwh),
                format!("{:.6}", i.samples_kwh),
                format!("{:.6}", i.average_kwh),
            ]
        })
        .collect();
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Ok(crate::http::reports::csv_response(
        crate::http::export::csv_bytes(rows, Some(&header[..])),
        &format!(
            "chargelog-load-{name}-{}-{}-{interval}m.csv",
            days.from, days.to
        ),
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(get_load, get_what_if))]
pub struct LoadDoc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new()
        .route("/api/v1/places/{id}/load", get(get_load))
        .route("/api/v1/places/{id}/what-if", get(get_what_if))
}

/// The CSV download, beside the other exports.
pub fn csv_routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new().route("/places/{id}/load.csv", get(load_csv))
}
