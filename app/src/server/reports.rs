//! Month reports from the stored sessions, added up by `domain::reports::Month`. The
//! sessions wholly inside the month keep their stored figures, so the database sums them
//! (per vehicle, place, charger type, currency and status: a few rows per vehicle, with
//! costs in exact minor units); a session across the month's edge, or with a manual cost,
//! is read on its own and shared (`Book::period`, with its energy curve).

use super::entities::{manual_costs, sessions, vehicles};
use super::pricing::{due_count, load_book};
use crate::domain::fleet::vehicle_name;
use crate::domain::ids::VehicleId;
use crate::domain::places::{Place, PlaceKind};
use crate::domain::pricing::book::{Book, Facts};
use crate::domain::reports::{month_range, Line, Month, Split, Totals};
use crate::domain::sessions::{ChargerType, SessionStatus};
use crate::wire::{
    ChargerTotals, CostSource, KindTotals, MonthlyReport, PlaceMonth, PlaceRef, ReportFigures,
    Statement, StatementLine, VehicleMonth,
};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, DerivePartialModel, EntityTrait, QueryFilter, QuerySelect,
};
use std::collections::HashMap;

/// A session that started this long before a month may still reach into it: no charge
/// lasts longer (a 200 kWh battery on a 1.4 kW socket fills in six days, and a charge
/// that goes silent is closed after the stale time).
pub const LOOKBACK_MS: i64 = 31 * 86_400_000;

/// What a report reads of a session.
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "sessions::Entity")]
struct Row {
    id: String,
    vehicle_id: String,
    status: SessionStatus,
    started_at: i64,
    ended_at: Option<i64>,
    last_reading_at: i64,
    energy_added_kwh: Option<f64>,
    grid_energy_kwh: Option<f64>,
    charger_type: Option<ChargerType>,
    place_id: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    cost_amount: Option<String>,
    cost_currency: Option<String>,
    tariff_id: Option<String>,
    /// Read only to share a session across an edge.
    energy_curve: Option<serde_json::Value>,
}

impl Row {
    fn end(&self) -> i64 {
        self.ended_at
            .unwrap_or(self.last_reading_at)
            .max(self.started_at)
    }
}

/// The sessions that touch `[from, to)` (of one vehicle, or all), with what their
/// shares need: the curves of those across an edge, and the manual costs.
struct Touching {
    rows: Vec<Row>,
    curves: HashMap<String, Vec<(i64, f64)>>,
    manual: HashMap<String, (Decimal, String)>,
}

/// Which sessions of a range to read one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Each {
    /// All of them (a statement lists every session).
    Session,
    /// Those the database cannot sum: across an edge, or with a manual cost.
    Edge,
}

/// A session's end, or its last reading while it charges.
fn end_expr() -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, Func};
    Func::coalesce([
        Expr::col(sessions::Column::EndedAt),
        Expr::col(sessions::Column::LastReadingAt),
    ])
    .into()
}

/// The ids of the sessions with a manual cost.
fn manual_ids() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(manual_costs::Column::SessionId)
        .from(manual_costs::Entity)
        .to_owned()
}

async fn touching(
    db: &impl ConnectionTrait,
    vehicle_id: Option<&str>,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    each: Each,
) -> Result<Touching, DbErr> {
    use sea_orm::sea_query::ExprTrait;
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    // First the ids, which the report index answers alone; then those rows. A row's later
    // columns lie past its energy curve, so reading them for every session of a month
    // would cost more than the rest of the report.
    let mut query = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .filter(sessions::Column::StartedAt.gte(from_ms - LOOKBACK_MS))
        .filter(sessions::Column::StartedAt.lt(to_ms))
        .filter(
            sea_orm::Condition::any()
                .add(sessions::Column::StartedAt.gte(from_ms))
                .add(end_expr().gt(from_ms)),
        );
    if let Some(id) = vehicle_id {
        query = query.filter(sessions::Column::VehicleId.eq(id));
    }
    if each == Each::Edge {
        query = query.filter(
            sea_orm::Condition::any()
                .add(sessions::Column::StartedAt.lt(from_ms))
                .add(end_expr().gt(to_ms))
                .add(sessions::Column::Id.in_subquery(manual_ids())),
        );
    }
    let ids: Vec<String> = query.into_tuple().all(db).await?;
    let (mut rows, mut curves, mut manual) = (Vec::new(), HashMap::new(), HashMap::new());
    // Chunks keep each statement under the databases' bind-parameter limits.
    for chunk in ids.chunks(1000) {
        let found: Vec<Row> = sessions::Entity::find()
            .filter(sessions::Column::Id.is_in(chunk.iter().map(String::as_str)))
            .into_partial_model()
            .all(db)
            .await?;
        for row in found {
            if row.started_at < from_ms || row.end() > to_ms {
                let points = super::sessions::curve_points(row.energy_curve.as_ref());
                curves.insert(row.id.clone(), points);
            }
            rows.push(row);
        }
        let costs = manual_costs::Entity::find()
            .filter(manual_costs::Column::SessionId.is_in(chunk.iter().map(String::as_str)))
            .all(db)
            .await?;
        manual.extend(
            costs
                .into_iter()
                .filter_map(|c| Some((c.session_id, (c.amount.parse().ok()?, c.currency)))),
        );
    }
    Ok(Touching {
        rows,
        curves,
        manual,
    })
}

/// The month starting on `first_day`, read in `tz`; sessions at no place are priced in
/// `default_zone`. `None` when the month cannot be placed in time.
pub async fn monthly(
    db: &impl ConnectionTrait,
    first_day: NaiveDate,
    tz: Tz,
    default_zone: Tz,
) -> Result<Option<MonthlyReport>, DbErr> {
    let Some(range) = month_range(first_day, tz) else {
        return Ok(None);
    };
    // Independent reads, at once (each on a connection of its own).
    let (found, sums, book, names, pending) = futures::try_join!(
        touching(db, None, range, Each::Edge),
        inside_sums(db, range),
        load_book(db, default_zone),
        vehicle_names(db, range),
        due_count(db),
    )?;
    let kinds = kinds(&book);
    let mut month = Month::default();
    for row in &found.rows {
        month.add(&share(row, &book, &kinds, &found, range));
    }
    for sum in sums {
        month.add(&sum.line(&kinds));
    }
    Ok(Some(report(
        month,
        first_day,
        tz,
        range,
        &names,
        &book.places,
        pending,
    )))
}

fn kinds(book: &Book) -> HashMap<&str, PlaceKind> {
    book.places
        .iter()
        .map(|p| (p.id.as_str(), p.kind))
        .collect()
}

/// A vehicle's sessions in the month at places of `kind`, each with its share of energy
/// and cost: what to reimburse a driver. `None` when there is no such vehicle.
pub async fn statement(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    first_day: NaiveDate,
    tz: Tz,
    kind: PlaceKind,
    default_zone: Tz,
) -> Result<Option<Statement>, DbErr> {
    let Some(vehicle) = vehicles::Entity::find_by_id(vehicle_id.as_str())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(range) = month_range(first_day, tz) else {
        return Ok(None);
    };
    let found = touching(db, Some(vehicle_id.as_str()), range, Each::Session).await?;
    let book = load_book(db, default_zone).await?;
    let kinds = kinds(&book);
    let names: HashMap<&str, &str> = book
        .places
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let mut lines = Vec::new();
    let mut totals = Totals::default();
    for row in &found.rows {
        let line = share(row, &book, &kinds, &found, range);
        if line.kind != Some(kind) {
            continue;
        }
        totals.add(&line);
        let Some(place_id) = line.place_id.clone() else {
            continue;
        };
        let grid = (line.grid_unknown_sessions == 0).then_some(line.grid_kwh);
        let kwh = grid.unwrap_or(line.battery_kwh);
        let at = DateTime::from_timestamp_millis;
        lines.push(StatementLine {
            session_id: row.id.clone(),
            started_at: at(row.started_at).unwrap_or(range.0),
            ended_at: row.ended_at.and_then(at),
            open: line.open_sessions > 0,
            place: PlaceRef {
                name: names
                    .get(place_id.as_str())
                    .copied()
                    .unwrap_or("")
                    .to_owned(),
                id: place_id,
                kind,
            },
            battery_kwh: line.battery_kwh,
            grid_kwh: grid,
            price_per_kwh: line.cost.as_ref().and_then(|(_, amount)| {
                let kwh = Decimal::from_f64_retain(kwh).filter(|k| !k.is_zero())?;
                Some((amount / kwh).round_dp(4).normalize().to_string())
            }),
            amount: line.cost.as_ref().map(|(_, a)| a.to_string()),
            currency: line.cost.as_ref().map(|(c, _)| c.clone()),
            source: (line.cost.is_some()).then(|| {
                if found.manual.contains_key(&row.id) {
                    CostSource::Manual
                } else {
                    CostSource::Tariff
                }
            }),
        });
    }
    lines.sort_by_key(|l| l.started_at);
    Ok(Some(Statement {
        vehicle_id: vehicle_id.to_string(),
        name: vehicle_name(
            &vehicle.id,
            vehicle.year,
            vehicle.make.as_deref(),
            vehicle.model.as_deref(),
        ),
        month: first_day.format("%Y-%m").to_string(),
        timezone: tz.name().to_owned(),
        kind,
        lines,
        totals,
    }))
}

/// One session's share of `[from, to)`.
fn share(
    row: &Row,
    book: &Book,
    kinds: &HashMap<&str, PlaceKind>,
    found: &Touching,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Line {
    let cost: Option<(Decimal, &str, Option<&str>)> = match found.manual.get(&row.id) {
        Some((amount, currency)) => Some((*amount, currency.as_str(), None)),
        None => row
            .cost_amount
            .as_ref()
            .and_then(|a| a.parse().ok())
            .zip(row.cost_currency.as_deref())
            .map(|(amount, currency)| (amount, currency, row.tariff_id.as_deref())),
    };
    let battery = row.energy_added_kwh.filter(|e| e.is_finite() && *e >= 0.0);
    let inside = row.started_at >= from.timestamp_millis() && row.end() <= to.timestamp_millis();
    let (energy_share, cost) = if inside {
        (1.0, cost.map(|(amount, currency, _)| (currency, amount)))
    } else {
        let curve = found.curves.get(&row.id).map_or(&[][..], Vec::as_slice);
        let at = DateTime::from_timestamp_millis;
        let facts = at(row.started_at).zip(at(row.end())).map(|(s, e)| Facts {
            started_at: s,
            ended_at: e,
            location: row.latitude.zip(row.longitude),
            charger_type: row.charger_type,
            energy_kwh: battery,
            curve,
            place_id: row.place_id.as_deref(),
        });
        match facts {
            Some(facts) => {
                let period = book.period(&facts, cost, from, to);
                let currency = cost.map(|(_, c, _)| c);
                (period.energy_share, currency.zip(period.cost))
            }
            None => (0.0, None),
        }
    };
    Line {
        vehicle_id: row.vehicle_id.clone(),
        place_id: row.place_id.clone(),
        kind: row
            .place_id
            .as_deref()
            .and_then(|id| kinds.get(id).copied()),
        charger_type: row.charger_type,
        sessions: 1,
        open_sessions: u64::from(row.status == SessionStatus::Charging),
        battery_kwh: battery.unwrap_or(0.0) * energy_share,
        grid_kwh: row.grid_energy_kwh.map_or(0.0, |g| g * energy_share),
        grid_unknown_sessions: u64::from(row.grid_energy_kwh.is_none()),
        cost: cost.map(|(currency, amount)| (currency.to_owned(), amount)),
    }
}

/// The sessions wholly inside the month without a manual cost, summed by the database.
#[derive(Debug, sea_orm::FromQueryResult)]
struct Sum {
    vehicle_id: String,
    place_id: Option<String>,
    charger_type: Option<ChargerType>,
    cost_currency: Option<String>,
    status: SessionStatus,
    sessions: i64,
    battery_kwh: Option<f64>,
    grid_kwh: Option<f64>,
    grid_known: i64,
    cost_minor: Option<i64>,
}

async fn inside_sums(
    db: &impl ConnectionTrait,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Sum>, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sessions::Column as C;
    let sums: Vec<Sum> = sessions::Entity::find()
        .select_only()
        .columns([
            C::VehicleId,
            C::PlaceId,
            C::ChargerType,
            C::CostCurrency,
            C::Status,
        ])
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "sessions")
        .column_as(Expr::cust("SUM(energy_added_kwh)"), "battery_kwh")
        .column_as(Expr::cust("SUM(grid_energy_kwh)"), "grid_kwh")
        .column_as(
            Expr::cust("CAST(COUNT(grid_energy_kwh) AS BIGINT)"),
            "grid_known",
        )
        .column_as(Expr::cust("CAST(SUM(cost_minor) AS BIGINT)"), "cost_minor")
        .filter(C::StartedAt.gte(from.timestamp_millis()))
        .filter(C::StartedAt.lt(to.timestamp_millis()))
        .filter(end_expr().lte(to.timestamp_millis()))
        .filter(C::Id.not_in_subquery(manual_ids()))
        .group_by(C::VehicleId)
        .group_by(C::PlaceId)
        .group_by(C::ChargerType)
        .group_by(C::CostCurrency)
        .group_by(C::Status)
        .into_model()
        .all(db)
        .await?;
    Ok(sums)
}

impl Sum {
    fn line(self, kinds: &HashMap<&str, PlaceKind>) -> Line {
        let sessions = u64::try_from(self.sessions).unwrap_or(0);
        let cost = self.cost_currency.and_then(|currency| {
            let units = crate::domain::pricing::currency::minor_units(&currency)?;
            Some((currency, Decimal::new(self.cost_minor.unwrap_or(0), units)))
        });
        Line {
            kind: self
                .place_id
                .as_deref()
                .and_then(|id| kinds.get(id).copied()),
            vehicle_id: self.vehicle_id,
            place_id: self.place_id,
            charger_type: self.charger_type,
            sessions,
            open_sessions: if self.status == SessionStatus::Charging {
                sessions
            } else {
                0
            },
            battery_kwh: self.battery_kwh.unwrap_or(0.0),
            grid_kwh: self.grid_kwh.unwrap_or(0.0),
            grid_unknown_sessions: sessions
                .saturating_sub(u64::try_from(self.grid_known).unwrap_or(0)),
            cost,
        }
    }
}

/// The names of the vehicles with sessions that start in `[from - LOOKBACK, to)`.
async fn vehicle_names(
    db: &impl ConnectionTrait,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<HashMap<String, String>, DbErr> {
    type Names = (String, Option<String>, Option<String>, Option<i32>);
    let in_range = Query::select()
        .distinct()
        .column(sessions::Column::VehicleId)
        .from(sessions::Entity)
        .and_where(sessions::Column::StartedAt.gte(from.timestamp_millis() - LOOKBACK_MS))
        .and_where(sessions::Column::StartedAt.lt(to.timestamp_millis()))
        .to_owned();
    let found: Vec<Names> = vehicles::Entity::find()
        .select_only()
        .columns([
            vehicles::Column::Id,
            vehicles::Column::Make,
            vehicles::Column::Model,
            vehicles::Column::Year,
        ])
        .filter(vehicles::Column::Id.in_subquery(in_range))
        .into_tuple()
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .map(|(id, make, model, year)| {
            let name = vehicle_name(&id, year, make.as_deref(), model.as_deref());
            (id, name)
        })
        .collect())
}

fn figures(split: Split) -> ReportFigures {
    ReportFigures {
        totals: split.all,
        by_kind: split
            .by_kind
            .into_iter()
            .map(|(kind, totals)| KindTotals { kind, totals })
            .collect(),
        by_charger: split
            .by_charger
            .into_iter()
            .map(|(charger_type, totals)| ChargerTotals {
                charger_type,
                totals,
            })
            .collect(),
    }
}

fn report(
    month: Month,
    first_day: NaiveDate,
    tz: Tz,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    names: &HashMap<String, String>,
    places: &[Place],
    pricing_pending: u64,
) -> MonthlyReport {
    let place_rows: HashMap<&str, &Place> = places.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut vehicles: Vec<VehicleMonth> = month
        .vehicles
        .into_iter()
        .map(|(vehicle_id, split)| VehicleMonth {
            name: names
                .get(&vehicle_id)
                .cloned()
                .unwrap_or_else(|| vehicle_id.clone()),
            vehicle_id,
            figures: figures(split),
        })
        .collect();
    vehicles.sort_by(|a, b| (&a.name, &a.vehicle_id).cmp(&(&b.name, &b.vehicle_id)));
    let mut places: Vec<PlaceMonth> = month
        .places
        .into_iter()
        .map(|(id, totals): (Option<String>, Totals)| {
            let row = id.as_deref().and_then(|id| place_rows.get(id)).copied();
            PlaceMonth {
                place: row.map(|p| PlaceRef {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    kind: p.kind,
                }),
                cost_center: row.and_then(|p| p.cost_center.clone()),
                totals,
            }
        })
        .collect();
    places.sort_by_key(|p| {
        (
            p.place.is_none(),
            p.place.as_ref().map(|p| p.name.to_lowercase()),
        )
    });
    MonthlyReport {
        month: first_day.format("%Y-%m").to_string(),
        timezone: tz.name().to_owned(),
        from,
        to,
        fleet: figures(month.fleet),
        vehicles,
        places,
        pricing_pending,
    }
}
