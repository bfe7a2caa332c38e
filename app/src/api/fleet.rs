use crate::api::error::AppError;
use crate::domain::fleet::FleetOverview;
use leptos::prelude::*;

/// Every vehicle with its latest known state.
#[server(endpoint = "fleet_overview")]
pub async fn get_fleet_overview() -> Result<FleetOverview, AppError> {
    let ctx = crate::server::context()?;
    let vehicles = crate::server::fleet::vehicle_summaries(&ctx.db).await?;
    Ok(FleetOverview {
        vehicles,
        webhooks_enabled: ctx.webhooks_enabled,
    })
}
