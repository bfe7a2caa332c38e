use crate::domain::fleet::{format_age, ChargeStatus};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// A vehicle's charge status. A stale one says so, how old its newest reading is, and
/// what the vehicle last reported, on a line of its own: "Stale", "8 months (was Charging)".
#[component]
pub fn StatusBadge(
    status: ChargeStatus,
    reported: ChargeStatus,
    updated_at: Option<DateTime<Utc>>,
) -> impl IntoView {
    let label = status.label();
    let stale = (status == ChargeStatus::Stale).then(|| {
        let age = move || {
            updated_at
                .map(|at| format_age(crate::viewer::now_or_system() - at.timestamp_millis()))
                .unwrap_or_default()
        };
        view! {
            <span class="stale-detail">
                <span class="stale-age">{age}</span>
                <span class="muted">{format!(" (was {})", reported.label())}</span>
            </span>
        }
    });
    view! {
        <span class=status.css_class() data-status=status.as_str()>
            {label}
        </span>
        {stale}
    }
}
