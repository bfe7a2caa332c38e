//! Alerts in the database. `readiness::evaluate` gathers each vehicle's facts (what the
//! rules in `domain::alerts` read beyond the board's own) with [`gather`], and stores
//! the outcome with [`reconcile`]: a condition with no open alert opens one, an open
//! alert whose condition no longer holds is resolved. The unique `open_key` makes an
//! alert open once however many processes evaluate the same vehicle at once.

use super::entities::{alerts, sessions, settings, signal_readings, vehicle_errors, vehicles};
use super::places::WriteError;
use crate::domain::alerts::{Condition, ErrorEntry, Kind, LastSession, Settings};
use crate::domain::ids::VehicleId;
use crate::domain::reading::ReadingStatus;
use crate::domain::signals;
use crate::wire::{AlertItem, KindCount, OpenAlerts};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition as Where, ConnectionTrait, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{HashMap, HashSet};

/// The `settings` row of the alert rules.
const SETTINGS_KEY: &str = "alerts";

/// Longest acknowledgement note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

fn at(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// The alert rules' settings (the defaults until an operator sets them).
pub async fn settings(db: &impl ConnectionTrait) -> Result<Settings, DbErr> {
    match settings::Entity::find_by_id(SETTINGS_KEY).one(db).await? {
        Some(row) => serde_json::from_value(row.value)
            .map_err(|e| DbErr::Custom(format!("stored alert settings unreadable: {e}"))),
        None => Ok(Settings::default()),
    }
}

/// Stores the alert rules' settings (checked first: a refusal names the field and stores
/// nothing). Every vehicle is evaluated again in the background.
pub async fn set_settings(db: &impl ConnectionTrait, value: &Settings) -> Result<(), WriteError> {
    value.check()?;
    let json = serde_json::to_value(value).map_err(|e| DbErr::Custom(e.to_string()))?;
    settings::Entity::insert(settings::ActiveModel {
        key: Set(SETTINGS_KEY.to_owned()),
        value: Set(json),
        updated_at: Set(Utc::now().timestamp_millis()),
    })
    .on_conflict(
        OnConflict::column(settings::Column::Key)
            .update_columns([settings::Column::Value, settings::Column::UpdatedAt])
            .to_owned(),
    )
    .exec(db)
    .await?;
    super::readiness::mark_all_due(db).await?;
    Ok(())
}

/// What the rules read beyond the board's facts, for a batch of vehicles.
#[derive(Debug, Default)]
pub struct Gathered {
    pub errors: HashMap<String, Vec<ErrorEntry>>,
    pub idle_since: HashMap<String, DateTime<Utc>>,
    pub last_sessions: HashMap<String, sessions::Model>,
}

/// Reads, for `fleet_rows`: the newest VEHICLE_ERROR entry of each type and code; since
/// when those plugged in and not charging have been so; each one's newest session.
pub async fn gather(
    db: &impl ConnectionTrait,
    fleet_rows: &[vehicles::Model],
) -> Result<Gathered, DbErr> {
    let mut gathered = Gathered::default();
    let ids: Vec<&str> = fleet_rows.iter().map(|v| v.id.as_str()).collect();

    // Errors: the newest entry per vehicle, type and code (a vehicle asleep every night
    // leaves many entries; only the newest of each says whether it is open).
    type Newest = (String, Option<String>, Option<String>, Option<i64>);
    let newest: Vec<Newest> = vehicle_errors::Entity::find()
        .select_only()
        .column(vehicle_errors::Column::VehicleId)
        .column(vehicle_errors::Column::ErrorType)
        .column(vehicle_errors::Column::Code)
        .column_as(vehicle_errors::Column::ReportedAt.max(), "newest")
        .filter(vehicle_errors::Column::VehicleId.is_in(ids.iter().copied()))
        .group_by(vehicle_errors::Column::VehicleId)
        .group_by(vehicle_errors::Column::ErrorType)
        .group_by(vehicle_errors::Column::Code)
        .into_tuple()
        .all(db)
        .await?;
    let wanted: HashSet<(String, Option<String>, Option<String>, i64)> = newest
        .into_iter()
        .filter_map(|(v, t, c, n)| Some((v, t, c, n?)))
        .collect();
    if !wanted.is_empty() {
        let times: HashSet<i64> = wanted.iter().map(|w| w.3).collect();
        for row in vehicle_errors::Entity::find()
            .filter(vehicle_errors::Column::VehicleId.is_in(ids.iter().copied()))
            .filter(vehicle_errors::Column::ReportedAt.is_in(times))
            .all(db)
            .await?
        {
            let key = (
                row.vehicle_id.clone(),
                row.error_type.clone(),
                row.code.clone(),
                row.reported_at,
            );
            if !wanted.contains(&key) {
                continue;
            }
            let Some(reported_at) = at(row.reported_at) else {
                continue;
            };
            gathered
                .errors
                .entry(row.vehicle_id)
                .or_default()
                .push(ErrorEntry {
                    error_type: row.error_type,
                    code: row.code,
                    state: row.state,
                    resolution: row.resolution,
                    description: row.description,
                    reported_at,
                });
        }
    }

    for vehicle in fleet_rows {
        if vehicle.is_plugged_in == Some(true) && vehicle.is_charging == Some(false) {
            if let Some(since) = idle_since(db, &vehicle.id).await? {
                gathered.idle_since.insert(vehicle.id.clone(), since);
            }
        }
        if let Some(session) = sessions::Entity::find()
            .filter(sessions::Column::VehicleId.eq(vehicle.id.as_str()))
            .order_by_desc(sessions::Column::StartedAt)
            .one(db)
            .await?
        {
            gathered.last_sessions.insert(vehicle.id.clone(), session);
        }
    }
    Ok(gathered)
}

/// The newest report of `code` with `value`, as Smartcar timed it.
async fn newest(
    db: &impl ConnectionTrait,
    vehicle: &str,
    code: &str,
    value: bool,
) -> Result<Option<i64>, DbErr> {
    let row: Option<Option<i64>> = signal_readings::Entity::find()
        .select_only()
        .column(signal_readings::Column::OemUpdatedAt)
        .filter(signal_readings::Column::VehicleId.eq(vehicle))
        .filter(signal_readings::Column::Code.eq(code))
        .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
        .filter(signal_readings::Column::ValueBool.eq(value))
        .filter(signal_readings::Column::OemUpdatedAt.is_not_null())
        .order_by_desc(signal_readings::Column::OemUpdatedAt)
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.flatten())
}

/// Since when a vehicle has been plugged in and not charging: its first report of either
/// after its last report of charging or of no cable (by Smartcar's times, so the answer
/// does not depend on the order deliveries arrived in). Reads back only over the idle
/// stretch itself, through the (vehicle, code, time) index.
async fn idle_since(
    db: &impl ConnectionTrait,
    vehicle: &str,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let busy = [
        newest(db, vehicle, signals::IS_CHARGING, true).await?,
        newest(db, vehicle, signals::IS_CABLE_CONNECTED, false).await?,
    ]
    .into_iter()
    .flatten()
    .max();
    let first: Option<Option<i64>> = signal_readings::Entity::find()
        .select_only()
        .column(signal_readings::Column::OemUpdatedAt)
        .filter(signal_readings::Column::VehicleId.eq(vehicle))
        .filter(
            signal_readings::Column::Code
                .is_in([signals::IS_CHARGING, signals::IS_CABLE_CONNECTED]),
        )
        .filter(signal_readings::Column::Status.eq(ReadingStatus::Ok))
        .filter(signal_readings::Column::OemUpdatedAt.gt(busy.unwrap_or(i64::MIN)))
        .order_by(signal_readings::Column::OemUpdatedAt, Order::Asc)
        .into_tuple()
        .one(db)
        .await?;
    Ok(first.flatten().and_then(at))
}

/// A session as the rules read it; `place` is the operator's place holding it.
pub fn last_session(
    row: &sessions::Model,
    place: Option<&crate::domain::places::Place>,
    need_at_end: Option<crate::domain::readiness::Need>,
    median_power_kw: Option<f64>,
) -> Option<LastSession> {
    Some(LastSession {
        id: row.id.clone(),
        started_at: at(row.started_at)?,
        ended_at: row.ended_at.and_then(at),
        soc_end: row.soc_end,
        avg_power_kw: row.avg_power_kw,
        place_kind: place.map(|p| p.kind),
        place_name: place.map(|p| p.name.clone()),
        need: need_at_end,
        median_power_kw,
    })
}

/// What [`reconcile`] changed, for notifications.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    pub opened: Vec<i64>,
    pub resolved: Vec<i64>,
}

/// Brings the open alerts of `vehicles` in line with the conditions that hold for each:
/// opens what holds and is not open, resolves what is open and no longer holds. Safe to
/// run concurrently: an open alert is inserted only if none is open for its key, and
/// resolved only if still open.
pub async fn reconcile(
    db: &impl ConnectionTrait,
    holding: &HashMap<String, Vec<Condition>>,
    now: DateTime<Utc>,
) -> Result<Changes, DbErr> {
    let mut changes = Changes::default();
    if holding.is_empty() {
        return Ok(changes);
    }
    let now_ms = now.timestamp_millis();
    let open = alerts::Entity::find()
        .filter(alerts::Column::State.eq(alerts::OPEN))
        .filter(alerts::Column::VehicleId.is_in(holding.keys().map(String::as_str)))
        .all(db)
        .await?;
    let is_open: HashSet<(&str, Kind)> = open
        .iter()
        .map(|a| (a.vehicle_id.as_str(), a.kind))
        .collect();
    for alert in &open {
        let still = holding
            .get(&alert.vehicle_id)
            .is_some_and(|c| c.iter().any(|c| c.kind == alert.kind));
        if still {
            continue;
        }
        let done = alerts::Entity::update_many()
            .col_expr(alerts::Column::State, Expr::value(alerts::RESOLVED))
            .col_expr(alerts::Column::ResolvedAt, Expr::value(now_ms))
            .col_expr(alerts::Column::OpenKey, Expr::value(Option::<String>::None))
            .filter(alerts::Column::Id.eq(alert.id))
            .filter(alerts::Column::State.eq(alerts::OPEN))
            .exec(db)
            .await?;
        if done.rows_affected == 1 {
            changes.resolved.push(alert.id);
        }
    }
    for (vehicle, conditions) in holding {
        for condition in conditions {
            if is_open.contains(&(vehicle.as_str(), condition.kind)) {
                continue;
            }
            let inserted = alerts::Entity::insert(alerts::ActiveModel {
                vehicle_id: Set(vehicle.clone()),
                kind: Set(condition.kind),
                state: Set(alerts::OPEN.to_owned()),
                open_key: Set(Some(alerts::open_key(vehicle, condition.kind))),
                opened_at: Set(now_ms),
                facts: Set(condition.facts.clone()),
                ..Default::default()
            })
            .on_conflict(
                OnConflict::column(alerts::Column::OpenKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
            if inserted == 1 {
                let id: Option<i64> = alerts::Entity::find()
                    .select_only()
                    .column(alerts::Column::Id)
                    .filter(alerts::Column::OpenKey.eq(alerts::open_key(vehicle, condition.kind)))
                    .into_tuple()
                    .one(db)
                    .await?;
                changes.opened.extend(id);
            }
        }
    }
    Ok(changes)
}

/// Which alerts a list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// `Some(true)`: open only; `Some(false)`: resolved only.
    pub open: Option<bool>,
    pub kind: Option<Kind>,
    pub vehicle: Option<VehicleId>,
}

impl Filter {
    /// The filter from its text (`status`: `open` or `resolved`; an alert kind; a vehicle
    /// id), blanks meaning none; a refusal names the parameter and says why.
    pub fn parse(
        status: Option<&str>,
        kind: Option<&str>,
        vehicle: Option<&str>,
    ) -> Result<Filter, (&'static str, String)> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let open = match given(status) {
            None => None,
            Some("open") => Some(true),
            Some("resolved") => Some(false),
            Some(other) => return Err(("status", format!("{other:?} is not open or resolved"))),
        };
        let kind = match given(kind) {
            None => None,
            Some(raw) => Some(
                Kind::parse(raw)
                    .ok_or_else(|| ("kind", format!("{raw:?} is not an alert kind")))?,
            ),
        };
        let vehicle = match given(vehicle) {
            None => None,
            Some(raw) => Some(VehicleId::parse(raw).map_err(|e| ("vehicle", e.to_string()))?),
        };
        Ok(Filter {
            open,
            kind,
            vehicle,
        })
    }
}

/// Where a list page ends: the last alert's state, opening time and id
/// (`open.1765000000000.42`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    state: String,
    opened_at: i64,
    id: i64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let mut parts = text.splitn(3, '.');
        let state = parts.next()?;
        let state = [alerts::OPEN, alerts::RESOLVED]
            .into_iter()
            .find(|s| *s == state)?
            .to_owned();
        Some(Cursor {
            state,
            opened_at: parts.next()?.parse().ok()?,
            id: parts.next()?.parse().ok()?,
        })
    }

    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.state, self.opened_at, self.id)
    }
}

fn filtered<Q: QueryFilter>(query: Q, filter: &Filter) -> Q {
    let mut query = query;
    if let Some(open) = filter.open {
        query = query.filter(alerts::Column::State.eq(if open {
            alerts::OPEN
        } else {
            alerts::RESOLVED
        }));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(alerts::Column::Kind.eq(kind));
    }
    if let Some(vehicle) = &filter.vehicle {
        query = query.filter(alerts::Column::VehicleId.eq(vehicle.as_str()));
    }
    query
}

/// One page of alerts: open first, then resolved, newest first within each.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: &Filter,
    cursor: Option<&Cursor>,
    limit: u64,
) -> Result<(Vec<AlertItem>, Option<String>), DbErr> {
    use alerts::Column as C;
    let mut query = filtered(alerts::Entity::find(), filter)
        .order_by_asc(C::State)
        .order_by_desc(C::OpenedAt)
        .order_by_desc(C::Id);
    if let Some(c) = cursor {
        query = query.filter(
            Where::any().add(C::State.gt(c.state.as_str())).add(
                Where::all().add(C::State.eq(c.state.as_str())).add(
                    Where::any().add(C::OpenedAt.lt(c.opened_at)).add(
                        Where::all()
                            .add(C::OpenedAt.eq(c.opened_at))
                            .add(C::Id.lt(c.id)),
                    ),
                ),
            ),
        );
    }
    let mut rows = query.limit(limit + 1).all(db).await?;
    let next = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|row| {
            Cursor {
                state: row.state.clone(),
                opened_at: row.opened_at,
                id: row.id,
            }
            .encode()
        })
    });
    Ok((items(db, rows).await?, next.flatten()))
}

async fn items(
    db: &impl ConnectionTrait,
    rows: Vec<alerts::Model>,
) -> Result<Vec<AlertItem>, DbErr> {
    let ids: Vec<&str> = rows.iter().map(|r| r.vehicle_id.as_str()).collect();
    let names: HashMap<String, Option<String>> = vehicles::Entity::find()
        .filter(vehicles::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.id.clone(), super::readiness::vehicle_name(&v)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| AlertItem {
            id: row.id,
            name: names.get(&row.vehicle_id).cloned().flatten(),
            kind: row.kind,
            summary: crate::domain::alerts::summary(row.kind, &row.facts),
            opened_at: at(row.opened_at).unwrap_or_default(),
            acknowledged_at: row.acknowledged_at.and_then(at),
            acknowledged_by: row.acknowledged_by,
            note: row.note,
            resolved_at: row.resolved_at.and_then(at),
            facts: row.facts,
            vehicle_id: row.vehicle_id,
        })
        .collect())
}

/// One alert, if it exists.
pub async fn item(db: &impl ConnectionTrait, id: i64) -> Result<Option<AlertItem>, DbErr> {
    let rows: Vec<alerts::Model> = alerts::Entity::find_by_id(id)
        .one(db)
        .await?
        .into_iter()
        .collect();
    Ok(items(db, rows).await?.pop())
}

/// Why an acknowledgement was refused.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("no alert {0}")]
    NotFound(i64),
    #[error("note: longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Records that `user` has seen alert `id`, with a note (which replaces an earlier one;
/// the first acknowledgement's time and operator stay).
pub async fn acknowledge(
    db: &impl ConnectionTrait,
    id: i64,
    user: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AlertItem, AckError> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(AckError::NoteTooLong);
    }
    let Some(row) = alerts::Entity::find_by_id(id).one(db).await? else {
        return Err(AckError::NotFound(id));
    };
    let mut update = alerts::Entity::update_many().filter(alerts::Column::Id.eq(id));
    if row.acknowledged_at.is_none() {
        update = update
            .col_expr(
                alerts::Column::AcknowledgedAt,
                Expr::value(now.timestamp_millis()),
            )
            .col_expr(alerts::Column::AcknowledgedBy, Expr::value(user.to_owned()));
    }
    if let Some(note) = note {
        update = update.col_expr(alerts::Column::Note, Expr::value(note.to_owned()));
    }
    update.exec(db).await?;
    item(db, id).await?.ok_or(AckError::NotFound(id))
}

/// Open alerts: how many in all, and of each kind.
pub async fn open_counts(db: &impl ConnectionTrait) -> Result<(u64, Vec<KindCount>), DbErr> {
    let rows: Vec<(Kind, i64)> = alerts::Entity::find()
        .select_only()
        .column(alerts::Column::Kind)
        .column_as(alerts::Column::Id.count(), "n")
        .filter(alerts::Column::State.eq(alerts::OPEN))
        .group_by(alerts::Column::Kind)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts: Vec<KindCount> = rows
        .into_iter()
        .map(|(kind, n)| KindCount {
            kind,
            open: u64::try_from(n).unwrap_or(0),
        })
        .collect();
    counts.sort_by_key(|c| c.kind);
    Ok((counts.iter().map(|c| c.open).sum(), counts))
}

/// How many alerts are open (the top bar's count).
pub async fn open_count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    alerts::Entity::find()
        .filter(alerts::Column::State.eq(alerts::OPEN))
        .count(db)
        .await
}

/// The open alerts as the live stream announces them.
pub async fn open_state(db: &impl ConnectionTrait) -> Result<OpenAlerts, DbErr> {
    let row: Option<(i64, i64, Option<i64>)> = alerts::Entity::find()
        .select_only()
        .column_as(alerts::Column::Id.count(), "open")
        .column_as(alerts::Column::AcknowledgedAt.count(), "acknowledged")
        .column_as(alerts::Column::Id.max(), "newest")
        .filter(alerts::Column::State.eq(alerts::OPEN))
        .into_tuple()
        .one(db)
        .await?;
    let (open, acknowledged, newest) = row.unwrap_or_default();
    Ok(OpenAlerts {
        open: u64::try_from(open).unwrap_or(0),
        acknowledged: u64::try_from(acknowledged).unwrap_or(0),
        newest_id: newest.unwrap_or(0),
    })
}
