use crate::api::error::AppError;
use crate::domain::fleet::{FleetPage, FleetRefresh};
use leptos::prelude::*;

/// Vehicles on one page of the fleet table.
pub const FLEET_PAGE: u64 = 50;

/// One page of the fleet table for the URL's search, filter, sort and start, with the
/// fleet's totals and its daily energy over the last 30 days in the viewer's zone.
#[server(endpoint = "fleet_page", output = crate::api::codec::Json)]
pub async fn get_fleet_page(
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    after: Option<String>,
    before: Option<String>,
) -> Result<FleetPage, AppError> {
    let params = crate::domain::fleet::FleetParams {
        q,
        status,
        sort,
        dir,
        after,
        before,
    };
    crate::api::error::with_status(get_fleet_page_inner(params).await)
}

#[cfg(feature = "ssr")]
async fn get_fleet_page_inner(
    params: crate::domain::fleet::FleetParams,
) -> Result<FleetPage, AppError> {
    use crate::domain::fleet::{FleetQuery, PageStart};
    use crate::server::fleet;
    let ctx = crate::server::context()?;
    let tz = crate::viewer::viewer_tz();
    let now = crate::server::now()?;
    let mut query = FleetQuery::from_params(params);
    let slice = match fleet::page(&ctx.db, &query, FLEET_PAGE, &ctx.engine, now).await? {
        Some(slice) => slice,
        None => {
            // A link to a page that starts at a vehicle that is gone: the first page.
            query.start = PageStart::First;
            fleet::page(&ctx.db, &query, FLEET_PAGE, &ctx.engine, now)
                .await?
                .ok_or(AppError::Internal)?
        }
    };
    let (totals, daily) = fleet::totals(&ctx.db, &ctx.engine, tz, now).await?;
    Ok(FleetPage {
        vehicles: fleet::summaries(&ctx.db, slice.vehicles, &ctx.engine, now).await?,
        matching: slice.matching,
        next: slice.next,
        prev: slice.prev,
        totals,
        daily,
        webhooks_enabled: ctx.webhooks_enabled,
    })
}

/// The vehicles an open fleet page shows, with their new state, and the fleet's new
/// totals: what a live update brings (the page keeps its order).
#[server(endpoint = "fleet_refresh", output = crate::api::codec::Json)]
pub async fn get_fleet_refresh(ids: Vec<String>) -> Result<FleetRefresh, AppError> {
    crate::api::error::with_status(get_fleet_refresh_inner(ids).await)
}

#[cfg(feature = "ssr")]
async fn get_fleet_refresh_inner(ids: Vec<String>) -> Result<FleetRefresh, AppError> {
    use crate::domain::fleet::MAX_REFRESH;
    use crate::server::fleet;
    if ids.len() > MAX_REFRESH {
        return Err(AppError::BadRequest(format!(
            "A refresh asks for {MAX_REFRESH} vehicles at most."
        )));
    }
    let ctx = crate::server::context()?;
    let tz = crate::viewer::viewer_tz();
    let now = crate::server::now()?;
    let rows = fleet::rows_of(&ctx.db, &ids).await?;
    let (totals, daily) = fleet::totals(&ctx.db, &ctx.engine, tz, now).await?;
    Ok(FleetRefresh {
        vehicles: fleet::summaries(&ctx.db, rows, &ctx.engine, now).await?,
        totals,
        daily,
    })
}

/// Whether this server runs in demo mode (`--demo`): its data is simulated.
#[server(endpoint = "demo_mode", output = crate::api::codec::Json)]
pub async fn get_demo_mode() -> Result<bool, AppError> {
    Ok(crate::server::context()?.demo)
}
