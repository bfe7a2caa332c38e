//! `/api/v1/reports/monthly`: a month's charging per vehicle, place kind, charger type
//! and place, with energy and cost shared at the month's edges.

use crate::http::api::Reads;
use crate::http::error::HttpError;
use app::domain::reports::parse_month;
use app::wire::{ApiErrorBody, MonthlyReport};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;

fn bad(param: &'static str, message: &str) -> HttpError {
    HttpError::BadRequest {
        param: param.into(),
        message: message.to_owned(),
    }
}

/// The `month` and `tz` parameters: the month (default: the current one in the zone)
/// and the zone (default: the server's).
pub fn month_params(
    params: &HashMap<String, String>,
    default_zone: Tz,
) -> Result<(NaiveDate, Tz), HttpError> {
    let tz: Tz = match params.get("tz").filter(|s| !s.is_empty()) {
        None => default_zone,
        Some(raw) => raw
            .parse()
            .map_err(|_| bad("tz", "expected an IANA time zone such as Europe/Stockholm"))?,
    };
    let month = match params.get("month").filter(|s| !s.is_empty()) {
        None => {
            let today = Utc::now().with_timezone(&tz).date_naive();
            NaiveDate::from_ymd_opt(today.year(), today.month(), 1).ok_or(HttpError::Internal)?
        }
        Some(raw) => parse_month(raw)
            .filter(|m| (1970..=9999).contains(&m.year()))
            .ok_or_else(|| bad("month", "expected a month such as 2026-03"))?,
    };
    Ok((month, tz))
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/monthly",
    tag = "reports",
    params(
        ("month" = Option<String>, Query, description = "`YYYY-MM` (default: the current month)"),
        ("tz" = Option<String>, Query, description = "IANA zone the month is read in (default: the server's `CHARGELOG_TIMEZONE`)"),
    ),
    responses(
        (status = 200, description = "The month per vehicle, place kind, charger type and place, with fleet totals", body = MonthlyReport),
        (status = 400, description = "A parameter is invalid; the message names it", body = ApiErrorBody),
    )
)]
async fn monthly(
    State(state): State<Reads>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<MonthlyReport>, HttpError> {
    let (month, tz) = month_params(&params, state.timezone)?;
    app::server::reports::monthly(&state.db, month, tz, state.timezone)
        .await?
        .map(Json)
        .ok_or_else(|| bad("month", "that month cannot be placed in time"))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(monthly),
    tags((name = "reports", description = "What charging cost, month by month"))
)]
pub struct ReportsDoc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new().route("/api/v1/reports/monthly", get(monthly))
}
