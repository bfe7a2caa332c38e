//! A vehicle's signals panel: each signal's newest value, the signals that report
//! errors, and recent VEHICLE_ERROR entries.

use super::entities::{signal_error_counts, vehicle_errors, vehicle_latest};
use crate::domain::fleet::format_number;
use crate::domain::ids::VehicleId;
use crate::domain::time::EpochMs;
use crate::wire::{SignalErrors, SignalState, SignalsPanel, VehicleErrorItem};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// How many VEHICLE_ERROR entries the panel lists.
pub const RECENT_ERRORS: u64 = 10;

fn datetime(ms: Option<i64>) -> Option<DateTime<Utc>> {
    EpochMs::new(ms?).ok().map(EpochMs::to_datetime)
}

/// Longest text shown for a signal whose body is a structure.
const MAX_STRUCTURE_CHARS: usize = 80;

/// "41 %", "true", "FAST"; for a structured body the coordinates of a location or the
/// body itself, shortened; "—" for a signal with no value.
pub fn display_value(
    num: Option<f64>,
    boolean: Option<bool>,
    text: Option<&str>,
    unit: Option<&str>,
    body: &serde_json::Value,
) -> String {
    match (num, boolean, text) {
        (Some(n), _, _) => match unit {
            Some(unit) => format!("{} {unit}", format_number(n)),
            None => format_number(n),
        },
        (None, Some(b), _) => b.to_string(),
        (None, None, Some(t)) => t.to_owned(),
        _ => structure(body).unwrap_or_else(|| "—".to_owned()),
    }
}

fn structure(body: &serde_json::Value) -> Option<String> {
    let object = body.as_object().filter(|o| !o.is_empty())?;
    let coordinate = |k: &str| object.get(k).and_then(serde_json::Value::as_f64);
    if let (Some(lat), Some(lon)) = (coordinate("latitude"), coordinate("longitude")) {
        return Some(format!("{lat:.5}, {lon:.5}"));
    }
    let mut rest = object.clone();
    rest.remove("unit");
    let text = serde_json::Value::Object(rest).to_string();
    Some(if text.chars().count() > MAX_STRUCTURE_CHARS {
        let cut: String = text.chars().take(MAX_STRUCTURE_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text
    })
}

pub async fn panel(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
) -> Result<SignalsPanel, DbErr> {
    let latest = vehicle_latest::Entity::find()
        .filter(vehicle_latest::Column::VehicleId.eq(vehicle_id.as_str()))
        .order_by_asc(vehicle_latest::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|row| SignalState {
            value: display_value(
                row.value_num,
                row.value_bool,
                row.value_text.as_deref(),
                row.unit.as_deref(),
                &row.body,
            ),
            at: datetime(row.oem_updated_at.or(row.retrieved_at)),
            code: row.code,
        })
        .collect();
    // Counted at ingest (`signal_error_counts`): a handful of rows however long the
    // history, even for a signal that errors in every delivery.
    let erroring = signal_error_counts::Entity::find()
        .filter(signal_error_counts::Column::VehicleId.eq(vehicle_id.as_str()))
        .order_by_asc(signal_error_counts::Column::Code)
        .order_by_asc(signal_error_counts::Column::ErrorType)
        .order_by_asc(signal_error_counts::Column::ErrorCode)
        .all(db)
        .await?
        .into_iter()
        .map(|row| SignalErrors {
            code: row.code,
            error_type: Some(row.error_type).filter(|t| !t.is_empty()),
            error_code: Some(row.error_code).filter(|c| !c.is_empty()),
            count: row.count,
            last_at: datetime(Some(row.last_at)),
        })
        .collect();
    let recent_errors = vehicle_errors::Entity::find()
        .filter(vehicle_errors::Column::VehicleId.eq(vehicle_id.as_str()))
        .order_by_desc(vehicle_errors::Column::ReportedAt)
        .order_by_desc(vehicle_errors::Column::Id)
        .limit(RECENT_ERRORS)
        .all(db)
        .await?
        .into_iter()
        .map(|e| VehicleErrorItem {
            reported_at: datetime(Some(e.reported_at)).unwrap_or_default(),
            error_type: e.error_type,
            code: e.code,
            state: e.state,
            description: e.description,
            signals: serde_json::from_value(e.signals).unwrap_or_default(),
        })
        .collect();
    Ok(SignalsPanel {
        latest,
        erroring,
        recent_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::display_value;

    use serde_json::json;

    #[test]
    fn values_show_with_their_unit() {
        let none = json!(null);
        assert_eq!(
            display_value(Some(41.0), None, None, Some("%"), &none),
            "41 %"
        );
        assert_eq!(display_value(Some(3.5), None, None, None, &none), "3.5");
        assert_eq!(display_value(None, Some(true), None, None, &none), "true");
        assert_eq!(display_value(None, None, Some("FAST"), None, &none), "FAST");
        assert_eq!(display_value(None, None, None, None, &none), "—");
    }

    #[test]
    fn structures_show_as_coordinates_or_shortened() {
        let place = json!({"latitude": 59.334591, "longitude": 18.06324, "heading": 212});
        assert_eq!(
            display_value(None, None, None, None, &place),
            "59.33459, 18.06324"
        );
        let limits = json!({"activeLimit": 80, "unit": "percent"});
        assert_eq!(
            display_value(None, None, None, None, &limits),
            r#"{"activeLimit":80}"#
        );
        let long = json!({"values": "x".repeat(200)});
        let shown = display_value(None, None, None, None, &long);
        assert_eq!(shown.chars().count(), 80);
        assert!(shown.ends_with('…'));
    }
}
