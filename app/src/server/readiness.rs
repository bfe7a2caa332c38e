//! The readiness board's rows: each vehicle's verdict (`domain::readiness`) from what it
//! last reported, its schedule, where it is and its own history, stored so that the
//! board reads one page at a time by urgency. A vehicle is evaluated when a delivery
//! about it is applied, and again when time alone can change its verdict (`due_at`: its
//! departure passes, or silence sets in), or when a schedule changes (`mark_all_due`).

use super::entities::{places, readiness, sessions, vehicle_latest, vehicles};
use super::{alerts, schedules};
use crate::domain::alerts::MIN_SESSIONS_FOR_MEDIAN;
use crate::domain::ids::VehicleId;
use crate::domain::places::{place_of, Place};
use crate::domain::readiness::{
    assess, profile, Input, Need, PastSession, Silence, Snapshot, Status, HISTORY_SESSIONS,
};
use crate::domain::sessions::SessionStatus;
use crate::domain::signals;
use crate::wire::{PlaceRef, ReadinessItem, StatusCount};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Iterable, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use std::collections::HashMap;

/// Vehicles evaluated per pass of the background task.
pub const BATCH: u64 = 200;

fn at(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// The codes a snapshot reads beyond the fleet row.
const CODES: [&str; 4] = [
    signals::STATE_OF_CHARGE,
    signals::CHARGE_LIMITS,
    signals::ACTIVE_LIMIT,
    signals::NOMINAL_CAPACITY,
];

/// The newest of the two charge-limit codes (Smartcar sends one or the other).
fn charge_limit(latest: &[vehicle_latest::Model]) -> Option<f64> {
    latest
        .iter()
        .filter(|row| row.code == signals::CHARGE_LIMITS || row.code == signals::ACTIVE_LIMIT)
        .filter(|row| row.value_num.is_some())
        .max_by_key(|row| row.oem_updated_at.unwrap_or(0))
        .and_then(|row| row.value_num)
}

fn snapshot(vehicle: &vehicles::Model, latest: &[vehicle_latest::Model]) -> Snapshot {
    let code = |c: &str| latest.iter().find(|row| row.code == c);
    let soc_at = code(signals::STATE_OF_CHARGE)
        .and_then(|row| row.oem_updated_at)
        .filter(|t| *t > 0)
        .or(vehicle.updated_at)
        .unwrap_or(vehicle.last_delivery_at);
    Snapshot {
        soc: vehicle.soc_percent,
        soc_at: at(soc_at),
        plugged: vehicle.is_plugged_in,
        charging: vehicle.is_charging,
        power_kw: vehicle.power_kw,
        charge_limit: charge_limit(latest),
        capacity_kwh: code(signals::NOMINAL_CAPACITY).and_then(|row| row.value_num),
        // How old the data is: the newest time any of it was true (a delivery made
        // today of a state from March is March's), else when it arrived.
        last_heard: at(vehicle.updated_at.unwrap_or(vehicle.last_delivery_at)),
    }
}

/// The vehicle's newest completed sessions (that ended before `before`, when given: what
/// was known then, for a backtest).
pub async fn history(
    db: &impl ConnectionTrait,
    id: &str,
    before: Option<i64>,
) -> Result<Vec<PastSession>, DbErr> {
    type Row = (
        String,
        Option<String>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<serde_json::Value>,
    );
    let rows: Vec<Row> = sessions::Entity::find()
        .select_only()
        .columns([
            sessions::Column::Id,
            sessions::Column::PlaceId,
            sessions::Column::SocStart,
            sessions::Column::SocEnd,
            sessions::Column::EnergyAddedKwh,
            sessions::Column::AvgPowerKw,
            sessions::Column::EnergyCurve,
        ])
        .filter(sessions::Column::VehicleId.eq(id))
        .filter(sessions::Column::Status.eq(SessionStatus::Completed))
        .apply_if(before, |q, before| {
            q.filter(sessions::Column::EndedAt.lt(before))
        })
        .order_by_desc(sessions::Column::StartedAt)
        .limit(HISTORY_SESSIONS)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, place_id, soc_start, soc_end, energy_kwh, avg_power_kw, curve)| PastSession {
                id,
                place_id,
                soc_start,
                soc_end,
                energy_kwh,
                avg_power_kw,
                curve: super::sessions::curve_points(curve.as_ref()),
            },
        )
        .collect())
}

/// When time alone can change a verdict: the departure passing, or silence setting in
/// (if it has not yet).
fn due_at(
    snapshot: &Snapshot,
    next_departure: Option<i64>,
    silence: &Silence,
    now: DateTime<Utc>,
) -> Option<i64> {
    let silent_at = snapshot.last_heard.map(|heard| {
        let limit = if snapshot.plugged == Some(true) {
            silence.plugged
        } else {
            silence.unplugged
        };
        (heard + limit).timestamp_millis() + 1
    });
    [next_departure, silent_at]
        .into_iter()
        .flatten()
        .filter(|t| *t > now.timestamp_millis())
        .min()
}

/// Evaluates `ids` at `now`: stores their verdicts and brings their alerts in line
/// (vehicles never heard from are skipped). Reads every place: operators keep at most a
/// few thousand.
pub async fn evaluate(
    db: &impl ConnectionTrait,
    ids: &[VehicleId],
    now: DateTime<Utc>,
) -> Result<alerts::Changes, DbErr> {
    if ids.is_empty() {
        return Ok(alerts::Changes::default());
    }
    let rules = alerts::settings(db).await?;
    let silence = &rules.silence();
    let keys: Vec<&str> = ids.iter().map(VehicleId::as_str).collect();
    let fleet_rows = vehicles::Entity::find()
        .filter(vehicles::Column::Id.is_in(keys.iter().copied()))
        .all(db)
        .await?;
    let mut latest: HashMap<String, Vec<vehicle_latest::Model>> = HashMap::new();
    for row in vehicle_latest::Entity::find()
        .filter(vehicle_latest::Column::VehicleId.is_in(keys.iter().copied()))
        .filter(vehicle_latest::Column::Code.is_in(CODES))
        .all(db)
        .await?
    {
        latest.entry(row.vehicle_id.clone()).or_default().push(row);
    }
    let schedules = schedules::of_vehicles(db, ids).await?;
    let places: Vec<Place> = places::Entity::find()
        .order_by_asc(places::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(super::pricing::place)
        .collect();
    let mut gathered = alerts::gather(db, &fleet_rows).await?;
    let mut rows = Vec::with_capacity(fleet_rows.len());
    let mut holding = HashMap::new();
    for vehicle in fleet_rows {
        let Ok(id) = VehicleId::parse(&vehicle.id) else {
            continue;
        };
        let snapshot = snapshot(&vehicle, latest.get(&vehicle.id).map_or(&[], Vec::as_slice));
        let place = vehicle
            .latitude
            .zip(vehicle.longitude)
            .and_then(|at| place_of(&places, at));
        let past = history(db, &vehicle.id, None).await?;
        let profile = profile(&past, place.map(|p| p.id.as_str()));
        let schedule = schedules.get(&id).map(|(schedule, _)| schedule);
        let need = schedule.and_then(|s| {
            Some(Need {
                departure: s.next_departure(now)?,
                required_soc: f64::from(s.required_soc),
            })
        });
        let verdict = assess(now, need, &snapshot, &profile, silence);
        let next_departure = need.map(|n| n.departure.timestamp_millis());

        // The alert rules, from the same facts and a few more.
        let last = gathered.last_sessions.remove(&vehicle.id).and_then(|row| {
            let place = row
                .latitude
                .zip(row.longitude)
                .and_then(|at| place_of(&places, at));
            let need_at_end = row.ended_at.and_then(at).and_then(|ended| {
                let s = schedule?;
                Some(Need {
                    departure: s.next_departure(ended)?,
                    required_soc: f64::from(s.required_soc),
                })
            });
            let median = median_power_at(&past, &row, place.map(|p| p.id.as_str()));
            alerts::last_session(&row, place, need_at_end, median)
        });
        let entries = gathered.errors.remove(&vehicle.id).unwrap_or_default();
        let open_errors = crate::domain::alerts::open_errors(&entries);
        let facts = crate::domain::alerts::Facts {
            snapshot: &snapshot,
            need,
            place_kind: place.map(|p| p.kind),
            place_name: place.map(|p| p.name.as_str()),
            idle_since: gathered.idle_since.get(&vehicle.id).copied(),
            last_session: last.as_ref(),
            errors: &open_errors,
        };
        holding.insert(
            vehicle.id.clone(),
            crate::domain::alerts::conditions(now, &facts, &rules),
        );
        let alert_change =
            crate::domain::alerts::next_change(now, &facts, &rules).map(|t| t.timestamp_millis());
        let (predicted_soc, confidence, inputs) = match &verdict.predicted {
            Some(p) => (
                Some(p.soc),
                Some(p.confidence),
                p.inputs
                    .iter()
                    .map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            None => (None, None, String::new()),
        };
        rows.push(readiness::ActiveModel {
            vehicle_id: Set(vehicle.id.clone()),
            status: Set(verdict.status),
            rank: Set(verdict.status as i32),
            sort_at: Set(next_departure.unwrap_or(i64::MAX)),
            next_departure: Set(next_departure),
            required_soc: Set(need.map(|n| n.required_soc)),
            soc: Set(snapshot.soc),
            soc_at: Set(snapshot.soc_at.map(|t| t.timestamp_millis())),
            predicted_soc: Set(predicted_soc),
            confidence: Set(confidence),
            inputs: Set(inputs),
            place_id: Set(place.map(|p| p.id.clone())),
            plugged: Set(snapshot.plugged),
            charging: Set(snapshot.charging),
            power_kw: Set(snapshot.power_kw),
            charge_limit: Set(snapshot.charge_limit),
            latitude: Set(vehicle.latitude),
            longitude: Set(vehicle.longitude),
            last_heard: Set(snapshot.last_heard.map(|t| t.timestamp_millis())),
            due_at: Set([
                due_at(&snapshot, next_departure, silence, now),
                alert_change,
            ]
            .into_iter()
            .flatten()
            .min()),
            evaluated_at: Set(now.timestamp_millis()),
        });
    }
    // 21 columns a row: well under SQLite's parameter limit in chunks of 500.
    for chunk in rows.chunks(500) {
        readiness::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(readiness::Column::VehicleId)
                    .update_columns(
                        readiness::Column::iter()
                            .filter(|c| !matches!(c, readiness::Column::VehicleId)),
                    )
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    alerts::reconcile(db, &holding, now).await
}

/// The vehicle's median average power over its earlier completed sessions at the place
/// of `session` (not counting it), when it has [`MIN_SESSIONS_FOR_MEDIAN`] of them.
fn median_power_at(
    past: &[PastSession],
    session: &sessions::Model,
    place_id: Option<&str>,
) -> Option<f64> {
    let place_id = place_id?;
    let powers: Vec<f64> = past
        .iter()
        .filter(|p| p.id != session.id && p.place_id.as_deref() == Some(place_id))
        .filter_map(|p| p.avg_power_kw)
        .filter(|p| *p > 0.0)
        .collect();
    if powers.len() < MIN_SESSIONS_FOR_MEDIAN {
        return None;
    }
    crate::domain::readiness::median(powers)
}

/// Every verdict is evaluated again on the next pass (a schedule or place changed).
pub async fn mark_all_due(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    readiness::Entity::update_many()
        .col_expr(readiness::Column::DueAt, Expr::value(0_i64))
        .exec(db)
        .await?;
    Ok(())
}

/// The vehicles whose verdict is due at `now` (and, with `missing`, those never
/// evaluated), at most [`BATCH`].
pub async fn due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    missing: bool,
) -> Result<Vec<VehicleId>, DbErr> {
    let mut ids: Vec<String> = readiness::Entity::find()
        .select_only()
        .column(readiness::Column::VehicleId)
        .filter(readiness::Column::DueAt.lte(now.timestamp_millis()))
        .order_by_asc(readiness::Column::DueAt)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?;
    if missing && (ids.len() as u64) < BATCH {
        let missing: Vec<String> = vehicles::Entity::find()
            .select_only()
            .column(vehicles::Column::Id)
            .filter(
                vehicles::Column::Id.not_in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(readiness::Column::VehicleId)
                        .from(readiness::Entity)
                        .to_owned(),
                ),
            )
            .limit(BATCH - ids.len() as u64)
            .into_tuple()
            .all(db)
            .await?;
        ids.extend(missing);
    }
    Ok(ids
        .into_iter()
        .filter_map(|id| VehicleId::parse(&id).ok())
        .collect())
}

/// Passes of [`evaluate_due`]: a fleet of 20 000 vehicles all due at once (after a
/// change of the fleet's schedule) is done in one call; a larger one in the next.
const MAX_PASSES: usize = 100;

/// Evaluates what is due (with `missing`, what was never evaluated too) until nothing
/// is; returns how many verdicts were written.
pub async fn evaluate_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    missing: bool,
) -> Result<usize, DbErr> {
    let mut total = 0;
    for _ in 0..MAX_PASSES {
        let ids = due(db, now, missing).await?;
        if ids.is_empty() {
            return Ok(total);
        }
        evaluate(db, &ids, now).await?;
        total += ids.len();
        if (ids.len() as u64) < BATCH {
            break;
        }
    }
    Ok(total)
}

/// A stored verdict's inputs, read back.
pub fn inputs_of(row: &readiness::Model) -> Vec<Input> {
    row.inputs.split(',').filter_map(Input::parse).collect()
}

/// Where a board page ends: the last row's rank, departure and id (`2.1765000000000.id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    rank: i32,
    sort_at: i64,
    vehicle_id: String,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let mut parts = text.splitn(3, '.');
        let rank = parts.next()?.parse().ok()?;
        let sort_at = parts.next()?.parse().ok()?;
        let vehicle_id = parts.next().filter(|v| !v.is_empty())?.to_owned();
        Some(Cursor {
            rank,
            sort_at,
            vehicle_id,
        })
    }

    fn of(row: &readiness::Model) -> Cursor {
        Cursor {
            rank: row.rank,
            sort_at: row.sort_at,
            vehicle_id: row.vehicle_id.clone(),
        }
    }

    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.rank, self.sort_at, self.vehicle_id)
    }
}

pub(super) fn vehicle_name(row: &vehicles::Model) -> Option<String> {
    let parts: Vec<String> = [
        row.make.clone(),
        row.model.clone(),
        row.year.map(|y| y.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// One page of the board, most urgent first (only `status`, when given), after `cursor`.
pub async fn page(
    db: &impl ConnectionTrait,
    status: Option<Status>,
    cursor: Option<&Cursor>,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<(Vec<ReadinessItem>, Option<String>), DbErr> {
    use readiness::Column as C;
    let mut query = readiness::Entity::find()
        .order_by_asc(C::Rank)
        .order_by_asc(C::SortAt)
        .order_by_asc(C::VehicleId);
    if let Some(status) = status {
        query = query.filter(C::Rank.eq(status as i32));
    }
    if let Some(c) = cursor {
        query = query.filter(
            Condition::any().add(C::Rank.gt(c.rank)).add(
                Condition::all().add(C::Rank.eq(c.rank)).add(
                    Condition::any().add(C::SortAt.gt(c.sort_at)).add(
                        Condition::all()
                            .add(C::SortAt.eq(c.sort_at))
                            .add(C::VehicleId.gt(c.vehicle_id.as_str())),
                    ),
                ),
            ),
        );
    }
    let mut rows = query.limit(limit + 1).all(db).await?;
    let next = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|row| Cursor::of(row).encode())
    });
    let items = items(db, rows, now).await?;
    Ok((items, next.flatten()))
}

/// Stored verdicts as the board shows them, with the vehicles' names and places.
async fn items(
    db: &impl ConnectionTrait,
    rows: Vec<readiness::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<ReadinessItem>, DbErr> {
    let ids: Vec<&str> = rows.iter().map(|r| r.vehicle_id.as_str()).collect();
    let names: HashMap<String, Option<String>> = vehicles::Entity::find()
        .filter(vehicles::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.id.clone(), vehicle_name(&v)))
        .collect();
    let place_ids: Vec<&str> = rows.iter().filter_map(|r| r.place_id.as_deref()).collect();
    let places: HashMap<String, PlaceRef> = places::Entity::find()
        .filter(places::Column::Id.is_in(place_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| {
            let place = PlaceRef {
                id: p.id.clone(),
                name: p.name,
                kind: p.kind,
            };
            (p.id, place)
        })
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| ReadinessItem {
            name: names.get(&row.vehicle_id).cloned().flatten(),
            status: row.status,
            next_departure: row.next_departure.and_then(at),
            required_soc: row.required_soc,
            soc_now: row.soc,
            soc_at: row.soc_at.and_then(at),
            predicted_soc: row.predicted_soc,
            confidence: row.confidence,
            inputs: inputs_of(&row),
            plugged: row.plugged,
            charging: row.charging,
            power_kw: row.power_kw,
            charge_limit: row.charge_limit,
            place: row.place_id.as_ref().and_then(|id| places.get(id).cloned()),
            latitude: row.latitude,
            longitude: row.longitude,
            data_age_s: row
                .last_heard
                .map(|heard| ((now.timestamp_millis() - heard) / 1000).max(0)),
            evaluated_at: at(row.evaluated_at).unwrap_or(now),
            vehicle_id: row.vehicle_id,
        })
        .collect())
}

/// One vehicle's verdict, if it has been evaluated.
pub async fn item(
    db: &impl ConnectionTrait,
    id: &VehicleId,
    now: DateTime<Utc>,
) -> Result<Option<ReadinessItem>, DbErr> {
    let rows: Vec<readiness::Model> = readiness::Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .into_iter()
        .collect();
    Ok(items(db, rows, now).await?.pop())
}

/// How many vehicles have each status (those with none are left out), in board order.
pub async fn counts(db: &impl ConnectionTrait) -> Result<Vec<StatusCount>, DbErr> {
    let rows: Vec<(Status, i64)> = readiness::Entity::find()
        .select_only()
        .column(readiness::Column::Status)
        .column_as(readiness::Column::VehicleId.count(), "n")
        .group_by(readiness::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts: Vec<StatusCount> = rows
        .into_iter()
        .map(|(status, n)| StatusCount {
            status,
            vehicles: u64::try_from(n).unwrap_or(0),
        })
        .collect();
    counts.sort_by_key(|c| c.status);
    Ok(counts)
}
