//! The fleet overview: every vehicle joined to its latest state, in three queries
//! however many vehicles there are.

use super::entities::{vehicle_latest, vehicles};
use crate::domain::fleet::VehicleSummary;
use crate::domain::ids::VehicleId;
use crate::domain::signals;
use crate::domain::time::EpochMs;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

fn datetime(ms: i64) -> Option<DateTime<Utc>> {
    EpochMs::new(ms).ok().map(EpochMs::to_datetime)
}

pub async fn vehicle_summaries(db: &impl ConnectionTrait) -> Result<Vec<VehicleSummary>, DbErr> {
    summaries(db, None).await
}

/// The summaries of every vehicle, or of one.
async fn summaries(
    db: &impl ConnectionTrait,
    only: Option<&VehicleId>,
) -> Result<Vec<VehicleSummary>, DbErr> {
    let mut vehicles = vehicles::Entity::find();
    let mut latest = vehicle_latest::Entity::find();
    let mut newest = vehicle_latest::Entity::find();
    if let Some(id) = only {
        vehicles = vehicles.filter(vehicles::Column::Id.eq(id.as_str()));
        latest = latest.filter(vehicle_latest::Column::VehicleId.eq(id.as_str()));
        newest = newest.filter(vehicle_latest::Column::VehicleId.eq(id.as_str()));
    }
    let vehicles = vehicles
        .order_by_asc(vehicles::Column::Make)
        .order_by_asc(vehicles::Column::Model)
        .order_by_asc(vehicles::Column::Id)
        .all(db)
        .await?;
    let latest = latest
        .filter(vehicle_latest::Column::Code.is_in(signals::FLEET_OVERVIEW))
        .all(db)
        .await?;
    let newest: Vec<(String, Option<i64>)> = newest
        .select_only()
        .column(vehicle_latest::Column::VehicleId)
        .column_as(vehicle_latest::Column::OemUpdatedAt.max(), "newest")
        .group_by(vehicle_latest::Column::VehicleId)
        .into_tuple()
        .all(db)
        .await?;
    let newest: HashMap<String, i64> = newest
        .into_iter()
        .filter_map(|(id, at)| Some((id, at?)))
        .collect();
    let energy = recent_energy(db, only).await?;
    let mut by_vehicle: HashMap<(String, String), vehicle_latest::Model> = latest
        .into_iter()
        .map(|row| ((row.vehicle_id.clone(), row.code.clone()), row))
        .collect();

    Ok(vehicles
        .into_iter()
        .map(|v| {
            let mut take = |code: &str| by_vehicle.remove(&(v.id.clone(), code.to_owned()));
            let soc = take(signals::STATE_OF_CHARGE).and_then(|r| r.value_num);
            let is_charging = take(signals::IS_CHARGING).and_then(|r| r.value_bool);
            let is_plugged_in = take(signals::IS_CABLE_CONNECTED).and_then(|r| r.value_bool);
            let range_km = take(signals::RANGE).and_then(|r| r.value_num);
            let power_kw = take(signals::WATTAGE)
                .and_then(|r| r.value_num)
                .map(|w| w / 1000.0);
            let location = take(signals::PRECISE_LOCATION).and_then(|r| {
                Some((
                    r.body.get("latitude")?.as_f64()?,
                    r.body.get("longitude")?.as_f64()?,
                ))
            });
            let recent = energy.get(&v.id).copied().unwrap_or((0.0, 0.0));
            VehicleSummary {
                updated_at: newest.get(&v.id).copied().and_then(datetime),
                last_delivery_at: datetime(v.last_delivery_at).unwrap_or(DateTime::<Utc>::MIN_UTC),
                id: v.id,
                make: v.make,
                model: v.model,
                year: v.year,
                soc_percent: soc,
                is_charging,
                is_plugged_in,
                range_km,
                power_kw,
                energy_7d_kwh: recent.0,
                energy_30d_kwh: recent.1,
                latitude: location.map(|(lat, _)| lat),
                longitude: location.map(|(_, lon)| lon),
            }
        })
        .collect())
}

/// `/api/v1/vehicles`: the summaries plus each vehicle's session count, in one more query.
pub async fn vehicle_items(
    db: &impl ConnectionTrait,
) -> Result<Vec<crate::wire::VehicleItem>, DbErr> {
    items(db, None).await
}

/// One vehicle as `/api/v1/vehicles` lists it; `None` if there is no such vehicle.
pub async fn vehicle_item(
    db: &impl ConnectionTrait,
    id: &VehicleId,
) -> Result<Option<crate::wire::VehicleItem>, DbErr> {
    Ok(items(db, Some(id)).await?.into_iter().next())
}

async fn items(
    db: &impl ConnectionTrait,
    only: Option<&VehicleId>,
) -> Result<Vec<crate::wire::VehicleItem>, DbErr> {
    use super::entities::sessions;
    use crate::wire::{LatestState, VehicleItem};
    let mut counts = sessions::Entity::find();
    if let Some(id) = only {
        counts = counts.filter(sessions::Column::VehicleId.eq(id.as_str()));
    }
    let counts: Vec<(String, i64)> = counts
        .select_only()
        .column(sessions::Column::VehicleId)
        .column_as(sessions::Column::Id.count(), "n")
        .group_by(sessions::Column::VehicleId)
        .into_tuple()
        .all(db)
        .await?;
    let counts: HashMap<String, i64> = counts.into_iter().collect();
    Ok(summaries(db, only)
        .await?
        .into_iter()
        .map(|v| VehicleItem {
            session_count: counts.get(&v.id).copied().unwrap_or(0),
            latest: LatestState {
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
        })
        .collect())
}

/// Energy added per vehicle by sessions that started in the last 7 and 30 days, in one
/// aggregate query.
async fn recent_energy(
    db: &impl ConnectionTrait,
    only: Option<&VehicleId>,
) -> Result<HashMap<String, (f64, f64)>, DbErr> {
    use super::entities::sessions;
    use sea_orm::sea_query::Expr;
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000_i64;
    let mut query = sessions::Entity::find()
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
        .filter(sessions::Column::StartedAt.gte(now - 30 * day))
        .group_by(sessions::Column::VehicleId);
    if let Some(id) = only {
        query = query.filter(sessions::Column::VehicleId.eq(id.as_str()));
    }
    let rows: Vec<(String, Option<f64>, Option<f64>)> = query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .map(|(id, week, month)| (id, (week.unwrap_or(0.0), month.unwrap_or(0.0))))
        .collect())
}

/// The fleet page's totals and daily energy, in `tz`, as of `now`.
pub async fn fleet_energy(
    db: &impl ConnectionTrait,
    vehicles: &[VehicleSummary],
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<
    (
        crate::domain::fleet::FleetTotals,
        Vec<crate::wire::EnergyBucket>,
    ),
    DbErr,
> {
    use crate::domain::buckets::{bucket_start, chart_range, energy_buckets, Bucket};
    use crate::domain::fleet::{ChargeStatus, FleetTotals};
    let (from, to) = chart_range(Bucket::Day, tz, now, None, None);
    let month_start = bucket_start(Bucket::Month, tz, now);
    // One read covers the 30 days and the month, whichever starts first.
    let starts: Vec<(DateTime<Utc>, Option<f64>)> = super::sessions::energy_by_start(
        db,
        None,
        from.min(month_start).timestamp_millis(),
        to.timestamp_millis(),
    )
    .await?
    .into_iter()
    .filter_map(|(at, kwh)| Some((datetime(at)?, kwh)))
    .collect();
    let daily = energy_buckets(Bucket::Day, tz, from, to, &starts);
    let this_month: f64 = starts
        .iter()
        .filter(|(at, _)| *at >= month_start)
        .filter_map(|(_, kwh)| *kwh)
        .sum();
    let totals = FleetTotals {
        vehicles: vehicles.len(),
        charging_now: vehicles
            .iter()
            .filter(|v| v.status() == ChargeStatus::Charging)
            .count(),
        kwh_today: daily.last().map_or(0.0, |b| b.energy_kwh),
        kwh_this_month: this_month,
    };
    Ok((totals, daily))
}
