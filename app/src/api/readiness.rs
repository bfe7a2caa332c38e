//! The readiness board's data, for server rendering and the board's live refresh.

use crate::api::error::AppError;
use crate::wire::ReadinessBoard;
use leptos::prelude::*;

/// Vehicles on one page of the board.
pub const BOARD_PAGE: u64 = 50;

/// One page of the board, most urgent first (only `status`, when given; after the
/// cursor `after`).
#[server(endpoint = "readiness_board", output = crate::api::codec::Json)]
pub async fn get_readiness(
    status: Option<String>,
    after: Option<String>,
) -> Result<ReadinessBoard, AppError> {
    crate::api::error::with_status(board_inner(status, after).await)
}

#[cfg(feature = "ssr")]
async fn board_inner(
    status: Option<String>,
    after: Option<String>,
) -> Result<ReadinessBoard, AppError> {
    use crate::domain::readiness::Status;
    use crate::server::readiness::{counts, page, Cursor};
    let ctx = crate::server::context()?;
    let status = match status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            Status::parse(raw)
                .ok_or_else(|| AppError::BadRequest(format!("There is no status called {raw}.")))?,
        ),
    };
    let cursor = match after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(raw) => Some(Cursor::parse(raw).ok_or_else(|| {
            AppError::BadRequest("That link to a later page is broken; start again.".into())
        })?),
    };
    let now = chrono::Utc::now();
    let (vehicles, next_cursor) = page(&ctx.db, status, cursor.as_ref(), BOARD_PAGE, now).await?;
    Ok(ReadinessBoard {
        vehicles,
        next_cursor,
        counts: counts(&ctx.db).await?,
    })
}
