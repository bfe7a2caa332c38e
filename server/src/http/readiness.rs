//! `/api/v1/schedules/default` and `/api/v1/vehicles/{id}/schedule`: when vehicles leave
//! and the charge they need then (a vehicle follows its own schedule, else the fleet
//! default; `DELETE` puts it back on the default); `/api/v1/readiness`: the board.

use crate::http::api::{require_vehicle, Reads};
use crate::http::error::HttpError;
use crate::http::json_body::JsonBody;
use app::domain::ids::VehicleId;
use app::domain::readiness::Status;
use app::domain::schedule::Schedule;
use app::server::readiness::{self, Cursor};
use app::server::schedules;
use app::wire::{ApiErrorBody, ReadinessBoard, VehicleSchedule};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;

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

#[utoipa::path(
    get,
    path = "/api/v1/readiness",
    tag = "readiness",
    params(
        ("status" = Option<Status>, Query, description = "Only vehicles with this status"),
        ("limit" = Option<u64>, Query, description = "Vehicles per page, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page of the board, most urgent first, with the count of each status", body = ReadinessBoard),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
    )
)]
async fn board(
    State(state): State<Reads>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ReadinessBoard>, HttpError> {
    let bad = |param: &'static str, message: String| HttpError::BadRequest {
        param: param.into(),
        message,
    };
    let limit = crate::http::api::limit_param(&params)?;
    let status = match params.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            raw.parse::<Status>()
                .map_err(|e| bad("status", e.to_string()))?,
        ),
    };
    let cursor = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            Cursor::parse(raw)
                .ok_or_else(|| bad("cursor", "not a cursor this API handed out".into()))?,
        ),
    };
    let now = crate::clock::now().to_datetime();
    let (vehicles, next_cursor) =
        readiness::page(&state.db, status, cursor.as_ref(), limit, now).await?;
    Ok(Json(ReadinessBoard {
        vehicles,
        next_cursor,
        counts: readiness::counts(&state.db).await?,
    }))
}

/// The OpenAPI description of these routes, merged into `api::ApiDoc`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_default, put_default, get_vehicle, put_vehicle, delete_vehicle, board),
    tags(
        (name = "schedules", description = "When vehicles leave, and the charge they need then"),
        (name = "readiness", description = "Will every vehicle be ready for its departure"),
    )
)]
pub struct ReadinessDoc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new()
        .route("/api/v1/readiness", get(board))
        .route(
            "/api/v1/schedules/default",
            get(get_default).put(put_default),
        )
        .route(
            "/api/v1/vehicles/{id}/schedule",
            get(get_vehicle).put(put_vehicle).delete(delete_vehicle),
        )
}
