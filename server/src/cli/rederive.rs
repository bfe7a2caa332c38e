//! `chargelog rederive`: rebuild sessions from stored readings, one vehicle per
//! transaction, with a progress bar on a terminal.

use app::domain::ids::VehicleId;
use app::domain::sessions::EngineConfig;
use app::domain::time::EpochMs;
use app::server::entities::vehicles;
use app::server::fleet_energy::EnergyLedger;
use app::server::sessions::{lock_vehicle, rederive_vehicle};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QueryOrder, QuerySelect, TransactionTrait};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub vehicles: usize,
    pub sessions: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RederiveError {
    #[error("no vehicle with id {0:?} is stored")]
    UnknownVehicle(String),
    #[error("database error while re-deriving sessions")]
    Database(#[from] DbErr),
}

pub async fn run(
    db: &DatabaseConnection,
    vehicle: Option<&str>,
    engine: &EngineConfig,
    as_of: EpochMs,
    show_progress: bool,
) -> Result<Summary, RederiveError> {
    let ids: Vec<VehicleId> = match vehicle {
        Some(raw) => {
            let unknown = || RederiveError::UnknownVehicle(raw.to_owned());
            let id = VehicleId::parse(raw).map_err(|_| unknown())?;
            vehicles::Entity::find_by_id(id.to_string())
                .one(db)
                .await?
                .ok_or_else(unknown)?;
            vec![id]
        }
        None => {
            vehicles::Entity::find()
                .select_only()
                .column(vehicles::Column::Id)
                .order_by_asc(vehicles::Column::Id)
                .into_tuple()
                .all(db)
                .await?
        }
    };
    let bar = if show_progress {
        ProgressBar::new(ids.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} vehicles  {elapsed_precise}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut sessions = 0;
    for id in &ids {
        let txn = db.begin().await?;
        lock_vehicle(&txn, id).await?;
        let mut ledger = EnergyLedger::default();
        sessions += rederive_vehicle(&txn, id, engine, as_of, &mut ledger).await?;
        ledger.write(&txn).await?;
        txn.commit().await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Summary {
        vehicles: ids.len(),
        sessions,
    })
}
