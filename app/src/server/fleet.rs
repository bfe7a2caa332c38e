//! The fleet table, read from the database a page at a time.
//!
//! Each vehicle's row in `vehicles` carries what the table shows and sorts by (latest
//! state, status, sort name), kept by [`refresh`] whenever deliveries for it are
//! applied, and by [`mark_stale`] as vehicles fall silent. A page is one indexed range
//! read in the query's order, found from the vehicle it starts after or before (keyset
//! paging): the same cost on the first page and the last, at 100 vehicles or 10 000.
//! A search finds its matches through an index of the words of names
//! ([`fleet_search`]). The fleet's totals are counts over indexes and its chart comes
//! from `fleet_energy`'s quarter-hour sums.

use super::entities::{sessions, vehicle_latest, vehicles};
use super::fleet_search::{self, Search};
use crate::domain::fleet::{
    sort_name, ChargeStatus, FleetQuery, FleetTotals, PageStart, SortKey, VehicleSummary,
};
use crate::domain::ids::VehicleId;
use crate::domain::sessions::EngineConfig;
use crate::domain::signals;
use crate::domain::time::EpochMs;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, ModelTrait,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

/// The version of the rule [`refresh`] fills rows by. Rows of an older version (0: the
/// migration added the columns) are filled again when the server starts.
pub const FLEET_VERSION: i32 = 2;

/// Vehicles refreshed per statement batch.
const REFRESH_CHUNK: usize = 500;

/// A vehicle's id, make, model and year (what its sort name is made of), the sort name it
/// has and the rule's version its row was filled by.
type NameParts = (
    String,
    Option<String>,
    Option<String>,
    Option<i32>,
    String,
    i32,
);

fn datetime(ms: i64) -> Option<DateTime<Utc>> {
    EpochMs::new(ms).ok().map(EpochMs::to_datetime)
}

/// Fills the fleet rows of `ids` from their latest signals, and the search's words of
/// those whose name changed (or whose row an older rule filled).
pub async fn refresh(
    db: &impl ConnectionTrait,
    ids: &[&VehicleId],
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<(), DbErr> {
    for chunk in ids.chunks(REFRESH_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|id| id.as_str()).collect();
        let vehicles: Vec<NameParts> = vehicles::Entity::find()
            .select_only()
            .columns([
                vehicles::Column::Id,
                vehicles::Column::Make,
                vehicles::Column::Model,
                vehicles::Column::Year,
                vehicles::Column::SortName,
                vehicles::Column::FleetVersion,
            ])
            .filter(vehicles::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let latest = vehicle_latest::Entity::find()
            .filter(vehicle_latest::Column::VehicleId.is_in(ids.iter().copied()))
            .filter(vehicle_latest::Column::Code.is_in(signals::FLEET_OVERVIEW))
            .all(db)
            .await?;
        let newest: Vec<(String, Option<i64>)> = vehicle_latest::Entity::find()
            .select_only()
            .column(vehicle_latest::Column::VehicleId)
            .column_as(vehicle_latest::Column::OemUpdatedAt.max(), "newest")
            .filter(vehicle_latest::Column::VehicleId.is_in(ids.iter().copied()))
            .group_by(vehicle_latest::Column::VehicleId)
            .into_tuple()
            .all(db)
            .await?;
        let newest: HashMap<String, i64> = newest
            .into_iter()
            .filter_map(|(id, at)| Some((id, at?)))
            .collect();
        let mut by_signal: HashMap<(String, String), vehicle_latest::Model> = latest
            .into_iter()
            .map(|row| ((row.vehicle_id.clone(), row.code.clone()), row))
            .collect();
        let mut renamed: Vec<(String, String)> = Vec::new();
        for (id, make, model, year, old_name, version) in vehicles {
            let name = sort_name(&id, year, make.as_deref(), model.as_deref());
            if name != old_name || version != FLEET_VERSION {
                renamed.push((id.clone(), name.clone()));
            }
            let mut take = |code: &str| by_signal.remove(&(id.clone(), code.to_owned()));
            let soc = take(signals::STATE_OF_CHARGE).and_then(|r| r.value_num);
            let is_charging = take(signals::IS_CHARGING).and_then(|r| r.value_bool);
            let is_plugged_in = take(signals::IS_CABLE_CONNECTED).and_then(|r| r.value_bool);
            let range_km = take(signals::RANGE).and_then(|r| r.value_num);
            let power_kw = take(signals::WATTAGE)
                .and_then(|r| r.value_num)
                .map(|w| w / 1000.0)
                .filter(|_| is_charging == Some(true));
            let location = take(signals::PRECISE_LOCATION).and_then(|r| {
                Some((
                    r.body.get("latitude")?.as_f64()?,
                    r.body.get("longitude")?.as_f64()?,
                ))
            });
            let updated_at = newest.get(&id).copied();
            let status = ChargeStatus::shown(
                ChargeStatus::reported(is_charging, is_plugged_in),
                updated_at,
                now.as_millis(),
                engine,
            );
            let row = vehicles::ActiveModel {
                soc_percent: Set(soc),
                is_charging: Set(is_charging),
                is_plugged_in: Set(is_plugged_in),
                power_kw: Set(power_kw),
                range_km: Set(range_km),
                latitude: Set(location.map(|(lat, _)| lat)),
                longitude: Set(location.map(|(_, lon)| lon)),
                updated_at: Set(updated_at),
                status: Set(status),
                sort_name: Set(name),
                fleet_version: Set(FLEET_VERSION),
                ..Default::default()
            };
            vehicles::Entity::update_many()
                .set(row)
                .filter(vehicles::Column::Id.eq(id.as_str()))
                .exec(db)
                .await?;
        }
        let renamed: Vec<(&str, &str)> = renamed
            .iter()
            .map(|(id, name)| (id.as_str(), name.as_str()))
            .collect();
        fleet_search::rewrite(db, &renamed).await?;
    }
    Ok(())
}

/// Fills every fleet row of an older rule's version (after the migration that added
/// them, or a change of [`FLEET_VERSION`]); returns how many. Runs when the server
/// starts, a chunk per transaction.
pub async fn refresh_outdated(
    db: &sea_orm::DatabaseConnection,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<usize, DbErr> {
    use sea_orm::TransactionTrait;
    let mut total = 0;
    loop {
        let ids: Vec<String> = vehicles::Entity::find()
            .select_only()
            .column(vehicles::Column::Id)
            .filter(vehicles::Column::FleetVersion.ne(FLEET_VERSION))
            .order_by_asc(vehicles::Column::Id)
            .limit(REFRESH_CHUNK as u64)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            return Ok(total);
        }
        // An id the domain refuses cannot come from ingest; such a row is marked done
        // so the loop ends, and keeps its defaults.
        let parsed: Vec<VehicleId> = ids
            .iter()
            .filter_map(|id| VehicleId::parse(id).ok())
            .collect();
        let txn = db.begin().await?;
        refresh(&txn, &parsed.iter().collect::<Vec<_>>(), engine, now).await?;
        vehicles::Entity::update_many()
            .col_expr(vehicles::Column::FleetVersion, Expr::value(FLEET_VERSION))
            .filter(vehicles::Column::Id.is_in(ids.iter().map(String::as_str)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        total += ids.len();
    }
}

/// Marks vehicles whose newest reading is older than the stale time as stale; returns
/// how many. Run by the sweep every few minutes: until then, filters and counts judge
/// by `updated_at` themselves and only the status sort lags.
pub async fn mark_stale(
    db: &impl ConnectionTrait,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<u64, DbErr> {
    let result = vehicles::Entity::update_many()
        .col_expr(vehicles::Column::Status, Expr::value(ChargeStatus::Stale))
        .filter(vehicles::Column::Status.ne(ChargeStatus::Stale))
        .filter(vehicles::Column::UpdatedAt.lt(engine.stale_before(now.as_millis())))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// One page of the fleet table.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSlice {
    pub vehicles: Vec<vehicles::Model>,
    /// Vehicles matching the search and filter, on all pages.
    pub matching: u64,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// A stretch of the order: the vehicles with a value of the sort key, or (for keys a
/// vehicle may lack) those without, which come last in both directions, by name.
#[derive(Debug, Clone, Copy)]
struct Segment {
    sort: SortKey,
    has_value: bool,
    descending: bool,
}

/// The column behind a sort key (the name sort has only the name and id).
fn key_column(sort: SortKey) -> Option<vehicles::Column> {
    use vehicles::Column as C;
    match sort {
        SortKey::Name => None,
        SortKey::Soc => Some(C::SocPercent),
        SortKey::Status => Some(C::Status),
        SortKey::Power => Some(C::PowerKw),
        SortKey::Range => Some(C::RangeKm),
        SortKey::Updated => Some(C::UpdatedAt),
    }
}

/// Whether the row has a value to sort by.
fn has_value(sort: SortKey, row: &vehicles::Model) -> bool {
    match sort {
        SortKey::Name | SortKey::Status => true,
        SortKey::Soc => row.soc_percent.is_some(),
        SortKey::Power => row.power_kw.is_some(),
        SortKey::Range => row.range_km.is_some(),
        SortKey::Updated => row.updated_at.is_some(),
    }
}

impl Segment {
    fn of(sort: SortKey, descending: bool) -> Vec<Segment> {
        let mut segments = vec![Segment {
            sort,
            has_value: true,
            descending,
        }];
        if sort.may_be_missing() {
            segments.push(Segment {
                sort,
                has_value: false,
                descending: false,
            });
        }
        segments
    }

    /// The columns this stretch is ordered by: the key, then name and id for ties.
    fn columns(self) -> Vec<vehicles::Column> {
        let mut columns = Vec::with_capacity(3);
        if let (Some(key), true) = (key_column(self.sort), self.has_value) {
            columns.push(key);
        }
        columns.extend([vehicles::Column::SortName, vehicles::Column::Id]);
        columns
    }

    fn condition(self) -> Condition {
        match (key_column(self.sort), self.sort.may_be_missing()) {
            (Some(key), true) if self.has_value => Condition::all().add(key.is_not_null()),
            (Some(key), true) => Condition::all().add(key.is_null()),
            _ => Condition::all(),
        }
    }

    fn holds(self, row: &vehicles::Model) -> bool {
        has_value(self.sort, row) == self.has_value
    }
}

/// The status filter as a condition. Staleness is judged here by time, so a filter is
/// exact even before the sweep has marked a vehicle stale.
fn with_status(query: &FleetQuery, fresh_from: i64) -> Condition {
    use vehicles::Column as C;
    let condition = Condition::all();
    match query.status {
        None => condition,
        Some(ChargeStatus::Stale) => condition.add(
            Condition::any()
                .add(C::Status.eq(ChargeStatus::Stale))
                .add(C::UpdatedAt.lt(fresh_from)),
        ),
        Some(status) => condition.add(C::Status.eq(status)).add(
            Condition::any()
                .add(C::UpdatedAt.is_null())
                .add(C::UpdatedAt.gte(fresh_from)),
        ),
    }
}

/// Up to `limit` rows from `anchor` on (or back), through the segments in turn.
async fn walk(
    db: &impl ConnectionTrait,
    filter: &Condition,
    segments: &[Segment],
    anchor: Option<&vehicles::Model>,
    forward: bool,
    limit: u64,
) -> Result<Vec<vehicles::Model>, DbErr> {
    let mut ordered: Vec<Segment> = segments.to_vec();
    if !forward {
        ordered.reverse();
    }
    // The anchor's own segment, and those after it in the walk's direction.
    let first = anchor
        .and_then(|row| ordered.iter().position(|s| s.holds(row)))
        .unwrap_or(0);
    let mut out = Vec::new();
    for (i, segment) in ordered.iter().enumerate().skip(first) {
        let want = limit - out.len() as u64;
        if want == 0 {
            break;
        }
        // Forward through an ascending stretch, or back through a descending one.
        let ascending = segment.descending != forward;
        let columns = segment.columns();
        let mut select = vehicles::Entity::find()
            .filter(filter.clone())
            .filter(segment.condition());
        if let (Some(row), true) = (anchor, i == first) {
            let lhs = Expr::tuple(columns.iter().map(|c| Expr::col(*c)));
            let rhs = Expr::tuple(columns.iter().map(|c| Expr::val(row.get(*c))));
            select = select.filter(if ascending { lhs.gt(rhs) } else { lhs.lt(rhs) });
        }
        let order = if ascending { Order::Asc } else { Order::Desc };
        for column in columns {
            select = select.order_by(column, order.clone());
        }
        out.extend(select.limit(want).all(db).await?);
    }
    Ok(out)
}

/// One page of `query`, `limit` vehicles at most. `None` when the page starts at a
/// vehicle that does not exist.
pub async fn page(
    db: &impl ConnectionTrait,
    query: &FleetQuery,
    limit: u64,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<Option<FleetSlice>, DbErr> {
    let search = Search::plan(db, &query.q, fleet_search::FEW).await?;
    page_of(db, query, &search, limit, engine, now).await
}

/// One page of `query`, whose search reads its matches as `search` planned.
pub async fn page_of(
    db: &impl ConnectionTrait,
    query: &FleetQuery,
    search: &Search,
    limit: u64,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<Option<FleetSlice>, DbErr> {
    let limit = Ord::max(limit, 1);
    let status = with_status(query, engine.stale_before(now.as_millis()));
    let filter = status.clone().add(search.condition());
    let segments = Segment::of(query.sort, query.descending);
    let anchor = |id: &str| vehicles::Entity::find_by_id(id.to_owned()).one(db);
    let (mut rows, next, prev) = match &query.start {
        PageStart::First => {
            let mut rows = walk(db, &filter, &segments, None, true, limit + 1).await?;
            let more = rows.len() as u64 > limit;
            rows.truncate(limit as usize);
            let next = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
            (rows, next, None)
        }
        PageStart::After(id) => {
            let Some(anchor) = anchor(id).await? else {
                return Ok(None);
            };
            let mut rows = walk(db, &filter, &segments, Some(&anchor), true, limit + 1).await?;
            let more = rows.len() as u64 > limit;
            rows.truncate(limit as usize);
            let next = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
            let prev = rows.first().map(|r| r.id.clone());
            (rows, next, prev)
        }
        PageStart::Before(id) => {
            let Some(anchor) = anchor(id).await? else {
                return Ok(None);
            };
            let mut rows = walk(db, &filter, &segments, Some(&anchor), false, limit + 1).await?;
            if (rows.len() as u64) <= limit {
                // Back at the start: show a whole first page rather than a short one.
                let first = FleetQuery {
                    start: PageStart::First,
                    ..query.clone()
                };
                return Box::pin(page_of(db, &first, search, limit, engine, now)).await;
            }
            rows.truncate(limit as usize);
            rows.reverse();
            let next = rows.last().map(|r| r.id.clone());
            let prev = rows.first().map(|r| r.id.clone());
            (rows, next, prev)
        }
    };
    rows.shrink_to_fit();
    let matching = match search.known_count(query.status.is_some()) {
        Some(count) => count,
        None => {
            vehicles::Entity::find()
                .filter(status.add(search.count_condition()))
                .count(db)
                .await?
        }
    };
    Ok(Some(FleetSlice {
        vehicles: rows,
        matching,
        next,
        prev,
    }))
}

/// The rows of `ids`, in that order (ids with no vehicle are left out).
pub async fn rows_of(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<vehicles::Model>, DbErr> {
    let mut found: HashMap<String, vehicles::Model> = vehicles::Entity::find()
        .filter(vehicles::Column::Id.is_in(ids.iter().map(String::as_str)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.id.clone(), row))
        .collect();
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// The rows as the fleet table shows them, with each vehicle's recent energy and its
/// status judged at `now`.
pub async fn summaries(
    db: &impl ConnectionTrait,
    rows: Vec<vehicles::Model>,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<Vec<VehicleSummary>, DbErr> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let energy = recent_energy(db, &ids, now).await?;
    Ok(rows
        .into_iter()
        .map(|v| {
            let recent = energy.get(&v.id).copied().unwrap_or((0.0, 0.0));
            summary(v, recent, engine, now)
        })
        .collect())
}

fn summary(
    v: vehicles::Model,
    (energy_7d_kwh, energy_30d_kwh): (f64, f64),
    engine: &EngineConfig,
    now: EpochMs,
) -> VehicleSummary {
    let reported = ChargeStatus::reported(v.is_charging, v.is_plugged_in);
    VehicleSummary {
        status: ChargeStatus::shown(reported, v.updated_at, now.as_millis(), engine),
        updated_at: v.updated_at.and_then(datetime),
        last_delivery_at: datetime(v.last_delivery_at).unwrap_or(DateTime::<Utc>::MIN_UTC),
        id: v.id,
        make: v.make,
        model: v.model,
        year: v.year,
        soc_percent: v.soc_percent,
        is_charging: v.is_charging,
        is_plugged_in: v.is_plugged_in,
        range_km: v.range_km,
        power_kw: v.power_kw,
        energy_7d_kwh,
        energy_30d_kwh,
        latitude: v.latitude,
        longitude: v.longitude,
    }
}

/// Rows as `/api/v1/vehicles` lists them: with each vehicle's session count.
pub async fn items(
    db: &impl ConnectionTrait,
    rows: Vec<vehicles::Model>,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<Vec<crate::wire::VehicleItem>, DbErr> {
    use crate::wire::{LatestState, VehicleItem};
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let counts: Vec<(String, i64)> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::VehicleId)
        .column_as(sessions::Column::Id.count(), "n")
        .filter(sessions::Column::VehicleId.is_in(ids))
        .group_by(sessions::Column::VehicleId)
        .into_tuple()
        .all(db)
        .await?;
    let counts: HashMap<String, i64> = counts.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let v = summary(row, (0.0, 0.0), engine, now);
            VehicleItem {
                session_count: counts.get(&v.id).copied().unwrap_or(0),
                latest: LatestState {
                    status: v.status,
                    reported_status: v.reported_status(),
                    stale: v.status == ChargeStatus::Stale,
                    is_charging: v.is_charging,
                    is_plugged_in: v.is_plugged_in,
                    soc_percent: v.soc_percent,
                    range_km: v.range_km,
                    power_kw: v.power_kw,
                    latitude: v.latitude,
                    longitude: v.longitude,
                    updated_at: v.updated_at,
                },
                id: v.id,
                make: v.make,
                model: v.model,
                year: v.year,
            }
        })
        .collect())
}

/// One vehicle as `/api/v1/vehicles` lists it; `None` if there is no such vehicle.
pub async fn vehicle_item(
    db: &impl ConnectionTrait,
    id: &VehicleId,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<Option<crate::wire::VehicleItem>, DbErr> {
    let rows = rows_of(db, &[id.to_string()]).await?;
    Ok(items(db, rows, engine, now).await?.into_iter().next())
}

/// Energy added per vehicle of `ids` by sessions that started in the last 7 and 30
/// days, in one aggregate query over the (vehicle, start) index.
async fn recent_energy(
    db: &impl ConnectionTrait,
    ids: &[&str],
    now: EpochMs,
) -> Result<HashMap<String, (f64, f64)>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let now = now.as_millis();
    let day = 86_400_000_i64;
    let rows: Vec<(String, Option<f64>, Option<f64>)> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::VehicleId)
        .column_as(
            // An integer we computed, written inline: placeholder syntax differs between
            // SQLite and PostgreSQL inside custom expressions.
            Expr::cust(format!(
                "SUM(CASE WHEN started_at >= {} THEN COALESCE(energy_added_kwh, 0.0) ELSE 0.0 END)",
                now - 7 * day
            )),
            "week",
        )
        .column_as(Expr::cust("SUM(COALESCE(energy_added_kwh, 0.0))"), "month")
        .filter(sessions::Column::VehicleId.is_in(ids.iter().copied()))
        .filter(sessions::Column::StartedAt.gte(now - 30 * day))
        .group_by(sessions::Column::VehicleId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, week, month)| (id, (week.unwrap_or(0.0), month.unwrap_or(0.0))))
        .collect())
}

/// The fleet page's totals and daily energy, in `tz`, as of `now`: two counts over
/// indexes and the quarter-hour sums of the last month.
pub async fn totals(
    db: &impl ConnectionTrait,
    engine: &EngineConfig,
    tz: chrono_tz::Tz,
    now: EpochMs,
) -> Result<(FleetTotals, Vec<crate::wire::EnergyBucket>), DbErr> {
    use crate::domain::buckets::{bucket_start, chart_range, Bucket};
    let at = now.to_datetime();
    let (from, to) = chart_range(Bucket::Day, tz, at, None, None);
    let month_start = bucket_start(Bucket::Month, tz, at);
    // One read covers the 30 days and the month, whichever starts first.
    let slots = super::fleet_energy::slots(db, Ord::min(from, month_start), to).await?;
    let daily = crate::domain::buckets::sum_buckets(Bucket::Day, tz, from, to, &slots);
    let this_month: f64 = slots
        .iter()
        .filter(|s| s.at >= month_start)
        .map(|s| s.energy_kwh)
        .sum();
    let vehicles = vehicles::Entity::find().count(db).await?;
    let charging = FleetQuery {
        status: Some(ChargeStatus::Charging),
        ..FleetQuery::default()
    };
    let charging_now = vehicles::Entity::find()
        .filter(with_status(&charging, engine.stale_before(now.as_millis())))
        .count(db)
        .await?;
    let totals = FleetTotals {
        vehicles: vehicles as usize,
        charging_now: charging_now as usize,
        kwh_today: daily.last().map_or(0.0, |b| b.energy_kwh),
        kwh_this_month: this_month,
    };
    Ok((totals, daily))
}
