use crate::api::error::AppError;
use crate::domain::api::{SessionDetail, VehicleView};
use leptos::prelude::*;

/// Sessions per page on the vehicle page.
pub const PAGE_SIZE: u64 = 25;

/// A vehicle and one page of its sessions. `from` and `to` are dates (`YYYY-MM-DD`,
/// both included, UTC); `cursor` is the previous page's `next_cursor`.
#[server(endpoint = "vehicle_view")]
pub async fn get_vehicle_view(
    id: String,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
) -> Result<VehicleView, AppError> {
    use crate::server::sessions::{page, SessionFilter};
    let ctx = crate::server::context()?;
    let vehicle = crate::server::fleet::vehicle_item(&ctx.db, &id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no vehicle with id {id}.")))?;
    let day = |raw: Option<String>, days_after: u64| -> Option<i64> {
        let date = chrono::NaiveDate::parse_from_str(raw?.trim(), "%Y-%m-%d").ok()?;
        let date = date.checked_add_days(chrono::Days::new(days_after))?;
        Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
    };
    let filter = SessionFilter {
        from: day(from, 0),
        to: day(to, 1),
        before: cursor.and_then(|c| c.parse().ok()),
        limit: PAGE_SIZE,
    };
    let sessions = page(&ctx.db, &id, filter, &ctx.engine, crate::server::now()?).await?;
    Ok(VehicleView { vehicle, sessions })
}

/// A session with its charge curve.
#[server(endpoint = "session_detail")]
pub async fn get_session_detail(id: String) -> Result<SessionDetail, AppError> {
    let ctx = crate::server::context()?;
    crate::server::sessions::detail(&ctx.db, &id, &ctx.engine, crate::server::now()?)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no session with id {id}.")))
}
