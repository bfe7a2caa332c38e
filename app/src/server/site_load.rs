//! The load of each place, kept as sessions are priced, and read back for the load page.
//!
//! Writing: when the pricer stores a session's place ([`super::pricing::price_due`]),
//! the session's power over time (`domain::site_load::profile`, from its wattage
//! readings, energy samples or average) is cut into 5-minute slices of the clock and
//! stored in `session_load`; what the session held before is taken out of `place_load`
//! and what it holds now added, in the pricer's transaction. Energies are integers (mWh),
//! so taking out gives back exactly what was put in: any order of changes ends where a
//! rebuild from scratch does. A session the engine drops (merged into another) is taken
//! out by [`forget`], in the engine's transaction; a deleted place's rows by
//! [`drop_place`].

use super::entities::{place_load, session_load, sessions, signal_readings};
use crate::domain::reading::ReadingStatus;
use crate::domain::signals;
use crate::domain::site_load::query::LocalDays;
use crate::domain::site_load::{self, MinuteEnergy, Recorded, MINUTE_MS};
use crate::wire::{
    CapFigures, LoadInterval, LoadPeak, PeakPeriod, PeakVehicle, PlaceLoad, SitePeak, SitePeaks,
    WhatIf,
};
use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap};

/// The slices the load is kept in: 5 minutes, the shortest interval the page offers.
pub const SLICE_MS: i64 = 5 * MINUTE_MS;
/// mWh in a kWh.
pub const MWH_PER_KWH: f64 = 1_000_000.0;

/// A session's energy per slice (its start, epoch ms), by source (mWh, in the order of
/// `PowerSource::ALL`).
pub type Slices = BTreeMap<i64, [i64; 3]>;

/// Minutes (kWh) summed into slices and rounded to whole mWh; slices left empty by the
/// rounding are dropped.
pub fn slices(minutes: &BTreeMap<i64, MinuteEnergy>) -> Slices {
    let mut kwh: BTreeMap<i64, MinuteEnergy> = BTreeMap::new();
    for (&minute, energy) in minutes {
        let slice = kwh
            .entry(minute.div_euclid(SLICE_MS) * SLICE_MS)
            .or_default();
        for (sum, e) in slice.iter_mut().zip(energy) {
            *sum += e;
        }
    }
    kwh.into_iter()
        .map(|(slice, e)| (slice, e.map(|e| (e * MWH_PER_KWH).round() as i64)))
        .filter(|(_, mwh)| mwh.iter().sum::<i64>() > 0)
        .collect()
}

/// The session's `Charge.Wattage` readings over its span: (epoch ms, kW).
async fn wattage(
    db: &impl ConnectionTrait,
    row: &sessions::Model,
) -> Result<Vec<(i64, f64)>, DbErr> {
    use sea_orm::QuerySelect;
    let end = row.ended_at.unwrap_or(row.last_reading_at);
    let rows: Vec<(Option<i64>, Option<f64>)> = signal_readings::Entity::find()
        .select_only()
        .column(signal_readings::Column::OemUpdatedAt)
        .column(signal_readings::Column::ValueNum)
        .filter(signal_readings::Column::VehicleId.eq(row.vehicle_id.as_str()))
        .filter(signal_readings::Column::Code.eq(signals::WATTAGE))
        .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
        .filter(signal_readings::Column::OemUpdatedAt.between(row.started_at, end))
        .order_by_asc(signal_readings::Column::OemUpdatedAt)
        .order_by_asc(signal_readings::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(at, w)| Some((at?, w? / 1000.0)))
        .filter(|(_, kw)| kw.is_finite())
        .collect())
}

/// A stored session's energy per slice, from what is stored of it.
pub async fn session_slices(
    db: &impl ConnectionTrait,
    row: &sessions::Model,
) -> Result<Slices, DbErr> {
    let Some(session) = super::sessions::from_row(row) else {
        return Ok(Slices::new());
    };
    let until = row.ended_at.unwrap_or(row.last_reading_at);
    let charging: Vec<(i64, i64)> = session
        .intervals
        .iter()
        .map(|i| {
            let start = i.start.as_millis();
            (start, i.end.map_or(until, |e| e.as_millis()).max(start))
        })
        .collect();
    let wattage = wattage(db, row).await?;
    let pieces = site_load::profile(&Recorded {
        charging: &charging,
        wattage: &wattage,
        energy_curve: &session.energy_curve,
        energy_kwh: row.energy_added_kwh,
        avg_power_kw: row.avg_power_kw,
    });
    Ok(slices(&site_load::minutes(&pieces)))
}

/// Changes to `place_load`: per (place, slice), sessions and mWh by source.
#[derive(Debug, Default)]
struct Deltas(BTreeMap<(String, i64), [i64; 4]>);

impl Deltas {
    fn add(&mut self, place: &str, slice: i64, mwh: [i64; 3], sign: i64) {
        let entry = self.0.entry((place.to_owned(), slice)).or_default();
        entry[0] += sign;
        for (sum, e) in entry[1..].iter_mut().zip(mwh) {
            *sum += sign * e;
        }
    }

    /// Adds the changes, in key order (so writers of several processes lock shared rows
    /// in the same order), and deletes the slices left without a session.
    async fn write(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        use place_load::Column as C;
        let changes: Vec<_> = self.0.into_iter().filter(|(_, d)| *d != [0; 4]).collect();
        if changes.is_empty() {
            return Ok(());
        }
        let rows: Vec<place_load::ActiveModel> = changes
            .iter()
            .map(|((place, slice), d)| place_load::ActiveModel {
                place_id: Set(place.clone()),
                slice_ms: Set(*slice),
                vehicles: Set(d[0]),
                wattage_mwh: Set(d[1]),
                samples_mwh: Set(d[2]),
                average_mwh: Set(d[3]),
            })
            .collect();
        // 6 parameters a row: well inside SQLite's 32 766.
        for chunk in rows.chunks(2_000) {
            place_load::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([C::PlaceId, C::SliceMs])
                        .value(
                            C::Vehicles,
                            Expr::cust("place_load.vehicles + excluded.vehicles"),
                        )
                        .value(
                            C::WattageMwh,
                            Expr::cust("place_load.wattage_mwh + excluded.wattage_mwh"),
                        )
                        .value(
                            C::SamplesMwh,
                            Expr::cust("place_load.samples_mwh + excluded.samples_mwh"),
                        )
                        .value(
                            C::AverageMwh,
                            Expr::cust("place_load.average_mwh + excluded.average_mwh"),
                        )
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
        // Per place, the slices it changed that no session holds any more.
        let mut spans: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for ((place, slice), _) in &changes {
            let span = spans.entry(place.as_str()).or_insert((*slice, *slice));
            span.0 = span.0.min(*slice);
            span.1 = span.1.max(*slice);
        }
        for (place, (first, last)) in spans {
            place_load::Entity::delete_many()
                .filter(C::PlaceId.eq(place))
                .filter(C::SliceMs.between(first, last))
                .filter(C::Vehicles.lte(0))
                .exec(db)
                .await?;
        }
        Ok(())
    }
}

/// Takes what the sessions `ids` held out of `place_load` and deletes their rows.
async fn take_out(
    db: &impl ConnectionTrait,
    ids: &[&str],
    deltas: &mut Deltas,
) -> Result<(), DbErr> {
    for chunk in ids.chunks(500) {
        let old = session_load::Entity::find()
            .filter(session_load::Column::SessionId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        if old.is_empty() {
            continue;
        }
        for row in &old {
            deltas.add(
                &row.place_id,
                row.slice_ms,
                [row.wattage_mwh, row.samples_mwh, row.average_mwh],
                -1,
            );
        }
        session_load::Entity::delete_many()
            .filter(session_load::Column::SessionId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// A session's load as the pricer just placed it: its id, vehicle, place (if any), and
/// slices (empty without a place).
pub struct Placed {
    pub session_id: String,
    pub vehicle_id: String,
    pub place_id: Option<String>,
    pub slices: Slices,
}

/// Replaces what the sessions held with what they hold now, in `place_load` too.
pub async fn store(db: &impl ConnectionTrait, placed: &[Placed]) -> Result<(), DbErr> {
    let mut deltas = Deltas::default();
    let ids: Vec<&str> = placed.iter().map(|p| p.session_id.as_str()).collect();
    take_out(db, &ids, &mut deltas).await?;
    let mut rows: Vec<session_load::ActiveModel> = Vec::new();
    for p in placed {
        let Some(place) = &p.place_id else { continue };
        for (&slice, &mwh) in &p.slices {
            deltas.add(place, slice, mwh, 1);
            rows.push(session_load::ActiveModel {
                place_id: Set(place.clone()),
                slice_ms: Set(slice),
                session_id: Set(p.session_id.clone()),
                vehicle_id: Set(p.vehicle_id.clone()),
                wattage_mwh: Set(mwh[0]),
                samples_mwh: Set(mwh[1]),
                average_mwh: Set(mwh[2]),
            });
        }
    }
    // 7 parameters a row.
    for chunk in rows.chunks(2_000) {
        session_load::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    deltas.write(db).await
}

/// Sessions that no longer exist: what they held is taken out.
pub async fn forget(db: &impl ConnectionTrait, session_ids: &[&str]) -> Result<(), DbErr> {
    if session_ids.is_empty() {
        return Ok(());
    }
    let mut deltas = Deltas::default();
    take_out(db, session_ids, &mut deltas).await?;
    deltas.write(db).await
}

/// A deleted place: its load goes with it (its sessions are due, and priced elsewhere or
/// nowhere, with nothing left to take out here).
pub async fn drop_place(db: &impl ConnectionTrait, place_id: &str) -> Result<(), DbErr> {
    session_load::Entity::delete_many()
        .filter(session_load::Column::PlaceId.eq(place_id))
        .exec(db)
        .await?;
    place_load::Entity::delete_many()
        .filter(place_load::Column::PlaceId.eq(place_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A place's name and zone (its own, else `default_zone`), if it exists.
pub async fn place_zone(
    db: &impl ConnectionTrait,
    place_id: &str,
    default_zone: chrono_tz::Tz,
) -> Result<Option<(String, chrono_tz::Tz)>, DbErr> {
    let found = super::entities::places::Entity::find_by_id(place_id.to_owned())
        .one(db)
        .await?;
    Ok(found.map(|p| {
        let zone = p.timezone.parse().unwrap_or(default_zone);
        (p.name, zone)
    }))
}

/// `[from, to)` in epoch ms: the first instant of `days.from` to the first of the day
/// after `days.to`, in `tz`.
pub fn span_ms(days: LocalDays, tz: chrono_tz::Tz) -> (i64, i64) {
    use crate::domain::buckets::day_start;
    let next = days.to + chrono::Days::new(1);
    (
        day_start(tz, days.from).timestamp_millis(),
        day_start(tz, next).timestamp_millis(),
    )
}

/// One interval as summed from `place_load`.
#[derive(Debug, Clone, PartialEq)]
struct Summed {
    start_ms: i64,
    vehicles: i64,
    mwh: [i64; 3],
}

/// The place's slices in `[from_ms, to_ms)` summed into intervals of `length_ms`, in
/// time order, by the database.
async fn summed(
    db: &impl ConnectionTrait,
    place_id: &str,
    (from_ms, to_ms): (i64, i64),
    length_ms: i64,
) -> Result<Vec<Summed>, DbErr> {
    use place_load::Column as C;
    use sea_orm::QuerySelect;
    let start = format!("slice_ms - (slice_ms % {length_ms})");
    let rows: Vec<(i64, i64, i64, i64, i64)> = place_load::Entity::find()
        .select_only()
        .column_as(Expr::cust(start.clone()), "start")
        .column_as(Expr::cust("MAX(vehicles)"), "vehicles")
        .column_as(Expr::cust("CAST(SUM(wattage_mwh) AS BIGINT)"), "w")
        .column_as(Expr::cust("CAST(SUM(samples_mwh) AS BIGINT)"), "s")
        .column_as(Expr::cust("CAST(SUM(average_mwh) AS BIGINT)"), "a")
        .filter(C::PlaceId.eq(place_id))
        .filter(C::SliceMs.gte(from_ms))
        .filter(C::SliceMs.lt(to_ms))
        .group_by(Expr::cust(start.clone()))
        .order_by_asc(Expr::cust(start))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(start_ms, vehicles, w, s, a)| Summed {
            start_ms,
            vehicles,
            mwh: [w, s, a],
        })
        .collect())
}

fn kwh(mwh: i64) -> f64 {
    mwh as f64 / MWH_PER_KWH
}

fn at(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The highest interval of each local day or month (the earliest of equal ones).
fn peaks_of(summed: &[Summed], tz: chrono_tz::Tz, period: PeakPeriod) -> Vec<(NaiveDate, &Summed)> {
    use chrono::Datelike;
    let mut best: BTreeMap<NaiveDate, &Summed> = BTreeMap::new();
    for s in summed {
        let day = at(s.start_ms).with_timezone(&tz).date_naive();
        let key = match period {
            PeakPeriod::Day => day,
            PeakPeriod::Month => day.with_day(1).unwrap_or(day),
        };
        let total: i64 = s.mwh.iter().sum();
        if best
            .get(&key)
            .is_none_or(|b| b.mwh.iter().sum::<i64>() < total)
        {
            best.insert(key, s);
        }
    }
    best.into_iter().collect()
}

/// Ranges up to this many days list the vehicles of every day's peak; longer ones only
/// those of each month's.
pub const DAILY_VEHICLES_DAYS: i64 = 31;

/// The vehicles that drew in each of the intervals starting at `starts`: per start, (vehicle,
/// mWh), most first.
async fn drew_in(
    db: &impl ConnectionTrait,
    place_id: &str,
    starts: &[i64],
    length_ms: i64,
) -> Result<HashMap<i64, Vec<(String, i64)>>, DbErr> {
    let slices: Vec<i64> = starts
        .iter()
        .flat_map(|s| (0..length_ms / SLICE_MS).map(move |k| s + k * SLICE_MS))
        .collect();
    let mut per: HashMap<i64, BTreeMap<String, i64>> = HashMap::new();
    let start = format!("slice_ms - (slice_ms % {length_ms})");
    for chunk in slices.chunks(5_000) {
        use sea_orm::QuerySelect;
        // Summed per interval and vehicle by the database: a row per vehicle, not per slice.
        let rows: Vec<(i64, String, i64)> = session_load::Entity::find()
            .select_only()
            .column_as(Expr::cust(start.clone()), "start")
            .column(session_load::Column::VehicleId)
            .column_as(
                Expr::cust("CAST(SUM(wattage_mwh + samples_mwh + average_mwh) AS BIGINT)"),
                "mwh",
            )
            .filter(session_load::Column::PlaceId.eq(place_id))
            .filter(session_load::Column::SliceMs.is_in(chunk.iter().copied()))
            .group_by(Expr::cust(start.clone()))
            .group_by(session_load::Column::VehicleId)
            .into_tuple()
            .all(db)
            .await?;
        for (start, vehicle, mwh) in rows {
            *per.entry(start).or_default().entry(vehicle).or_default() += mwh;
        }
    }
    Ok(per
        .into_iter()
        .map(|(start, vehicles)| {
            let mut list: Vec<(String, i64)> = vehicles.into_iter().collect();
            list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            (start, list)
        })
        .collect())
}

/// Display names of vehicles.
async fn names(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, String>, DbErr> {
    use super::entities::vehicles;
    let ids: Vec<String> = ids
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(1_000) {
        for row in vehicles::Entity::find()
            .filter(vehicles::Column::Id.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            let name = crate::domain::fleet::vehicle_name(
                &row.id,
                row.year,
                row.make.as_deref(),
                row.model.as_deref(),
            );
            out.insert(row.id, name);
        }
    }
    Ok(out)
}

fn interval_of(s: &Summed, hours: f64) -> LoadInterval {
    let energy = kwh(s.mwh.iter().sum());
    LoadInterval {
        start: at(s.start_ms),
        avg_kw: energy / hours,
        max_vehicles: u32::try_from(s.vehicles).unwrap_or(0),
        energy_kwh: energy,
        wattage_kwh: kwh(s.mwh[0]),
        samples_kwh: kwh(s.mwh[1]),
        average_kwh: kwh(s.mwh[2]),
    }
}

/// Only the intervals of [`load`], with the place's zone (for the CSV download).
pub async fn intervals(
    db: &impl ConnectionTrait,
    place_id: &str,
    days: LocalDays,
    interval_minutes: u32,
    default_zone: chrono_tz::Tz,
) -> Result<Option<(chrono_tz::Tz, Vec<LoadInterval>)>, DbErr> {
    let Some((_, tz)) = place_zone(db, place_id, default_zone).await? else {
        return Ok(None);
    };
    let length_ms = i64::from(interval_minutes) * MINUTE_MS;
    let hours = length_ms as f64 / 3_600_000.0;
    let summed = summed(db, place_id, span_ms(days, tz), length_ms).await?;
    Ok(Some((
        tz,
        summed.iter().map(|s| interval_of(s, hours)).collect(),
    )))
}

/// The load of a place over `days` of its zone, in intervals of `interval_minutes`;
/// `None` if there is no such place.
pub async fn load(
    db: &impl ConnectionTrait,
    place_id: &str,
    days: LocalDays,
    interval_minutes: u32,
    default_zone: chrono_tz::Tz,
) -> Result<Option<PlaceLoad>, DbErr> {
    let Some((place_name, tz)) = place_zone(db, place_id, default_zone).await? else {
        return Ok(None);
    };
    let span = span_ms(days, tz);
    let length_ms = i64::from(interval_minutes) * MINUTE_MS;
    let hours = length_ms as f64 / 3_600_000.0;
    let summed = summed(db, place_id, span, length_ms).await?;

    let daily_vehicles = (days.to - days.from).num_days() < DAILY_VEHICLES_DAYS;
    let mut peaks = Vec::new();
    for period in [PeakPeriod::Day, PeakPeriod::Month] {
        let listed = period == PeakPeriod::Month || daily_vehicles;
        for (date, s) in peaks_of(&summed, tz, period) {
            peaks.push((period, date, s, listed));
        }
    }
    let starts: Vec<i64> = peaks
        .iter()
        .filter(|p| p.3)
        .map(|p| p.2.start_ms)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let drew = drew_in(db, place_id, &starts, length_ms).await?;
    let names = names(db, drew.values().flatten().map(|(v, _)| v.clone())).await?;
    let peaks = peaks
        .into_iter()
        .map(|(period, date, s, listed)| LoadPeak {
            period,
            date,
            start: at(s.start_ms),
            avg_kw: kwh(s.mwh.iter().sum()) / hours,
            vehicles_charging: u32::try_from(s.vehicles).unwrap_or(0),
            vehicles: drew
                .get(&s.start_ms)
                .filter(|_| listed)
                .into_iter()
                .flatten()
                .map(|(id, mwh)| PeakVehicle {
                    name: names.get(id).cloned().unwrap_or_else(|| id.clone()),
                    vehicle_id: id.clone(),
                    energy_kwh: kwh(*mwh),
                })
                .collect(),
        })
        .collect();

    // The heat map from the intervals: each at its start's local weekday and hour (an
    // hour-long interval lies in one local hour in every zone but those off by minutes).
    let as_minutes: BTreeMap<i64, MinuteEnergy> = summed
        .iter()
        .map(|s| (s.start_ms, s.mwh.map(kwh)))
        .collect();
    let hours_profile = site_load::hour_profile([&as_minutes], span.0, span.1, tz);

    let intervals: Vec<LoadInterval> = summed.iter().map(|s| interval_of(s, hours)).collect();
    Ok(Some(PlaceLoad {
        place_id: place_id.to_owned(),
        place_name,
        timezone: tz.name().to_owned(),
        from: days.from,
        to: days.to,
        range_start: at(span.0),
        range_end: at(span.1),
        interval_minutes,
        energy_kwh: kwh(summed.iter().flat_map(|s| s.mwh).sum()),
        intervals,
        peaks,
        weekday_hour_kw: hours_profile.avg_kw.iter().map(|d| d.to_vec()).collect(),
        hour_kwh: hours_profile.energy_kwh.to_vec(),
        pricing_pending: super::pricing::due_count(db).await?,
    }))
}

/// What-if replays computing at once in a process: the rest wait their turn.
static REPLAYS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The interval a what-if's peaks are measured over (minutes): the demand charge's.
pub const WHAT_IF_INTERVAL: i64 = 15;

/// How long a vehicle whose unplugging was never reported is taken to stay after its
/// charge ended, at most (it stays until its next session otherwise).
pub const UNREPORTED_STAY_MS: i64 = 24 * 60 * MINUTE_MS;

/// A session's id, vehicle, unplug, end and last reading (epoch ms).
type SessionEnd = (String, String, Option<i64>, Option<i64>, i64);

/// When each session's vehicle left the charger (epoch ms): when it was unplugged; else,
/// as the record says nothing of it, when its next session began, at most
/// [`UNREPORTED_STAY_MS`] after the charge ended (a depot van left plugged in after its
/// charge stops is still there; one that never reports its cable has left by its next
/// charge).
async fn departures(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, i64>, DbErr> {
    use sea_orm::QuerySelect;
    let mut leaves = HashMap::new();
    // Sessions without an unplug: (id, vehicle, end of charge).
    let mut unreported: Vec<(String, String, i64)> = Vec::new();
    for chunk in ids.chunks(1_000) {
        let found: Vec<SessionEnd> = sessions::Entity::find()
            .select_only()
            .columns([
                sessions::Column::Id,
                sessions::Column::VehicleId,
                sessions::Column::UnpluggedAt,
                sessions::Column::EndedAt,
                sessions::Column::LastReadingAt,
            ])
            .filter(sessions::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        for (id, vehicle, unplugged, ended, last) in found {
            match unplugged {
                Some(at) => {
                    leaves.insert(id, at);
                }
                None => unreported.push((id, vehicle, ended.unwrap_or(last))),
            }
        }
    }
    let (Some(first), Some(last)) = (
        unreported.iter().map(|u| u.2).min(),
        unreported.iter().map(|u| u.2).max(),
    ) else {
        return Ok(leaves);
    };
    let mut vehicles: Vec<String> = unreported.iter().map(|u| u.1.clone()).collect();
    vehicles.sort();
    vehicles.dedup();
    let mut starts: HashMap<String, Vec<i64>> = HashMap::new();
    for chunk in vehicles.chunks(1_000) {
        let found: Vec<(String, i64)> = sessions::Entity::find()
            .select_only()
            .columns([sessions::Column::VehicleId, sessions::Column::StartedAt])
            .filter(sessions::Column::VehicleId.is_in(chunk.iter().cloned()))
            .filter(sessions::Column::StartedAt.gt(first))
            .filter(sessions::Column::StartedAt.lte(last + UNREPORTED_STAY_MS))
            .into_tuple()
            .all(db)
            .await?;
        for (vehicle, started) in found {
            starts.entry(vehicle).or_default().push(started);
        }
    }
    for list in starts.values_mut() {
        list.sort_unstable();
    }
    for (id, vehicle, ended) in unreported {
        let next = starts.get(&vehicle).and_then(|list| {
            let i = list.partition_point(|&at| at <= ended);
            list.get(i).copied()
        });
        let stay = ended + UNREPORTED_STAY_MS;
        leaves.insert(id, next.map_or(stay, |at| at.min(stay)));
    }
    Ok(leaves)
}

/// The place's sessions over `days` replayed under `cap_kw`, shared equally and
/// departure-aware; `None` if there is no such place. Each session is its slices in the
/// range (a slice's energy spread evenly over its five minutes), leaving as
/// [`departures`] says.
pub async fn what_if(
    db: &impl ConnectionTrait,
    place_id: &str,
    days: LocalDays,
    cap_kw: f64,
    default_zone: chrono_tz::Tz,
) -> Result<Option<WhatIf>, DbErr> {
    use crate::domain::what_if::{self, Share};
    use sea_orm::QuerySelect;
    let Some((_, tz)) = place_zone(db, place_id, default_zone).await? else {
        return Ok(None);
    };
    let (from_ms, to_ms) = span_ms(days, tz);
    let rows: Vec<(String, i64, i64, i64, i64)> = session_load::Entity::find()
        .select_only()
        .columns([
            session_load::Column::SessionId,
            session_load::Column::SliceMs,
            session_load::Column::WattageMwh,
            session_load::Column::SamplesMwh,
            session_load::Column::AverageMwh,
        ])
        .filter(session_load::Column::PlaceId.eq(place_id))
        .filter(session_load::Column::SliceMs.gte(from_ms))
        .filter(session_load::Column::SliceMs.lt(to_ms))
        .into_tuple()
        .all(db)
        .await?;
    let mut per_session: BTreeMap<String, BTreeMap<i64, MinuteEnergy>> = BTreeMap::new();
    for (session, slice, w, s, a) in rows {
        let minutes = per_session.entry(session).or_default();
        let per_minute = kwh(w + s + a) / (SLICE_MS / MINUTE_MS) as f64;
        for k in 0..SLICE_MS / MINUTE_MS {
            minutes.insert(slice + k * MINUTE_MS, [per_minute, 0.0, 0.0]);
        }
    }
    let ids: Vec<String> = per_session.keys().cloned().collect();
    let leaves = departures(db, &ids).await?;
    let recorded: Vec<what_if::Recorded> = per_session
        .iter()
        .map(|(id, minutes)| {
            let leaves_ms = leaves.get(id).copied().unwrap_or(i64::MIN);
            what_if::Recorded::from_minutes(id, minutes, leaves_ms)
        })
        .collect();
    let sessions = u32::try_from(recorded.len()).unwrap_or(u32::MAX);
    // Seconds of CPU for a month of a large depot: one replay at a time in each process,
    // on a thread of its own, so the async workers (and the webhook) are never held up.
    let _turn = REPLAYS
        .acquire()
        .await
        .map_err(|e| DbErr::Custom(format!("what-if: {e}")))?;
    let (equal_share, departure_aware) = tokio::task::spawn_blocking(move || {
        let figures = |how| {
            let s = what_if::summarize(&recorded, cap_kw, how, WHAT_IF_INTERVAL);
            CapFigures {
                recorded_peak_kw: s.recorded_peak_kw,
                new_peak_kw: s.new_peak_kw,
                sessions_later: u32::try_from(s.sessions_later).unwrap_or(u32::MAX),
                median_delay_min: s.median_delay_min,
                worst_delay_min: s.worst_delay_min,
                sessions_short: u32::try_from(s.sessions_short).unwrap_or(u32::MAX),
                kwh_short: s.kwh_short,
            }
        };
        (figures(Share::Equal), figures(Share::SoonestFirst))
    })
    .await
    .map_err(|e| DbErr::Custom(format!("what-if replay: {e}")))?;
    Ok(Some(WhatIf {
        place_id: place_id.to_owned(),
        from: days.from,
        to: days.to,
        cap_kw,
        sessions,
        equal_share,
        departure_aware,
    }))
}

/// Places in the fleet's side-by-side view of monthly peaks.
pub const MAX_SITES: u64 = 200;

/// Every place's highest 15-minute interval in `month` (its first day), each in its own
/// zone, by name; at most [`MAX_SITES`].
pub async fn site_peaks(
    db: &impl ConnectionTrait,
    month: NaiveDate,
    default_zone: chrono_tz::Tz,
) -> Result<SitePeaks, DbErr> {
    use super::entities::places;
    use sea_orm::{PaginatorTrait, QuerySelect};
    let total = places::Entity::find().count(db).await?;
    let rows = places::Entity::find()
        .order_by_asc(places::Column::Name)
        .order_by_asc(places::Column::Id)
        .limit(MAX_SITES)
        .all(db)
        .await?;
    let last = month + chrono::Months::new(1) - chrono::Days::new(1);
    let length_ms = WHAT_IF_INTERVAL * MINUTE_MS;
    let mut out = Vec::with_capacity(rows.len());
    for place in rows {
        let tz: chrono_tz::Tz = place.timezone.parse().unwrap_or(default_zone);
        let span = span_ms(
            LocalDays {
                from: month,
                to: last,
            },
            tz,
        );
        let summed = summed(db, &place.id, span, length_ms).await?;
        let best = summed.iter().fold(None::<&Summed>, |best, s| match best {
            Some(b) if b.mwh.iter().sum::<i64>() >= s.mwh.iter().sum::<i64>() => Some(b),
            _ => Some(s),
        });
        let hours = length_ms as f64 / 3_600_000.0;
        out.push(SitePeak {
            place_id: place.id,
            name: place.name,
            kind: place.kind,
            timezone: tz.name().to_owned(),
            peak_kw: best.map(|b| kwh(b.mwh.iter().sum()) / hours),
            peak_start: best.map(|b| at(b.start_ms)),
            energy_kwh: kwh(summed.iter().flat_map(|s| s.mwh).sum()),
        });
    }
    Ok(SitePeaks {
        month,
        more: total.saturating_sub(out.len() as u64),
        places: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_sum_into_slices_of_whole_mwh() {
        let minutes: BTreeMap<i64, MinuteEnergy> = [
            (0, [0.1, 0.0, 0.0]),
            (4 * MINUTE_MS, [0.1, 0.05, 0.0]),
            (5 * MINUTE_MS, [0.0, 0.0, 0.000_000_4]),
            (11 * MINUTE_MS, [0.0, 0.0, 0.25]),
        ]
        .into_iter()
        .collect();
        let got = slices(&minutes);
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            // 0.4 mWh rounds to nothing: that slice is dropped.
            vec![(0, [200_000, 50_000, 0]), (10 * MINUTE_MS, [0, 0, 250_000])]
        );
    }
}
