//! Display components: they take data and render it; they load nothing.

pub mod axis;
pub mod charge_curve;
pub mod empty_fleet;
pub mod energy_chart;
pub mod error_view;
pub mod form_refusal;
pub mod schedule_form;
pub mod session_cost;
pub mod session_table;
pub mod status_badge;
pub mod vehicle_table;
