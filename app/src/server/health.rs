//! Data health in the database: each delivery counted by vehicle, UTC day and lag bucket
//! as it is applied ([`Tally`] into `delivery_stats`), and the `/health` page read from
//! those counts and the tables kept at ingest (`vehicle_latest`, `signal_error_counts`,
//! open `alerts`). Nothing here reads the history of readings or deliveries, so the page
//! costs the same after ten years as after a week.

use super::entities::{
    alerts, deliveries, delivery_stats, signal_error_counts, signal_readings, vehicle_latest,
    vehicles,
};
use crate::domain::alerts::Kind;
use crate::domain::fleet::vehicle_name;
use crate::domain::health::{self, LagCounts};
use crate::wire::{
    DeliveryFigures, GroupHealth, GroupSignal, HealthView, VehicleHealth, VehicleSignal,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Vehicles on one page of `/health`.
pub const VEHICLES_PAGE: u64 = 50;
/// Makes and models shown; the rest are counted.
pub const MAX_GROUPS: usize = 100;
/// Signals in the coverage matrices; the rest are counted.
pub const MAX_SIGNALS: usize = 60;

fn at(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Deliveries counted by (day, vehicle, bucket), written in one statement. Kept in key
/// order, so batches of several processes lock the rows they share in the same order.
#[derive(Debug, Default)]
pub struct Tally(BTreeMap<(i64, String, i32), i64>);

impl Tally {
    /// Counts one delivery of `vehicle_id`, received at `received_at` (epoch ms), with
    /// its lag (`None`: it carries no `oemUpdatedAt`).
    pub fn add(&mut self, vehicle_id: &str, received_at: i64, lag_ms: Option<i64>) {
        let key = (
            health::day_of(received_at),
            vehicle_id.to_owned(),
            health::bucket(lag_ms),
        );
        *self.0.entry(key).or_default() += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds the counts to `delivery_stats`.
    pub async fn write(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        use delivery_stats::Column as C;
        let rows: Vec<delivery_stats::ActiveModel> = self
            .0
            .into_iter()
            .map(
                |((day, vehicle_id, bucket), n)| delivery_stats::ActiveModel {
                    day: Set(day),
                    vehicle_id: Set(vehicle_id),
                    bucket: Set(bucket),
                    count: Set(n),
                },
            )
            .collect();
        // 4 parameters a row: well inside SQLite's 32 766.
        for chunk in rows.chunks(2_000) {
            delivery_stats::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([C::Day, C::VehicleId, C::Bucket])
                        .value(
                            C::Count,
                            Expr::cust("delivery_stats.count + excluded.count"),
                        )
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }
}

/// Days of counts kept: the page reads a week; the rest is there to look back on an
/// incident in the database, and then deleted by [`prune`].
pub const KEEP_DAYS: i64 = 90;

/// Deletes the counts of days older than [`KEEP_DAYS`]; returns how many rows.
pub async fn prune(db: &impl ConnectionTrait, now_ms: i64) -> Result<u64, DbErr> {
    let result = delivery_stats::Entity::delete_many()
        .filter(delivery_stats::Column::Day.lt(health::day_of(now_ms) - KEEP_DAYS))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The name of the counts' row in `rebuilds`.
const REBUILD: &str = "delivery_stats";
/// The version of the counting rule; a newer one recounts at the next start.
const VERSION: i32 = 1;
/// Deliveries read per query while recounting.
const REBUILD_CHUNK: u64 = 2_000;

/// Counts the deliveries of the window's days again when the counts were made by an
/// older rule (after the upgrade that brought them); returns how many deliveries were
/// counted (0: they were current). Older days are not counted: the page never reads
/// them. One transaction, which on PostgreSQL first takes the table for itself, so a
/// process applying deliveries meanwhile waits and then adds its own on top.
pub async fn rebuild_if_outdated(db: &DatabaseConnection, now_ms: i64) -> Result<u64, DbErr> {
    let Some(txn) = super::rebuilds::begin(db, REBUILD, "delivery_stats", VERSION).await? else {
        return Ok(0);
    };
    delivery_stats::Entity::delete_many().exec(&txn).await?;
    let (_, from) = health::window_start(now_ms);
    let mut tally = Tally::default();
    let (mut after, mut counted) = (0_i64, 0_u64);
    loop {
        // Applied deliveries of a vehicle: those that were counted when applied.
        let rows: Vec<(i64, String, i64, Option<i64>)> = deliveries::Entity::find()
            .select_only()
            .columns([
                deliveries::Column::Id,
                deliveries::Column::VehicleId,
                deliveries::Column::ReceivedAt,
                deliveries::Column::DeliveredAt,
            ])
            .filter(deliveries::Column::Id.gt(after))
            .filter(deliveries::Column::ReceivedAt.gte(from))
            .filter(deliveries::Column::VehicleId.is_not_null())
            .filter(deliveries::Column::ProcessedAt.is_not_null())
            .filter(deliveries::Column::ProcessError.is_null())
            .filter(deliveries::Column::Outcome.eq(crate::domain::events::Outcome::Stored))
            .order_by_asc(deliveries::Column::Id)
            .limit(REBUILD_CHUNK)
            .into_tuple()
            .all(&txn)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let newest: HashMap<i64, Option<i64>> = signal_readings::Entity::find()
            .select_only()
            .column(signal_readings::Column::DeliveryRowId)
            .column_as(signal_readings::Column::OemUpdatedAt.max(), "newest")
            .filter(signal_readings::Column::DeliveryRowId.is_in(rows.iter().map(|r| r.0)))
            .group_by(signal_readings::Column::DeliveryRowId)
            .into_tuple()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        for (id, vehicle_id, received_at, delivered_at) in &rows {
            let lag = health::lag_ms(
                delivered_at.unwrap_or(*received_at),
                newest.get(id).copied().flatten(),
            );
            tally.add(vehicle_id, *received_at, lag);
            counted += 1;
        }
    }
    tally.write(&txn).await?;
    super::rebuilds::finish(txn, REBUILD, VERSION).await?;
    Ok(counted)
}

/// A make and model, as stored (either may be unknown).
type GroupKey = (Option<String>, Option<String>);

/// Where a page of vehicles starts: after this vehicle, in name order.
fn cursor_of(row: &vehicles::Model) -> String {
    row.id.clone()
}

/// The data health page: every make and model, and a page of vehicles (of one make and
/// model if given) after the vehicle `after`. `None` if `after` is no vehicle.
pub async fn view(
    db: &impl ConnectionTrait,
    now_ms: i64,
    group: Option<GroupKey>,
    after: Option<&str>,
) -> Result<Option<HealthView>, DbErr> {
    let (first_day, from) = health::window_start(now_ms);
    let mut groups = group_rows(db, now_ms, from).await?;
    let more_groups = groups.len().saturating_sub(MAX_GROUPS);
    groups.truncate(MAX_GROUPS);
    let lags = group_lags(db, first_day).await?;
    let open = group_open_alerts(db).await?;
    let (reporting, errors) = group_signals(db).await?;
    let mut codes: BTreeSet<String> = BTreeSet::new();
    codes.extend(reporting.keys().map(|(_, code)| code.clone()));
    codes.extend(errors.keys().map(|(_, code)| code.clone()));
    let more_signals = codes.len().saturating_sub(MAX_SIGNALS);
    let signals: Vec<String> = codes.into_iter().take(MAX_SIGNALS).collect();
    let groups: Vec<GroupHealth> = groups
        .into_iter()
        .map(|row| {
            let key = row.key;
            let counts = lags.get(&key).cloned().unwrap_or_default();
            let signal = |code: &String| {
                let k = (key.clone(), code.clone());
                GroupSignal {
                    reporting: reporting.get(&k).copied().unwrap_or(0),
                    errors: errors.get(&k).copied().unwrap_or(0),
                }
            };
            GroupHealth {
                figures: figures(&counts, row.elapsed_ms),
                vehicles: row.vehicles,
                quietest_delivery: at(row.quietest),
                open_alerts: open.get(&key).copied().unwrap_or(0),
                signals: signals.iter().map(signal).collect(),
                make: key.0,
                model: key.1,
            }
        })
        .collect();
    let Some((page, next_cursor)) = vehicle_page(db, group.as_ref(), after).await? else {
        return Ok(None);
    };
    let vehicles = vehicle_rows(db, now_ms, first_day, page, &signals).await?;
    let (make, model) = group.unwrap_or_default();
    Ok(Some(HealthView {
        window_from: at(from).unwrap_or_default(),
        signals,
        more_signals: u64::try_from(more_signals).unwrap_or(u64::MAX),
        groups,
        more_groups: u64::try_from(more_groups).unwrap_or(u64::MAX),
        make,
        model,
        vehicles,
        next_cursor,
    }))
}

fn figures(counts: &LagCounts, elapsed_ms: i64) -> DeliveryFigures {
    DeliveryFigures {
        deliveries: counts.deliveries(),
        per_day: health::per_day(counts.deliveries(), elapsed_ms),
        lag_p50: counts.percentile(50),
        lag_p95: counts.percentile(95),
    }
}

/// `make` and `model` of `vehicles`, for a grouped query joined to it.
fn make_model() -> [(vehicles::Entity, vehicles::Column); 2] {
    [
        (vehicles::Entity, vehicles::Column::Make),
        (vehicles::Entity, vehicles::Column::Model),
    ]
}

/// The SQL of [`health::counted_for`] summed over the grouped vehicles.
fn counted_for_sql(now_ms: i64, from: i64) -> String {
    let day = health::MIN_COUNTED_MS;
    let start = format!(
        "CASE WHEN vehicles.first_seen_at > {from} THEN vehicles.first_seen_at ELSE {from} END"
    );
    format!(
        "CAST(SUM(CASE WHEN {now_ms} - ({start}) < {day} THEN {day} \
         ELSE {now_ms} - ({start}) END) AS BIGINT)"
    )
}

struct GroupRow {
    key: GroupKey,
    vehicles: u64,
    quietest: i64,
    elapsed_ms: i64,
}

/// Every make and model, most vehicles first.
async fn group_rows(
    db: &impl ConnectionTrait,
    now_ms: i64,
    from: i64,
) -> Result<Vec<GroupRow>, DbErr> {
    let query = Query::select()
        .columns(make_model())
        .expr_as(Expr::cust("COUNT(*)"), "n")
        .expr_as(Expr::cust("MIN(vehicles.last_delivery_at)"), "quietest")
        .expr_as(Expr::cust(counted_for_sql(now_ms, from)), "elapsed")
        .from(vehicles::Entity)
        .group_by_columns(make_model())
        .to_owned();
    let mut rows = Vec::new();
    for row in db.query_all(&query).await? {
        rows.push(GroupRow {
            key: (row.try_get("", "make")?, row.try_get("", "model")?),
            vehicles: count(row.try_get("", "n")?),
            quietest: row.try_get("", "quietest")?,
            elapsed_ms: row.try_get("", "elapsed")?,
        });
    }
    rows.sort_by(|a, b| b.vehicles.cmp(&a.vehicles).then_with(|| a.key.cmp(&b.key)));
    Ok(rows)
}

/// Each make and model's deliveries in the window, by lag bucket.
async fn group_lags(
    db: &impl ConnectionTrait,
    first_day: i64,
) -> Result<HashMap<GroupKey, LagCounts>, DbErr> {
    use delivery_stats::{Column as S, Entity as Stats};
    let query = Query::select()
        .columns(make_model())
        .column((Stats, S::Bucket))
        .expr_as(Expr::cust("CAST(SUM(delivery_stats.count) AS BIGINT)"), "n")
        .from(Stats)
        .inner_join(
            vehicles::Entity,
            Expr::col((vehicles::Entity, vehicles::Column::Id)).equals((Stats, S::VehicleId)),
        )
        .and_where(Expr::col((Stats, S::Day)).gte(first_day))
        .group_by_columns(make_model())
        .group_by_col((Stats, S::Bucket))
        .to_owned();
    let mut lags: HashMap<GroupKey, LagCounts> = HashMap::new();
    for row in db.query_all(&query).await? {
        let key = (row.try_get("", "make")?, row.try_get("", "model")?);
        lags.entry(key)
            .or_default()
            .add(row.try_get("", "bucket")?, count(row.try_get("", "n")?));
    }
    Ok(lags)
}

/// Open alerts by make and model.
async fn group_open_alerts(db: &impl ConnectionTrait) -> Result<HashMap<GroupKey, u64>, DbErr> {
    let query = Query::select()
        .columns(make_model())
        .expr_as(Expr::cust("COUNT(*)"), "n")
        .from(alerts::Entity)
        .inner_join(
            vehicles::Entity,
            Expr::col((vehicles::Entity, vehicles::Column::Id))
                .equals((alerts::Entity, alerts::Column::VehicleId)),
        )
        .and_where(Expr::col((alerts::Entity, alerts::Column::State)).eq(alerts::OPEN))
        .group_by_columns(make_model())
        .to_owned();
    let mut open = HashMap::new();
    for row in db.query_all(&query).await? {
        let key = (row.try_get("", "make")?, row.try_get("", "model")?);
        open.insert(key, count(row.try_get("", "n")?));
    }
    Ok(open)
}

type SignalCounts = HashMap<(GroupKey, String), u64>;

/// By make, model and signal: how many vehicles have a value of it, and how many errors
/// it has reported.
async fn group_signals(db: &impl ConnectionTrait) -> Result<(SignalCounts, SignalCounts), DbErr> {
    use signal_error_counts::{Column as E, Entity as Errors};
    use vehicle_latest::{Column as L, Entity as Latest};
    let reporting = Query::select()
        .columns(make_model())
        .column((Latest, L::Code))
        .expr_as(Expr::cust("COUNT(*)"), "n")
        .from(Latest)
        .inner_join(
            vehicles::Entity,
            Expr::col((vehicles::Entity, vehicles::Column::Id)).equals((Latest, L::VehicleId)),
        )
        .group_by_columns(make_model())
        .group_by_col((Latest, L::Code))
        .to_owned();
    let errors = Query::select()
        .columns(make_model())
        .column((Errors, E::Code))
        .expr_as(
            Expr::cust("CAST(SUM(signal_error_counts.count) AS BIGINT)"),
            "n",
        )
        .from(Errors)
        .inner_join(
            vehicles::Entity,
            Expr::col((vehicles::Entity, vehicles::Column::Id)).equals((Errors, E::VehicleId)),
        )
        .group_by_columns(make_model())
        .group_by_col((Errors, E::Code))
        .to_owned();
    let mut out = (SignalCounts::new(), SignalCounts::new());
    for (query, into) in [(reporting, &mut out.0), (errors, &mut out.1)] {
        for row in db.query_all(&query).await? {
            let key = (row.try_get("", "make")?, row.try_get("", "model")?);
            into.insert(
                (key, row.try_get("", "code")?),
                count(row.try_get("", "n")?),
            );
        }
    }
    Ok(out)
}

/// A page of vehicles in name order (of one make and model if given) after the vehicle
/// `after`, and the cursor of the next; `None` if `after` is no vehicle.
async fn vehicle_page(
    db: &impl ConnectionTrait,
    group: Option<&GroupKey>,
    after: Option<&str>,
) -> Result<Option<(Vec<vehicles::Model>, Option<String>)>, DbErr> {
    use vehicles::Column as C;
    let mut query = vehicles::Entity::find();
    if let Some((make, model)) = group {
        query = query
            .filter(match make {
                Some(make) => C::Make.eq(make.as_str()),
                None => C::Make.is_null(),
            })
            .filter(match model {
                Some(model) => C::Model.eq(model.as_str()),
                None => C::Model.is_null(),
            });
    }
    if let Some(after) = after {
        let Some(start) = vehicles::Entity::find_by_id(after).one(db).await? else {
            return Ok(None);
        };
        query = query.filter(
            sea_orm::Condition::any()
                .add(C::SortName.gt(start.sort_name.as_str()))
                .add(
                    sea_orm::Condition::all()
                        .add(C::SortName.eq(start.sort_name.as_str()))
                        .add(C::Id.gt(start.id.as_str())),
                ),
        );
    }
    let mut rows = query
        .order_by(C::SortName, Order::Asc)
        .order_by(C::Id, Order::Asc)
        .limit(VEHICLES_PAGE + 1)
        .all(db)
        .await?;
    let next = if rows.len() as u64 > VEHICLES_PAGE {
        rows.truncate(VEHICLES_PAGE as usize);
        rows.last().map(cursor_of)
    } else {
        None
    };
    Ok(Some((rows, next)))
}

/// The figures and coverage of a page of vehicles.
async fn vehicle_rows(
    db: &impl ConnectionTrait,
    now_ms: i64,
    first_day: i64,
    page: Vec<vehicles::Model>,
    signals: &[String],
) -> Result<Vec<VehicleHealth>, DbErr> {
    let ids: Vec<&str> = page.iter().map(|v| v.id.as_str()).collect();
    let mut lags: HashMap<String, LagCounts> = HashMap::new();
    let stats: Vec<(String, i32, i64)> = delivery_stats::Entity::find()
        .select_only()
        .column(delivery_stats::Column::VehicleId)
        .column(delivery_stats::Column::Bucket)
        .column_as(Expr::cust("CAST(SUM(delivery_stats.count) AS BIGINT)"), "n")
        .filter(delivery_stats::Column::Day.gte(first_day))
        .filter(delivery_stats::Column::VehicleId.is_in(ids.iter().copied()))
        .group_by(delivery_stats::Column::VehicleId)
        .group_by(delivery_stats::Column::Bucket)
        .into_tuple()
        .all(db)
        .await?;
    for (vehicle_id, bucket, n) in stats {
        lags.entry(vehicle_id).or_default().add(bucket, count(n));
    }
    let mut signal_of: HashMap<(String, String), VehicleSignal> = HashMap::new();
    let latest: Vec<(String, String, Option<i64>, Option<i64>)> = vehicle_latest::Entity::find()
        .select_only()
        .columns([
            vehicle_latest::Column::VehicleId,
            vehicle_latest::Column::Code,
            vehicle_latest::Column::OemUpdatedAt,
            vehicle_latest::Column::RetrievedAt,
        ])
        .filter(vehicle_latest::Column::VehicleId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    for (vehicle_id, code, oem_updated_at, retrieved_at) in latest {
        let signal = signal_of.entry((vehicle_id, code)).or_default();
        signal.reported = true;
        signal.last_at = oem_updated_at.or(retrieved_at).and_then(at);
    }
    let errors = signal_error_counts::Entity::find()
        .filter(signal_error_counts::Column::VehicleId.is_in(ids.iter().copied()))
        .order_by_asc(signal_error_counts::Column::ErrorType)
        .order_by_asc(signal_error_counts::Column::ErrorCode)
        .all(db)
        .await?;
    for row in errors {
        let signal = signal_of.entry((row.vehicle_id, row.code)).or_default();
        signal.errors += count(row.count);
        let kind = match (row.error_type.as_str(), row.error_code.as_str()) {
            ("", "") => "unknown".to_owned(),
            (t, "") => t.to_owned(),
            (t, c) => format!("{t}:{c}"),
        };
        signal.error_kinds.push(kind);
    }
    let mut open: HashMap<String, Vec<Kind>> = HashMap::new();
    let open_rows: Vec<(String, Kind)> = alerts::Entity::find()
        .select_only()
        .column(alerts::Column::VehicleId)
        .column(alerts::Column::Kind)
        .filter(alerts::Column::State.eq(alerts::OPEN))
        .filter(alerts::Column::VehicleId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    for (vehicle_id, kind) in open_rows {
        open.entry(vehicle_id).or_default().push(kind);
    }
    Ok(page
        .into_iter()
        .map(|v| {
            let counts = lags.remove(&v.id).unwrap_or_default();
            let elapsed = health::counted_for(v.first_seen_at, now_ms);
            let mut kinds = open.remove(&v.id).unwrap_or_default();
            kinds.sort();
            let signals = signals
                .iter()
                .map(|code| {
                    signal_of
                        .remove(&(v.id.clone(), code.clone()))
                        .unwrap_or_default()
                })
                .collect();
            VehicleHealth {
                name: vehicle_name(&v.id, v.year, v.make.as_deref(), v.model.as_deref()),
                last_delivery: at(v.last_delivery_at),
                figures: figures(&counts, elapsed),
                open_alerts: kinds,
                signals,
                id: v.id,
            }
        })
        .collect())
}
