//! The fleet's energy by session start, kept as sums per quarter hour
//! (`fleet_energy`), so the fleet's chart and totals cost the same at 100 vehicles and
//! at 10 000.
//!
//! Every write of sessions goes through [`EnergyLedger`]: the sessions a derivation
//! replaces are taken out, the new ones put in, and the differences written in one
//! statement per slot, in slot order, at the end of the caller's transaction (two
//! processes that touch the same slots then lock them in the same order). Energy is
//! counted in whole watt-hours, each session rounded once, so the sums stay exact
//! however many times a session is replaced, and equal the sessions' own sum.

use super::entities::fleet_energy;
use crate::domain::buckets::{sum_buckets, Bucket, EnergySum};
use crate::wire::EnergyBucket;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::BTreeMap;

/// A quarter hour: every time zone's offset is a whole number of them, so slots add up
/// to any zone's days (the migration that built the table cuts them the same way).
pub const SLOT_MS: i64 = 15 * 60 * 1000;

/// The slot a session starting at `started_at` (epoch ms) is counted in.
pub fn slot_of(started_at: i64) -> i64 {
    started_at.div_euclid(SLOT_MS) * SLOT_MS
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
    pub fn remove(&mut self, started_at: i64, kwh: Option<f64>) {
        let slot = self.slots.entry(slot_of(started_at)).or_default();
        slot.0 -= watt_hours(kwh);
        slot.1 -= 1;
    }

    /// A session, about to be inserted.
    pub fn add(&mut self, started_at: i64, kwh: Option<f64>) {
        let slot = self.slots.entry(slot_of(started_at)).or_default();
        slot.0 += watt_hours(kwh);
        slot.1 += 1;
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
        .filter(C::Sessions.gt(0))
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

    #[test]
    fn replacing_a_session_leaves_only_its_difference() {
        let mut ledger = EnergyLedger::default();
        ledger.remove(1_000, Some(10.0));
        ledger.add(1_000, Some(12.5));
        ledger.remove(SLOT_MS * 4, Some(3.0));
        ledger.add(SLOT_MS * 4, Some(3.0));
        let changes: Vec<_> = ledger.slots.iter().filter(|(_, c)| **c != (0, 0)).collect();
        assert_eq!(changes, [(&0, &(2_500, 0))]);
    }
}
