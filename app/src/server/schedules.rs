//! Departure schedules in the database: the fleet default (scope `fleet`) and vehicles'
//! overrides (scope: the vehicle's id). What a vehicle follows is its own, else the
//! fleet's; a schedule with no departures keeps the vehicle off the fleet default.

use super::entities::{schedules, vehicles};
use super::places::WriteError;
use crate::domain::ids::VehicleId;
use crate::domain::schedule::{Departure, Schedule, ScheduleSource};
use sea_orm::sea_query::OnConflict;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;

/// The scope of the fleet default.
const FLEET: &str = "fleet";

fn schedule_of(row: schedules::Model) -> Result<Schedule, DbErr> {
    let departures: Vec<Departure> = serde_json::from_value(row.departures).map_err(|e| {
        DbErr::Custom(format!(
            "schedule {:?}: stored departures unreadable: {e}",
            row.scope
        ))
    })?;
    Ok(Schedule {
        timezone: row.timezone,
        required_soc: u8::try_from(row.required_soc).unwrap_or(100),
        departures,
    })
}

async fn read(db: &impl ConnectionTrait, scope: &str) -> Result<Option<Schedule>, DbErr> {
    schedules::Entity::find_by_id(scope)
        .one(db)
        .await?
        .map(schedule_of)
        .transpose()
}

async fn write(
    db: &impl ConnectionTrait,
    scope: &str,
    schedule: &Schedule,
) -> Result<(), WriteError> {
    schedule.check()?;
    let departures = serde_json::to_value(&schedule.departures)
        .map_err(|e| DbErr::Custom(format!("departures: {e}")))?;
    let row = schedules::ActiveModel {
        scope: Set(scope.to_owned()),
        timezone: Set(schedule.timezone.clone()),
        required_soc: Set(i32::from(schedule.required_soc)),
        departures: Set(departures),
        updated_at: Set(chrono::Utc::now().timestamp_millis()),
    };
    schedules::Entity::insert(row)
        .on_conflict(
            OnConflict::column(schedules::Column::Scope)
                .update_columns([
                    schedules::Column::Timezone,
                    schedules::Column::RequiredSoc,
                    schedules::Column::Departures,
                    schedules::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// The fleet default, if one is set.
pub async fn fleet_default(db: &impl ConnectionTrait) -> Result<Option<Schedule>, DbErr> {
    read(db, FLEET).await
}

/// Sets the fleet default (checked first: a refusal names the field and stores nothing).
/// Every vehicle's readiness is evaluated again in the background.
pub async fn set_fleet_default(
    db: &impl ConnectionTrait,
    schedule: &Schedule,
) -> Result<(), WriteError> {
    write(db, FLEET, schedule).await?;
    super::readiness::mark_all_due(db).await?;
    Ok(())
}

/// The vehicle's readiness under its new schedule, at once.
async fn reevaluate(db: &impl ConnectionTrait, id: &VehicleId) -> Result<(), WriteError> {
    super::readiness::evaluate(db, std::slice::from_ref(id), chrono::Utc::now()).await?;
    Ok(())
}

fn no_vehicle(id: &VehicleId) -> WriteError {
    WriteError::NotFound(format!("no vehicle with id {:?}", id.as_str()))
}

async fn require_vehicle(db: &impl ConnectionTrait, id: &VehicleId) -> Result<(), WriteError> {
    match vehicles::Entity::find_by_id(id.as_str()).one(db).await? {
        Some(_) => Ok(()),
        None => Err(no_vehicle(id)),
    }
}

/// The schedule a vehicle follows and where it comes from: its own, else the fleet
/// default, else none.
pub async fn of_vehicle(
    db: &impl ConnectionTrait,
    id: &VehicleId,
) -> Result<Option<(Schedule, ScheduleSource)>, DbErr> {
    if let Some(own) = read(db, id.as_str()).await? {
        return Ok(Some((own, ScheduleSource::Vehicle)));
    }
    Ok(fleet_default(db)
        .await?
        .map(|fleet| (fleet, ScheduleSource::Fleet)))
}

/// What each of `ids` follows, in one read (vehicles that follow none are left out).
pub async fn of_vehicles(
    db: &impl ConnectionTrait,
    ids: &[VehicleId],
) -> Result<HashMap<VehicleId, (Schedule, ScheduleSource)>, DbErr> {
    let scopes = ids
        .iter()
        .map(|id| id.as_str().to_owned())
        .chain([FLEET.to_owned()]);
    let mut rows = HashMap::new();
    for row in schedules::Entity::find()
        .filter(schedules::Column::Scope.is_in(scopes))
        .all(db)
        .await?
    {
        rows.insert(row.scope.clone(), schedule_of(row)?);
    }
    let fleet = rows.remove(FLEET);
    Ok(ids
        .iter()
        .filter_map(|id| {
            let found = match rows.remove(id.as_str()) {
                Some(own) => (own, ScheduleSource::Vehicle),
                None => (fleet.clone()?, ScheduleSource::Fleet),
            };
            Some((id.clone(), found))
        })
        .collect())
}

/// Sets a vehicle's own schedule; `NotFound` for a vehicle never heard from.
pub async fn set_vehicle(
    db: &impl ConnectionTrait,
    id: &VehicleId,
    schedule: &Schedule,
) -> Result<(), WriteError> {
    schedule.check()?;
    require_vehicle(db, id).await?;
    write(db, id.as_str(), schedule).await?;
    reevaluate(db, id).await
}

/// Removes a vehicle's own schedule, so it follows the fleet default again.
pub async fn clear_vehicle(db: &impl ConnectionTrait, id: &VehicleId) -> Result<(), WriteError> {
    require_vehicle(db, id).await?;
    schedules::Entity::delete_by_id(id.as_str())
        .exec(db)
        .await?;
    reevaluate(db, id).await
}
