//! Keeping a vehicle's stored sessions equal to what the engine derives from its
//! stored readings.
//!
//! Callers run this inside the transaction that changed the readings, after a statement
//! that locked the vehicle's row (the vehicle upsert in ingest, [`lock_vehicle`] here):
//! that lock serialises every writer of one vehicle, across server processes on
//! PostgreSQL and through the single writer on SQLite.

use super::entities::{sessions, signal_readings, vehicles};
use super::fleet_energy::{Counted, EnergyLedger};
use crate::domain::ids::VehicleId;
use crate::domain::reading::ReadingStatus;
use crate::domain::sessions::{
    derive, derive_from, EngineConfig, Observation, ObservedValue, Resume, Session, ValueKind,
};
use crate::domain::signals;
use crate::domain::time::EpochMs;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};

/// The signals the engine reads; nothing else is loaded.
pub const ENGINE_CODES: [&str; 12] = [
    signals::IS_CHARGING,
    signals::IS_CABLE_CONNECTED,
    signals::DETAILED_CHARGING_STATUS,
    signals::ENERGY_ADDED,
    signals::WATTAGE,
    signals::STATE_OF_CHARGE,
    signals::RANGE,
    signals::NOMINAL_CAPACITY,
    signals::CHARGE_LIMITS,
    signals::ACTIVE_LIMIT,
    signals::PRECISE_LOCATION,
    signals::IS_FAST_CHARGER_PRESENT,
];

/// The readings of a vehicle's static battery capacity (no OEM time), as the partial
/// index `idx_signal_readings_capacity` (migration 18) selects them: written out, not
/// bound, so that SQLite sees the query's terms imply the index's.
const CAPACITY_ROWS: &str = "signal_readings.code = 'tractionbattery-nominalcapacity' \
     AND signal_readings.oem_updated_at IS NULL";

/// Sessions per INSERT statement (32 columns each).
const INSERT_CHUNK: usize = 500;

/// Takes the vehicle's row lock (a no-op update) so derivations of one vehicle queue.
pub async fn lock_vehicle(db: &impl ConnectionTrait, vehicle_id: &VehicleId) -> Result<(), DbErr> {
    vehicles::Entity::update_many()
        .col_expr(
            vehicles::Column::LastDeliveryAt,
            Expr::col(vehicles::Column::LastDeliveryAt),
        )
        .filter(vehicles::Column::Id.eq(vehicle_id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// The columns of a stored reading the engine reads ([`observation`]). A session is
/// resumed from hundreds of readings at a time: only these are decoded, and the body
/// only where the value is in it (a location).
#[derive(Debug, sea_orm::FromQueryResult)]
struct Observed {
    code: String,
    oem_updated_at: Option<i64>,
    value_num: Option<f64>,
    value_bool: Option<bool>,
    value_text: Option<String>,
    body: Option<serde_json::Value>,
    first_delivery: bool,
}

impl From<&signal_readings::Model> for Observed {
    fn from(row: &signal_readings::Model) -> Self {
        Observed {
            code: row.code.clone(),
            oem_updated_at: row.oem_updated_at,
            value_num: row.value_num,
            value_bool: row.value_bool,
            value_text: row.value_text.clone(),
            body: Some(row.body.clone()),
            first_delivery: row.first_delivery,
        }
    }
}

/// The readings `query` finds, as [`Observed`] rows.
async fn observed(
    db: &impl ConnectionTrait,
    query: sea_orm::Select<signal_readings::Entity>,
) -> Result<Vec<Observed>, DbErr> {
    use sea_orm::QuerySelect;
    use signal_readings::Column as C;
    query
        .select_only()
        .columns([
            C::Code,
            C::OemUpdatedAt,
            C::ValueNum,
            C::ValueBool,
            C::ValueText,
            C::FirstDelivery,
        ])
        .expr_as(
            Expr::case(C::Code.eq(signals::PRECISE_LOCATION), Expr::col(C::Body)),
            "body",
        )
        .into_model::<Observed>()
        .all(db)
        .await
}

/// What the engine takes from a stored reading, as [`Observation::from_reading`] does
/// from a planned one.
fn observation(row: Observed) -> Option<Observation> {
    let value = match ValueKind::of_signal(&row.code)? {
        ValueKind::Number => ObservedValue::Number(row.value_num?),
        ValueKind::Bool => ObservedValue::Bool(row.value_bool?),
        ValueKind::Text => ObservedValue::Text(row.value_text?),
        ValueKind::Location => ObservedValue::location(&row.code, row.body.as_ref()?)?,
    };
    Some(Observation {
        at: row.oem_updated_at.and_then(|t| EpochMs::new(t).ok()),
        code: row.code,
        value,
        first_delivery: row.first_delivery,
    })
}

/// Readings of `code` whose value is of the kind the engine reads there (for a location,
/// whether it has coordinates is checked on the row, by [`observation`]).
fn of_engine_kind(code: &str) -> Condition {
    let column = match ValueKind::of_signal(code) {
        Some(ValueKind::Number) => signal_readings::Column::ValueNum,
        Some(ValueKind::Bool) => signal_readings::Column::ValueBool,
        Some(ValueKind::Text) => signal_readings::Column::ValueText,
        Some(ValueKind::Location) | None => return Condition::all(),
    };
    Condition::all().add(column.is_not_null())
}

/// The engine's input for one vehicle: its successful readings of the signals it uses.
pub async fn observations(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
) -> Result<Vec<Observation>, DbErr> {
    let query = signal_readings::Entity::find()
        .filter(signal_readings::Column::VehicleId.eq(vehicle_id.as_str()))
        .filter(signal_readings::Column::Code.is_in(ENGINE_CODES))
        .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
        .order_by_asc(signal_readings::Column::OemUpdatedAt)
        .order_by_asc(signal_readings::Column::Id);
    let rows = observed(db, query).await?;
    Ok(rows.into_iter().filter_map(observation).collect())
}

/// The row of a derived session. What pricing found for the row it replaces (the same
/// id) is carried over, so a page never shows it unpriced while it waits; it is due for
/// pricing again (a new stamp) unless nothing pricing or its load (`site_load`) reads
/// has changed: neither its own columns nor the readings in its span, which changed if
/// new ones arrived from `new_from` (`None`: from any time) before its end.
fn active_model(
    vehicle_id: &VehicleId,
    s: &Session,
    previous: Option<&sessions::Model>,
    new_from: Option<i64>,
) -> sessions::ActiveModel {
    let ms = |t: Option<EpochMs>| t.map(EpochMs::as_millis);
    let curve = (!s.energy_curve.is_empty())
        .then(|| serde_json::to_value(&s.energy_curve).unwrap_or_default());
    let intervals = serde_json::to_value(&s.intervals).unwrap_or_default();
    let end = s.ended_at.unwrap_or(s.last_reading_at).as_millis();
    let readings_same = new_from.is_some_and(|from| from > end);
    let unchanged = readings_same
        && previous.is_some_and(|old| {
            old.ended_at == ms(s.ended_at)
                && old.last_reading_at == s.last_reading_at.as_millis()
                && old.energy_added_kwh == s.energy_added_kwh
                && old.charger_type == s.charger_type
                && old.latitude == s.latitude
                && old.longitude == s.longitude
                && old.energy_curve == curve
                && old.intervals == intervals
                && old.avg_power_kw == s.avg_power_kw
        });
    let pricing_due = match previous {
        Some(old) if unchanged => old.pricing_due,
        _ => Some(super::pricing::due_stamp()),
    };
    let kept = |f: fn(&sessions::Model) -> Option<String>| previous.and_then(f);
    sessions::ActiveModel {
        id: Set(s.id.clone()),
        vehicle_id: Set(vehicle_id.to_string()),
        status: Set(s.status),
        started_at: Set(s.started_at.as_millis()),
        ended_at: Set(ms(s.ended_at)),
        start_observed: Set(s.start_observed),
        end_inferred: Set(s.end_inferred),
        duration_s: Set(s.duration_s()),
        plugged_in_at: Set(ms(s.plugged_in_at)),
        unplugged_at: Set(ms(s.unplugged_at)),
        last_reading_at: Set(s.last_reading_at.as_millis()),
        soc_start: Set(s.soc_start),
        soc_end: Set(s.soc_end),
        range_start_km: Set(s.range_start_km),
        range_end_km: Set(s.range_end_km),
        energy_added_kwh: Set(s.energy_added_kwh),
        energy_source: Set(s.energy_source),
        max_power_kw: Set(s.max_power_kw),
        avg_power_kw: Set(s.avg_power_kw),
        charge_limit_percent: Set(s.charge_limit_percent),
        charger_type: Set(s.charger_type),
        latitude: Set(s.latitude),
        longitude: Set(s.longitude),
        intervals: Set(intervals),
        energy_curve: Set(curve),
        place_id: Set(kept(|old| old.place_id.clone())),
        grid_energy_kwh: Set(previous.and_then(|old| old.grid_energy_kwh)),
        cost_amount: Set(kept(|old| old.cost_amount.clone())),
        cost_currency: Set(kept(|old| old.cost_currency.clone())),
        tariff_id: Set(kept(|old| old.tariff_id.clone())),
        cost_breakdown: Set(previous.and_then(|old| old.cost_breakdown.clone())),
        pricing_due: Set(pricing_due),
        cost_minor: Set(previous.and_then(|old| old.cost_minor)),
    }
}

pub use crate::domain::sessions::Touched;

/// What newly stored readings (of the deliveries `delivery_row_ids`) can change: the
/// rule is `domain::sessions::touched`; this reads what it needs from the database (the
/// largest stored static capacity, and the stored readings at the new readings' times).
pub async fn touched(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    delivery_row_ids: &[i64],
    new_rows: &[signal_readings::Model],
) -> Result<Touched, DbErr> {
    use crate::domain::sessions::{new_capacity, repeat_times};
    use sea_orm::QuerySelect;
    let new: Vec<Observation> = new_rows
        .iter()
        .filter(|r| r.status == ReadingStatus::Ok && ENGINE_CODES.contains(&r.code.as_str()))
        .filter_map(|r| observation(r.into()))
        .collect();
    let capacity_covered = match new_capacity(&new) {
        None => true,
        // Any stored static capacity at least as large means this one changes nothing.
        Some(largest) => signal_readings::Entity::find()
            .select_only()
            .column(signal_readings::Column::Id)
            .filter(signal_readings::Column::VehicleId.eq(vehicle_id.as_str()))
            .filter(Expr::cust(CAPACITY_ROWS))
            .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
            .filter(signal_readings::Column::ValueNum.gte(largest))
            .filter(
                signal_readings::Column::DeliveryRowId.is_not_in(delivery_row_ids.iter().copied()),
            )
            .limit(1)
            .into_tuple::<i64>()
            .one(db)
            .await?
            .is_some(),
    };
    let times = repeat_times(&new);
    let stored: Vec<Observation> = if !capacity_covered || times.is_empty() {
        Vec::new()
    } else {
        let query = signal_readings::Entity::find()
            .filter(signal_readings::Column::VehicleId.eq(vehicle_id.as_str()))
            .filter(signal_readings::Column::Code.is_in(ENGINE_CODES))
            .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
            .filter(signal_readings::Column::OemUpdatedAt.is_in(times))
            .filter(
                signal_readings::Column::DeliveryRowId.is_not_in(delivery_row_ids.iter().copied()),
            );
        observed(db, query)
            .await?
            .into_iter()
            .filter_map(observation)
            .collect()
    };
    Ok(crate::domain::sessions::touched(
        &new,
        capacity_covered,
        &stored,
    ))
}

/// Brings the vehicle's sessions up to date after readings from `touched` on arrived:
/// sessions that started before the stored session containing (or preceding) the
/// earliest new reading cannot change and are left alone; the rest are re-derived.
/// Returns how many sessions were written. The energy they move is noted in `ledger`,
/// which the caller writes before its commit.
pub async fn update_vehicle(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    touched: Touched,
    config: &EngineConfig,
    as_of: EpochMs,
    ledger: &mut EnergyLedger,
) -> Result<usize, DbErr> {
    use sea_orm::QuerySelect;
    let earliest = match touched {
        Touched::Nothing => return Ok(0),
        Touched::Everything => {
            return rederive_vehicle(db, vehicle_id, config, as_of, ledger).await
        }
        Touched::From(t) => t.as_millis(),
    };
    let anchor = sessions::Entity::find()
        .filter(sessions::Column::VehicleId.eq(vehicle_id.as_str()))
        .filter(sessions::Column::StartedAt.lte(earliest))
        .order_by_desc(sessions::Column::StartedAt)
        .limit(1)
        .one(db)
        .await?;
    let Some(anchor) = anchor else {
        return rederive_vehicle(db, vehicle_id, config, as_of, ledger).await;
    };
    let Ok(from) = EpochMs::new(anchor.started_at) else {
        return rederive_vehicle(db, vehicle_id, config, as_of, ledger).await;
    };
    let resume = Resume {
        from,
        plugged_in_at: anchor.plugged_in_at.and_then(|t| EpochMs::new(t).ok()),
    };
    let input = resume_input(db, vehicle_id, from.as_millis()).await?;
    let derived = derive_from(vehicle_id.as_str(), &input, config, as_of, resume);
    let span = Replaced {
        from: Some(from.as_millis()),
        new_readings_from: Some(earliest),
    };
    replace(db, vehicle_id, span, &derived, ledger).await?;
    Ok(derived.len())
}

/// Which stored sessions a derivation replaces, and why.
#[derive(Debug, Clone, Copy)]
struct Replaced {
    /// Those that start at or after this (all if `None`).
    from: Option<i64>,
    /// The earliest of the readings that made it (`None`: the whole history was read).
    new_readings_from: Option<i64>,
}

/// Replaces the vehicle's sessions that start at or after `span.from` with `derived`,
/// noting the difference in the fleet's energy `ledger`; a session that is gone is taken
/// out of its place's load. A stored row that the derivation gives again unchanged (the
/// common case: a delivery after a vehicle's last session re-derives that session as it
/// was) is left as it is: no write, no index entry, no energy moved.
async fn replace(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    span: Replaced,
    derived: &[Session],
    ledger: &mut EnergyLedger,
) -> Result<(), DbErr> {
    use sea_orm::TryIntoModel;
    let mut old =
        sessions::Entity::find().filter(sessions::Column::VehicleId.eq(vehicle_id.as_str()));
    if let Some(from) = span.from {
        old = old.filter(sessions::Column::StartedAt.gte(from));
    }
    let old: Vec<sessions::Model> = old.all(db).await?;
    let previous: std::collections::HashMap<&str, &sessions::Model> =
        old.iter().map(|row| (row.id.as_str(), row)).collect();
    let mut fresh: Vec<sessions::ActiveModel> = Vec::with_capacity(derived.len());
    let mut same: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for session in derived {
        let before = previous.get(session.id.as_str()).copied();
        let row = active_model(vehicle_id, session, before, span.new_readings_from);
        if before.is_some_and(|old| row.clone().try_into_model().is_ok_and(|new| new == *old)) {
            same.insert(session.id.as_str());
            continue;
        }
        ledger.add(Counted {
            started_at: session.started_at.as_millis(),
            ended_at: session
                .ended_at
                .unwrap_or(session.last_reading_at)
                .as_millis(),
            energy_kwh: session.energy_added_kwh,
            curve: &session.energy_curve,
        });
        fresh.push(row);
    }
    let replaced: Vec<&sessions::Model> = old
        .iter()
        .filter(|row| !same.contains(row.id.as_str()))
        .collect();
    for row in &replaced {
        let curve = curve_points(row.energy_curve.as_ref());
        ledger.remove(Counted {
            started_at: row.started_at,
            ended_at: row.ended_at.unwrap_or(row.last_reading_at),
            energy_kwh: row.energy_added_kwh,
            curve: &curve,
        });
    }
    for chunk in replaced.chunks(INSERT_CHUNK) {
        sessions::Entity::delete_many()
            .filter(sessions::Column::Id.is_in(chunk.iter().map(|row| row.id.as_str())))
            .exec(db)
            .await?;
    }
    let kept: std::collections::HashSet<&str> = derived.iter().map(|s| s.id.as_str()).collect();
    let gone: Vec<&str> = old
        .iter()
        .map(|row| row.id.as_str())
        .filter(|id| !kept.contains(id))
        .collect();
    super::site_load::forget(db, &gone).await?;
    // Chunks keep each statement well under the databases' bind-parameter limits
    // (32766 on SQLite, 65535 on PostgreSQL) however many sessions a vehicle has.
    let mut fresh = fresh.into_iter().peekable();
    while fresh.peek().is_some() {
        sessions::Entity::insert_many(fresh.by_ref().take(INSERT_CHUNK))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// What [`derive_from`] needs: every reading from `from` on, each signal's last reading
/// before it, and the distinct readings without a time.
async fn resume_input(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    from: i64,
) -> Result<Vec<Observation>, DbErr> {
    use sea_orm::QuerySelect;
    let base = || {
        signal_readings::Entity::find()
            .filter(signal_readings::Column::VehicleId.eq(vehicle_id.as_str()))
            .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
    };
    let mut rows = observed(
        db,
        base()
            .filter(signal_readings::Column::Code.is_in(ENGINE_CODES))
            .filter(signal_readings::Column::OemUpdatedAt.gte(from)),
    )
    .await?;
    // The latest reading before the resume point that carries a value of the kind the
    // engine reads from its signal (a `null` body is stored but tells the engine nothing,
    // and so does a text where a bool belongs), for every signal at once. Several
    // readings can share that time (retries, conflicting values): take them all, the
    // engine settles ties by value.
    use sea_orm::QueryTrait;
    // One statement for all signals, one round trip instead of twelve. Each part walks
    // the (vehicle, code, OEM time) index backwards from the resume point and stops at
    // the first usable reading (`ORDER BY … DESC LIMIT 1`, wrapped so it may sit in a
    // UNION), so it costs the same however long the history; a `MAX()` with these
    // filters would read every earlier reading of the signal.
    let mut parts = ENGINE_CODES.iter().enumerate().map(|(i, code)| {
        let latest = base()
            .select_only()
            .expr_as(Expr::val(*code), "code")
            .column_as(signal_readings::Column::OemUpdatedAt, "last")
            .filter(signal_readings::Column::Code.eq(*code))
            .filter(signal_readings::Column::OemUpdatedAt.lt(from))
            .filter(of_engine_kind(code))
            .order_by_desc(signal_readings::Column::OemUpdatedAt)
            .limit(1)
            .into_query();
        sea_orm::sea_query::Query::select()
            .column(sea_orm::sea_query::Asterisk)
            .from_subquery(latest, sea_orm::sea_query::Alias::new(format!("p{i}")))
            .to_owned()
    });
    let mut union = parts
        .next()
        .unwrap_or_else(|| unreachable!("ENGINE_CODES is not empty"));
    for part in parts {
        union.union(sea_orm::sea_query::UnionType::All, part);
    }
    let mut latest: Vec<(String, Option<i64>)> = Vec::new();
    for row in db.query_all(&union).await? {
        latest.push((row.try_get("", "code")?, row.try_get("", "last")?));
    }
    let pairs: Vec<(String, i64)> = latest
        .into_iter()
        .filter_map(|(code, last)| Some((code, last?)))
        .collect();
    let mut observations: Vec<Observation> = Vec::new();
    if !pairs.is_empty() {
        // `code IN … AND time IN …` probes the (vehicle, code, OEM time) index at each
        // pair; an OR of (code AND time) pairs would read all of the vehicle's readings.
        // The cross product's extra rows are dropped here.
        let codes: Vec<&str> = pairs.iter().map(|(code, _)| code.as_str()).collect();
        let times: Vec<i64> = pairs.iter().map(|(_, last)| *last).collect();
        let query = base()
            .filter(signal_readings::Column::Code.is_in(codes))
            .filter(signal_readings::Column::OemUpdatedAt.is_in(times));
        let found: Vec<Observation> = observed(db, query)
            .await?
            .into_iter()
            .filter(|row| {
                pairs
                    .iter()
                    .any(|(code, last)| *code == row.code && Some(*last) == row.oem_updated_at)
            })
            .filter_map(observation)
            .collect();
        // A signal whose latest such readings still give the engine nothing (a location
        // without coordinates) is looked up further back, one step at a time.
        for (code, last) in &pairs {
            if !found.iter().any(|o| o.code == *code) {
                observations.extend(usable_before(db, vehicle_id, code, *last).await?);
            }
        }
        observations.extend(found);
    }
    // Of the readings without a time, the engine only uses the largest capacity.
    let capacity = base()
        .filter(Expr::cust(CAPACITY_ROWS))
        .filter(signal_readings::Column::ValueNum.is_not_null())
        .order_by_desc(signal_readings::Column::ValueNum)
        .limit(1);
    let capacity = observed(db, capacity).await?;
    rows.extend(capacity);
    observations.extend(rows.into_iter().filter_map(observation));
    Ok(observations)
}

/// The latest usable readings of one signal before `bound`, looking back at most 16
/// distinct times.
async fn usable_before(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    code: &str,
    mut bound: i64,
) -> Result<Vec<Observation>, DbErr> {
    use sea_orm::QuerySelect;
    let base = || {
        signal_readings::Entity::find()
            .filter(signal_readings::Column::VehicleId.eq(vehicle_id.as_str()))
            .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
            .filter(signal_readings::Column::Code.eq(code))
    };
    for _ in 0..16 {
        let last: Option<Option<i64>> = base()
            .select_only()
            .column_as(signal_readings::Column::OemUpdatedAt.max(), "last")
            .filter(signal_readings::Column::OemUpdatedAt.lt(bound))
            .filter(of_engine_kind(code))
            .into_tuple()
            .one(db)
            .await?;
        let Some(Some(last)) = last else { break };
        let query = base().filter(signal_readings::Column::OemUpdatedAt.eq(last));
        let usable: Vec<Observation> = observed(db, query)
            .await?
            .into_iter()
            .filter_map(observation)
            .collect();
        if !usable.is_empty() {
            return Ok(usable);
        }
        bound = last;
    }
    Ok(Vec::new())
}

/// Replaces the vehicle's stored sessions with a fresh derivation; returns how many.
pub async fn rederive_vehicle(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    config: &EngineConfig,
    as_of: EpochMs,
    ledger: &mut EnergyLedger,
) -> Result<usize, DbErr> {
    let input = observations(db, vehicle_id).await?;
    let derived = derive(vehicle_id.as_str(), &input, config, as_of);
    let span = Replaced {
        from: None,
        new_readings_from: None,
    };
    replace(db, vehicle_id, span, &derived, ledger).await?;
    Ok(derived.len())
}

/// A stored energy curve (`sessions.energy_curve`) as points; none when absent or unreadable.
pub fn curve_points(stored: Option<&serde_json::Value>) -> Vec<(i64, f64)> {
    stored
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default()
}

/// A stored row back as the domain's session.
pub fn from_row(row: &sessions::Model) -> Option<Session> {
    let ms = |t: Option<i64>| t.and_then(|t| EpochMs::new(t).ok());
    Some(Session {
        id: row.id.clone(),
        status: row.status,
        started_at: EpochMs::new(row.started_at).ok()?,
        ended_at: ms(row.ended_at),
        start_observed: row.start_observed,
        end_inferred: row.end_inferred,
        plugged_in_at: ms(row.plugged_in_at),
        unplugged_at: ms(row.unplugged_at),
        last_reading_at: EpochMs::new(row.last_reading_at).ok()?,
        intervals: serde_json::from_value(row.intervals.clone()).unwrap_or_default(),
        soc_start: row.soc_start,
        soc_end: row.soc_end,
        range_start_km: row.range_start_km,
        range_end_km: row.range_end_km,
        energy_added_kwh: row.energy_added_kwh,
        energy_source: row.energy_source,
        energy_curve: curve_points(row.energy_curve.as_ref()),
        max_power_kw: row.max_power_kw,
        avg_power_kw: row.avg_power_kw,
        charge_limit_percent: row.charge_limit_percent,
        charger_type: row.charger_type,
        latitude: row.latitude,
        longitude: row.longitude,
    })
}

/// Which of a vehicle's sessions to list: started in `[from, to)`, older than the
/// cursor, newest first.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only sessions that started before this (the previous page's last start).
    pub before: Option<i64>,
    /// Only sessions at this place, or at none.
    pub place: Option<PlaceScope>,
    pub limit: u64,
}

/// Sessions at one place (its id), or at no place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceScope {
    At(String),
    Nowhere,
}

impl PlaceScope {
    /// `none`, or a place's id.
    pub fn parse(raw: &str) -> Option<PlaceScope> {
        match raw.trim() {
            "" => None,
            "none" => Some(PlaceScope::Nowhere),
            id => Some(PlaceScope::At(id.to_owned())),
        }
    }

    fn condition(&self) -> sea_orm::Condition {
        let column = sessions::Column::PlaceId;
        sea_orm::Condition::all().add(match self {
            PlaceScope::At(id) => column.eq(id.as_str()),
            PlaceScope::Nowhere => column.is_null(),
        })
    }
}

pub async fn list(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    filter: SessionFilter,
) -> Result<Vec<sessions::Model>, DbErr> {
    use sea_orm::QuerySelect;
    let mut query =
        sessions::Entity::find().filter(sessions::Column::VehicleId.eq(vehicle_id.as_str()));
    if let Some(from) = filter.from {
        query = query.filter(sessions::Column::StartedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(sessions::Column::StartedAt.lt(to));
    }
    if let Some(before) = filter.before {
        query = query.filter(sessions::Column::StartedAt.lt(before));
    }
    if let Some(place) = &filter.place {
        query = query.filter(place.condition());
    }
    query
        .order_by_desc(sessions::Column::StartedAt)
        .limit(filter.limit)
        .all(db)
        .await
}

/// Where an export left off: the last row's start and id.
pub type ExportCursor = (i64, String);

/// One chunk of an export, newest first, of one vehicle's sessions or the whole fleet's,
/// started in `[from, to)`; and where the next chunk starts. Rows are ordered by start and
/// then id, so sessions of different vehicles that start at the same moment are neither
/// lost nor repeated between chunks.
#[allow(
    clippy::too_many_arguments,
    reason = "one row's columns, named at the call"
)]
pub async fn export_chunk(
    db: &impl ConnectionTrait,
    vehicle_id: Option<&VehicleId>,
    from: Option<i64>,
    to: Option<i64>,
    place: Option<&PlaceScope>,
    after: Option<ExportCursor>,
    limit: u64,
    config: &EngineConfig,
    now: EpochMs,
) -> Result<(Vec<crate::wire::SessionDto>, Option<ExportCursor>), DbErr> {
    use sea_orm::sea_query::Condition;
    use sea_orm::QuerySelect;
    use sessions::Column as C;
    let mut query = sessions::Entity::find();
    if let Some(vehicle_id) = vehicle_id {
        query = query.filter(C::VehicleId.eq(vehicle_id.as_str()));
    }
    if let Some(from) = from {
        query = query.filter(C::StartedAt.gte(from));
    }
    if let Some(to) = to {
        query = query.filter(C::StartedAt.lt(to));
    }
    if let Some(place) = place {
        query = query.filter(place.condition());
    }
    if let Some((started_at, id)) = after {
        query = query.filter(
            Condition::any().add(C::StartedAt.lt(started_at)).add(
                Condition::all()
                    .add(C::StartedAt.eq(started_at))
                    .add(C::Id.lt(id)),
            ),
        );
    }
    let rows = query
        .order_by_desc(C::StartedAt)
        .order_by_desc(C::Id)
        .limit(limit)
        .all(db)
        .await?;
    let next = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|r| (r.started_at, r.id.clone())))
        .flatten();
    Ok((dtos(db, &rows, config, now).await?, next))
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Option<sessions::Model>, DbErr> {
    sessions::Entity::find_by_id(id.to_owned()).one(db).await
}

/// The charge curve: one sample per reading time in `[start, end]`.
pub async fn samples(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    start: i64,
    end: i64,
) -> Result<Vec<crate::wire::Sample>, DbErr> {
    use crate::wire::Sample;
    let codes = [
        signals::STATE_OF_CHARGE,
        signals::WATTAGE,
        signals::ENERGY_ADDED,
        signals::VOLTAGE,
        signals::AMPERAGE,
    ];
    let rows = signal_readings::Entity::find()
        .filter(signal_readings::Column::VehicleId.eq(vehicle_id.as_str()))
        .filter(signal_readings::Column::Code.is_in(codes))
        .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
        .filter(signal_readings::Column::OemUpdatedAt.between(start, end))
        .order_by_asc(signal_readings::Column::OemUpdatedAt)
        .order_by_asc(signal_readings::Column::Id)
        .all(db)
        .await?;
    let mut out: Vec<Sample> = Vec::new();
    for row in rows {
        let (Some(at), Some(value)) = (row.oem_updated_at, row.value_num) else {
            continue;
        };
        let Ok(at) = EpochMs::new(at) else { continue };
        let at = at.to_datetime();
        if out.last().map(|s| s.at) != Some(at) {
            out.push(Sample {
                at,
                soc_percent: None,
                power_kw: None,
                energy_added_kwh: None,
                voltage_v: None,
                current_a: None,
            });
        }
        let Some(sample) = out.last_mut() else {
            continue;
        };
        match row.code.as_str() {
            signals::STATE_OF_CHARGE => sample.soc_percent = Some(value),
            signals::WATTAGE => sample.power_kw = Some(value / 1000.0),
            signals::ENERGY_ADDED => sample.energy_added_kwh = Some(value),
            signals::VOLTAGE => sample.voltage_v = Some(value),
            signals::AMPERAGE => sample.current_a = Some(value),
            _ => {}
        }
    }
    Ok(out)
}

/// A vehicle's energy added per bucket of `[from, to)` in `tz`, counted in the bucket
/// where it was added (by each session's energy curve), and its sessions in the bucket
/// where they started. The first bucket starts where the bucket holding `from` does.
pub async fn energy_series(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    bucket: crate::domain::buckets::Bucket,
    tz: chrono_tz::Tz,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<crate::wire::EnergyBucket>, DbErr> {
    use crate::domain::buckets::{bucket_start, sum_buckets, EnergySum};
    use crate::domain::pricing::curve::EnergyCurve;
    use sea_orm::QuerySelect;
    type Row = (
        i64,
        Option<i64>,
        i64,
        Option<f64>,
        Option<serde_json::Value>,
    );
    let first = bucket_start(bucket, tz, from);
    let rows: Vec<Row> = sessions::Entity::find()
        .select_only()
        .columns([
            sessions::Column::StartedAt,
            sessions::Column::EndedAt,
            sessions::Column::LastReadingAt,
            sessions::Column::EnergyAddedKwh,
            sessions::Column::EnergyCurve,
        ])
        .filter(sessions::Column::VehicleId.eq(vehicle_id.as_str()))
        .filter(
            sessions::Column::StartedAt.gte(first.timestamp_millis() - super::reports::LOOKBACK_MS),
        )
        .filter(sessions::Column::StartedAt.lt(to.timestamp_millis()))
        .into_tuple()
        .all(db)
        .await?;
    let at = chrono::DateTime::from_timestamp_millis;
    let mut sums = Vec::new();
    for (started, ended, last, kwh, points) in rows {
        let (Some(start), Some(end)) = (at(started), at(ended.unwrap_or(last))) else {
            continue;
        };
        sums.push(EnergySum {
            at: start,
            energy_kwh: 0.0,
            sessions: 1,
        });
        let Some(kwh) = kwh.filter(|e| e.is_finite() && *e > 0.0) else {
            continue;
        };
        let points = curve_points(points.as_ref());
        let curve = EnergyCurve::of_session(start, end, kwh, &points);
        sums.extend(
            curve
                .by_bucket(bucket, tz)
                .into_iter()
                .map(|(at, energy_kwh)| EnergySum {
                    at,
                    energy_kwh,
                    sessions: 0,
                }),
        );
    }
    Ok(sum_buckets(bucket, tz, first, to, &sums))
}

/// Sessions stored as charging that have heard nothing for the stale time:
/// `(vehicle_id, started_at)`.
pub async fn gone_silent(
    db: &impl ConnectionTrait,
    config: &EngineConfig,
    now: EpochMs,
) -> Result<Vec<(VehicleId, i64)>, DbErr> {
    use sea_orm::QuerySelect;
    sessions::Entity::find()
        .select_only()
        .column(sessions::Column::VehicleId)
        .column(sessions::Column::StartedAt)
        .filter(sessions::Column::Status.eq(crate::domain::sessions::SessionStatus::Charging))
        .filter(sessions::Column::LastReadingAt.lt(config.stale_before(now.as_millis())))
        .into_tuple()
        .all(db)
        .await
}

fn dto(
    row: &sessions::Model,
    config: &EngineConfig,
    now: EpochMs,
) -> Option<crate::wire::SessionDto> {
    let session = from_row(row);
    if session.is_none() {
        tracing::error!(session_id = %row.id, "stored session has values the domain refuses; skipped");
    }
    Some(crate::wire::SessionDto::from_session(
        &row.vehicle_id,
        &session?,
        config,
        now,
    ))
}

/// The rows as the API shows them, with their place and cost.
async fn dtos(
    db: &impl ConnectionTrait,
    rows: &[sessions::Model],
    config: &EngineConfig,
    now: EpochMs,
) -> Result<Vec<crate::wire::SessionDto>, DbErr> {
    let (mut out, kept): (Vec<_>, Vec<_>) = rows
        .iter()
        .filter_map(|r| Some((dto(r, config, now)?, r)))
        .unzip();
    super::places::annotate(db, &mut out, &kept).await?;
    Ok(out)
}

/// One page of a vehicle's sessions, newest first, with the cursor for the next page.
pub async fn page(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    filter: SessionFilter,
    config: &EngineConfig,
    now: EpochMs,
) -> Result<crate::wire::SessionPage, DbErr> {
    let limit = filter.limit.max(1);
    // One more than asked tells whether another page exists.
    let rows = list(
        db,
        vehicle_id,
        SessionFilter {
            limit: limit + 1,
            ..filter
        },
    )
    .await?;
    let next_cursor = (rows.len() as u64 > limit)
        .then(|| {
            rows.get(limit as usize - 1)
                .map(|r| r.started_at.to_string())
        })
        .flatten();
    let shown = &rows[..rows.len().min(limit as usize)];
    Ok(crate::wire::SessionPage {
        sessions: dtos(db, shown, config, now).await?,
        next_cursor,
    })
}

/// A session with its charge curve; `None` if there is no such session.
pub async fn detail(
    db: &impl ConnectionTrait,
    id: &str,
    config: &EngineConfig,
    now: EpochMs,
) -> Result<Option<crate::wire::SessionDetail>, DbErr> {
    let Some(row) = get(db, id).await? else {
        return Ok(None);
    };
    let Some(session) = dtos(db, std::slice::from_ref(&row), config, now)
        .await?
        .pop()
    else {
        return Ok(None);
    };
    let end = row.ended_at.unwrap_or(row.last_reading_at);
    let vehicle_id = VehicleId::parse(&row.vehicle_id).map_err(|e| DbErr::Type(e.to_string()))?;
    let samples = samples(db, &vehicle_id, row.started_at, end).await?;
    let deliveries = super::events::for_window(db, &vehicle_id, row.started_at, end).await?;
    Ok(Some(crate::wire::SessionDetail {
        session,
        samples,
        deliveries,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_reads_one_kind_of_value_from_each_signal_it_loads() {
        for code in ENGINE_CODES {
            assert!(ValueKind::of_signal(code).is_some(), "{code}");
        }
    }

    #[test]
    fn the_capacity_rows_are_the_static_readings_of_the_capacity_signal() {
        let code = format!("code = '{}'", signals::NOMINAL_CAPACITY);
        assert!(CAPACITY_ROWS.contains(&code), "{CAPACITY_ROWS}");
    }
}
