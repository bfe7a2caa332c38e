use crate::api::error::AppError;
use crate::domain::fleet::FleetOverview;
use leptos::prelude::*;

/// Every vehicle with its latest known state, the fleet's totals and its daily energy
/// over the last 30 days in the viewer's zone.
#[server(endpoint = "fleet_overview")]
pub async fn get_fleet_overview() -> Result<FleetOverview, AppError> {
    crate::api::error::with_status(get_fleet_overview_inner().await)
}

#[cfg(feature = "ssr")]
async fn get_fleet_overview_inner() -> Result<FleetOverview, AppError> {
    let ctx = crate::server::context()?;
    let tz = crate::viewer::viewer_tz();
    let vehicles = crate::server::fleet::vehicle_summaries(&ctx.db).await?;
    let now = crate::server::now()?.to_datetime();
    let (totals, daily) = crate::server::fleet::fleet_energy(&ctx.db, &vehicles, tz, now).await?;
    Ok(FleetOverview {
        totals,
        daily,
        vehicles,
        webhooks_enabled: ctx.webhooks_enabled,
    })
}

/// Whether this server runs in demo mode (`--demo`): its data is simulated.
#[server(endpoint = "demo_mode")]
pub async fn get_demo_mode() -> Result<bool, AppError> {
    Ok(crate::server::context()?.demo)
}
