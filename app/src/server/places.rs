//! Places, tariffs and manual costs in the database: what the API and the pages read and
//! write. A write that changes where sessions belong or what they cost marks the sessions
//! it touches as due in the same transaction (`pricing::mark_*`), and the background
//! pricer catches up; a manual cost is read beside the session, so it needs no pricing.

use super::entities::{manual_costs, places, sessions, tariffs};
use super::pricing::{self, mark_place, mark_scope};
use crate::domain::places::{suggest, Place, Spot, Suggestion};
use crate::domain::pricing::currency::minor_units;
use crate::domain::pricing::tariff::{Invalid, Tariff};
use crate::wire::{
    CostSource, ManualCostInput, PlaceDto, PlaceInput, PlaceRef, SessionCost, SessionDto, TariffDto,
};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};
use std::collections::{HashMap, HashSet};

/// At most this many characters in a manual cost's note.
pub const MAX_NOTE: usize = 500;
/// Suggestions read the sessions of this many days back.
pub const SUGGESTION_DAYS: i64 = 365;
/// At most this many suggestions are listed.
pub const MAX_SUGGESTIONS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a place named {0:?} exists already")]
    Duplicate(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn invalid(field: &str, message: impl Into<String>) -> WriteError {
    WriteError::Invalid(Invalid {
        field: field.to_owned(),
        message: message.into(),
    })
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn dto(row: places::Model, session_count: u64) -> PlaceDto {
    PlaceDto {
        id: row.id,
        name: row.name,
        kind: row.kind,
        latitude: row.latitude,
        longitude: row.longitude,
        radius_m: row.radius_m,
        timezone: row.timezone,
        charging_efficiency: row.charging_efficiency,
        cost_center: row.cost_center,
        session_count,
    }
}

/// How many sessions belong to each place (of those in `ids`, or all).
async fn session_counts(
    db: &impl ConnectionTrait,
    ids: Option<&[String]>,
) -> Result<HashMap<String, u64>, DbErr> {
    let mut query = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::PlaceId)
        .column_as(sessions::Column::Id.count(), "n")
        .filter(sessions::Column::PlaceId.is_not_null())
        .group_by(sessions::Column::PlaceId);
    if let Some(ids) = ids {
        query = query.filter(sessions::Column::PlaceId.is_in(ids.iter().map(String::as_str)));
    }
    let counts: Vec<(String, i64)> = query.into_tuple().all(db).await?;
    Ok(counts
        .into_iter()
        .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// One page of places by name (any case), from after the name `after` (a previous
/// page's `next`), with the name to continue after when more follow.
pub async fn page(
    db: &impl ConnectionTrait,
    after: Option<&str>,
    limit: u64,
) -> Result<(Vec<PlaceDto>, Option<String>), DbErr> {
    let mut query = places::Entity::find().order_by_asc(places::Column::NameKey);
    if let Some(after) = after {
        query = query.filter(places::Column::NameKey.gt(name_key(after)));
    }
    let mut rows = query.limit(limit + 1).all(db).await?;
    let next = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.name.clone())
    });
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts = session_counts(db, Some(&ids)).await?;
    let places = rows
        .into_iter()
        .map(|row| {
            let n = counts.get(&row.id).copied().unwrap_or(0);
            dto(row, n)
        })
        .collect();
    Ok((places, next.flatten()))
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Option<PlaceDto>, DbErr> {
    let Some(row) = places::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let counts = session_counts(db, Some(std::slice::from_ref(&row.id))).await?;
    let n = counts.get(&row.id).copied().unwrap_or(0);
    Ok(Some(dto(row, n)))
}

/// The input as a checked place with `id`.
fn checked(id: String, input: PlaceInput, default_zone: Tz) -> Result<Place, WriteError> {
    let place = Place {
        id,
        name: input.name.trim().to_owned(),
        kind: input.kind,
        latitude: input.latitude,
        longitude: input.longitude,
        radius_m: input.radius_m,
        timezone: input
            .timezone
            .unwrap_or_else(|| default_zone.name().to_owned()),
        charging_efficiency: input.charging_efficiency,
        cost_center: input
            .cost_center
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty()),
    };
    place.check()?;
    Ok(place)
}

fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A write refused by the unique name is a duplicate name.
fn duplicate_or(err: DbErr, name: &str) -> WriteError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => WriteError::Duplicate(name.to_owned()),
        _ => WriteError::Db(err),
    }
}

async fn name_taken(
    db: &impl ConnectionTrait,
    name: &str,
    except: Option<&str>,
) -> Result<bool, DbErr> {
    let mut query = places::Entity::find().filter(places::Column::NameKey.eq(name_key(name)));
    if let Some(id) = except {
        query = query.filter(places::Column::Id.ne(id));
    }
    Ok(query.one(db).await?.is_some())
}

/// Creates a place; the sessions it holds are re-assigned and re-priced in the background.
pub async fn create(
    db: &DatabaseConnection,
    input: PlaceInput,
    default_zone: Tz,
) -> Result<PlaceDto, WriteError> {
    let place = checked(uuid::Uuid::new_v4().to_string(), input, default_zone)?;
    let txn = super::begin_write(db).await?;
    if name_taken(&txn, &place.name, None).await? {
        return Err(WriteError::Duplicate(place.name));
    }
    let now = now_ms();
    places::Entity::insert(places::ActiveModel {
        id: Set(place.id.clone()),
        name: Set(place.name.clone()),
        name_key: Set(name_key(&place.name)),
        kind: Set(place.kind),
        latitude: Set(place.latitude),
        longitude: Set(place.longitude),
        radius_m: Set(place.radius_m),
        timezone: Set(place.timezone.clone()),
        charging_efficiency: Set(place.charging_efficiency),
        cost_center: Set(place.cost_center.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(|e| duplicate_or(e, &place.name))?;
    mark_place(&txn, &place.id, Some(&place)).await?;
    super::readiness::mark_all_due(&txn).await?;
    txn.commit().await?;
    Ok(dto_of(&place))
}

fn dto_of(place: &Place) -> PlaceDto {
    PlaceDto {
        id: place.id.clone(),
        name: place.name.clone(),
        kind: place.kind,
        latitude: place.latitude,
        longitude: place.longitude,
        radius_m: place.radius_m,
        timezone: place.timezone.clone(),
        charging_efficiency: place.charging_efficiency,
        cost_center: place.cost_center.clone(),
        session_count: 0,
    }
}

/// The place's fields as a `PlaceInput`, to apply a change to.
pub fn input_of(place: &PlaceDto) -> PlaceInput {
    PlaceInput {
        name: place.name.clone(),
        kind: place.kind,
        latitude: place.latitude,
        longitude: place.longitude,
        radius_m: place.radius_m,
        timezone: Some(place.timezone.clone()),
        charging_efficiency: place.charging_efficiency,
        cost_center: place.cost_center.clone(),
    }
}

/// Replaces a place's fields; the sessions it held and those it may hold now are
/// re-assigned and re-priced in the background.
pub async fn update(
    db: &DatabaseConnection,
    id: &str,
    input: PlaceInput,
    default_zone: Tz,
) -> Result<PlaceDto, WriteError> {
    let place = checked(id.to_owned(), input, default_zone)?;
    let txn = super::begin_write(db).await?;
    if places::Entity::find_by_id(id).one(&txn).await?.is_none() {
        return Err(WriteError::NotFound(format!("no place with id {id:?}")));
    }
    if name_taken(&txn, &place.name, Some(id)).await? {
        return Err(WriteError::Duplicate(place.name));
    }
    places::Entity::update(places::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(place.id.clone()),
        name: Set(place.name.clone()),
        name_key: Set(name_key(&place.name)),
        kind: Set(place.kind),
        latitude: Set(place.latitude),
        longitude: Set(place.longitude),
        radius_m: Set(place.radius_m),
        timezone: Set(place.timezone.clone()),
        charging_efficiency: Set(place.charging_efficiency),
        cost_center: Set(place.cost_center.clone()),
        updated_at: Set(now_ms()),
        ..Default::default()
    })
    .exec(&txn)
    .await
    .map_err(|e| duplicate_or(e, &place.name))?;
    mark_place(&txn, id, Some(&place)).await?;
    super::readiness::mark_all_due(&txn).await?;
    txn.commit().await?;
    get(db, id)
        .await?
        .ok_or_else(|| WriteError::NotFound(format!("no place with id {id:?}")))
}

/// Deletes a place and its tariffs; its sessions are re-assigned in the background.
pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<(), WriteError> {
    let txn = super::begin_write(db).await?;
    let deleted = places::Entity::delete_by_id(id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(WriteError::NotFound(format!("no place with id {id:?}")));
    }
    tariffs::Entity::delete_many()
        .filter(tariffs::Column::PlaceId.eq(id))
        .exec(&txn)
        .await?;
    mark_place(&txn, id, None).await?;
    super::site_load::drop_place(&txn, id).await?;
    super::readiness::mark_all_due(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Where the sessions of the last [`SUGGESTION_DAYS`] that belong to no place gather:
/// the [`MAX_SUGGESTIONS`] with the most sessions.
pub async fn suggestions(db: &impl ConnectionTrait, zone: Tz) -> Result<Vec<Suggestion>, DbErr> {
    type Row = (
        String,
        Option<f64>,
        Option<f64>,
        i64,
        Option<i64>,
        Option<f64>,
        Option<crate::domain::sessions::ChargerType>,
    );
    let since = now_ms() - SUGGESTION_DAYS * 86_400_000;
    let rows: Vec<Row> = sessions::Entity::find()
        .select_only()
        .columns([
            sessions::Column::VehicleId,
            sessions::Column::Latitude,
            sessions::Column::Longitude,
            sessions::Column::StartedAt,
            sessions::Column::EndedAt,
            sessions::Column::EnergyAddedKwh,
            sessions::Column::ChargerType,
        ])
        .filter(sessions::Column::PlaceId.is_null())
        .filter(sessions::Column::Latitude.is_not_null())
        .filter(sessions::Column::Longitude.is_not_null())
        .filter(sessions::Column::StartedAt.gte(since))
        .into_tuple()
        .all(db)
        .await?;
    let at = DateTime::from_timestamp_millis;
    let spots: Vec<Spot> = rows
        .into_iter()
        .filter_map(|(vehicle_id, lat, lon, started, ended, energy, charger)| {
            Some(Spot {
                vehicle_id,
                latitude: lat?,
                longitude: lon?,
                started_at: at(started)?,
                ended_at: ended.and_then(at),
                energy_kwh: energy,
                charger_type: charger,
            })
        })
        .collect();
    // Sessions not yet re-assigned after a change may still say "no place".
    let places: Vec<Place> = places::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(pricing::place)
        .collect();
    let mut found = suggest(&spots, &places, zone);
    found.truncate(MAX_SUGGESTIONS);
    Ok(found)
}

fn tariff_dto(row: tariffs::Model) -> Option<TariffDto> {
    let created_at = DateTime::from_timestamp_millis(row.created_at)?;
    let version = pricing::version(row)?;
    Some(TariffDto {
        id: version.id,
        place_id: version.place_id,
        tariff: version.tariff,
        created_at,
    })
}

/// The tariff versions of a place (`None`: the fleet default), newest `valid_from` first.
pub async fn tariffs(
    db: &impl ConnectionTrait,
    place_id: Option<&str>,
) -> Result<Vec<TariffDto>, DbErr> {
    let scope = match place_id {
        Some(id) => tariffs::Column::PlaceId.eq(id),
        None => tariffs::Column::PlaceId.is_null(),
    };
    Ok(tariffs::Entity::find()
        .filter(scope)
        .order_by_desc(tariffs::Column::ValidFrom)
        .order_by_asc(tariffs::Column::ChargerType)
        .all(db)
        .await?
        .into_iter()
        .filter_map(tariff_dto)
        .collect())
}

pub async fn place_exists(db: &impl ConnectionTrait, id: &str) -> Result<bool, DbErr> {
    Ok(places::Entity::find_by_id(id).one(db).await?.is_some())
}

/// Adds a tariff version to a place (`None`: the fleet default); the sessions there are
/// re-priced in the background. One version per scope, charger type and `valid_from`.
pub async fn add_tariff(
    db: &DatabaseConnection,
    place_id: Option<&str>,
    tariff: Tariff,
) -> Result<TariffDto, WriteError> {
    tariff.check()?;
    let overlap = || {
        invalid(
            "valid_from",
            "a version of this tariff already starts on that date; delete it first",
        )
    };
    let charger = tariff.charger_type.map_or("any", |c| c.as_str());
    let scope_key = format!(
        "{}|{charger}|{}",
        place_id.unwrap_or("default"),
        tariff.valid_from
    );
    let txn = super::begin_write(db).await?;
    if let Some(id) = place_id {
        if !place_exists(&txn, id).await? {
            return Err(WriteError::NotFound(format!("no place with id {id:?}")));
        }
    }
    let taken = tariffs::Entity::find()
        .filter(tariffs::Column::ScopeKey.eq(scope_key.as_str()))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(overlap());
    }
    let body = serde_json::to_value(&tariff).map_err(|e| DbErr::Json(e.to_string()))?;
    let row = tariffs::Model {
        id: uuid::Uuid::new_v4().to_string(),
        place_id: place_id.map(str::to_owned),
        scope_key,
        valid_from: tariff.valid_from.to_string(),
        charger_type: tariff.charger_type,
        body,
        created_at: now_ms(),
    };
    tariffs::Entity::insert(tariffs::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => overlap(),
            _ => WriteError::Db(e),
        })?;
    mark_scope(&txn, place_id).await?;
    txn.commit().await?;
    tariff_dto(row).ok_or_else(|| WriteError::Db(DbErr::Custom("tariff time".into())))
}

/// Deletes a tariff version; the sessions it may have priced are re-priced.
pub async fn delete_tariff(db: &DatabaseConnection, id: &str) -> Result<(), WriteError> {
    let txn = super::begin_write(db).await?;
    let Some(row) = tariffs::Entity::find_by_id(id).one(&txn).await? else {
        return Err(WriteError::NotFound(format!("no tariff with id {id:?}")));
    };
    tariffs::Entity::delete_by_id(id).exec(&txn).await?;
    mark_scope(&txn, row.place_id.as_deref()).await?;
    txn.commit().await?;
    Ok(())
}

/// The amount of a manual cost, checked: a plain decimal, not negative, with no more
/// decimals than the currency has.
fn manual_amount(input: &ManualCostInput) -> Result<(Decimal, String), WriteError> {
    let currency = input.currency.trim().to_owned();
    let Some(units) = minor_units(&currency) else {
        return Err(invalid(
            "currency",
            "must be an ISO 4217 currency code with a minor unit, such as EUR",
        ));
    };
    let amount: Decimal = input
        .amount
        .trim()
        .parse()
        .map_err(|_| invalid("amount", "must be a decimal number such as \"12.34\""))?;
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(invalid("amount", "must not be negative"));
    }
    if amount.normalize().scale() > units {
        return Err(invalid(
            "amount",
            format!("{currency} has {units} decimal places"),
        ));
    }
    Ok((amount.round_dp(units), currency))
}

fn manual_dto(row: manual_costs::Model) -> SessionCost {
    SessionCost {
        amount: row.amount,
        currency: row.currency,
        source: CostSource::Manual,
        tariff_id: None,
        breakdown: None,
        note: Some(row.note).filter(|n| !n.is_empty()),
    }
}

/// Sets (or replaces) a session's manual cost.
pub async fn set_cost(
    db: &DatabaseConnection,
    session_id: &str,
    input: &ManualCostInput,
) -> Result<SessionCost, WriteError> {
    let (amount, currency) = manual_amount(input)?;
    let note = input.note.as_deref().unwrap_or("").trim().to_owned();
    if note.chars().count() > MAX_NOTE {
        return Err(invalid(
            "note",
            format!("must have at most {MAX_NOTE} characters"),
        ));
    }
    let txn = super::begin_write(db).await?;
    let Some(session) = sessions::Entity::find_by_id(session_id).one(&txn).await? else {
        return Err(WriteError::NotFound(format!(
            "no session with id {session_id:?}"
        )));
    };
    let row = manual_costs::Model {
        session_id: session.id,
        vehicle_id: session.vehicle_id,
        amount: amount.to_string(),
        currency,
        note,
        set_at: now_ms(),
    };
    manual_costs::Entity::delete_by_id(session_id)
        .exec(&txn)
        .await?;
    manual_costs::Entity::insert(manual_costs::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(manual_dto(row))
}

/// Clears a manual cost (also one whose session no longer exists).
pub async fn clear_cost(db: &impl ConnectionTrait, session_id: &str) -> Result<(), WriteError> {
    let deleted = manual_costs::Entity::delete_by_id(session_id)
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(WriteError::NotFound(format!(
            "session {session_id:?} has no manual cost"
        )));
    }
    Ok(())
}

/// A vehicle's manual costs whose session re-derivation made disappear, newest first.
pub async fn unattached_costs(
    db: &impl ConnectionTrait,
    vehicle_id: &str,
) -> Result<Vec<(String, SessionCost)>, DbErr> {
    let costs = manual_costs::Entity::find()
        .filter(manual_costs::Column::VehicleId.eq(vehicle_id))
        .order_by_desc(manual_costs::Column::SessionId)
        .all(db)
        .await?;
    if costs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = costs.iter().map(|c| c.session_id.as_str()).collect();
    let present: HashSet<String> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .filter(sessions::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(costs
        .into_iter()
        .filter(|c| !present.contains(&c.session_id))
        .map(|c| (c.session_id.clone(), manual_dto(c)))
        .collect())
}

/// The tariff cost stored on a session row.
fn tariff_cost(row: &sessions::Model) -> Option<SessionCost> {
    Some(SessionCost {
        amount: row.cost_amount.clone()?,
        currency: row.cost_currency.clone()?,
        source: CostSource::Tariff,
        tariff_id: row.tariff_id.clone(),
        breakdown: row
            .cost_breakdown
            .as_ref()
            .and_then(|b| serde_json::from_value(b.clone()).ok()),
        note: None,
    })
}

/// Fills each session's place, grid energy and cost from its row (`rows[i]` is
/// `dtos[i]`'s), its place and its manual cost.
pub async fn annotate(
    db: &impl ConnectionTrait,
    dtos: &mut [SessionDto],
    rows: &[&sessions::Model],
) -> Result<(), DbErr> {
    let place_ids: HashSet<&str> = rows.iter().filter_map(|r| r.place_id.as_deref()).collect();
    let places: HashMap<String, PlaceRef> = if place_ids.is_empty() {
        HashMap::new()
    } else {
        places::Entity::find()
            .filter(places::Column::Id.is_in(place_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| {
                (
                    p.id.clone(),
                    PlaceRef {
                        id: p.id,
                        name: p.name,
                        kind: p.kind,
                    },
                )
            })
            .collect()
    };
    let mut manual: HashMap<String, SessionCost> = manual_costs::Entity::find()
        .filter(manual_costs::Column::SessionId.is_in(rows.iter().map(|r| r.id.as_str())))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.session_id.clone(), manual_dto(c)))
        .collect();
    for (session, row) in dtos.iter_mut().zip(rows) {
        session.place = row.place_id.as_ref().and_then(|id| places.get(id).cloned());
        session.grid_energy_kwh = row.grid_energy_kwh;
        session.cost = manual.remove(&row.id).or_else(|| tariff_cost(row));
    }
    Ok(())
}

/// The places a vehicle has sessions at, by name.
pub async fn places_of(
    db: &impl ConnectionTrait,
    vehicle_id: &str,
) -> Result<Vec<PlaceRef>, DbErr> {
    let ids: Vec<Option<String>> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::PlaceId)
        .distinct()
        .filter(sessions::Column::VehicleId.eq(vehicle_id))
        .filter(sessions::Column::PlaceId.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<String> = ids.into_iter().flatten().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(places::Entity::find()
        .filter(places::Column::Id.is_in(ids))
        .order_by_asc(places::Column::NameKey)
        .all(db)
        .await?
        .into_iter()
        .map(|p| PlaceRef {
            id: p.id,
            name: p.name,
            kind: p.kind,
        })
        .collect())
}
