//! The settings page's data, for server rendering.

use crate::api::error::AppError;
use crate::wire::SettingsView;
use leptos::prelude::*;

#[server(endpoint = "settings_page", output = crate::api::codec::Json)]
pub async fn get_settings() -> Result<SettingsView, AppError> {
    crate::api::error::with_status(settings_inner().await)
}

#[cfg(feature = "ssr")]
async fn settings_inner() -> Result<SettingsView, AppError> {
    let ctx = crate::server::context()?;
    Ok(SettingsView {
        schedule: crate::server::schedules::fleet_default(&ctx.db).await?,
        default_timezone: ctx.timezone.name().to_owned(),
        alerts: crate::server::alerts::settings(&ctx.db).await?,
    })
}
