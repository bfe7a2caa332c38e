//! `/health`: is the data arriving? For each make and model, then for each vehicle (a
//! page at a time, by name): deliveries a day and how late they arrive over the last
//! seven days, the last delivery, open alerts, and which signals it reports (a matrix of
//! signals, with error counts). A server-rendered document with no island: it fetches
//! no code, and reads the same without JavaScript.

use crate::api::health::get_health;
use crate::components::error_view::ErrorView;
use crate::domain::fleet::{format_number, path_escape, url_escape};
use crate::domain::health::LagBound;
use crate::viewer::{format_local, Timestamp};
use crate::wire::{DeliveryFigures, GroupHealth, HealthView, VehicleHealth, VehicleSignal};
use chrono::{DateTime, Utc};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The page's URL for a make and model (none: every vehicle) and a page start.
fn health_href(make: Option<&str>, model: Option<&str>, after: Option<&str>) -> String {
    let query: Vec<String> = [("make", make), ("model", model), ("after", after)]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}={}", url_escape(v))))
        .collect();
    if query.is_empty() {
        "/health#vehicles".to_owned()
    } else {
        format!("/health?{}#vehicles", query.join("&"))
    }
}

#[component]
pub fn HealthPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let q = query.read();
        let get = |name: &str| q.get(name).filter(|s| !s.trim().is_empty());
        (get("make"), get("model"), get("after"))
    });
    let data = Resource::new(
        move || params.get(),
        |(make, model, after)| get_health(make, model, after),
    );
    view! {
        <Title text="Data health" />
        <h1>"Data health"</h1>
        <p class="muted">
            "Is every vehicle's data arriving? How often each make, model and vehicle delivers, how late (from the newest observation a delivery carries to its delivery), and which signals it reports. When a vehicle has gone quiet, "
            <a href="/alerts?kind=vehicle_silent">"its alert"</a> " says so too."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading data health…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    data.await.map(|view| view! { <Health view /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Health(view: HealthView) -> impl IntoView {
    if view.groups.is_empty() {
        return Either::Left(
            view! { <p class="notice">"No vehicles yet: this page fills as they deliver."</p> },
        );
    }
    let since = format_local(view.window_from);
    let signals = view.signals.clone();
    let more_signals = (view.more_signals > 0).then(|| {
        view! { <p class="muted">{format!("{} more signals are not shown.", view.more_signals)}</p> }
    });
    let more_groups = (view.more_groups > 0).then(|| {
        view! {
            <p class="muted">
                {format!("{} more makes and models are not shown.", view.more_groups)}
            </p>
        }
    });
    let filtered = view.make.clone().map(|make| {
        let name = [Some(make), view.model.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        view! {
            <p class="filter-note">
                "Only " <strong>{name}</strong> ". " <a href="/health#vehicles">"Every vehicle"</a>
            </p>
        }
    });
    let next = view.next_cursor.as_deref().map(|cursor| {
        let href = health_href(view.make.as_deref(), view.model.as_deref(), Some(cursor));
        view! {
            <p class="pager">
                <a href=href rel="next">
                    "Next vehicles →"
                </a>
            </p>
        }
    });
    let group_rows = view.groups.clone();
    let vehicle_rows = view.vehicles.clone();
    Either::Right(view! {
        <p class="window-note">
            "Deliveries and lags since " <strong>{since}</strong>
            " (the last seven days, UTC); lags are shown as the bucket they fall in. Error counts are since each vehicle's first delivery."
        </p>
        <section aria-labelledby="by-model">
            <h2 id="by-model">"By make and model"</h2>
            <div class="table-wrap">
                <table class="fleet health">
                    <thead>
                        <tr>
                            <th scope="col">"Make and model"</th>
                            <th scope="col" class="num">
                                "Vehicles"
                            </th>
                            <FigureHeads per="Deliveries a day, per vehicle" />
                            <th scope="col">"Quietest vehicle's last delivery"</th>
                            <th scope="col" class="num">
                                "Open alerts"
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        {group_rows
                            .into_iter()
                            .map(|group| view! { <GroupRow group /> })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            {more_groups}
            <h3>"Signals each make and model reports"</h3>
            <p class="muted">
                "How many of its vehicles have a value of each signal, and how many errors the signal has reported."
            </p>
            <Matrix
                signals=signals.clone()
                head="Make and model"
                rows=view
                    .groups
                    .iter()
                    .map(|g| {
                        let cells = g
                            .signals
                            .iter()
                            .map(|s| group_cell(s.reporting, g.vehicles, s.errors))
                            .collect();
                        (group_name(g), group_name(g), None, cells)
                    })
                    .collect()
            />
            {more_signals}
        </section>
        <section aria-labelledby="vehicles">
            <h2 id="vehicles">"Vehicles"</h2>
            {filtered}
            <div class="table-wrap">
                <table class="fleet health">
                    <thead>
                        <tr>
                            <th scope="col">"Vehicle"</th>
                            <th scope="col">"Last delivery"</th>
                            <FigureHeads per="Deliveries a day" />
                            <th scope="col">"Open alerts"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {vehicle_rows
                            .into_iter()
                            .map(|vehicle| view! { <VehicleRow vehicle /> })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            <h3>"Signals each vehicle reports"</h3>
            <p class="muted">
                "✓: it has a value (hover for when it was observed; grey when older than the week above). A number: errors the signal has reported. —: neither."
            </p>
            <Matrix
                signals
                head="Vehicle"
                rows=view
                    .vehicles
                    .iter()
                    .map(|v| {
                        let cells = v
                            .signals
                            .iter()
                            .map(|s| vehicle_cell(s, view.window_from))
                            .collect();
                        (v.id.clone(), v.name.clone(), Some(vehicle_href(&v.id)), cells)
                    })
                    .collect()
            />
            {next}
        </section>
    })
}

fn vehicle_href(id: &str) -> String {
    format!("/vehicles/{}", path_escape(id))
}

fn group_name(group: &GroupHealth) -> String {
    let name = [group.make.clone(), group.model.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        "Unknown make".to_owned()
    } else {
        name
    }
}

/// The column heads of [`DeliveryFigures`].
#[component]
fn FigureHeads(per: &'static str) -> impl IntoView {
    view! {
        <th scope="col" class="num">
            {per}
        </th>
        <th scope="col" class="num">
            <abbr title="Half the deliveries arrived at least this soon">"Lag, median"</abbr>
        </th>
        <th scope="col" class="num">
            <abbr title="95 of every 100 deliveries arrived at least this soon">"Lag, 95 %"</abbr>
        </th>
    }
}

fn lag(bound: Option<LagBound>) -> String {
    bound.map_or_else(|| "—".to_owned(), LagBound::label)
}

/// The cells of [`DeliveryFigures`].
#[component]
fn Figures(figures: DeliveryFigures, per: &'static str) -> impl IntoView {
    let per_day = figures
        .per_day
        .map_or_else(|| "—".to_owned(), format_number);
    let title = format!("{} deliveries in the window", figures.deliveries);
    view! {
        <td class="num" title=title data-label=per>
            {per_day}
        </td>
        <td class="num" data-label="Lag, median">
            {lag(figures.lag_p50)}
        </td>
        <td class="num" data-label="Lag, 95 %">
            {lag(figures.lag_p95)}
        </td>
    }
}

#[component]
fn GroupRow(group: GroupHealth) -> impl IntoView {
    let name = group_name(&group);
    let key = name.clone();
    let href = group
        .make
        .as_deref()
        .map(|make| health_href(Some(make), group.model.as_deref(), None));
    let label = match href {
        Some(href) => Either::Left(view! { <a href=href>{name}</a> }),
        None => Either::Right(view! { <span>{name}</span> }),
    };
    view! {
        <tr data-group=key>
            <th scope="row">{label}</th>
            <td class="num" data-label="Vehicles">
                {group.vehicles}
            </td>
            <Figures figures=group.figures per="Deliveries a day, per vehicle" />
            <td data-label="Quietest vehicle's last delivery">
                <Timestamp at=group.quietest_delivery relative=true />
            </td>
            <td class="num" data-label="Open alerts">
                {group.open_alerts}
            </td>
        </tr>
    }
}

#[component]
fn VehicleRow(vehicle: VehicleHealth) -> impl IntoView {
    let alerts_href = format!("/alerts?status=open&vehicle={}", url_escape(&vehicle.id));
    let alerts = if vehicle.open_alerts.is_empty() {
        Either::Left(view! { <span class="muted">"None"</span> })
    } else {
        Either::Right(view! {
            <a href=alerts_href class="chips">
                {vehicle
                    .open_alerts
                    .iter()
                    .map(|kind| {
                        view! {
                            <span class=format!(
                                "chip alert-{}",
                                kind.as_str(),
                            )>{kind.label()}</span>
                        }
                    })
                    .collect_view()}
            </a>
        })
    };
    view! {
        <tr data-vehicle-id=vehicle.id.clone()>
            <th scope="row">
                <a href=vehicle_href(&vehicle.id)>{vehicle.name.clone()}</a>
            </th>
            <td data-label="Last delivery">
                <Timestamp at=vehicle.last_delivery relative=true />
            </td>
            <Figures figures=vehicle.figures per="Deliveries a day" />
            <td data-label="Open alerts">{alerts}</td>
        </tr>
    }
}

/// One cell of a coverage matrix: its text, class and hover text (none for an empty
/// cell: the page has hundreds of them).
struct Cell {
    text: String,
    class: &'static str,
    title: Option<String>,
}

fn group_cell(reporting: u64, vehicles: u64, errors: u64) -> Cell {
    let text = match (reporting, errors) {
        (0, 0) => "—".to_owned(),
        (r, 0) => format!("{r}/{vehicles}"),
        (r, e) => format!("{r}/{vehicles} · {e}"),
    };
    let class = match (reporting, errors) {
        (0, 0) => "none",
        (_, e) if e > 0 => "err",
        (r, _) if r < vehicles => "part",
        _ => "ok",
    };
    let title = (class != "none")
        .then(|| format!("{reporting} of {vehicles} vehicles have a value; {errors} errors"));
    Cell { text, class, title }
}

fn vehicle_cell(signal: &VehicleSignal, window_from: DateTime<Utc>) -> Cell {
    let old = signal.last_at.is_some_and(|at| at < window_from);
    let mut title = match signal.last_at {
        Some(at) if signal.reported => format!("Observed {}", format_local(at)),
        _ if signal.reported => "Has a value".to_owned(),
        _ => "No value".to_owned(),
    };
    if signal.errors > 0 {
        title.push_str(&format!(
            "; {} errors ({})",
            signal.errors,
            signal.error_kinds.join(", ")
        ));
    }
    let title = (signal.reported || signal.errors > 0).then_some(title);
    let text = match (signal.reported, signal.errors) {
        (false, 0) => "—".to_owned(),
        (true, 0) => "✓".to_owned(),
        (false, e) => e.to_string(),
        (true, e) => format!("✓ {e}"),
    };
    let class = match (signal.reported, signal.errors) {
        (false, 0) => "none",
        (_, e) if e > 0 => "err",
        _ if old => "old",
        _ => "ok",
    };
    Cell { text, class, title }
}

/// A coverage matrix: one row per make and model or vehicle (its key for `data-row`, its
/// name, link and cells), one column per signal.
#[component]
fn Matrix(
    signals: Vec<String>,
    head: &'static str,
    rows: Vec<(String, String, Option<String>, Vec<Cell>)>,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="coverage">
                <thead>
                    <tr>
                        <th scope="col">{head}</th>
                        {signals
                            .iter()
                            .map(|code| {
                                let (group, name) = code.split_once('-').unwrap_or(("", code));
                                view! {
                                    <th scope="col" class="signal" title=code.clone()>
                                        <span>
                                            <span class="signal-group">{group.to_owned()}</span>
                                            " "
                                            {name.to_owned()}
                                        </span>
                                    </th>
                                }
                            })
                            .collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|(key, name, href, cells)| {
                            let label = match href {
                                Some(href) => Either::Left(view! { <a href=href>{name}</a> }),
                                None => Either::Right(name),
                            };
                            view! {
                                <tr data-row=key>
                                    <th scope="row">{label}</th>
                                    {cells
                                        .into_iter()
                                        .map(|cell| {
                                            view! {
                                                <td class=cell.class title=cell.title>
                                                    {cell.text}
                                                </td>
                                            }
                                        })
                                        .collect_view()}
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
