//! `/api/v1`: the JSON API. Handlers parse their parameters (naming the one at fault in
//! a 400), call a query, and map to the shared DTOs.

use crate::http::error::HttpError;
use app::domain::buckets::Bucket;
use app::domain::ids::VehicleId;
use app::domain::time::EpochMs;
use app::server::sessions::{self, SessionFilter};
use app::server::{entities::vehicles, fleet};
use app::wire::{ApiErrorBody, EnergyBuckets, SessionDetail, SessionPage, VehicleList};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use sea_orm::EntityTrait;
use std::collections::HashMap;

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 500;
pub const MAX_BUCKETS: usize = 1000;

fn bad(param: &'static str, message: impl Into<String>) -> HttpError {
    HttpError::BadRequest {
        param: param.into(),
        message: message.into(),
    }
}

type Params = Query<HashMap<String, String>>;

fn time_param(params: &Params, name: &'static str) -> Result<Option<DateTime<Utc>>, HttpError> {
    params
        .get(name)
        .map(|raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    bad(
                        name,
                        "expected an RFC 3339 time such as 2026-03-14T00:00:00Z",
                    )
                })
        })
        .transpose()
}

fn now() -> Result<EpochMs, HttpError> {
    crate::clock::checked_now().ok_or(HttpError::Internal)
}

/// The vehicle a path names, if it exists (a name that is no vehicle id names none).
pub(crate) async fn require_vehicle(state: &Reads, raw: &str) -> Result<VehicleId, HttpError> {
    let not_found = || HttpError::NotFound(format!("no vehicle with id {raw:?}"));
    let id = VehicleId::parse(raw).map_err(|_| not_found())?;
    match vehicles::Entity::find_by_id(id.to_string())
        .one(&state.db)
        .await?
    {
        Some(_) => Ok(id),
        None => Err(not_found()),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/vehicles",
    tag = "vehicles",
    params(
        ("limit" = Option<u64>, Query, description = "Vehicles per page, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page (with the same `q`, `status` and `sort`)"),
        ("q" = Option<String>, Query, description = "Only vehicles with, for each word of this, a word of their make, model, year or id that begins with it, any case (at most 100 characters)"),
        ("status" = Option<String>, Query, description = "Only vehicles with this status: `charging`, `plugged`, `idle`, `unknown` or `stale`"),
        ("sort" = Option<String>, Query, description = "`name` (default), `soc`, `status`, `power`, `range` or `updated`; a leading `-` sorts descending. Vehicles without the value come last either way"),
    ),
    responses(
        (status = 200, description = "One page of vehicles with their latest state", body = VehicleList),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
    )
)]
async fn list_vehicles(
    State(state): State<Reads>,
    params: Params,
) -> Result<Json<VehicleList>, HttpError> {
    use app::domain::fleet::{ChargeStatus, FleetQuery, PageStart, SortKey, MAX_SEARCH};
    let limit = limit_param(&params)?;
    let q = params
        .get("q")
        .map(|q| q.trim().to_owned())
        .unwrap_or_default();
    if q.chars().count() > MAX_SEARCH {
        return Err(bad("q", format!("at most {MAX_SEARCH} characters")));
    }
    let status = params
        .get("status")
        .map(|raw| {
            ChargeStatus::parse(raw).ok_or_else(|| {
                bad(
                    "status",
                    "expected charging, plugged, idle, unknown or stale",
                )
            })
        })
        .transpose()?;
    let (sort, descending) = match params.get("sort").map(String::as_str) {
        None => (SortKey::Name, false),
        Some(raw) => {
            let (name, descending) = match raw.strip_prefix('-') {
                Some(name) => (name, true),
                None => (raw, false),
            };
            let key = SortKey::parse(name).ok_or_else(|| {
                bad(
                    "sort",
                    "expected name, soc, status, power, range or updated, with - for descending",
                )
            })?;
            (key, descending)
        }
    };
    let start = match params.get("cursor") {
        None => PageStart::First,
        Some(id) => PageStart::After(id.clone()),
    };
    let query = FleetQuery {
        q,
        status,
        sort,
        descending,
        start,
    };
    let now = now()?;
    let slice = fleet::page(&state.db, &query, limit, &state.engine, now)
        .await?
        .ok_or_else(|| bad("cursor", "use the next_cursor of a previous page"))?;
    Ok(Json(VehicleList {
        vehicles: fleet::items(&state.db, slice.vehicles, &state.engine, now).await?,
        matching: slice.matching,
        next_cursor: slice.next,
    }))
}

/// `limit`: 1 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when absent.
pub(crate) fn limit_param(params: &HashMap<String, String>) -> Result<u64, HttpError> {
    match params.get("limit") {
        None => Ok(DEFAULT_PAGE),
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(bad(
                "limit",
                format!("expected a whole number from 1 to {MAX_PAGE}"),
            )),
        },
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/vehicles/{id}/sessions",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The vehicle's Smartcar id"),
        ("from" = Option<String>, Query, description = "Sessions that started at or after this RFC 3339 time"),
        ("to" = Option<String>, Query, description = "Sessions that started before this RFC 3339 time"),
        ("limit" = Option<u64>, Query, description = "Sessions per page, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
        ("place" = Option<String>, Query, description = "Only sessions at this place (its id), or `none` for sessions at no place"),
    ),
    responses(
        (status = 200, description = "One page of the vehicle's sessions, newest first", body = SessionPage),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
        (status = 404, description = "No such vehicle", body = ApiErrorBody),
    )
)]
async fn list_sessions(
    State(state): State<Reads>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<SessionPage>, HttpError> {
    let from = time_param(&params, "from")?;
    let to = time_param(&params, "to")?;
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(bad("to", "must be after `from`"));
        }
    }
    let limit = limit_param(&params)?;
    let before = params
        .get("cursor")
        .map(|raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| bad("cursor", "use the next_cursor of a previous page"))
        })
        .transpose()?;
    let id = require_vehicle(&state, &id).await?;
    let filter = SessionFilter {
        from: from.map(|t| t.timestamp_millis()),
        to: to.map(|t| t.timestamp_millis()),
        before,
        place: params
            .get("place")
            .and_then(|p| sessions::PlaceScope::parse(p)),
        limit,
    };
    Ok(Json(
        sessions::page(&state.db, &id, filter, &state.engine, now()?).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "The session id, `{vehicle id}:{start ms}`")),
    responses(
        (status = 200, description = "The session, its charge curve and the deliveries that built it", body = SessionDetail),
        (status = 404, description = "No such session", body = ApiErrorBody),
    )
)]
async fn get_session(
    State(state): State<Reads>,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, HttpError> {
    sessions::detail(&state.db, &id, &state.engine, now()?)
        .await?
        .map(Json)
        .ok_or_else(|| HttpError::NotFound(format!("no session with id {id:?}")))
}

#[utoipa::path(
    get,
    path = "/api/v1/vehicles/{id}/energy",
    tag = "vehicles",
    params(
        ("id" = String, Path, description = "The vehicle's Smartcar id"),
        ("bucket" = Option<String>, Query, description = "`day` (default), `week` or `month`"),
        ("from" = Option<String>, Query, description = "RFC 3339 start (default: 30 days before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 end (default: now)"),
        ("tz" = Option<String>, Query, description = "IANA time zone the buckets are cut in (default UTC)"),
    ),
    responses(
        (status = 200, description = "Energy added per bucket, counted where it was added (a session across midnight adds to both days); sessions counted where they started", body = EnergyBuckets),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
        (status = 404, description = "No such vehicle", body = ApiErrorBody),
    )
)]
async fn vehicle_energy(
    State(state): State<Reads>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<EnergyBuckets>, HttpError> {
    let bucket = match params.get("bucket") {
        None => Bucket::Day,
        Some(raw) => {
            Bucket::parse(raw).ok_or_else(|| bad("bucket", "expected day, week or month"))?
        }
    };
    let tz: Tz = match params.get("tz") {
        None => Tz::UTC,
        Some(raw) => raw
            .parse()
            .map_err(|_| bad("tz", "expected an IANA time zone such as Europe/Stockholm"))?,
    };
    let to = time_param(&params, "to")?.unwrap_or_else(Utc::now);
    let from = time_param(&params, "from")?.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(bad("to", "must be after `from`"));
    }
    let span_days = (to - from).num_days();
    let approx_buckets = match bucket {
        Bucket::Day => span_days,
        Bucket::Week => span_days / 7,
        Bucket::Month => span_days / 28,
    };
    if approx_buckets > MAX_BUCKETS as i64 {
        return Err(bad(
            "from",
            format!("the range holds more than {MAX_BUCKETS} buckets"),
        ));
    }
    let id = require_vehicle(&state, &id).await?;
    Ok(Json(EnergyBuckets {
        buckets: sessions::energy_series(&state.db, &id, bucket, tz, from, to).await?,
    }))
}

/// The OpenAPI 3 description of `/api/v1`, generated from the handlers and the DTOs.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "chargelog API",
        description = "Vehicles, charging sessions and energy from chargelog. Times are RFC 3339 in UTC.",
    ),
    paths(list_vehicles, list_sessions, get_session, vehicle_energy),
    tags(
        (name = "vehicles", description = "Vehicles and their energy"),
        (name = "sessions", description = "Charging sessions"),
    )
)]
pub struct ApiDoc;

/// The whole API's description: these routes', `places`' (and their `load`),
/// `reports`', `readiness`' and `alerts`'.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::http::places::PlacesDoc::openapi());
    doc.merge(crate::http::load::LoadDoc::openapi());
    doc.merge(crate::http::reports::ReportsDoc::openapi());
    doc.merge(crate::http::readiness::ReadinessDoc::openapi());
    doc.merge(crate::http::alerts::AlertsDoc::openapi());
    doc
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

/// What the API and the CSV exports read with (their part of the server's state).
#[derive(Clone)]
pub struct Reads {
    pub db: sea_orm::DatabaseConnection,
    pub engine: app::domain::sessions::EngineConfig,
    /// The zone for readers that name none.
    pub timezone: chrono_tz::Tz,
    /// Webhook endpoints may point at private addresses (`CHARGELOG_NOTIFY_ALLOW_PRIVATE`).
    pub notify_allow_private: bool,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/vehicles", get(list_vehicles))
        .route("/api/v1/vehicles/{id}/sessions", get(list_sessions))
        .route("/api/v1/vehicles/{id}/energy", get(vehicle_energy))
        .route("/api/v1/sessions/{id}", get(get_session))
        .merge(crate::http::places::routes())
        .merge(crate::http::load::routes())
        .merge(crate::http::reports::routes())
        .merge(crate::http::readiness::routes())
        .merge(crate::http::alerts::routes())
        .route(
            "/api/v1/{*rest}",
            get(|| async { HttpError::NotFound("no such API route".into()) }),
        )
}
