//! `/readiness`: will every vehicle be ready when it leaves? One row per vehicle, most
//! urgent first, kept current by live updates (and once a minute, as departures come
//! closer); filtered by status and paged by plain links, so it reads without JavaScript,
//! on a phone in the yard as on a desk.

use crate::api::readiness::get_readiness;
use crate::components::error_view::ErrorView;
use crate::domain::fleet::{format_age, format_number, path_escape, url_escape};
use crate::domain::readiness::format_until;
use crate::live::{refetched, Live};
use crate::viewer::{Timestamp, Viewer};
use crate::wire::{ReadinessBoard, ReadinessItem};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The board's URL for a status filter (none: every vehicle) and a page start.
fn board_href(status: Option<&str>, after: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(status) = status {
        query.push(format!("status={}", url_escape(status)));
    }
    if let Some(after) = after {
        query.push(format!("after={}", url_escape(after)));
    }
    if query.is_empty() {
        "/readiness".to_owned()
    } else {
        format!("/readiness?{}", query.join("&"))
    }
}

#[component]
pub fn ReadinessPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let q = query.read();
        (
            q.get("status").filter(|s| !s.is_empty()),
            q.get("after").filter(|s| !s.is_empty()),
        )
    });
    let board = Resource::new(
        move || params.get(),
        |(status, after)| get_readiness(status, after),
    );
    view! {
        <Title text="Readiness" />
        <h1>"Readiness"</h1>
        <p class="muted">
            "Will each vehicle have the charge its next departure needs? Most urgent first. "
            "Departures come from each vehicle's schedule, else the "
            <a href="/settings">"fleet's default"</a> "."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading the board…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    #[cfg(feature = "ssr")]
                    crate::server::island_preload::preload("readiness_view");
                    let (status, after) = params.get_untracked();
                    board.await.map(|board| view! { <BoardBody board status after /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The island, and the pager around it (plain links, rendered on the server).
#[component]
fn BoardBody(
    board: ReadinessBoard,
    status: Option<String>,
    after: Option<String>,
) -> impl IntoView {
    if board.counts.is_empty() {
        return Either::Left(
            view! { <p class="notice">"No vehicles yet: the board fills as they report."</p> },
        );
    }
    let next = board.next_cursor.clone().map(|cursor| {
        view! {
            <a rel="next" href=board_href(status.as_deref(), Some(&cursor))>
                "More vehicles →"
            </a>
        }
    });
    let first = after.is_some().then(|| {
        view! { <a href=board_href(status.as_deref(), None)>"← Most urgent"</a> }
    });
    Either::Right(view! {
        <ReadinessView board status=status.clone() after />
        <nav class="pager" aria-label="Pages">
            {first}
            {next}
        </nav>
    })
}

/// The board as it is now: refetched when deliveries land and once a minute (a
/// departure passing or silence setting in changes it with no delivery).
#[island(lazy)]
pub fn ReadinessView(
    board: ReadinessBoard,
    status: Option<String>,
    after: Option<String>,
) -> impl IntoView {
    let live = Live::get();
    let clock = Viewer::get().map(|v| v.now_ms);
    let rendered_ms = clock.map_or(0, |c| c.get_untracked());
    let version = move || {
        let minutes = clock.map_or(0, |c| (c.get() - rendered_ms).max(0) / 60_000);
        live.map_or(0, Live::version) + u64::try_from(minutes).unwrap_or(0)
    };
    let filter = status.clone();
    let board = refetched(board, version, move || {
        get_readiness(filter.clone(), after.clone())
    });
    move || view! { <Board board=board.get() status=status.clone() /> }
}

#[component]
fn Board(board: ReadinessBoard, status: Option<String>) -> impl IntoView {
    let total: u64 = board.counts.iter().map(|c| c.vehicles).sum();
    let chip = |label: String, href: String, current: bool, class: &'static str| {
        view! {
            <a href=href class=class aria-current=current.then_some("true")>
                {label}
            </a>
        }
    };
    let mut chips = vec![chip(
        format!("All {total}"),
        board_href(None, None),
        status.is_none(),
        "chip",
    )];
    for count in &board.counts {
        let name = count.status.as_str();
        chips.push(chip(
            format!("{} {}", count.status.label(), count.vehicles),
            board_href(Some(name), None),
            status.as_deref() == Some(name),
            if count.status.needs_action() {
                "chip chip-alarm"
            } else {
                "chip"
            },
        ));
    }
    let rows = board
        .vehicles
        .into_iter()
        .map(|item| view! { <BoardRow item /> })
        .collect_view();
    let empty = board
        .counts
        .iter()
        .all(|c| Some(c.status.as_str()) != status.as_deref())
        && status.is_some();
    view! {
        <nav class="chips" aria-label="Filter by status">
            {chips}
        </nav>
        {empty.then(|| view! { <p class="notice">"No vehicle has that status now."</p> })}
        <div class="table-wrap">
            <table class="fleet readiness">
                <thead>
                    <tr>
                        <th scope="col">"Vehicle"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Next departure"</th>
                        <th scope="col">"Charge now → at departure"</th>
                        <th scope="col">"Where"</th>
                        <th scope="col">"Cable"</th>
                        <th scope="col" class="num">
                            "Limit"
                        </th>
                        <th scope="col">"Data"</th>
                        <th scope="col">"Basis"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(
        || "—".to_owned(),
        |v| format!("{} %", format_number(v.round())),
    )
}

#[component]
fn BoardRow(item: ReadinessItem) -> impl IntoView {
    let href = format!("/vehicles/{}", path_escape(&item.vehicle_id));
    let name = item.name.clone().unwrap_or_else(|| item.vehicle_id.clone());
    let status = item.status;
    // Not a reactive text of its own: the island draws the board again every minute.
    let until = item
        .next_departure
        .map(|at| format_until(at.timestamp_millis() - crate::viewer::system_now_ms()));
    let charge = match (item.soc_now, item.predicted_soc) {
        (Some(now), Some(then)) if (then - now).abs() >= 0.5 => {
            format!("{} → {}", percent(Some(now)), percent(Some(then)))
        }
        (now, _) => percent(now),
    };
    let needs = item
        .required_soc
        .map(|r| format!("needs {}", percent(Some(r))));
    let place = match (&item.place, item.latitude, item.longitude) {
        (Some(place), _, _) => place.name.clone(),
        (None, Some(lat), Some(lon)) => format!("{lat:.4}, {lon:.4}"),
        _ => "—".to_owned(),
    };
    let cable = match (item.charging, item.plugged) {
        (Some(true), _) => match item.power_kw {
            Some(kw) => format!("Charging · {} kW", format_number(kw)),
            None => "Charging".to_owned(),
        },
        (_, Some(true)) => "Plugged in".to_owned(),
        (_, Some(false)) => "Not plugged".to_owned(),
        _ => "—".to_owned(),
    };
    let age = item.data_age_s.map_or_else(
        || "—".to_owned(),
        |s| format!("{} old", format_age(s * 1000)),
    );
    let inputs: Vec<&str> = item.inputs.iter().map(|i| i.label()).collect();
    let prediction = match item.confidence {
        Some(confidence) if !inputs.is_empty() => {
            format!("{} confidence: {}", confidence.as_str(), inputs.join(", "))
        }
        _ => "—".to_owned(),
    };
    view! {
        <tr data-vehicle=item.vehicle_id.clone() data-status=status.as_str()>
            <th scope="row" data-label="Vehicle">
                <a class="vehicle-name" href=href>
                    {name}
                </a>
            </th>
            <td data-label="Status">
                <span class=format!(
                    "readiness-status readiness-{}",
                    status.as_str(),
                )>{status.label()}</span>
            </td>
            <td data-label="Next departure">
                <span class="cell">
                    <Timestamp at=item.next_departure />
                    {until.map(|until| view! { <span class="muted until">{until}</span> })}
                </span>
            </td>
            <td data-label="Charge now → at departure">
                <span class="cell">
                    <span class="charge">{charge}</span>
                    {needs.map(|n| view! { <span class="muted until">{n}</span> })}
                </span>
            </td>
            <td data-label="Where">{place}</td>
            <td data-label="Cable">{cable}</td>
            <td data-label="Limit" class="num">
                {percent(item.charge_limit)}
            </td>
            <td data-label="Data">{age}</td>
            <td data-label="Basis" class="wrap prediction">
                {prediction}
            </td>
        </tr>
    }
}
