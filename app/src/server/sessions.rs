//! Keeping a vehicle's stored sessions equal to what the engine derives from its
//! stored readings.
//!
//! Callers run this inside the transaction that changed the readings, after a statement
//! that locked the vehicle's row (the vehicle upsert in ingest, [`lock_vehicle`] here):
//! that lock serialises every writer of one vehicle, across server processes on
//! PostgreSQL and through the single writer on SQLite.

use super::entities::{sessions, signal_readings, vehicles};
use crate::domain::sessions::{derive, EngineConfig, Observation, ObservedValue, Session};
use crate::domain::signals;
use crate::domain::time::EpochMs;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

/// The signals the engine reads; nothing else is loaded.
const ENGINE_CODES: [&str; 12] = [
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

/// Takes the vehicle's row lock (a no-op update) so derivations of one vehicle queue.
pub async fn lock_vehicle(db: &impl ConnectionTrait, vehicle_id: &str) -> Result<(), DbErr> {
    vehicles::Entity::update_many()
        .col_expr(
            vehicles::Column::LastDeliveryAt,
            Expr::col(vehicles::Column::LastDeliveryAt),
        )
        .filter(vehicles::Column::Id.eq(vehicle_id))
        .exec(db)
        .await?;
    Ok(())
}

fn observation(row: signal_readings::Model) -> Option<Observation> {
    let value = if let Some(b) = row.value_bool {
        ObservedValue::Bool(b)
    } else if let Some(n) = row.value_num {
        ObservedValue::Number(n)
    } else if let Some(t) = row.value_text {
        ObservedValue::Text(t)
    } else {
        ObservedValue::location(&row.code, &row.body)?
    };
    Some(Observation {
        at: row.oem_updated_at.and_then(|t| EpochMs::new(t).ok()),
        code: row.code,
        value,
        first_delivery: row.first_delivery,
    })
}

/// The engine's input for one vehicle: its successful readings of the signals it uses.
pub async fn observations(
    db: &impl ConnectionTrait,
    vehicle_id: &str,
) -> Result<Vec<Observation>, DbErr> {
    let rows = signal_readings::Entity::find()
        .filter(signal_readings::Column::VehicleId.eq(vehicle_id))
        .filter(signal_readings::Column::Code.is_in(ENGINE_CODES))
        .filter(signal_readings::Column::Status.eq("ok"))
        .order_by_asc(signal_readings::Column::OemUpdatedAt)
        .order_by_asc(signal_readings::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(observation).collect())
}

fn active_model(vehicle_id: &str, s: &Session) -> sessions::ActiveModel {
    let ms = |t: Option<EpochMs>| t.map(EpochMs::as_millis);
    sessions::ActiveModel {
        id: Set(s.id.clone()),
        vehicle_id: Set(vehicle_id.to_owned()),
        status: Set(s.status.as_str().to_owned()),
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
        energy_source: Set(s.energy_source.map(|e| e.as_str().to_owned())),
        max_power_kw: Set(s.max_power_kw),
        avg_power_kw: Set(s.avg_power_kw),
        charge_limit_percent: Set(s.charge_limit_percent),
        charger_type: Set(s.charger_type.map(|c| c.as_str().to_owned())),
        latitude: Set(s.latitude),
        longitude: Set(s.longitude),
        intervals: Set(serde_json::to_value(&s.intervals).unwrap_or_default()),
    }
}

/// Replaces the vehicle's stored sessions with a fresh derivation; returns how many.
pub async fn rederive_vehicle(
    db: &impl ConnectionTrait,
    vehicle_id: &str,
    config: &EngineConfig,
    as_of: EpochMs,
) -> Result<usize, DbErr> {
    let input = observations(db, vehicle_id).await?;
    let derived = derive(vehicle_id, &input, config, as_of);
    sessions::Entity::delete_many()
        .filter(sessions::Column::VehicleId.eq(vehicle_id))
        .exec(db)
        .await?;
    if !derived.is_empty() {
        sessions::Entity::insert_many(derived.iter().map(|s| active_model(vehicle_id, s)))
            .exec_without_returning(db)
            .await?;
    }
    Ok(derived.len())
}
