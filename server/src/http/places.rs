//! `/api/v1/places`, `/api/v1/tariffs` and `/api/v1/sessions/{id}/cost`: where sessions
//! happen and what they cost. Writes answer at once; the sessions they touch get their
//! place and cost in the background (`tasks::pricing`), and `pricing_pending` in the list
//! of places says how many are still waiting.

use crate::http::api::Reads;
use crate::http::error::HttpError;
use crate::http::json_body::{read, JsonBody};
use app::domain::pricing::tariff::Tariff;
use app::server::places::{self, WriteError};
use app::server::pricing;
use app::wire::{
    ApiErrorBody, ManualCostInput, PlaceDto, PlaceInput, PlaceList, SessionCost, SuggestionList,
    TariffDto, TariffList,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde_json::{Map, Value};
use std::collections::HashMap;

impl From<WriteError> for HttpError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::Invalid(invalid) => HttpError::BadRequest {
                param: invalid.field.into(),
                message: invalid.message,
            },
            WriteError::Duplicate(_) => HttpError::Conflict(err.to_string()),
            WriteError::NotFound(message) => HttpError::NotFound(message),
            WriteError::Db(db) => db.into(),
        }
    }
}

fn no_place(id: &str) -> HttpError {
    HttpError::NotFound(format!("no place with id {id:?}"))
}

#[utoipa::path(
    get,
    path = "/api/v1/places",
    tag = "places",
    params(
        ("limit" = Option<u64>, Query, description = "Places per page, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page of places by name, and how many sessions wait to be re-priced", body = PlaceList),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
    )
)]
async fn list_places(
    State(state): State<Reads>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<PlaceList>, HttpError> {
    let limit = crate::http::api::limit_param(&params)?;
    let cursor = params.get("cursor").map(String::as_str);
    let (places, next_cursor) = places::page(&state.db, cursor, limit).await?;
    Ok(Json(PlaceList {
        places,
        next_cursor,
        pricing_pending: pricing::due_count(&state.db).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/places",
    tag = "places",
    request_body = PlaceInput,
    responses(
        (status = 201, description = "The place; its sessions are re-assigned in the background", body = PlaceDto),
        (status = 400, description = "A field is invalid; the message names it", body = ApiErrorBody),
        (status = 409, description = "A place with that name (any case) exists", body = ApiErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ApiErrorBody),
    )
)]
async fn create_place(
    State(state): State<Reads>,
    JsonBody(input): JsonBody<PlaceInput>,
) -> Result<(StatusCode, Json<PlaceDto>), HttpError> {
    let place = places::create(&state.db, input, state.timezone).await?;
    Ok((StatusCode::CREATED, Json(place)))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/{id}",
    tag = "places",
    params(("id" = String, Path, description = "The place's id")),
    responses(
        (status = 200, description = "The place", body = PlaceDto),
        (status = 404, description = "No such place", body = ApiErrorBody),
    )
)]
async fn get_place(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<Json<PlaceDto>, HttpError> {
    places::get(&state.db, &id)
        .await?
        .map(Json)
        .ok_or_else(|| no_place(&id))
}

/// The fields a `PATCH` may name.
const PLACE_FIELDS: [&str; 8] = [
    "name",
    "kind",
    "latitude",
    "longitude",
    "radius_m",
    "timezone",
    "charging_efficiency",
    "cost_center",
];

#[utoipa::path(
    patch,
    path = "/api/v1/places/{id}",
    tag = "places",
    params(("id" = String, Path, description = "The place's id")),
    request_body(content = Object, description = "The fields to change, as in a place to create; `null` clears `charging_efficiency` or `cost_center`"),
    responses(
        (status = 200, description = "The place as changed; its sessions are re-assigned in the background", body = PlaceDto),
        (status = 400, description = "A field is invalid; the message names it", body = ApiErrorBody),
        (status = 404, description = "No such place", body = ApiErrorBody),
        (status = 409, description = "Another place has that name (any case)", body = ApiErrorBody),
    )
)]
async fn patch_place(
    State(state): State<Reads>,
    Path(id): Path<String>,
    JsonBody(changes): JsonBody<Map<String, Value>>,
) -> Result<Json<PlaceDto>, HttpError> {
    let current = places::get(&state.db, &id)
        .await?
        .ok_or_else(|| no_place(&id))?;
    let mut merged = serde_json::to_value(places::input_of(&current))
        .ok()
        .and_then(|v| v.as_object().cloned())
        .ok_or(HttpError::Internal)?;
    for (field, value) in changes {
        if !PLACE_FIELDS.contains(&field.as_str()) {
            return Err(HttpError::BadRequest {
                message: format!("unknown field; a place has {}", PLACE_FIELDS.join(", ")),
                param: field.into(),
            });
        }
        merged.insert(field, value);
    }
    let bytes = serde_json::to_vec(&merged).map_err(|_| HttpError::Internal)?;
    let input: PlaceInput = read(&bytes)?;
    Ok(Json(
        places::update(&state.db, &id, input, state.timezone).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/places/{id}",
    tag = "places",
    params(("id" = String, Path, description = "The place's id")),
    responses(
        (status = 204, description = "Deleted with its tariffs; its sessions are re-assigned in the background"),
        (status = 404, description = "No such place", body = ApiErrorBody),
    )
)]
async fn delete_place(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    places::delete(&state.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/places/suggestions",
    tag = "places",
    responses((status = 200, description = "Where sessions of the last 365 days gather at no place (at least 3 within 150 m), most sessions first", body = SuggestionList))
)]
async fn suggestions(State(state): State<Reads>) -> Result<Json<SuggestionList>, HttpError> {
    Ok(Json(SuggestionList {
        suggestions: places::suggestions(&state.db, state.timezone).await?,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/places/{id}/tariffs",
    tag = "tariffs",
    params(("id" = String, Path, description = "The place's id")),
    responses(
        (status = 200, description = "The place's tariff versions, newest `valid_from` first", body = TariffList),
        (status = 404, description = "No such place", body = ApiErrorBody),
    )
)]
async fn place_tariffs(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<Json<TariffList>, HttpError> {
    if !places::place_exists(&state.db, &id).await? {
        return Err(no_place(&id));
    }
    Ok(Json(TariffList {
        tariffs: places::tariffs(&state.db, Some(&id)).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/places/{id}/tariffs",
    tag = "tariffs",
    params(("id" = String, Path, description = "The place's id")),
    request_body = Tariff,
    responses(
        (status = 201, description = "The new version; the place's sessions are re-priced in the background", body = TariffDto),
        (status = 400, description = "A field is invalid (or a version of the same charger type starts on that `valid_from`); the message names it", body = ApiErrorBody),
        (status = 404, description = "No such place", body = ApiErrorBody),
    )
)]
async fn add_place_tariff(
    State(state): State<Reads>,
    Path(id): Path<String>,
    JsonBody(tariff): JsonBody<Tariff>,
) -> Result<(StatusCode, Json<TariffDto>), HttpError> {
    let added = places::add_tariff(&state.db, Some(&id), tariff).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

#[utoipa::path(
    get,
    path = "/api/v1/tariffs/default",
    tag = "tariffs",
    responses((status = 200, description = "The fleet default's versions (for sessions at no place), newest `valid_from` first", body = TariffList))
)]
async fn default_tariffs(State(state): State<Reads>) -> Result<Json<TariffList>, HttpError> {
    Ok(Json(TariffList {
        tariffs: places::tariffs(&state.db, None).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/tariffs/default",
    tag = "tariffs",
    request_body = Tariff,
    responses(
        (status = 201, description = "The new version; sessions at no place are re-priced in the background", body = TariffDto),
        (status = 400, description = "A field is invalid; the message names it", body = ApiErrorBody),
    )
)]
async fn add_default_tariff(
    State(state): State<Reads>,
    JsonBody(tariff): JsonBody<Tariff>,
) -> Result<(StatusCode, Json<TariffDto>), HttpError> {
    let added = places::add_tariff(&state.db, None, tariff).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tariffs/{id}",
    tag = "tariffs",
    params(("id" = String, Path, description = "The tariff version's id")),
    responses(
        (status = 204, description = "Deleted; the sessions it covered are re-priced in the background"),
        (status = 404, description = "No such tariff version", body = ApiErrorBody),
    )
)]
async fn delete_tariff(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    places::delete_tariff(&state.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/api/v1/sessions/{id}/cost",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id")),
    request_body = ManualCostInput,
    responses(
        (status = 200, description = "The manual cost, which wins over tariffs and outlives re-derivation", body = SessionCost),
        (status = 400, description = "A field is invalid; the message names it", body = ApiErrorBody),
        (status = 404, description = "No such session", body = ApiErrorBody),
    )
)]
async fn set_cost(
    State(state): State<Reads>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ManualCostInput>,
) -> Result<Json<SessionCost>, HttpError> {
    Ok(Json(places::set_cost(&state.db, &id, &input).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}/cost",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id (also one re-derivation removed)")),
    responses(
        (status = 204, description = "Cleared: the tariff prices the session again"),
        (status = 404, description = "The session has no manual cost", body = ApiErrorBody),
    )
)]
async fn clear_cost(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    places::clear_cost(&state.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI description of these routes, merged into `api::ApiDoc`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_places,
        create_place,
        get_place,
        patch_place,
        delete_place,
        suggestions,
        place_tariffs,
        add_place_tariff,
        default_tariffs,
        add_default_tariff,
        delete_tariff,
        set_cost,
        clear_cost
    ),
    tags(
        (name = "places", description = "Places sessions belong to"),
        (name = "tariffs", description = "What energy costs at a place, or at no place"),
    )
)]
pub struct PlacesDoc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new()
        .route("/api/v1/places", get(list_places).post(create_place))
        .route("/api/v1/places/suggestions", get(suggestions))
        .route(
            "/api/v1/places/{id}",
            get(get_place).patch(patch_place).delete(delete_place),
        )
        .route(
            "/api/v1/places/{id}/tariffs",
            get(place_tariffs).post(add_place_tariff),
        )
        .route(
            "/api/v1/tariffs/default",
            get(default_tariffs).post(add_default_tariff),
        )
        .route("/api/v1/tariffs/{id}", delete(delete_tariff))
        .route(
            "/api/v1/sessions/{id}/cost",
            put(set_cost).delete(clear_cost),
        )
}
