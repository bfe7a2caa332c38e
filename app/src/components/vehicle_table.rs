use crate::domain::fleet::path_escape;
use crate::domain::fleet::{format_number, FleetQuery, SortKey, VehicleSummary};
use crate::viewer::Timestamp;
use leptos::prelude::*;

#[component]
fn SocBar(percent: Option<f64>) -> impl IntoView {
    match percent {
        Some(p) => {
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
            .into_any()
        }
        None => view! { <span class="muted">"—"</span> }.into_any(),
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

/// The fleet table: one row per vehicle that matches the query, of `total`.
#[component]
pub fn VehicleTable(
    vehicles: Vec<VehicleSummary>,
    total: usize,
    query: FleetQuery,
) -> impl IntoView {
    let count = vehicles.len();
    if count == 0 {
        return view! { <p class="notice">{format!("No vehicle matches (of {total}).")}</p> }
            .into_any();
    }
    view! {
        <p class="muted">
            {if count == total {
                format!("{count} vehicle{}", if count == 1 { "" } else { "s" })
            } else {
                format!("{count} of {total} vehicles")
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
                    <For each=move || vehicles.clone() key=|v| v.id.clone() let:v>
                        <tr data-vehicle-id=v.id.clone()>
                            <th scope="row">
                                <a
                                    class="vehicle-name"
                                    href=format!("/vehicles/{}", path_escape(&v.id))
                                >
                                    {v.display_name()}
                                </a>
                                <span class="vehicle-id muted">{v.id.clone()}</span>
                            </th>
                            <td data-label="State of charge">
                                <SocBar percent=v.soc_percent />
                            </td>
                            <td data-label="Status">
                                <span class=v.status().css_class()>{v.status().label()}</span>
                            </td>
                            <td data-label="Plugged in">{yes_no(v.is_plugged_in)}</td>
                            <td data-label="Power" class="num">
                                {match (v.is_charging, v.power_kw) {
                                    (Some(true), Some(kw)) => format!("{} kW", format_number(kw)),
                                    _ => "—".to_owned(),
                                }}
                            </td>
                            <td data-label="Range" class="num">
                                {v
                                    .range_km
                                    .map(|km| format!("{} km", format_number(km)))
                                    .unwrap_or_else(|| "—".into())}
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
                    </For>
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
