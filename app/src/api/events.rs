use crate::api::error::AppError;
use crate::domain::events::LogPage;
use leptos::prelude::*;

/// Rows per page on the deliveries page.
pub const LOG_PAGE_SIZE: u64 = 50;

/// One page of the webhook log, newest first. Empty strings mean "no filter".
#[server(endpoint = "webhook_log", output = crate::api::codec::Json)]
pub async fn get_webhook_log(
    vehicle: Option<String>,
    outcome: Option<String>,
    before: Option<i64>,
) -> Result<LogPage, AppError> {
    crate::api::error::with_status(get_webhook_log_inner(vehicle, outcome, before).await)
}

#[cfg(feature = "ssr")]
async fn get_webhook_log_inner(
    vehicle: Option<String>,
    outcome: Option<String>,
    before: Option<i64>,
) -> Result<LogPage, AppError> {
    use crate::domain::events::Outcome;
    use crate::server::events::{page, vehicle_names, LogFilter};
    let ctx = crate::server::context()?;
    let outcome =
        match outcome.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(Outcome::parse(raw).ok_or_else(|| {
                AppError::BadRequest(format!("There is no outcome called {raw}."))
            })?),
        };
    let filter = LogFilter {
        vehicle_id: vehicle.filter(|v| !v.trim().is_empty()),
        outcome,
        before,
        limit: LOG_PAGE_SIZE,
    };
    let (entries, next_before) = page(&ctx.db, &filter).await?;
    Ok(LogPage {
        entries,
        next_before,
        vehicles: vehicle_names(&ctx.db).await?,
    })
}
