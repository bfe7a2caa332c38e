use crate::api::events::get_webhook_log;
use crate::components::error_view::ErrorView;
use crate::domain::events::{LogEntry, LogPage, LogQuery, Outcome};
use crate::domain::fleet::path_escape;
use crate::domain::fleet::url_escape;
use crate::live::{refetched, Live};
use crate::viewer::Timestamp;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// `/events`: the webhook log, newest first, filterable by vehicle and outcome.
#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let query = Memo::new(move |_| {
        let q = query.read();
        LogQuery {
            vehicle: q.get("vehicle").filter(|s| !s.is_empty()),
            outcome: q.get("outcome").filter(|s| !s.is_empty()),
            before: q.get("before").and_then(|b| b.parse::<i64>().ok()),
        }
    });
    let data = Resource::new(
        move || query.get(),
        |q| get_webhook_log(q.vehicle, q.outcome, q.before),
    );
    view! {
        <Title text="Deliveries" />
        <h1>"Deliveries"</h1>
        <p class="muted">
            "Every request to the webhook endpoint and what became of it, newest first."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading deliveries…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    #[cfg(feature = "ssr")] crate::server::island_preload::preload("event_log");
                    data.await
                        .map(|page| {
                            view! { <EventLog page query=query.get_untracked() /> }
                        })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The log's page, refetched as requests arrive: the page's island.
#[island(lazy)]
pub fn EventLog(page: LogPage, query: LogQuery) -> impl IntoView {
    let live = Live::get();
    let page = {
        let query = query.clone();
        refetched(
            page,
            move || live.map_or(0, Live::log_version),
            move || get_webhook_log(query.vehicle.clone(), query.outcome.clone(), query.before),
        )
    };
    move || view! { <EventLogView page=page.get() query=query.clone() /> }
}

#[component]
fn EventLogView(page: LogPage, query: LogQuery) -> impl IntoView {
    let vehicle = query.vehicle.unwrap_or_default();
    let outcome = query.outcome.unwrap_or_default();
    let filtered = !vehicle.is_empty() || !outcome.is_empty();
    let has_before = query.before.is_some();
    let keep = format!(
        "vehicle={}&outcome={}",
        url_escape(&vehicle),
        url_escape(&outcome)
    );
    let older = page
        .next_before
        .map(|before| format!("/events?{keep}&before={before}"));
    let names = page.vehicles.clone();
    let name_of = move |id: &str| {
        names
            .iter()
            .find(|(v, _)| v == id)
            .map_or_else(|| id.to_owned(), |(_, name)| name.clone())
    };
    let rows = page
        .entries
        .into_iter()
        .map(|e| view! { <EventRow entry=e.clone() name=e.vehicle_id.as_deref().map(&name_of) /> })
        .collect_view();
    let empty = rows.is_empty();
    view! {
        <form method="get" action="/events" class="filter" aria-label="Filter deliveries">
            <label>
                "Vehicle " <select name="vehicle">
                    <option value="" selected=vehicle.is_empty()>
                        "All vehicles"
                    </option>
                    {page
                        .vehicles
                        .iter()
                        .map(|(id, name)| {
                            view! {
                                <option value=id.clone() selected=*id == vehicle>
                                    {name.clone()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Outcome " <select name="outcome">
                    <option value="" selected=outcome.is_empty()>
                        "Any outcome"
                    </option>
                    {Outcome::ALL
                        .into_iter()
                        .map(|o| {
                            view! {
                                <option value=o.as_str() selected=o.as_str() == outcome>
                                    {o.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="submit">"Apply"</button>
            {filtered
                .then(|| {
                    view! {
                        <a href="/events" class="download">
                            "Clear filters"
                        </a>
                    }
                })}
        </form>
        {if empty {
            Either::Left(
                view! {
                    <p class="notice">
                        {if filtered {
                            "No delivery matches these filters."
                        } else {
                            "No webhook request has arrived yet."
                        }}
                    </p>
                },
            )
        } else {
            Either::Right(
                view! {
                    <div class="table-wrap">
                        <table class="fleet events">
                            <caption class="visually-hidden">
                                "Webhook deliveries, newest first"
                            </caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Received"</th>
                                    <th scope="col">"Outcome"</th>
                                    <th scope="col">"Type"</th>
                                    <th scope="col">"Vehicle"</th>
                                    <th scope="col">"Triggers"</th>
                                    <th scope="col">"Event id / reason"</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                },
            )
        }}
        <nav class="pager" aria-label="Delivery pages">
            {has_before.then(|| view! { <a href=format!("/events?{keep}")>"← Newest"</a> })}
            {older
                .map(|href| {
                    view! {
                        <a href=href rel="next">
                            "Older deliveries →"
                        </a>
                    }
                })}
        </nav>
    }
}

#[component]
fn EventRow(entry: LogEntry, name: Option<String>) -> impl IntoView {
    let (label, class) = match entry.outcome {
        o if o.is_problem() => (o.label(), "outcome outcome-problem"),
        Outcome::Stored => (Outcome::Stored.label(), "outcome outcome-ok"),
        o => (o.label(), "outcome"),
    };
    let triggers = if entry.triggers.is_empty() {
        "—".to_owned()
    } else {
        entry.triggers.join(", ")
    };
    let id_or_reason = entry
        .detail
        .clone()
        .or_else(|| entry.event_id.clone())
        .unwrap_or_else(|| "—".to_owned());
    view! {
        <tr data-log-id=entry.id data-outcome=entry.outcome.as_str()>
            <th scope="row">
                <Timestamp at=Some(entry.received_at) />
            </th>
            <td data-label="Outcome">
                <span class=class>{label}</span>
            </td>
            <td data-label="Type">{entry.event_type.clone().unwrap_or_else(|| "—".into())}</td>
            <td data-label="Vehicle">
                {match (entry.vehicle_id.clone(), name) {
                    (Some(id), Some(name)) => {
                        Either::Left(
                            view! { <a href=format!("/vehicles/{}", path_escape(&id))>{name}</a> },
                        )
                    }
                    _ => Either::Right(view! { <span class="muted">"—"</span> }),
                }}
            </td>
            <td data-label="Triggers" class="wrap">
                {triggers}
            </td>
            <td data-label="Event id / reason" class="wrap mono">
                {id_or_reason}
            </td>
        </tr>
    }
}
