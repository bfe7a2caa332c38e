use crate::api::error::AppError;
use crate::api::vehicles::get_session_detail;
use crate::components::charge_curve::ChargeCurve;
use crate::components::error_view::ErrorView;
use crate::components::session_cost::SessionCostPanel;
use crate::domain::fleet::path_escape;
use crate::domain::fleet::{format_duration, format_number};
use crate::live::{refetched, Live};
use crate::pages::not_found::NotFound;
use crate::viewer::{format_local, Timestamp};
use crate::wire::SessionDetail;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/sessions/{id}`: one charging session's numbers and the readings behind them.
#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    let query = leptos_router::hooks::use_query_map();
    let error = move || query.read().get("error").filter(|e| !e.is_empty());
    let data = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        get_session_detail,
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the session…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    #[cfg(feature = "ssr")] crate::server::island_preload::preload("session_live");
                    match data.await {
                        Ok(d) => {
                            let title = title(&d);
                            let session = d.session.clone();
                            Ok(
                                Either::Left(
                                    view! {
                                        <Title text=title />
                                        <SessionLive detail=d />
                                        <SessionCostPanel session error=error() />
                                    },
                                ),
                            )
                        }
                        Err(AppError::NotFound(_)) => Ok(Either::Right(view! { <NotFound /> })),
                        Err(e) => Err(e),
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The session, refetched when a delivery for its vehicle arrives: the page's island.
#[island(lazy)]
pub fn SessionLive(detail: SessionDetail) -> impl IntoView {
    let id = detail.session.id.clone();
    let version = Live::get().map(|live| live.version_for(detail.session.vehicle_id.clone()));
    let detail = refetched(
        detail,
        move || version.map_or(0, |v| v.get()),
        move || get_session_detail(id.clone()),
    );
    move || view! { <SessionView detail=detail.get() /> }
}

/// "Session 2026-03-14 19:02", in the viewer's zone.
fn title(detail: &SessionDetail) -> String {
    format!("Session {}", format_local(detail.session.started_at))
}

fn number(v: Option<f64>, unit: &str) -> String {
    v.map_or("—".to_owned(), |x| format!("{} {unit}", format_number(x)))
}

#[component]
fn SessionView(detail: SessionDetail) -> impl IntoView {
    let title = title(&detail);
    let s = detail.session;
    let energy = match (s.energy_added_kwh, s.energy_source.as_deref()) {
        (Some(kwh), Some(source)) => format!("{} kWh (from {source})", format_number(kwh)),
        _ => "—".to_owned(),
    };
    let status = s.status.as_str();
    let place = match (s.latitude, s.longitude) {
        (Some(lat), Some(lon)) => Either::Left(view! {
            {format!("{lat:.5}, {lon:.5}")}
            " "
            <a
                href=format!(
                    "https://www.openstreetmap.org/?mlat={lat:.5}&mlon={lon:.5}#map=16/{lat:.5}/{lon:.5}",
                )
                rel="noopener noreferrer"
                target="_blank"
            >
                "map"
            </a>
        }),
        _ => Either::Right(view! { "—" }),
    };
    let deliveries = detail.deliveries;
    let samples = detail.samples;
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/">"Fleet"</a>
            " / "
            <a href=format!("/vehicles/{}", path_escape(&s.vehicle_id))>"Vehicle"</a>
            " / "
        </nav>
        <h1>{title}</h1>
        {(!s.start_observed)
            .then(|| {
                view! {
                    <p class="notice">
                        "The vehicle was already charging when chargelog first heard from it: the real start is earlier."
                    </p>
                }
            })}
        {s
            .end_inferred
            .then(|| {
                view! {
                    <p class="notice">
                        "No data arrived for a long time while charging, so the end is inferred: the session is closed at its last reading."
                    </p>
                }
            })}
        <dl class="facts">
            <div>
                <dt>"Status"</dt>
                <dd>{status}</dd>
            </div>
            <div>
                <dt>"Started"</dt>
                <dd>
                    <Timestamp at=Some(s.started_at) />
                </dd>
            </div>
            <div>
                <dt>"Ended"</dt>
                <dd>
                    <Timestamp at=s.ended_at />
                </dd>
            </div>
            <div>
                <dt>"Duration"</dt>
                <dd>{format_duration(s.duration_s)}</dd>
            </div>
            <div>
                <dt>"State of charge"</dt>
                <dd>{format!("{} → {}", number(s.soc_start, "%"), number(s.soc_end, "%"))}</dd>
            </div>
            <div>
                <dt>"Energy added"</dt>
                <dd>{energy}</dd>
            </div>
            <div>
                <dt>"Max power"</dt>
                <dd>{number(s.max_power_kw, "kW")}</dd>
            </div>
            <div>
                <dt>"Average power"</dt>
                <dd>{number(s.avg_power_kw, "kW")}</dd>
            </div>
            <div>
                <dt>"Charger"</dt>
                <dd>{s.charger_type.clone().unwrap_or_else(|| "—".into())}</dd>
            </div>
            <div>
                <dt>"Charge limit"</dt>
                <dd>{number(s.charge_limit_percent, "%")}</dd>
            </div>
            <div>
                <dt>"Range"</dt>
                <dd>
                    {format!(
                        "{} → {}",
                        number(s.range_start_km, "km"),
                        number(s.range_end_km, "km"),
                    )}
                </dd>
            </div>
            <div>
                <dt>"Place"</dt>
                <dd>{place}</dd>
            </div>
            <div>
                <dt>"Plugged in"</dt>
                <dd>
                    <Timestamp at=s.plugged_in_at />
                </dd>
            </div>
            <div>
                <dt>"Unplugged"</dt>
                <dd>
                    <Timestamp at=s.unplugged_at />
                </dd>
            </div>
        </dl>
        <h2>"Charge curve"</h2>
        <ChargeCurve samples=samples.clone() />
        <h2>"Readings"</h2>
        <div class="table-wrap">
            <table class="fleet samples">
                <caption class="visually-hidden">"Readings during the session"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col" class="num">
                            "State of charge"
                        </th>
                        <th scope="col" class="num">
                            "Power"
                        </th>
                        <th scope="col" class="num">
                            "Energy counter"
                        </th>
                        <th scope="col" class="num">
                            "Voltage"
                        </th>
                        <th scope="col" class="num">
                            "Current"
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {samples
                        .into_iter()
                        .map(|p| {
                            view! {
                                <tr>
                                    <th scope="row">
                                        <Timestamp at=Some(p.at) />
                                    </th>
                                    <td data-label="State of charge" class="num">
                                        {number(p.soc_percent, "%")}
                                    </td>
                                    <td data-label="Power" class="num">
                                        {number(p.power_kw, "kW")}
                                    </td>
                                    <td data-label="Energy counter" class="num">
                                        {number(p.energy_added_kwh, "kWh")}
                                    </td>
                                    <td data-label="Voltage" class="num">
                                        {number(p.voltage_v, "V")}
                                    </td>
                                    <td data-label="Current" class="num">
                                        {number(p.current_a, "A")}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <h2>"Deliveries"</h2>
        {if deliveries.is_empty() {
            Either::Left(
                view! { <p class="muted">"No stored delivery has readings in this session."</p> },
            )
        } else {
            Either::Right(
                view! {
                    <p class="muted">
                        {format!(
                            "The {} deliveries whose readings built this session.",
                            deliveries.len(),
                        )}
                    </p>
                    <div class="table-wrap">
                        <table class="fleet deliveries">
                            <caption class="visually-hidden">
                                "Deliveries that built this session"
                            </caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Received"</th>
                                    <th scope="col">"Type"</th>
                                    <th scope="col">"Triggers"</th>
                                    <th scope="col">"Event id"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {deliveries
                                    .into_iter()
                                    .map(|d| {
                                        view! {
                                            <tr data-log-id=d.id>
                                                <th scope="row">
                                                    <Timestamp at=Some(d.received_at) />
                                                </th>
                                                <td data-label="Type">
                                                    {d.event_type.unwrap_or_default()}
                                                </td>
                                                <td data-label="Triggers" class="wrap">
                                                    {d.triggers.join(", ")}
                                                </td>
                                                <td data-label="Event id" class="wrap mono">
                                                    {d.event_id.unwrap_or_default()}
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                },
            )
        }}
    }
}
