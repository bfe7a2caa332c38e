//! Pure types and logic shared by the server and the browser: no I/O here.

pub mod alerts;
pub mod buckets;
pub mod chart;
pub mod date_text;
pub mod events;
pub mod fleet;
pub mod health;
pub mod ids;
pub mod places;
pub mod pricing;
pub mod readiness;
pub mod reading;
pub mod reports;
pub mod schedule;
pub mod sessions;
pub mod signals;
pub mod site_load;
pub mod text;
pub mod time;
pub mod units;
pub mod values;
pub mod webhook;
pub mod what_if;
