//! Keeping every stored session's place and cost equal to what [`Book::price`] gives.
//!
//! A session is *due* while its `pricing_due` column holds a stamp: it is set when the
//! engine writes a session whose pricing inputs changed, and by [`mark_place`],
//! [`mark_scope`] and [`mark_vehicle`] when a place or a tariff changes. [`price_due`]
//! prices due sessions in batches and stores each answer only if the session's stamp is
//! still the one it read, so a session changed meanwhile stays due. It reads the places
//! and tariffs *after* the due sessions: a change is committed with its marks, so a
//! stamp the pricer read comes from a change its book holds. Pricing is a pure
//! function of the session and the book, so any number of pricers (one per server
//! process) may run at once: the worst they do is the same work twice. With each
//! session's place it stores the session's load there (`site_load`).

use super::entities::{places, sessions, tariffs};
use crate::domain::places::Place;
use crate::domain::pricing::book::{Book, Facts, Version};
use crate::domain::pricing::tariff::Tariff;
use chrono::DateTime;
use chrono_tz::Tz;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use std::sync::atomic::{AtomicI64, Ordering};

/// A stamp for a session that is due: microseconds since 1970, and never the same twice
/// in this process, so a pricer that read an older stamp cannot store its answer.
pub fn due_stamp() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    now.max(previous + 1)
}

/// A stored place as the domain's.
pub fn place(row: places::Model) -> Place {
    Place {
        id: row.id,
        name: row.name,
        kind: row.kind,
        latitude: row.latitude,
        longitude: row.longitude,
        radius_m: row.radius_m,
        timezone: row.timezone,
        charging_efficiency: row.charging_efficiency,
        cost_center: row.cost_center,
    }
}

/// A stored tariff version as the domain's (`None` for a body that no longer reads).
pub fn version(row: tariffs::Model) -> Option<Version> {
    let tariff: Tariff = serde_json::from_value(row.body).ok()?;
    Some(Version {
        id: row.id,
        place_id: row.place_id,
        tariff,
    })
}

/// Every place and tariff version.
pub async fn load_book(db: &impl ConnectionTrait, default_zone: Tz) -> Result<Book, DbErr> {
    let places = places::Entity::find()
        .order_by_asc(places::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(place)
        .collect();
    let versions = tariffs::Entity::find()
        .order_by_asc(tariffs::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .filter_map(version)
        .collect();
    Ok(Book {
        places,
        versions,
        default_zone,
    })
}

/// What pricing reads of a stored session.
fn facts_of<'a>(row: &sessions::Model, curve: &'a [(i64, f64)]) -> Option<Facts<'a>> {
    let at = DateTime::from_timestamp_millis;
    Some(Facts {
        started_at: at(row.started_at)?,
        ended_at: at(row.ended_at.unwrap_or(row.last_reading_at))?,
        location: row.latitude.zip(row.longitude),
        charger_type: row.charger_type,
        energy_kwh: row.energy_added_kwh,
        curve,
        place_id: None,
    })
}

/// The row's pricing columns as `book` prices it now.
pub fn priced(book: &Book, row: &sessions::Model) -> sessions::ActiveModel {
    use sea_orm::ActiveValue::{Set, Unchanged};
    let curve = super::sessions::curve_points(row.energy_curve.as_ref());
    let found = facts_of(row, &curve).map(|facts| book.price(&facts));
    let (place_id, grid, cost) = match found {
        Some(p) => (p.place_id, p.grid_energy_kwh, p.cost),
        None => (None, None, None),
    };
    let (amount, currency, tariff_id, breakdown, minor) = match cost {
        Some((tariff_id, b)) => (
            Some(b.total.to_string()),
            Some(b.currency.clone()),
            Some(tariff_id),
            serde_json::to_value(&b).ok(),
            in_minor_units(b.total, &b.currency),
        ),
        None => (None, None, None, None, None),
    };
    sessions::ActiveModel {
        id: Unchanged(row.id.clone()),
        place_id: Set(place_id),
        grid_energy_kwh: Set(grid),
        cost_amount: Set(amount),
        cost_currency: Set(currency),
        tariff_id: Set(tariff_id),
        cost_breakdown: Set(breakdown),
        pricing_due: Set(None),
        cost_minor: Set(minor),
        ..Default::default()
    }
}

/// An amount in its currency's minor unit (1234 for 12.34 EUR).
pub fn in_minor_units(amount: rust_decimal::Decimal, currency: &str) -> Option<i64> {
    let units = crate::domain::pricing::currency::minor_units(currency)?;
    let mut scaled = amount;
    scaled.rescale(units);
    i64::try_from(scaled.mantissa()).ok()
}

/// Sessions priced per batch (one transaction each).
pub const BATCH: u64 = 500;

/// Prices up to [`BATCH`] due sessions, oldest stamp first; returns how many were due
/// (0: none is). An answer is stored only where the stamp is still the one read.
///
/// The book is read after the sessions, never kept from an earlier batch: a place
/// created between an older book and this batch marked sessions that this batch may
/// read, and pricing them with a book without it would store them placeless as if
/// they were done.
pub async fn price_due(db: &DatabaseConnection, default_zone: Tz) -> Result<usize, DbErr> {
    let rows = sessions::Entity::find()
        .filter(sessions::Column::PricingDue.is_not_null())
        .order_by_asc(sessions::Column::PricingDue)
        .order_by_asc(sessions::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let book = load_book(db, default_zone).await?;
    let txn = db.begin().await?;
    let mut placed = Vec::with_capacity(rows.len());
    for row in &rows {
        let model = priced(&book, row);
        let place_id = match &model.place_id {
            sea_orm::ActiveValue::Set(place) => place.clone(),
            _ => None,
        };
        let stored = sessions::Entity::update_many()
            .set(model)
            .filter(sessions::Column::Id.eq(row.id.as_str()))
            .filter(sessions::Column::PricingDue.eq(row.pricing_due))
            .exec(&txn)
            .await?;
        // The load follows the place, only where this answer was stored.
        if stored.rows_affected == 1 {
            let slices = match place_id {
                Some(_) => super::site_load::session_slices(&txn, row).await?,
                None => Default::default(),
            };
            placed.push(super::site_load::Placed {
                session_id: row.id.clone(),
                vehicle_id: row.vehicle_id.clone(),
                place_id,
                slices,
            });
        }
    }
    super::site_load::store(&txn, &placed).await?;
    txn.commit().await?;
    Ok(rows.len())
}

/// Prices every due session; returns how many were priced.
pub async fn price_all_due(db: &DatabaseConnection, default_zone: Tz) -> Result<usize, DbErr> {
    let mut total = 0;
    loop {
        match price_due(db, default_zone).await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// How many sessions wait to be priced.
pub async fn due_count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    sessions::Entity::find()
        .filter(sessions::Column::PricingDue.is_not_null())
        .count(db)
        .await
}

async fn mark(db: &impl ConnectionTrait, which: Condition) -> Result<u64, DbErr> {
    let result = sessions::Entity::update_many()
        .col_expr(sessions::Column::PricingDue, Expr::value(due_stamp()))
        .filter(which)
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The sessions whose start may lie in a circle: inside its bounding box (a box a
/// little larger than the circle; pricing decides exactly).
fn near(circle: &Place) -> Condition {
    const METRES_PER_DEGREE: f64 = 111_195.0;
    let margin = circle.radius_m * 1.01 + 1.0;
    let dlat = margin / METRES_PER_DEGREE;
    let cos = circle.latitude.abs().min(89.0).to_radians().cos().max(1e-6);
    let dlon = (margin / (METRES_PER_DEGREE * cos)).min(360.0);
    Condition::all()
        .add(sessions::Column::Latitude.between(circle.latitude - dlat, circle.latitude + dlat))
        .add(sessions::Column::Longitude.between(circle.longitude - dlon, circle.longitude + dlon))
}

/// A place was created, moved, resized or deleted (`before` and `after` its circle, each
/// `None` where it did not exist): every session it held, or may hold now, is due.
/// Sessions it held are found by their place, so a deleted place leaves none behind.
pub async fn mark_place(
    db: &impl ConnectionTrait,
    id: &str,
    after: Option<&Place>,
) -> Result<u64, DbErr> {
    let mut which = Condition::any().add(sessions::Column::PlaceId.eq(id));
    if let Some(circle) = after {
        which = which.add(near(circle));
    }
    mark(db, which).await
}

/// A tariff of a place (or, with `None`, the fleet default) changed: its sessions are due.
pub async fn mark_scope(db: &impl ConnectionTrait, place_id: Option<&str>) -> Result<u64, DbErr> {
    let which = match place_id {
        Some(id) => Condition::all().add(sessions::Column::PlaceId.eq(id)),
        None => Condition::all().add(sessions::Column::PlaceId.is_null()),
    };
    mark(db, which).await
}

/// Every session of one vehicle, or of all (`chargelog reprice`), is due.
pub async fn mark_vehicle(
    db: &impl ConnectionTrait,
    vehicle_id: Option<&str>,
) -> Result<u64, DbErr> {
    let which = match vehicle_id {
        Some(id) => Condition::all().add(sessions::Column::VehicleId.eq(id)),
        None => Condition::all(),
    };
    mark(db, which).await
}
