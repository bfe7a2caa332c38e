use crate::domain::fleet::path_escape;
use crate::domain::fleet::{format_duration, format_number};
use crate::viewer::Timestamp;
use crate::wire::SessionDto;
use leptos::either::Either;
use leptos::prelude::*;

fn kwh(s: &SessionDto) -> String {
    match (s.energy_added_kwh, s.energy_source.as_deref()) {
        (Some(kwh), Some(source)) => format!("{} kWh ({source})", format_number(kwh)),
        (Some(kwh), None) => format!("{} kWh", format_number(kwh)),
        _ => "—".to_owned(),
    }
}

fn soc(s: &SessionDto) -> String {
    let p = |v: Option<f64>| v.map_or("?".to_owned(), |p| format!("{} %", format_number(p)));
    format!("{} → {}", p(s.soc_start), p(s.soc_end))
}

/// Where the car charged: its place, else the spot to about 100 m.
fn place(s: &SessionDto) -> String {
    match (&s.place, s.latitude, s.longitude) {
        (Some(place), _, _) => place.name.clone(),
        (None, Some(lat), Some(lon)) => format!("{lat:.3}, {lon:.3}"),
        _ => "—".to_owned(),
    }
}

fn cost(s: &SessionDto) -> String {
    s.cost
        .as_ref()
        .map_or("—".to_owned(), |c| format!("{} {}", c.amount, c.currency))
}

fn kw(v: Option<f64>) -> String {
    v.map_or("—".to_owned(), |kw| format!("{} kW", format_number(kw)))
}

/// A vehicle's sessions, one row each, linking to the session page.
#[component]
pub fn SessionTable(sessions: Vec<SessionDto>) -> impl IntoView {
    if sessions.is_empty() {
        return Either::Left(view! { <p class="notice">"No charging sessions in this range."</p> });
    }
    Either::Right(view! {
        <div class="table-wrap">
            <table class="fleet sessions">
                <caption class="visually-hidden">"Charging sessions, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Start"</th>
                        <th scope="col">"Duration"</th>
                        <th scope="col">"State of charge"</th>
                        <th scope="col" class="num">
                            "Energy"
                        </th>
                        <th scope="col" class="num">
                            "Max"
                        </th>
                        <th scope="col" class="num">
                            "Average"
                        </th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Place"</th>
                        <th scope="col" class="num">
                            "Cost"
                        </th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || sessions.clone() key=|s| s.id.clone() let:s>
                        <tr data-session-id=s.id.clone()>
                            <th scope="row">
                                <a href=format!("/sessions/{}", path_escape(&s.id))>
                                    <Timestamp at=Some(s.started_at) />
                                </a>
                                {(!s.start_observed)
                                    .then(|| {
                                        view! {
                                            <span class="flag" title="Already charging when first seen">
                                                " (start not observed)"
                                            </span>
                                        }
                                    })}
                            </th>
                            <td data-label="Duration">{format_duration(s.duration_s)}</td>
                            <td data-label="State of charge">{soc(&s)}</td>
                            <td data-label="Energy" class="num">
                                {kwh(&s)}
                            </td>
                            <td data-label="Max" class="num">
                                {kw(s.max_power_kw)}
                            </td>
                            <td data-label="Average" class="num">
                                {kw(s.avg_power_kw)}
                            </td>
                            <td data-label="Type">
                                {s.charger_type.clone().unwrap_or_else(|| "—".into())}
                            </td>
                            <td data-label="Place">{place(&s)}</td>
                            <td data-label="Cost" class="num">
                                {cost(&s)}
                            </td>
                            <td data-label="Status">{s.status.as_str()}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </div>
    })
}
