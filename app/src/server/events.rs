//! The webhook log, newest first, filtered by vehicle and outcome.

use crate::domain::events::{LogEntry, Outcome};
use crate::domain::fleet::vehicle_name;
use crate::domain::ids::VehicleId;
use crate::domain::time::EpochMs;
use crate::server::entities::{vehicles, webhook_log};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub vehicle_id: Option<String>,
    pub outcome: Option<Outcome>,
    /// Only rows older than this log id (the previous page's last).
    pub before: Option<i64>,
    pub limit: u64,
}

fn entry(row: webhook_log::Model) -> LogEntry {
    LogEntry {
        id: row.id,
        received_at: EpochMs::new(row.received_at)
            .map(EpochMs::to_datetime)
            .unwrap_or_default(),
        outcome: row.outcome,
        event_type: row.event_type,
        event_id: row.event_id,
        vehicle_id: row.vehicle_id,
        triggers: row
            .triggers
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
        detail: row.detail,
    }
}

/// One page of the log and the `before` of the next page, if there is one.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: &LogFilter,
) -> Result<(Vec<LogEntry>, Option<i64>), DbErr> {
    use webhook_log::Column as C;
    let mut query = webhook_log::Entity::find();
    if let Some(vehicle) = &filter.vehicle_id {
        query = query.filter(C::VehicleId.eq(vehicle.as_str()));
    }
    if let Some(outcome) = filter.outcome {
        query = query.filter(C::Outcome.eq(outcome.as_str()));
    }
    if let Some(before) = filter.before {
        query = query.filter(C::Id.lt(before));
    }
    let mut rows = query
        .order_by_desc(C::Id)
        .limit(filter.limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > filter.limit;
    rows.truncate(usize::try_from(filter.limit).unwrap_or(usize::MAX));
    let next = more.then(|| rows.last().map(|r| r.id)).flatten();
    Ok((rows.into_iter().map(entry).collect(), next))
}

/// Every vehicle's id and display name, by name.
pub async fn vehicle_names(db: &impl ConnectionTrait) -> Result<Vec<(String, String)>, DbErr> {
    let mut names: Vec<(String, String)> = vehicles::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|v| {
            let name = vehicle_name(&v.id, v.year, v.make.as_deref(), v.model.as_deref());
            (v.id, name)
        })
        .collect();
    names.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok(names)
}

/// Most deliveries listed for one session.
pub const SESSION_DELIVERIES: u64 = 500;

/// The stored deliveries with readings of `vehicle_id` observed in `[start, end]` of the
/// signals sessions are derived from, oldest first: the deliveries a session was built
/// from. Read through the (vehicle, signal, OEM time) index, one range per signal.
pub async fn for_window(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    start: i64,
    end: i64,
) -> Result<Vec<LogEntry>, DbErr> {
    use crate::server::entities::signal_readings as r;
    let ids: Vec<i64> = r::Entity::find()
        .select_only()
        .column(r::Column::DeliveryRowId)
        .distinct()
        .filter(r::Column::VehicleId.eq(vehicle_id.as_str()))
        .filter(r::Column::Code.is_in(super::sessions::ENGINE_CODES))
        .filter(r::Column::OemUpdatedAt.between(start, end))
        .order_by_asc(r::Column::DeliveryRowId)
        .limit(SESSION_DELIVERIES)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(webhook_log::Entity::find()
        .filter(webhook_log::Column::DeliveryRowId.is_in(ids))
        .filter(webhook_log::Column::Outcome.eq(Outcome::Stored))
        .order_by_asc(webhook_log::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(entry)
        .collect())
}
