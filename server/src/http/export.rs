//! `GET /vehicles/{id}/sessions.csv?from=&to=` (one vehicle) and `GET /sessions.csv`
//! (the whole fleet): sessions as CSV, newest first, streamed a chunk at a time (never the
//! whole table in memory). Dates are
//! `YYYY-MM-DD`, both included, local dates in the `tz` parameter's zone, else the
//! viewer's (the vehicle page's cookie), else the server's default: the download holds
//! exactly the sessions the page lists.

use crate::http::api::Reads;
use crate::http::error::HttpError;
use app::domain::ids::VehicleId;
use app::server::sessions::{export_chunk, ExportCursor, PlaceScope};
use app::wire::SessionDto;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::stream;
use std::collections::HashMap;

const CHUNK: u64 = 500;

const HEADER: [&str; 28] = [
    "id",
    "vehicle_id",
    "status",
    "started_at_utc",
    "ended_at_utc",
    "duration_s",
    "start_observed",
    "end_inferred",
    "soc_start_percent",
    "soc_end_percent",
    "energy_added_kwh",
    "energy_source",
    "max_power_kw",
    "avg_power_kw",
    "charger_type",
    "range_start_km",
    "range_end_km",
    "charge_limit_percent",
    "latitude_deg",
    "longitude_deg",
    "plugged_in_at_utc",
    "unplugged_at_utc",
    "place",
    "place_kind",
    "grid_energy_kwh",
    "cost",
    "cost_currency",
    "cost_source",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn record(s: &SessionDto) -> [String; 28] {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| opt(t.map(|t| t.to_rfc3339()));
    [
        s.id.clone(),
        s.vehicle_id.clone(),
        s.status.as_str().to_owned(),
        s.started_at.to_rfc3339(),
        time(s.ended_at),
        s.duration_s.to_string(),
        s.start_observed.to_string(),
        s.end_inferred.to_string(),
        opt(s.soc_start),
        opt(s.soc_end),
        opt(s.energy_added_kwh),
        opt(s.energy_source.clone()),
        opt(s.max_power_kw),
        opt(s.avg_power_kw),
        opt(s.charger_type.clone()),
        opt(s.range_start_km),
        opt(s.range_end_km),
        opt(s.charge_limit_percent),
        opt(s.latitude),
        opt(s.longitude),
        time(s.plugged_in_at),
        time(s.unplugged_at),
        opt(s.place.as_ref().map(|p| p.name.clone())),
        opt(s.place.as_ref().map(|p| p.kind.as_str())),
        opt(s.grid_energy_kwh),
        opt(s.cost.as_ref().map(|c| c.amount.clone())),
        opt(s.cost.as_ref().map(|c| c.currency.clone())),
        opt(s.cost.as_ref().map(|c| c.source.as_str())),
    ]
}

/// A cell a spreadsheet will not run: one that begins with `=`, `+`, `-`, `@`, a tab or
/// a carriage return (a formula, or what some spreadsheets read as one) gets a leading
/// `'`, unless it is a plain number (`-3.5` stays a number). Vehicle ids and other text
/// come from deliveries, and a CSV export is opened by people who trust it.
fn inert(cell: String) -> String {
    let formula = cell
        .as_bytes()
        .first()
        .is_some_and(|b| matches!(b, b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'));
    let number = cell
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && cell.parse::<f64>().is_ok_and(f64::is_finite);
    if formula && !number {
        format!("'{cell}")
    } else {
        cell
    }
}

pub(crate) fn csv_bytes<R: IntoIterator<Item = String>>(
    rows: impl IntoIterator<Item = R>,
    header: Option<&[&str]>,
) -> Result<Bytes, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if let Some(header) = header {
        writer.write_record(header)?;
    }
    for row in rows {
        writer.write_record(row.into_iter().map(inert))?;
    }
    writer.flush()?;
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|e| csv::Error::from(e.into_error()))
}

fn date(
    params: &HashMap<String, String>,
    name: &'static str,
    days_after: u64,
    tz: chrono_tz::Tz,
) -> Result<Option<i64>, HttpError> {
    let Some(raw) = params.get(name).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    app::domain::buckets::parse_date(raw)
        .and_then(|d| d.checked_add_days(chrono::Days::new(days_after)))
        .map(|d| Some(app::domain::buckets::day_start(tz, d).timestamp_millis()))
        .ok_or(HttpError::BadRequest {
            param: name.into(),
            message: "expected a date such as 2026-03-14".into(),
        })
}

/// The CSV exports: one vehicle's sessions, the fleet's, a month report, a
/// reimbursement statement and a place's load.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    axum::Router::new()
        .route(
            "/vehicles/{id}/sessions.csv",
            axum::routing::get(sessions_csv),
        )
        .route("/sessions.csv", axum::routing::get(fleet_sessions_csv))
        .route(
            "/reports.csv",
            axum::routing::get(crate::http::reports::report_csv),
        )
        .route(
            "/vehicles/{id}/statement.csv",
            axum::routing::get(crate::http::reports::statement_csv),
        )
        .merge(crate::http::load::csv_routes())
}

async fn sessions_csv(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, HttpError> {
    let range = date_range(&state, &params, &headers)?;
    let id = crate::http::api::require_vehicle(&state, &id).await?;
    let name: String = id
        .as_str()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let place = params.get("place").and_then(|p| PlaceScope::parse(p));
    Ok(stream_csv(
        state,
        Some(id),
        range,
        place,
        &format!("chargelog-{name}-sessions.csv"),
    ))
}

/// Every vehicle's sessions.
async fn fleet_sessions_csv(
    State(state): State<Reads>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, HttpError> {
    let range = date_range(&state, &params, &headers)?;
    let place = params.get("place").and_then(|p| PlaceScope::parse(p));
    Ok(stream_csv(
        state,
        None,
        range,
        place,
        "chargelog-fleet-sessions.csv",
    ))
}

type Range = (Option<i64>, Option<i64>);

/// `from` and `to` as instants, read in the zone `tz`, else the viewer's, else the
/// server's default.
pub(crate) fn zone(
    state: &Reads,
    params: &HashMap<String, String>,
    headers: &axum::http::HeaderMap,
) -> Result<chrono_tz::Tz, HttpError> {
    match params.get("tz").filter(|s| !s.is_empty()) {
        Some(raw) => raw.parse().map_err(|_| HttpError::BadRequest {
            param: "tz".into(),
            message: "expected an IANA time zone such as Europe/Stockholm".into(),
        }),
        None => Ok(app::viewer::zone_from_cookies(headers).unwrap_or(state.timezone)),
    }
}

fn date_range(
    state: &Reads,
    params: &HashMap<String, String>,
    headers: &axum::http::HeaderMap,
) -> Result<Range, HttpError> {
    let tz = zone(state, params, headers)?;
    Ok((date(params, "from", 0, tz)?, date(params, "to", 1, tz)?))
}

fn stream_csv(
    state: Reads,
    vehicle: Option<VehicleId>,
    range: Range,
    place: Option<PlaceScope>,
    filename: &str,
) -> Response {
    let (from, to) = range;
    let now = crate::clock::now();
    // State of the stream: where the next chunk starts (`None`: done), and whether the
    // header row is still to be written.
    let start: Option<Option<ExportCursor>> = Some(None);
    let body = stream::unfold((start, true), move |(cursor, first)| {
        let state = state.clone();
        let vehicle = vehicle.clone();
        let place = place.clone();
        async move {
            let after = cursor?;
            let result = export_chunk(
                &state.db,
                vehicle.as_ref(),
                from,
                to,
                place.as_ref(),
                after,
                CHUNK,
                &state.engine,
                now,
            )
            .await;
            let (chunk, next) = match result {
                Ok((sessions, next)) => {
                    let bytes =
                        csv_bytes(sessions.iter().map(record), first.then_some(&HEADER[..]))
                            .map_err(std::io::Error::other);
                    (bytes, next.map(Some))
                }
                Err(err) => {
                    tracing::error!(error = %err, "CSV export query failed mid-stream");
                    (Err(std::io::Error::other("database error")), None)
                }
            };
            Some((chunk, (next, false)))
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_quoted() {
        for (cell, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+cmd|'/c calc'!A1", "'+1+cmd|'/c calc'!A1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-inf", "'-inf"),
            ("-3.5", "-3.5"),
            ("+4", "+4"),
            ("-1e3", "-1e3"),
            ("abc=1", "abc=1"),
            ("", ""),
            ("2026-03-14T17:22:10+00:00", "2026-03-14T17:22:10+00:00"),
        ] {
            assert_eq!(inert(cell.to_owned()), shown, "{cell:?}");
        }
    }
}
