//! `chargelog reprice`: mark sessions (all, or one vehicle's) due and price every due
//! session, with a progress bar on a terminal. The same work the server's pricer does.

use app::server::entities::vehicles;
use app::server::pricing::{due_count, mark_vehicle, price_due};
use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};

#[derive(Debug, thiserror::Error)]
pub enum RepriceError {
    #[error("no vehicle with id {0:?} is stored")]
    UnknownVehicle(String),
    #[error("database error while pricing sessions")]
    Database(#[from] DbErr),
}

/// Returns how many sessions were priced.
pub async fn run(
    db: &DatabaseConnection,
    vehicle: Option<&str>,
    zone: Tz,
    show_progress: bool,
) -> Result<u64, RepriceError> {
    if let Some(id) = vehicle {
        if vehicles::Entity::find_by_id(id).one(db).await?.is_none() {
            return Err(RepriceError::UnknownVehicle(id.to_owned()));
        }
    }
    mark_vehicle(db, vehicle).await?;
    let bar = if show_progress {
        ProgressBar::new(due_count(db).await?)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} sessions  {elapsed_precise}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut priced = 0;
    loop {
        match price_due(db, zone).await? {
            0 => break,
            n => {
                priced += n as u64;
                bar.inc(n as u64);
            }
        }
    }
    bar.finish_and_clear();
    Ok(priced)
}
