use crate::api::fleet::{get_fleet_page, get_fleet_refresh};
use crate::components::empty_fleet::EmptyFleet;
use crate::components::energy_chart::EnergyChart;
use crate::components::error_view::ErrorView;
use crate::components::vehicle_table::{Pager, VehicleTable};
use crate::domain::buckets::Bucket;
use crate::domain::fleet::{
    format_number, ChargeStatus, FleetPage, FleetParams, FleetQuery, FleetTotals, VehicleSummary,
};
use crate::live::{refetched, Live};
use crate::wire::EnergyBucket;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

pub use island::FleetView;

/// `/`: the fleet's totals and chart, and its vehicles a page at a time, searched,
/// filtered, sorted and paged by the URL (plain links and a GET form, so all of it
/// works without JavaScript). Live updates refresh the vehicles on the page in place:
/// a vehicle whose values change keeps its row until the page is loaded again.
#[component]
pub fn FleetPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let q = query.read();
        FleetParams {
            q: q.get("q"),
            status: q.get("status"),
            sort: q.get("sort"),
            dir: q.get("dir"),
            after: q.get("after"),
            before: q.get("before"),
        }
    });
    let page = Resource::new(
        move || params.get(),
        |p| get_fleet_page(p.q, p.status, p.sort, p.dir, p.after, p.before),
    );
    view! {
        <Title text="Fleet" />
        <h1>"Fleet"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading vehicles…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    #[cfg(feature = "ssr")] crate::server::island_preload::preload("fleet_view");
                    page.await
                        .map(|page| view! { <FleetBody page params=params.get_untracked() /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The page under its heading, rendered on the server: what changes with live updates
/// is the island ([`FleetView`]); the search form, the pager and the export form are
/// plain HTML around it, so they cost the browser no code.
#[component]
fn FleetBody(page: FleetPage, params: FleetParams) -> impl IntoView {
    if page.totals.vehicles == 0 {
        return Either::Left(view! { <EmptyFleet webhooks_enabled=page.webhooks_enabled /> });
    }
    let query = FleetQuery::from_params(params);
    let FleetPage {
        totals,
        daily,
        vehicles,
        matching,
        next,
        prev,
        ..
    } = page;
    let search = query.clone();
    Either::Right(view! {
        <FleetView totals daily vehicles matching query=query.clone()>
            <h2>"Vehicles"</h2>
            <FleetSearch query=search />
        </FleetView>
        <Pager query next prev />
        <FleetExport />
    })
}

/// The page's island, in a module of its own: Leptos's island macro passes `children`
/// through `into_any`, which clippy.toml keeps out of the app's own code.
#[allow(
    clippy::disallowed_methods,
    reason = "Leptos's island macro passes children through into_any"
)]
mod island {
    use super::*;

    /// The fleet's totals, chart and vehicles, with what live updates brought merged in:
    /// the page's island. `children` (the vehicles' heading and search form, server-rendered)
    /// go between the chart and the table.
    #[island(lazy)]
    pub fn FleetView(
        totals: FleetTotals,
        daily: Vec<EnergyBucket>,
        vehicles: Vec<VehicleSummary>,
        matching: u64,
        query: FleetQuery,
        children: Children,
    ) -> impl IntoView {
        let live = Live::get();
        let ids: Vec<String> = vehicles.iter().map(|v| v.id.clone()).collect();
        // The page's vehicles as they are now, once something changed.
        let fresh = refetched(
            None,
            move || live.map_or(0, Live::version),
            move || {
                let ids = ids.clone();
                async move {
                    if ids.is_empty() {
                        Ok(None)
                    } else {
                        get_fleet_refresh(ids).await.map(Some)
                    }
                }
            },
        );
        let fresh = move || fresh.get();
        let total = totals.vehicles as u64;
        let totals = move || fresh().map_or_else(|| totals.clone(), |r| r.totals);
        let daily = move || fresh().map_or_else(|| daily.clone(), |r| r.daily);
        let rows = move || {
            let mut rows = vehicles.clone();
            if let Some(fresh) = fresh() {
                for row in &mut rows {
                    if let Some(new) = fresh.vehicles.iter().find(|v| v.id == row.id) {
                        *row = new.clone();
                    }
                }
            }
            view! { <VehicleTable vehicles=rows matching total query=query.clone() /> }
        };
        view! {
            {move || view! { <Totals totals=totals() /> }}
            <h2>"Energy added per day"</h2>
            {move || {
                view! {
                    <EnergyChart
                        buckets=daily()
                        bucket=Bucket::Day
                        label="Fleet energy added per day, last 30 days".to_owned()
                    />
                }
            }}
            {children()}
            {rows}
        }
    }
}

/// Search and status filter: a plain GET form, so it works without JavaScript.
#[component]
fn FleetSearch(query: FleetQuery) -> impl IntoView {
    let options = std::iter::once(("", "Any status")).chain(
        ChargeStatus::ALL
            .into_iter()
            .map(|s| (s.as_str(), s.label())),
    );
    let current = query.status.map(ChargeStatus::as_str).unwrap_or("");
    view! {
        <form method="get" class="filter" role="search" aria-label="Find vehicles">
            <label>
                "Search "
                <input
                    type="search"
                    name="q"
                    value=query.q.clone()
                    placeholder="Name or id"
                    maxlength=crate::domain::fleet::MAX_SEARCH
                />
            </label>
            <label>
                "Status "
                <select name="status">
                    {options
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

/// The fleet's headline numbers, in one compact row.
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
