use crate::api::fleet::get_fleet_overview;
use crate::components::empty_fleet::EmptyFleet;
use crate::components::energy_chart::EnergyChart;
use crate::components::error_view::ErrorView;
use crate::components::vehicle_table::VehicleTable;
use crate::domain::buckets::Bucket;
use crate::domain::fleet::{format_number, ChargeStatus, FleetQuery, FleetTotals};
use crate::live::Live;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// `/`: every vehicle and its latest state.
#[component]
pub fn FleetPage() -> impl IntoView {
    let live = Live::get();
    let overview = Resource::new(move || live.map(Live::version), |_| get_fleet_overview());
    let query = use_query_map();
    let fleet_query = Memo::new(move |_| {
        let q = query.read();
        FleetQuery::from_params(q.get("q"), q.get("status"), q.get("sort"), q.get("dir"))
    });
    view! {
        <Title text="Fleet" />
        <h1>"Fleet"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading vehicles…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    overview
                        .await
                        .map(|overview| {
                            if overview.vehicles.is_empty() {
                                view! { <EmptyFleet webhooks_enabled=overview.webhooks_enabled /> }
                                    .into_any()
                            } else {
                                let fq = fleet_query.get();
                                let total = overview.vehicles.len();
                                let shown = fq.apply(overview.vehicles);
                                view! {
                                    <Totals totals=overview.totals />
                                    <h2>"Energy added per day"</h2>
                                    <EnergyChart
                                        buckets=overview.daily
                                        bucket=Bucket::Day
                                        label="Fleet energy added per day, last 30 days".to_owned()
                                    />
                                    <FleetExport />
                                    <h2>"Vehicles"</h2>
                                    <FleetSearch query=fq.clone() />
                                    <VehicleTable vehicles=shown total query=fq />
                                }
                                    .into_any()
                            }
                        })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// Search and status filter: a plain GET form, so it works without JavaScript.
#[component]
fn FleetSearch(query: FleetQuery) -> impl IntoView {
    let options = [
        ("", "Any status"),
        (ChargeStatus::Charging.as_param(), "Charging"),
        (ChargeStatus::Plugged.as_param(), "Plugged in"),
        (ChargeStatus::Idle.as_param(), "Idle"),
        (ChargeStatus::Unknown.as_param(), "Unknown"),
    ];
    let current = query.status.map(ChargeStatus::as_param).unwrap_or("");
    view! {
        <form method="get" class="filter" role="search" aria-label="Find vehicles">
            <label>
                "Search "
                <input type="search" name="q" value=query.q.clone() placeholder="Name or id" />
            </label>
            <label>
                "Status "
                <select name="status">
                    {options
                        .into_iter()
                        .map(|(value, label)| {
                            view! {
                                <option value=value selected=value == current>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <input type="hidden" name="sort" value=query.sort.as_param() />
            {query.descending.then(|| view! { <input type="hidden" name="dir" value="desc" /> })}
            <button type="submit">"Apply"</button>
        </form>
    }
}

/// The fleet's headline numbers.
#[component]
fn Totals(totals: FleetTotals) -> impl IntoView {
    view! {
        <dl class="facts totals" aria-label="Fleet totals">
            <div>
                <dt>"Vehicles"</dt>
                <dd data-total="vehicles">{totals.vehicles}</dd>
            </div>
            <div>
                <dt>"Charging now"</dt>
                <dd data-total="charging">{totals.charging_now}</dd>
            </div>
            <div>
                <dt>"Energy today"</dt>
                <dd data-total="today">{format!("{} kWh", format_number(totals.kwh_today))}</dd>
            </div>
            <div>
                <dt>"Energy this month"</dt>
                <dd data-total="month">
                    {format!("{} kWh", format_number(totals.kwh_this_month))}
                </dd>
            </div>
        </dl>
    }
}

/// Every vehicle's sessions over a date range as one CSV file.
#[component]
fn FleetExport() -> impl IntoView {
    view! {
        <form
            method="get"
            action="/sessions.csv"
            class="filter"
            aria-label="Download the fleet's sessions"
        >
            <label>"From " <input type="date" name="from" /></label>
            <label>"To " <input type="date" name="to" /></label>
            <button type="submit">"Download all sessions (CSV)"</button>
        </form>
    }
}
