//! `/api/v1/reports/monthly`: a month's charging per vehicle, place kind, charger type
//! and place, with energy and cost shared at the month's edges; and the same month, and a
//! vehicle's reimbursement statement, as CSV (`/reports.csv`, `/vehicles/{id}/statement.csv`).

use crate::http::api::Reads;
use crate::http::error::HttpError;
use app::domain::places::PlaceKind;
use app::domain::reports::month_or_current;
use app::domain::reports::Totals;
use app::wire::{ApiErrorBody, MonthlyReport};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
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
    let today = Utc::now().with_timezone(&tz).date_naive();
    let month = month_or_current(params.get("month").map(String::as_str), today)
        .ok_or_else(|| bad("month", "expected a month such as 2026-03"))?;
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

pub(crate) fn csv_response(
    bytes: Result<axum::body::Bytes, csv::Error>,
    filename: &str,
) -> Response {
    match bytes {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "writing a CSV failed");
            HttpError::Internal.into_response()
        }
    }
}

/// Figures as CSV cells, the cost in each of `currencies` a column.
fn cells(totals: &Totals, currencies: &[String]) -> Vec<String> {
    let mut row = vec![
        totals.sessions.to_string(),
        totals.open_sessions.to_string(),
        format!("{:.3}", totals.battery_kwh),
        format!("{:.3}", totals.grid_kwh),
        totals.grid_unknown_sessions.to_string(),
        totals.unpriced_sessions.to_string(),
    ];
    row.extend(currencies.iter().map(|c| {
        totals
            .cost
            .get(c)
            .map(ToString::to_string)
            .unwrap_or_default()
    }));
    row
}

/// `GET /reports.csv?month=&tz=`: per vehicle (all places, then each kind of place),
/// then the fleet; a cost column per currency.
pub async fn report_csv(
    State(state): State<Reads>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let mut params = params;
    let tz = crate::http::export::zone(&state, &params, &headers)?;
    params.insert("tz".into(), tz.name().into());
    let (month, tz) = month_params(&params, state.timezone)?;
    let report = app::server::reports::monthly(&state.db, month, tz, state.timezone)
        .await?
        .ok_or_else(|| bad("month", "that month cannot be placed in time"))?;
    let currencies: Vec<String> = report.fleet.totals.cost.keys().cloned().collect();
    let mut header: Vec<String> = [
        "month",
        "vehicle_id",
        "vehicle",
        "place_kind",
        "sessions",
        "open_sessions",
        "battery_kwh",
        "grid_kwh",
        "grid_unknown_sessions",
        "unpriced_sessions",
    ]
    .map(String::from)
    .to_vec();
    header.extend(currencies.iter().map(|c| format!("cost_{c}")));
    let kind = |k: Option<PlaceKind>| k.map_or("none", PlaceKind::as_str).to_owned();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut push = |id: &str, name: &str, figures: &app::wire::ReportFigures| {
        let lead = |k: String| vec![report.month.clone(), id.to_owned(), name.to_owned(), k];
        let mut all = lead("all".into());
        all.extend(cells(&figures.totals, &currencies));
        rows.push(all);
        for k in &figures.by_kind {
            let mut row = lead(kind(k.kind));
            row.extend(cells(&k.totals, &currencies));
            rows.push(row);
        }
    };
    for v in &report.vehicles {
        push(&v.vehicle_id, &v.name, &v.figures);
    }
    push("", "Fleet", &report.fleet);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    Ok(csv_response(
        crate::http::export::csv_bytes(rows, Some(&header)),
        &format!("chargelog-report-{}.csv", report.month),
    ))
}

/// `GET /vehicles/{id}/statement.csv?month=&kind=&tz=`: the statement's sessions, then
/// the total.
pub async fn statement_csv(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let mut params = params;
    let tz = crate::http::export::zone(&state, &params, &headers)?;
    params.insert("tz".into(), tz.name().into());
    let (month, tz) = month_params(&params, state.timezone)?;
    let kind = match params.get("kind").filter(|k| !k.is_empty()) {
        None => PlaceKind::Home,
        Some(raw) => PlaceKind::parse(raw)
            .ok_or_else(|| bad("kind", "expected home, depot, work, public or other"))?,
    };
    let id = crate::http::api::require_vehicle(&state, &id).await?;
    let statement =
        app::server::reports::statement(&state.db, &id, month, tz, kind, state.timezone)
            .await?
            .ok_or_else(|| HttpError::NotFound(format!("no vehicle with id {id}")))?;
    let header = [
        "started_local",
        "session_id",
        "place",
        "battery_kwh",
        "grid_kwh",
        "price_per_kwh",
        "amount",
        "currency",
        "source",
    ];
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut rows: Vec<Vec<String>> = statement
        .lines
        .iter()
        .map(|l| {
            vec![
                l.started_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                l.session_id.clone(),
                l.place.name.clone(),
                format!("{:.3}", l.battery_kwh),
                opt(l.grid_kwh.map(|g| format!("{g:.3}"))),
                opt(l.price_per_kwh.clone()),
                opt(l.amount.clone()),
                opt(l.currency.clone()),
                opt(l.source.map(|s| s.as_str().to_owned())),
            ]
        })
        .collect();
    for (currency, amount) in &statement.totals.cost {
        rows.push(vec![
            "total".into(),
            String::new(),
            String::new(),
            format!("{:.3}", statement.totals.battery_kwh),
            format!("{:.3}", statement.totals.grid_kwh),
            String::new(),
            amount.to_string(),
            currency.clone(),
            String::new(),
        ]);
    }
    let name: String = id
        .as_str()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Ok(csv_response(
        crate::http::export::csv_bytes(rows, Some(&header[..])),
        &format!(
            "chargelog-statement-{name}-{}-{}.csv",
            statement.month,
            kind.as_str()
        ),
    ))
}
