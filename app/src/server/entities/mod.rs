//! SeaORM entities: one module per table, matching the `migrations` crate. Times are
//! epoch milliseconds (`i64`) on both SQLite and PostgreSQL, so ordering and
//! comparisons are identical on either.

pub mod alerts;
pub mod api_tokens;
pub mod dead_letters;
pub mod deliveries;
pub mod delivery_stats;
pub mod fleet_energy;
pub mod login_sessions;
pub mod manual_costs;
pub mod notification_attempts;
pub mod notifications;
pub mod notify_endpoints;
pub mod place_load;
pub mod places;
pub mod readiness;
pub mod rebuilds;
pub mod schedules;
pub mod session_load;
pub mod sessions;
pub mod settings;
pub mod signal_error_counts;
pub mod signal_readings;
pub mod tariffs;
pub mod users;
pub mod vehicle_errors;
pub mod vehicle_latest;
pub mod vehicle_terms;
pub mod vehicles;
pub mod webhook_log;
