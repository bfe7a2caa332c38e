//! The schema, as sea-orm-migration migrations that build the same tables on SQLite and
//! PostgreSQL. One file per migration; each has a `down`.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_initial;
mod m20261128_000002_sessions;
mod m20261128_000003_webhook_log;
mod m20261128_000004_accounts;
mod m20261128_000005_signal_error_counts;
mod m20261128_000006_delivery_processing;
mod m20261130_000007_raw_retention;
mod m20261204_000008_dead_letter_once;
mod m20261205_000009_fleet_index;
mod m20261205_000010_fleet_search;
mod m20261206_000011_places_and_costs;
mod m20261206_000012_report_sums;
mod m20261207_000013_readiness;
mod m20261207_000014_alerts;
mod m20261207_000015_notifications;
mod m20261207_000016_delivery_stats;
mod m20261207_000017_site_load;
mod m20261207_000018_leaner_ingest;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial::Migration),
            Box::new(m20261128_000002_sessions::Migration),
            Box::new(m20261128_000003_webhook_log::Migration),
            Box::new(m20261128_000004_accounts::Migration),
            Box::new(m20261128_000005_signal_error_counts::Migration),
            Box::new(m20261128_000006_delivery_processing::Migration),
            Box::new(m20261130_000007_raw_retention::Migration),
            Box::new(m20261204_000008_dead_letter_once::Migration),
            Box::new(m20261205_000009_fleet_index::Migration),
            Box::new(m20261205_000010_fleet_search::Migration),
            Box::new(m20261206_000011_places_and_costs::Migration),
            Box::new(m20261206_000012_report_sums::Migration),
            Box::new(m20261207_000013_readiness::Migration),
            Box::new(m20261207_000014_alerts::Migration),
            Box::new(m20261207_000015_notifications::Migration),
            Box::new(m20261207_000016_delivery_stats::Migration),
            Box::new(m20261207_000017_site_load::Migration),
            Box::new(m20261207_000018_leaner_ingest::Migration),
        ]
    }
}
