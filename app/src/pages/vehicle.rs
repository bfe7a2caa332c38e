use crate::api::error::AppError;
use crate::api::vehicles::get_vehicle_view;
use crate::components::error_view::ErrorView;
use crate::components::session_table::SessionTable;
use crate::components::vehicle_table::Timestamp;
use crate::domain::api::VehicleView;
use crate::domain::fleet::format_number;
use crate::pages::not_found::NotFound;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// `/vehicles/{id}`: the vehicle's state and its charging sessions, newest first, with a
/// date filter and paging that live in the URL.
#[component]
pub fn VehiclePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let data = Resource::new(
        move || {
            let q = query.read();
            (
                params.read().get("id").unwrap_or_default(),
                q.get("from").filter(|s| !s.is_empty()),
                q.get("to").filter(|s| !s.is_empty()),
                q.get("cursor").filter(|s| !s.is_empty()),
            )
        },
        |(id, from, to, cursor)| get_vehicle_view(id, from, to, cursor),
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the vehicle…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorView errors /> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Ok(view! { <VehicleDetail view=v /> }.into_any()),
                        Err(AppError::NotFound(_)) => Ok(view! { <NotFound /> }.into_any()),
                        Err(e) => Err(e),
                    }
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn VehicleDetail(view: VehicleView) -> impl IntoView {
    let query = use_query_map();
    let v = view.vehicle;
    let name = [
        v.year.map(|y| y.to_string()),
        v.make.clone(),
        v.model.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let name = if name.is_empty() { v.id.clone() } else { name };
    let status = match (v.latest.is_charging, v.latest.is_plugged_in) {
        (Some(true), _) => "Charging",
        (_, Some(true)) => "Plugged in",
        (Some(false), _) | (_, Some(false)) => "Idle",
        _ => "Unknown",
    };
    let from = query.read_untracked().get("from").unwrap_or_default();
    let to = query.read_untracked().get("to").unwrap_or_default();
    let has_cursor = query.read_untracked().get("cursor").is_some();
    let keep = |name: &str, value: &str| {
        if value.is_empty() {
            String::new()
        } else {
            format!("&{name}={value}")
        }
    };
    let older = view
        .sessions
        .next_cursor
        .clone()
        .map(|c| format!("?cursor={c}{}{}", keep("from", &from), keep("to", &to)));
    let newest = format!("?{}{}", keep("from", &from), keep("to", &to)).replace("?&", "?");
    let csv = format!("/vehicles/{}/sessions.csv{newest}", v.id);
    view! {
        <Title text=name.clone() />
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/">"Fleet"</a>
            " / "
        </nav>
        <h1>{name}</h1>
        <p class="vehicle-id muted">{v.id.clone()}</p>
        <dl class="facts">
            <div>
                <dt>"Status"</dt>
                <dd>{status}</dd>
            </div>
            <div>
                <dt>"State of charge"</dt>
                <dd>
                    {v.latest.soc_percent.map(|p| format!("{} %", format_number(p))).unwrap_or_else(|| "—".into())}
                </dd>
            </div>
            <div>
                <dt>"Range"</dt>
                <dd>
                    {v.latest.range_km.map(|km| format!("{} km", format_number(km))).unwrap_or_else(|| "—".into())}
                </dd>
            </div>
            <div>
                <dt>"Sessions"</dt>
                <dd>{v.session_count}</dd>
            </div>
            <div>
                <dt>"Last update"</dt>
                <dd>
                    <Timestamp at=v.latest.updated_at />
                </dd>
            </div>
        </dl>
        <h2>"Charging sessions"</h2>
        <form method="get" class="filter" aria-label="Filter sessions by date">
            <label>"From " <input type="date" name="from" value=from.clone() /></label>
            <label>"To " <input type="date" name="to" value=to.clone() /></label>
            <button type="submit">"Filter"</button>
            <a class="download" href=csv download>"Download CSV"</a>
        </form>
        <SessionTable sessions=view.sessions.sessions />
        <nav class="pager" aria-label="Session pages">
            {has_cursor.then(|| view! { <a href=newest>"← Newest"</a> })}
            {older.map(|href| view! { <a href=href rel="next">"Older sessions →"</a> })}
        </nav>
    }
}
