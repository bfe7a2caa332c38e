use crate::components::status_badge::StatusBadge;
use crate::domain::fleet::path_escape;
use crate::domain::fleet::{
    format_number, ChargeStatus, FleetQuery, PageStart, SortKey, VehicleSummary,
};
use crate::viewer::Timestamp;
use leptos::either::Either;
use leptos::prelude::*;

#[component]
fn SocBar(percent: Option<f64>) -> impl IntoView {
    match percent {
        Some(p) => Either::Left({
            let width = format!("width: {}%", p.clamp(0.0, 100.0));
            let text = format!("{} %", format_number(p));
            view! {
                <div
                    class="soc"
                    role="meter"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=p
                    aria-label="State of charge"
                >
                    <div class="soc-fill" style=width></div>
                    <span class="soc-text">{text}</span>
                </div>
            }
        }),
        None => Either::Right(view! { <span class="muted">"—"</span> }),
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "—",
    }
}

/// A column header that sorts the table by its column, saying how it is sorted now.
#[component]
fn SortHeader(
    query: FleetQuery,
    key: SortKey,
    label: &'static str,
    #[prop(optional)] numeric: bool,
) -> impl IntoView {
    let sorted = query.sort == key;
    let aria = match (sorted, query.descending) {
        (false, _) => "none",
        (true, false) => "ascending",
        (true, true) => "descending",
    };
    let arrow = match (sorted, query.descending) {
        (false, _) => "",
        (true, false) => " ▲",
        (true, true) => " ▼",
    };
    view! {
        <th scope="col" class:num=numeric aria-sort=aria>
            <a class="sort" href=query.sort_href(key)>
                {label}
                {arrow}
            </a>
        </th>
    }
}

/// One page of the fleet table; `matching` counts the vehicles on all pages, of the
/// fleet's `total`.
#[component]
pub fn VehicleTable(
    vehicles: Vec<VehicleSummary>,
    matching: u64,
    total: u64,
    query: FleetQuery,
) -> impl IntoView {
    if vehicles.is_empty() {
        return Either::Left(
            view! { <p class="notice">{format!("No vehicle matches (of {total}).")}</p> },
        );
    }
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    Either::Right(view! {
        <p class="muted" data-matching=matching>
            {if matching == total {
                format!("{total} vehicle{}", plural(total))
            } else {
                format!("{matching} of {total} vehicles")
            }}
        </p>
        <div class="table-wrap">
            <table class="fleet">
                <caption class="visually-hidden">"Vehicles and their latest state"</caption>
                <thead>
                    <tr>
                        <SortHeader query=query.clone() key=SortKey::Name label="Vehicle" />
                        <SortHeader query=query.clone() key=SortKey::Soc label="State of charge" />
                        <SortHeader query=query.clone() key=SortKey::Status label="Status" />
                        <th scope="col">"Plugged in"</th>
                        <SortHeader
                            query=query.clone()
                            key=SortKey::Power
                            label="Power"
                            numeric=true
                        />
                        <SortHeader
                            query=query.clone()
                            key=SortKey::Range
                            label="Range"
                            numeric=true
                        />
                        <th scope="col" class="num">
                            "kWh 7 days"
                        </th>
                        <th scope="col" class="num">
                            "kWh 30 days"
                        </th>
                        <SortHeader query=query.clone() key=SortKey::Updated label="Last update" />
                    </tr>
                </thead>
                <tbody>
                    {vehicles.into_iter().map(|v| view! { <VehicleRow v /> }).collect_view()}
                </tbody>
            </table>
        </div>
    })
}

#[component]
fn VehicleRow(v: VehicleSummary) -> impl IntoView {
    view! {
        <tr data-vehicle-id=v.id.clone()>
            <th scope="row">
                <a class="vehicle-name" href=format!("/vehicles/{}", path_escape(&v.id))>
                    {v.display_name()}
                </a>
                <span class="vehicle-id muted">{v.id.clone()}</span>
            </th>
            <td data-label="State of charge">
                <SocBar percent=v.soc_percent />
            </td>
            <td data-label="Status">
                <StatusBadge status=v.status reported=v.reported_status() updated_at=v.updated_at />
            </td>
            <td data-label="Plugged in">{yes_no(v.is_plugged_in)}</td>
            <td data-label="Power" class="num">
                {v
                    .power_kw
                    .filter(|_| v.status == ChargeStatus::Charging)
                    .map_or_else(|| "—".to_owned(), |kw| format!("{} kW", format_number(kw)))}
            </td>
            <td data-label="Range" class="num">
                {v
                    .range_km
                    .map_or_else(|| "—".to_owned(), |km| format!("{} km", format_number(km)))}
            </td>
            <td data-label="kWh 7 days" class="num">
                {format_number(v.energy_7d_kwh)}
            </td>
            <td data-label="kWh 30 days" class="num">
                {format_number(v.energy_30d_kwh)}
            </td>
            <td data-label="Last update">
                <Timestamp at=v.updated_at relative=true />
            </td>
        </tr>
    }
}

/// Links to the previous and next pages (and back to the first): plain links, so
/// paging works without JavaScript.
#[component]
pub fn Pager(query: FleetQuery, next: Option<String>, prev: Option<String>) -> impl IntoView {
    if next.is_none() && prev.is_none() {
        return None;
    }
    let link = |start: Option<PageStart>, rel: &'static str, label: &'static str| match start {
        Some(start) => Either::Left(view! {
            <a href=query.page_href(&start) rel=rel>
                {label}
            </a>
        }),
        None => Either::Right(view! {
            <span class="muted" aria-disabled="true">
                {label}
            </span>
        }),
    };
    Some(view! {
        <nav class="pager" aria-label="Pages of vehicles">
            {link(prev.is_some().then_some(PageStart::First), "first", "« First")}
            {link(prev.map(PageStart::Before), "prev", "‹ Previous")}
            {link(next.map(PageStart::After), "next", "Next ›")}
        </nav>
    })
}
