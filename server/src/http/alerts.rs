//! `/api/v1/alerts`: what needs an operator, open first (`domain::alerts` has the rules);
//! `POST /api/v1/alerts/{id}/acknowledge` records that someone has it in hand;
//! `/api/v1/alerts/settings`: each rule's switch and threshold.

use crate::http::api::Reads;
use crate::http::auth::Actor;
use crate::http::error::HttpError;
use crate::http::json_body::JsonBody;
use app::domain::alerts::{Kind, Settings};
use app::server::alerts::{self, AckError, Cursor, Filter};
use app::wire::{Acknowledgement, AlertItem, AlertList, ApiErrorBody};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use std::collections::HashMap;

fn bad(param: &'static str, message: impl Into<String>) -> HttpError {
    HttpError::BadRequest {
        param: param.into(),
        message: message.into(),
    }
}

/// The list's filter from its query parameters (`status`, `kind`, `vehicle`).
pub fn filter_of(params: &HashMap<String, String>) -> Result<Filter, HttpError> {
    let param = |name: &str| params.get(name).map(String::as_str);
    Filter::parse(param("status"), param("kind"), param("vehicle"))
        .map_err(|(name, message)| bad(name, message))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    params(
        ("status" = Option<String>, Query, description = "`open` or `resolved` (default: both, open first)"),
        ("kind" = Option<Kind>, Query, description = "Only alerts of this kind"),
        ("vehicle" = Option<String>, Query, description = "Only this vehicle's alerts"),
        ("limit" = Option<u64>, Query, description = "Alerts per page, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page of alerts, open first, newest first, with the fleet's open count", body = AlertList),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
    )
)]
async fn list(
    State(state): State<Reads>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<AlertList>, HttpError> {
    let filter = filter_of(&params)?;
    let limit = crate::http::api::limit_param(&params)?;
    let cursor = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            Cursor::parse(raw).ok_or_else(|| bad("cursor", "not a cursor this API handed out"))?,
        ),
    };
    let (alerts, next_cursor) = alerts::page(&state.db, &filter, cursor.as_ref(), limit).await?;
    let (open, open_by_kind) = alerts::open_counts(&state.db).await?;
    Ok(Json(AlertList {
        alerts,
        next_cursor,
        open,
        open_by_kind,
    }))
}

fn alert_id(raw: &str) -> Result<i64, HttpError> {
    raw.parse()
        .map_err(|_| HttpError::NotFound(format!("no alert {raw:?}")))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    params(("id" = i64, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "The alert", body = AlertItem),
        (status = 404, description = "No such alert", body = ApiErrorBody),
    )
)]
async fn one(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<Json<AlertItem>, HttpError> {
    let id = alert_id(&id)?;
    alerts::item(&state.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| HttpError::NotFound(format!("no alert {id}")))
}

impl From<AckError> for HttpError {
    fn from(err: AckError) -> Self {
        match err {
            AckError::NotFound(id) => HttpError::NotFound(format!("no alert {id}")),
            AckError::NoteTooLong => bad(
                "note",
                format!("longer than {} characters", alerts::MAX_NOTE_CHARS),
            ),
            AckError::Db(err) => err.into(),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/acknowledge",
    tag = "alerts",
    params(("id" = i64, Path, description = "The alert's id")),
    request_body = Acknowledgement,
    responses(
        (status = 200, description = "Acknowledged (by the operator or API token that asked; the first acknowledgement's time and author stay, a note replaces the last)", body = AlertItem),
        (status = 400, description = "The note is longer than 500 characters", body = ApiErrorBody),
        (status = 404, description = "No such alert", body = ApiErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ApiErrorBody),
    )
)]
async fn acknowledge(
    State(state): State<Reads>,
    actor: Option<Extension<Actor>>,
    Path(id): Path<String>,
    JsonBody(ack): JsonBody<Acknowledgement>,
) -> Result<Json<AlertItem>, HttpError> {
    let id = alert_id(&id)?;
    let by = match actor {
        Some(Extension(actor)) => actor.name(&state.db).await?,
        None => "operator".to_owned(),
    };
    let now = crate::clock::now().to_datetime();
    Ok(Json(
        alerts::acknowledge(&state.db, id, &by, ack.note.as_deref(), now).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/settings",
    tag = "alerts",
    responses((status = 200, description = "Each rule's switch and threshold (the defaults until set)", body = Settings))
)]
async fn get_settings(State(state): State<Reads>) -> Result<Json<Settings>, HttpError> {
    Ok(Json(alerts::settings(&state.db).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/alerts/settings",
    tag = "alerts",
    request_body = Settings,
    responses(
        (status = 200, description = "The settings, as stored; every vehicle is evaluated again within seconds", body = Settings),
        (status = 400, description = "A field is invalid; the message names it", body = ApiErrorBody),
        (status = 413, description = "The body is larger than 64 KiB", body = ApiErrorBody),
    )
)]
async fn put_settings(
    State(state): State<Reads>,
    JsonBody(settings): JsonBody<Settings>,
) -> Result<Json<Settings>, HttpError> {
    alerts::set_settings(&state.db, &settings).await?;
    Ok(Json(settings))
}

/// The OpenAPI description of these routes, merged into `api::ApiDoc`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, one, acknowledge, get_settings, put_settings),
    tags((name = "alerts", description = "What needs an operator: opened, acknowledged, resolved")),
)]
pub struct AlertsDoc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new()
        .route("/api/v1/alerts", get(list))
        .route(
            "/api/v1/alerts/settings",
            get(get_settings).put(put_settings),
        )
        .route("/api/v1/alerts/{id}", get(one))
        .route("/api/v1/alerts/{id}/acknowledge", post(acknowledge))
}
