//! `/api/v1/schedules/default` and `/api/v1/vehicles/{id}/schedule`: when vehicles leave
//! and the charge they need then. A vehicle follows its own schedule, else the fleet
//! default; `DELETE` puts it back on the default.

use crate::http::api::{require_vehicle, Reads};
use crate::http::error::HttpError;
use crate::http::json_body::JsonBody;
use app::domain::ids::VehicleId;
use app::domain::schedule::Schedule;
use app::server::schedules;
use app::wire::{ApiErrorBody, VehicleSchedule};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

async fn vehicle_schedule(state: &Reads, id: &VehicleId) -> Result<VehicleSchedule, HttpError> {
    let found = schedules::of_vehicle(&state.db, id).await?;
    let now = crate::clock::now().to_datetime();
    Ok(VehicleSchedule::new(id.to_string(), found, now))
}

#[utoipa::path(
    get,
    path = "/api/v1/schedules/default",
    tag = "schedules",
    responses(
        (status = 200, description = "The fleet default schedule, followed by vehicles with none of their own", body = Schedule),
        (status = 404, description = "No fleet default is set", body = ApiErrorBody),
    )
)]
async fn get_default(State(state): State<Reads>) -> Result<Json<Schedule>, HttpError> {
    schedules::fleet_default(&state.db)
        .await?
        .map(Json)
        .ok_or_else(|| HttpError::NotFound("no fleet default schedule is set".into()))
}

#[utoipa::path(
    put,
    path = "/api/v1/schedules/default",
    tag = "schedules",
    request_body = Schedule,
    responses(
        (status = 200, description = "The fleet default, as stored", body = Schedule),
        (status = 400, description = "A field is invalid; the message names it", body = ApiErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ApiErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ApiErrorBody),
    )
)]
async fn put_default(
    State(state): State<Reads>,
    JsonBody(schedule): JsonBody<Schedule>,
) -> Result<Json<Schedule>, HttpError> {
    schedules::set_fleet_default(&state.db, &schedule).await?;
    Ok(Json(schedule))
}

#[utoipa::path(
    get,
    path = "/api/v1/vehicles/{id}/schedule",
    tag = "schedules",
    params(("id" = String, Path, description = "Smartcar vehicle id")),
    responses(
        (status = 200, description = "The schedule the vehicle follows (its own or the fleet default), with its next departure", body = VehicleSchedule),
        (status = 404, description = "No such vehicle", body = ApiErrorBody),
    )
)]
async fn get_vehicle(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<Json<VehicleSchedule>, HttpError> {
    let id = require_vehicle(&state, &id).await?;
    Ok(Json(vehicle_schedule(&state, &id).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/vehicles/{id}/schedule",
    tag = "schedules",
    params(("id" = String, Path, description = "Smartcar vehicle id")),
    request_body = Schedule,
    responses(
        (status = 200, description = "The vehicle's own schedule, as stored (no departures: it keeps none, whatever the fleet default)", body = VehicleSchedule),
        (status = 400, description = "A field is invalid; the message names it", body = ApiErrorBody),
        (status = 404, description = "No such vehicle", body = ApiErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ApiErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ApiErrorBody),
    )
)]
async fn put_vehicle(
    State(state): State<Reads>,
    Path(id): Path<String>,
    JsonBody(schedule): JsonBody<Schedule>,
) -> Result<Json<VehicleSchedule>, HttpError> {
    let id = require_vehicle(&state, &id).await?;
    schedules::set_vehicle(&state.db, &id, &schedule).await?;
    Ok(Json(vehicle_schedule(&state, &id).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/vehicles/{id}/schedule",
    tag = "schedules",
    params(("id" = String, Path, description = "Smartcar vehicle id")),
    responses(
        (status = 200, description = "Its own schedule is gone; what it follows now (the fleet default, if any)", body = VehicleSchedule),
        (status = 404, description = "No such vehicle", body = ApiErrorBody),
    )
)]
async fn delete_vehicle(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<Json<VehicleSchedule>, HttpError> {
    let id = require_vehicle(&state, &id).await?;
    schedules::clear_vehicle(&state.db, &id).await?;
    Ok(Json(vehicle_schedule(&state, &id).await?))
}

/// The OpenAPI description of these routes, merged into `api::ApiDoc`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_default, put_default, get_vehicle, put_vehicle, delete_vehicle),
    tags((name = "schedules", description = "When vehicles leave, and the charge they need then"))
)]
pub struct SchedulesDoc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new()
        .route(
            "/api/v1/schedules/default",
            get(get_default).put(put_default),
        )
        .route(
            "/api/v1/vehicles/{id}/schedule",
            get(get_vehicle).put(put_vehicle).delete(delete_vehicle),
        )
}
