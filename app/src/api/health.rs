//! The data health page's data, for server rendering.

use crate::api::error::AppError;
use crate::wire::HealthView;
use leptos::prelude::*;

/// Longest make, model or vehicle id a query may name.
pub const MAX_QUERY_CHARS: usize = 200;

/// Every make and model, and a page of vehicles (only those of `make` and `model` when
/// `make` is given; after the vehicle `after`).
#[server(endpoint = "health_page", output = crate::api::codec::Json)]
pub async fn get_health(
    make: Option<String>,
    model: Option<String>,
    after: Option<String>,
) -> Result<HealthView, AppError> {
    crate::api::error::with_status(health_inner(make, model, after).await)
}

#[cfg(feature = "ssr")]
async fn health_inner(
    make: Option<String>,
    model: Option<String>,
    after: Option<String>,
) -> Result<HealthView, AppError> {
    let given = |name: &str, v: Option<String>| -> Result<Option<String>, AppError> {
        let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        match v {
            Some(s) if s.chars().count() > MAX_QUERY_CHARS => Err(AppError::BadRequest(format!(
                "{name}: at most {MAX_QUERY_CHARS} characters."
            ))),
            v => Ok(v),
        }
    };
    let make = given("make", make)?;
    let model = given("model", model)?;
    let after = given("after", after)?;
    // A model names a make's model: without a make it filters nothing.
    let group = make.map(|make| (Some(make), model));
    let ctx = crate::server::context()?;
    let now = chrono::Utc::now().timestamp_millis();
    crate::server::health::view(&ctx.db, now, group, after.as_deref())
        .await?
        .ok_or_else(|| {
            AppError::BadRequest("That link to a later page is broken; start again.".into())
        })
}
