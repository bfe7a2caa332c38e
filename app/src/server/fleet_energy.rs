//! The fleet's energy, kept as sums per quarter hour (`fleet_energy`), so the fleet's
//! chart and totals cost the same at 100 vehicles and at 10 000. A session's energy
//! counts in the quarter hours it was added in (spread by its energy curve, [`spread`]),
//! and the session itself in the quarter hour it started in.
//!
//! Every write of sessions goes through [`EnergyLedger`]: the sessions a derivation
//! replaces are taken out, the new ones put in, and the differences written in one
//! statement per slot, in slot order, at the end of the caller's transaction (two
//! processes that touch the same slots then lock them in the same order). Energy is
//! counted in whole watt-hours, each session rounded once and its parts rounded so they
//! add up to that, so the sums stay exact however many times a session is replaced, and
//! equal the sessions' own sum. When the way sessions are counted changes, [`VERSION`]
//! changes, and the next start rebuilds the sums ([`rebuild_if_outdated`]).

use super::entities::{fleet_energy, sessions};
use crate::domain::buckets::{sum_buckets, Bucket, EnergySum};
use crate::domain::pricing::curve::EnergyCurve;
use crate::wire::EnergyBucket;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::BTreeMap;

/// A quarter hour: every time zone's offset is a whole number of them, so slots add up
/// to any zone's days (the migration that built the table cuts them the same way).
pub const SLOT_MS: i64 = 15 * 60 * 1000;

/// The slot holding the instant `at` (epoch ms).
pub fn slot_of(at: i64) -> i64 {
    at.div_euclid(SLOT_MS) * SLOT_MS
}

/// How sessions are counted into the slots; a change rebuilds them at the next start.
/// 1: energy by session start; 2: energy where it was added.
pub const VERSION: i32 = 2;

/// A session as the ledger counts it.
#[derive(Debug, Clone, Copy)]
pub struct Counted<'a> {
    pub started_at: i64,
    /// Its end, or its last reading while it charges.
    pub ended_at: i64,
    pub energy_kwh: Option<f64>,
    /// The energy added so far at instants (epoch ms); empty when not kept.
    pub curve: &'a [(i64, f64)],
}

/// A session's whole watt-hours per slot, in the slots it added them in: its energy in
/// time ([`EnergyCurve::of_session`]) cut at the slots' edges, each part rounded so that
/// the parts add up to the session's rounded total exactly.
pub fn spread(session: Counted) -> Vec<(i64, i64)> {
    let total = watt_hours(session.energy_kwh);
    let (start, end) = (session.started_at, session.ended_at.max(session.started_at));
    let (first, last) = (slot_of(start), slot_of(end));
    let at = DateTime::<Utc>::from_timestamp_millis;
    let (Some(from), Some(to)) = (at(start), at(end)) else {
        return vec![(first, total)];
    };
    let kwh = session.energy_kwh.filter(|e| e.is_finite() && *e > 0.0);
    let (Some(kwh), true) = (kwh, first != last) else {
        return vec![(first, total)];
    };
    let curve = EnergyCurve::of_session(from, to, kwh, session.curve);
    let whole = curve.total();
    if whole <= 0.0 {
        return vec![(first, total)];
    }
    let slots: Vec<i64> = (first..=last).step_by(SLOT_MS as usize).collect();
    let mut cuts: Vec<DateTime<Utc>> = slots.iter().filter_map(|&s| at(s)).collect();
    cuts.push(to.max(curve.span().map_or(to, |(_, e)| e)));
    let (mut added, mut counted) = (0.0, 0);
    let mut out = Vec::with_capacity(slots.len());
    for (slot, part) in slots.into_iter().zip(curve.split(&cuts)) {
        added += part;
        let so_far = ((added / whole) * total as f64).round() as i64;
        out.push((slot, so_far - counted));
        counted = so_far;
    }
    if let Some(last) = out.last_mut() {
        last.1 += total - counted;
    }
    out.retain(|&(_, wh)| wh != 0);
    out
}

/// A session's energy as counted here: whole watt-hours.
pub fn watt_hours(kwh: Option<f64>) -> i64 {
    (kwh.unwrap_or(0.0) * 1000.0).round() as i64
}

/// Changes to the slots, gathered over a transaction.
#[derive(Debug, Default)]
pub struct EnergyLedger {
    slots: BTreeMap<i64, (i64, i64)>,
}

impl EnergyLedger {
    /// A stored session, about to be deleted.
    pub fn remove(&mut self, session: Counted) {
        self.count(session, -1);
    }

    /// A session, about to be inserted.
    pub fn add(&mut self, session: Counted) {
        self.count(session, 1);
    }

    fn count(&mut self, session: Counted, sign: i64) {
        self.slots.entry(slot_of(session.started_at)).or_default().1 += sign;
        for (slot, wh) in spread(session) {
            self.slots.entry(slot).or_default().0 += sign * wh;
        }
    }

    /// Writes the differences (those that are not zero), in slot order, and empties
    /// the ledger.
    pub async fn write(&mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let changes: Vec<(i64, (i64, i64))> = std::mem::take(&mut self.slots)
            .into_iter()
            .filter(|(_, change)| *change != (0, 0))
            .collect();
        use fleet_energy::Column as C;
        for chunk in changes.chunks(500) {
            let rows = chunk
                .iter()
                .map(|(slot, (wh, n))| fleet_energy::ActiveModel {
                    slot: Set(*slot),
                    energy_wh: Set(*wh),
                    sessions: Set(*n),
                });
            fleet_energy::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(C::Slot)
                        .value(
                            C::EnergyWh,
                            Expr::cust("fleet_energy.energy_wh + excluded.energy_wh"),
                        )
                        .value(
                            C::Sessions,
                            Expr::cust("fleet_energy.sessions + excluded.sessions"),
                        )
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }
}

/// The fleet's energy in `[from, to)` per quarter hour.
pub async fn slots(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<EnergySum>, DbErr> {
    use fleet_energy::Column as C;
    let rows = fleet_energy::Entity::find()
        .filter(C::Slot.gte(slot_of(from.timestamp_millis())))
        .filter(C::Slot.lt(to.timestamp_millis()))
        .filter(
            sea_orm::Condition::any()
                .add(C::Sessions.ne(0))
                .add(C::EnergyWh.ne(0)),
        )
        .order_by_asc(C::Slot)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(EnergySum {
                at: DateTime::<Utc>::from_timestamp_millis(row.slot)?,
                energy_kwh: row.energy_wh as f64 / 1000.0,
                sessions: row.sessions,
            })
        })
        .collect())
}

/// The fleet's energy per `bucket` of `[from, to)` in `tz`, from the slots.
pub async fn series(
    db: &impl ConnectionTrait,
    bucket: Bucket,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<EnergyBucket>, DbErr> {
    let slots = slots(db, from, to).await?;
    Ok(sum_buckets(bucket, tz, from, to, &slots))
}

/// The name of the slots' row in `rebuilds`.
const REBUILD: &str = "fleet_energy";
/// Sessions read per query while rebuilding.
const REBUILD_CHUNK: u64 = 2_000;

/// Rebuilds the slots from every session when they were counted by an older
/// [`VERSION`] (after an upgrade); returns how many sessions were counted (0: they were
/// current). One transaction, which first takes the slots' table for itself, so a
/// process writing sessions meanwhile waits and then applies its difference on top.
pub async fn rebuild_if_outdated(db: &sea_orm::DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::QuerySelect;
    let Some(txn) = super::rebuilds::begin(db, REBUILD, "fleet_energy", VERSION).await? else {
        return Ok(0);
    };
    fleet_energy::Entity::delete_many().exec(&txn).await?;
    type Row = (
        String,
        i64,
        Option<i64>,
        i64,
        Option<f64>,
        Option<serde_json::Value>,
    );
    let mut ledger = EnergyLedger::default();
    let (mut after, mut counted) = (String::new(), 0);
    loop {
        let rows: Vec<Row> = sessions::Entity::find()
            .select_only()
            .columns([
                sessions::Column::Id,
                sessions::Column::StartedAt,
                sessions::Column::EndedAt,
                sessions::Column::LastReadingAt,
                sessions::Column::EnergyAddedKwh,
                sessions::Column::EnergyCurve,
            ])
            .filter(sessions::Column::Id.gt(after.as_str()))
            .order_by_asc(sessions::Column::Id)
            .limit(REBUILD_CHUNK)
            .into_tuple()
            .all(&txn)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.0.clone();
        for (_, started_at, ended_at, last_reading_at, energy_kwh, curve) in &rows {
            let curve = super::sessions::curve_points(curve.as_ref());
            ledger.add(Counted {
                started_at: *started_at,
                ended_at: ended_at.unwrap_or(*last_reading_at),
                energy_kwh: *energy_kwh,
                curve: &curve,
            });
            counted += 1;
        }
    }
    ledger.write(&txn).await?;
    super::rebuilds::finish(txn, REBUILD, VERSION).await?;
    Ok(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_quarter_hours_and_energy_whole_watt_hours() {
        assert_eq!(slot_of(0), 0);
        assert_eq!(slot_of(SLOT_MS - 1), 0);
        assert_eq!(slot_of(SLOT_MS + 5), SLOT_MS);
        assert_eq!(watt_hours(Some(12.3456)), 12_346);
        assert_eq!(watt_hours(None), 0);
    }

    fn at(started_at: i64, ended_at: i64, kwh: f64) -> Counted<'static> {
        Counted {
            started_at,
            ended_at,
            energy_kwh: Some(kwh),
            curve: &[],
        }
    }

    #[test]
    fn replacing_a_session_leaves_only_its_difference() {
        let mut ledger = EnergyLedger::default();
        ledger.remove(at(1_000, 2_000, 10.0));
        ledger.add(at(1_000, 2_000, 12.5));
        ledger.remove(at(SLOT_MS * 4, SLOT_MS * 6, 3.0));
        ledger.add(at(SLOT_MS * 4, SLOT_MS * 6, 3.0));
        let changes: Vec<_> = ledger.slots.iter().filter(|(_, c)| **c != (0, 0)).collect();
        assert_eq!(changes, [(&0, &(2_500, 0))]);
    }

    #[test]
    fn energy_counts_in_the_quarter_hours_it_was_added_in() {
        // 10 kWh evenly from 00:10 to 00:40: 5 minutes, 15 minutes and 10 minutes.
        let minute = 60_000;
        let even = spread(at(10 * minute, 40 * minute, 10.0));
        assert_eq!(even, [(0, 1_667), (SLOT_MS, 5_000), (2 * SLOT_MS, 3_333)]);
        // By its curve: all of it in the last ten minutes.
        let curve = [(10 * minute, 0.0), (30 * minute, 0.0), (40 * minute, 4.0)];
        let late = spread(Counted {
            curve: &curve,
            ..at(10 * minute, 40 * minute, 10.0)
        });
        assert_eq!(late, [(2 * SLOT_MS, 10_000)]);
        // Parts always add up to the rounded total; unknown energy counts nothing.
        for kwh in [0.0004, 0.0016, 7.7777, 123.4567] {
            let parts = spread(at(3 * minute, 17 * SLOT_MS + 4 * minute, kwh));
            assert_eq!(
                parts.iter().map(|p| p.1).sum::<i64>(),
                watt_hours(Some(kwh)),
                "{kwh}"
            );
        }
        assert_eq!(
            spread(Counted {
                energy_kwh: None,
                ..at(0, SLOT_MS * 3, 0.0)
            }),
            [(0, 0)]
        );
    }
}
