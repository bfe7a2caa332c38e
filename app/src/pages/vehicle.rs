use crate::api::error::AppError;
use crate::api::vehicles::{get_vehicle_schedule, get_vehicle_view};
use crate::components::energy_chart::EnergyChart;
use crate::components::error_view::ErrorView;
use crate::components::schedule_form::ScheduleForm;
use crate::components::session_table::SessionTable;
use crate::components::status_badge::StatusBadge;
use crate::domain::buckets::Bucket;
use crate::domain::fleet::path_escape;
use crate::domain::fleet::{format_number, url_escape, vehicle_name, ChargeStatus};
use crate::domain::readiness::Status;
use crate::domain::schedule::{Schedule, ScheduleSource};
use crate::live::{refetched, Live};
use crate::pages::not_found::NotFound;
use crate::viewer::Timestamp;
use crate::wire::{ReadinessItem, SignalsPanel, VehicleSchedule, VehicleView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// What the vehicle page shows, from its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleQuery {
    pub id: String,
    /// First and last day of the sessions and the chart (`YYYY-MM-DD`).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Where the page of sessions starts.
    pub cursor: Option<String>,
    /// The chart's bucket (`Bucket::as_param`); days when absent.
    pub chart: Option<String>,
    /// Only sessions at this place (its id), or `none`.
    pub place: Option<String>,
}

/// `/vehicles/{id}`: the vehicle's state and its charging sessions, newest first, with a
/// date filter and paging that live in the URL.
#[component]
pub fn VehiclePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let query = Memo::new(move |_| {
        let q = query.read();
        let given = |name: &str| q.get(name).filter(|s| !s.is_empty());
        VehicleQuery {
            id: params.read().get("id").unwrap_or_default(),
            from: given("from"),
            to: given("to"),
            cursor: given("cursor"),
            chart: given("chart"),
            place: given("place"),
        }
    });
    let refused = {
        let raw = use_query_map();
        Memo::new(move |_| raw.read().get("error").filter(|s| !s.is_empty()))
    };
    let data = Resource::new(move || query.get(), fetch);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the vehicle…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    #[cfg(feature = "ssr")]
                    crate::server::island_preload::preload("vehicle_detail");
                    match data.await {
                        Ok(v) => {
                            let name = vehicle_name(
                                &v.vehicle.id,
                                v.vehicle.year,
                                v.vehicle.make.as_deref(),
                                v.vehicle.model.as_deref(),
                            );
                            let unattached = v.unattached_costs.clone();
                            let vehicle_id = v.vehicle.id.clone();
                            Ok(
                                Either::Left(
                                    view! {
                                        <Title text=name />
                                        <VehicleDetail view=v query=query.get_untracked() />
                                        <ScheduleSection
                                            id=vehicle_id.clone()
                                            error=refused.get_untracked()
                                        />
                                        <UnattachedCosts vehicle_id costs=unattached />
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

async fn fetch(q: VehicleQuery) -> Result<VehicleView, AppError> {
    get_vehicle_view(q.id, q.from, q.to, q.cursor, q.chart, q.place).await
}

/// The vehicle's page, refetched when a delivery for it arrives: the page's island.
#[island(lazy)]
pub fn VehicleDetail(view: VehicleView, query: VehicleQuery) -> impl IntoView {
    let version = Live::get().map(|live| live.version_for(query.id.clone()));
    let data = {
        let query = query.clone();
        refetched(
            view,
            move || version.map_or(0, |v| v.get()),
            move || fetch(query.clone()),
        )
    };
    move || view! { <VehicleDetailView view=data.get() query=query.clone() /> }
}

#[component]
fn VehicleDetailView(view: VehicleView, query: VehicleQuery) -> impl IntoView {
    let v = view.vehicle;
    let name = vehicle_name(&v.id, v.year, v.make.as_deref(), v.model.as_deref());
    let from = query.from.unwrap_or_default();
    let to = query.to.unwrap_or_default();
    let place = query.place.unwrap_or_default();
    let has_cursor = query.cursor.is_some();
    let bucket = view.bucket;
    let keep = |name: &str, value: &str| {
        if value.is_empty() {
            String::new()
        } else {
            format!("&{name}={}", url_escape(value))
        }
    };
    let range = format!(
        "{}{}{}",
        keep("from", &from),
        keep("to", &to),
        keep("place", &place)
    );
    let chart_param = if bucket == Bucket::Day {
        String::new()
    } else {
        format!("&chart={}", bucket.as_param())
    };
    let older = view
        .sessions
        .next_cursor
        .clone()
        .map(|c| format!("?cursor={c}{range}{chart_param}"));
    let newest = format!("?{range}{chart_param}").replace("?&", "?");
    let csv = format!(
        "/vehicles/{}/sessions.csv{}",
        path_escape(&v.id),
        format!("?{range}").replace("?&", "?")
    );
    let chart_links = [Bucket::Day, Bucket::Week, Bucket::Month]
        .into_iter()
        .map(|b| {
            let href = format!("?chart={}{range}", b.as_param());
            let current = if b == bucket { "true" } else { "false" };
            let label = match b {
                Bucket::Day => "Days",
                Bucket::Week => "Weeks",
                Bucket::Month => "Months",
            };
            view! {
                <a href=href aria-current=current>
                    {label}
                </a>
            }
        })
        .collect_view();
    let chart_label = format!("Energy added per {} by {name}", bucket.as_param());
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/">"Fleet"</a>
            " / "
        </nav>
        <h1>{name}</h1>
        <p class="vehicle-id muted">{v.id.clone()}</p>
        <dl class="facts">
            <div>
                <dt>"Status"</dt>
                <dd>
                    <StatusBadge
                        status=v.latest.status
                        reported=v.latest.reported_status
                        updated_at=v.latest.updated_at
                    />
                </dd>
            </div>
            <div>
                <dt>"State of charge"</dt>
                <dd>
                    {v
                        .latest
                        .soc_percent
                        .map(|p| format!("{} %", format_number(p)))
                        .unwrap_or_else(|| "—".into())}
                </dd>
            </div>
            <div>
                <dt>"Range"</dt>
                <dd>
                    {v
                        .latest
                        .range_km
                        .map(|km| format!("{} km", format_number(km)))
                        .unwrap_or_else(|| "—".into())}
                </dd>
            </div>
            {(v.latest.status == ChargeStatus::Charging)
                .then(|| {
                    view! {
                        <div>
                            <dt>"Charging power"</dt>
                            <dd>
                                {v
                                    .latest
                                    .power_kw
                                    .map(|kw| format!("{} kW", format_number(kw)))
                                    .unwrap_or_else(|| "—".into())}
                            </dd>
                        </div>
                    }
                })}
            <div>
                <dt>"Place"</dt>
                <dd>
                    {match (v.latest.latitude, v.latest.longitude) {
                        (Some(lat), Some(lon)) => format!("{lat:.5}, {lon:.5}"),
                        _ => "—".to_owned(),
                    }}
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
        <form method="get" class="filter" aria-label="Date range for the chart and the sessions">
            <label>"From " <input type="date" name="from" value=from.clone() /></label>
            <label>"To " <input type="date" name="to" value=to.clone() /></label>
            <label>
                "Place " <select name="place">
                    <option value="" selected=place.is_empty()>
                        "All places"
                    </option>
                    {view
                        .places
                        .iter()
                        .map(|p| {
                            view! {
                                <option value=p.id.clone() selected=p.id == place>
                                    {p.name.clone()}
                                </option>
                            }
                        })
                        .collect_view()}
                    <option value="none" selected=place == "none">
                        "No place"
                    </option>
                </select>
            </label>
            {(bucket != Bucket::Day)
                .then(|| view! { <input type="hidden" name="chart" value=bucket.as_param() /> })}
            <button type="submit">"Apply"</button>
            {(!from.is_empty() || !to.is_empty() || !place.is_empty())
                .then(|| {
                    view! {
                        <a class="download" href="?">
                            "Clear filters"
                        </a>
                    }
                })}
        </form>
        <h2>"Energy added"</h2>
        <nav class="chart-controls" aria-label="Chart period">
            "Per: "
            {chart_links}
        </nav>
        <EnergyChart buckets=view.energy bucket label=chart_label />
        <h2>"Charging sessions"</h2>
        <p>
            <a class="download" href=csv download>
                "Download these sessions as CSV"
            </a>
        </p>
        <SessionTable sessions=view.sessions.sessions />
        <nav class="pager" aria-label="Session pages">
            {has_cursor.then(|| view! { <a href=newest>"← Newest"</a> })}
            {older
                .map(|href| {
                    view! {
                        <a href=href rel="next">
                            "Older sessions →"
                        </a>
                    }
                })}
        </nav>
        <SignalsPanelView panel=view.signals vehicle_id=v.id.clone() />
    }
}

/// Each signal's newest value, the signals that report errors, and VEHICLE_ERRORs.
#[component]
fn SignalsPanelView(panel: SignalsPanel, vehicle_id: String) -> impl IntoView {
    let SignalsPanel {
        latest,
        erroring,
        recent_errors,
    } = panel;
    view! {
        <section aria-labelledby="signals-heading" class="signals">
            <h2 id="signals-heading">"Signals"</h2>
            {if latest.is_empty() {
                Either::Left(view! { <p class="muted">"No signal values yet."</p> })
            } else {
                Either::Right(
                    view! {
                        <div class="table-wrap">
                            <table class="fleet signals-latest">
                                <caption class="visually-hidden">
                                    "Newest value of each signal"
                                </caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Signal"</th>
                                        <th scope="col" class="num">
                                            "Value"
                                        </th>
                                        <th scope="col">"Observed"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {latest
                                        .into_iter()
                                        .map(|s| {
                                            view! {
                                                <tr data-signal=s.code.clone()>
                                                    <th scope="row" class="mono">
                                                        {s.code.clone()}
                                                    </th>
                                                    <td data-label="Value" class="num">
                                                        {s.value}
                                                    </td>
                                                    <td data-label="Observed">
                                                        <Timestamp at=s.at />
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
            <h3>"Signals that report errors"</h3>
            {if erroring.is_empty() {
                Either::Left(view! { <p class="muted">"None: every signal has answered."</p> })
            } else {
                Either::Right(
                    view! {
                        <ul class="error-list">
                            {erroring
                                .into_iter()
                                .map(|e| {
                                    view! {
                                        <li>
                                            <span class="mono">{e.code}</span>
                                            ": "
                                            {[e.error_type, e.error_code]
                                                .into_iter()
                                                .flatten()
                                                .collect::<Vec<_>>()
                                                .join(" / ")}
                                            {format!(
                                                " ({} time{}, last ",
                                                e.count,
                                                if e.count == 1 { "" } else { "s" },
                                            )}
                                            <Timestamp at=e.last_at />
                                            ")"
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    },
                )
            }}
            <h3>"Recent vehicle errors"</h3>
            {if recent_errors.is_empty() {
                Either::Left(view! { <p class="muted">"No VEHICLE_ERROR received."</p> })
            } else {
                Either::Right(
                    view! {
                        <ul class="error-list">
                            {recent_errors
                                .into_iter()
                                .map(|e| {
                                    let what = [e.error_type, e.code]
                                        .into_iter()
                                        .flatten()
                                        .collect::<Vec<_>>()
                                        .join(" / ");
                                    let signals = if e.signals.is_empty() {
                                        "whole vehicle".to_owned()
                                    } else {
                                        e.signals.join(", ")
                                    };
                                    view! {
                                        <li>
                                            <Timestamp at=Some(e.reported_at) />
                                            " · "
                                            <strong>{what}</strong>
                                            {e.state.map(|s| format!(" ({s})"))}
                                            " · "
                                            {signals}
                                            {e
                                                .description
                                                .map(|d| {
                                                    view! {
                                                        <br />
                                                        <span class="muted">{d}</span>
                                                    }
                                                })}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    },
                )
            }}
            <p>
                <a href=format!(
                    "/events?vehicle={}",
                    url_escape(&vehicle_id),
                )>"This vehicle's deliveries →"</a>
            </p>
        </section>
    }
}

/// Manual costs whose session re-derivation removed: never dropped silently.
#[component]
fn UnattachedCosts(
    vehicle_id: String,
    costs: Vec<(String, crate::wire::SessionCost)>,
) -> impl IntoView {
    let back = format!("/vehicles/{}", path_escape(&vehicle_id));
    (!costs.is_empty()).then(|| {
        let rows = costs
            .into_iter()
            .map(|(session, cost)| {
                let clear = format!("/forms/sessions/{}/cost/clear", path_escape(&session));
                view! {
                    <tr>
                        <th scope="row">{session}</th>
                        <td class="num">{format!("{} {}", cost.amount, cost.currency)}</td>
                        <td>{cost.note.unwrap_or_default()}</td>
                        <td>
                            <form method="post" action=clear class="inline">
                                <input type="hidden" name="back" value=back.clone() />
                                <button type="submit" class="danger">
                                    "Clear"
                                </button>
                            </form>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section aria-labelledby="unattached" class="card">
                <h2 id="unattached">"Costs without a session"</h2>
                <p class="muted">
                    "These costs were set by hand on sessions that re-deriving the readings no longer finds. They are kept until cleared."
                </p>
                <div class="table-wrap">
                    <table class="fleet">
                        <thead>
                            <tr>
                                <th scope="col">"Session"</th>
                                <th scope="col" class="num">
                                    "Amount"
                                </th>
                                <th scope="col">"Note"</th>
                                <th scope="col"></th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        }
    })
}

/// The schedule card, loaded apart from the page's island (it changes only by its forms).
#[component]
fn ScheduleSection(id: String, error: Option<String>) -> impl IntoView {
    let data = Resource::new(move || id.clone(), get_vehicle_schedule);
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let error = error.clone();
                Suspend::new(async move {
                    data.await
                        .map(|v| {
                            view! {
                                <ScheduleCard
                                    schedule=v.schedule
                                    readiness=v.readiness
                                    default_zone=v.default_timezone
                                    error
                                />
                            }
                        })
                })
            }}
        </Suspense>
    }
}

/// Its verdict on the readiness board, as of the page's load.
#[component]
fn ReadinessLine(item: ReadinessItem) -> impl IntoView {
    let status = item.status;
    let percent = |p: f64| format!("{} %", format_number(p.round()));
    let charge = match (item.predicted_soc, item.required_soc) {
        (Some(then), Some(needed)) => {
            format!(
                ": {} at departure, {} needed.",
                percent(then),
                percent(needed)
            )
        }
        _ => ".".to_owned(),
    };
    view! {
        <p class="readiness-line">
            "Readiness: "
            <a href="/readiness" class=format!("readiness-status readiness-{}", status.as_str())>
                {status.label()}
            </a> {charge}
        </p>
    }
}

/// The schedule the vehicle follows, and the forms that give it one of its own, none,
/// or the fleet's again. Outside the island: it changes only by these forms.
#[component]
fn ScheduleCard(
    schedule: VehicleSchedule,
    readiness: Option<ReadinessItem>,
    default_zone: String,
    error: Option<String>,
) -> impl IntoView {
    let id = schedule.vehicle_id.clone();
    let action = format!("/forms/vehicles/{}/schedule", path_escape(&id));
    let clear = format!("{action}/clear");
    let current = schedule.source.map(|_| Schedule {
        timezone: schedule.timezone.clone().unwrap_or_default(),
        required_soc: schedule.required_soc.unwrap_or_default(),
        departures: schedule.departures.clone(),
    });
    let summary = match (&current, schedule.source) {
        (Some(s), Some(source)) => {
            let whose = match source {
                ScheduleSource::Vehicle => "Its own",
                ScheduleSource::Fleet => "The fleet default",
            };
            format!(
                "{whose}: {} ({}), {} % needed.",
                s.describe_departures(),
                s.timezone,
                s.required_soc
            )
        }
        _ => "None: no schedule of its own and no fleet default.".to_owned(),
    };
    let own = schedule.source == Some(ScheduleSource::Vehicle);
    let keeps_none = own && schedule.departures.is_empty();
    let zone = current
        .as_ref()
        .map_or(default_zone.clone(), |s| s.timezone.clone());
    view! {
        <section aria-labelledby="schedule-heading" class="card">
            <h2 id="schedule-heading">"Departure schedule"</h2>
            {error
                .map(|e| {
                    view! {
                        <p class="notice notice-error" role="alert">
                            "Not saved: "
                            {e}
                        </p>
                    }
                })}
            <p class="current-schedule">{summary}</p>
            {schedule
                .next_departure
                .map(|at| view! { <p>"Next departure: " <Timestamp at=Some(at) /></p> })}
            {readiness
                .filter(|r| r.status != Status::NoSchedule)
                .map(|item| view! { <ReadinessLine item /> })}
            <details>
                <summary>"Set a schedule of its own"</summary>
                <ScheduleForm
                    action=action.clone()
                    schedule=current
                    default_zone
                    label="Its own departure schedule"
                />
            </details>
            <div class="inline">
                {own
                    .then(|| {
                        view! {
                            <form method="post" action=clear.clone()>
                                <button type="submit">"Follow the fleet default"</button>
                            </form>
                        }
                    })}
                {(!keeps_none)
                    .then(|| {
                        view! {
                            <form method="post" action=action.clone()>
                                <input type="hidden" name="none" value="1" />
                                <input type="hidden" name="timezone" value=zone.clone() />
                                <button type="submit">"Keep no schedule"</button>
                            </form>
                        }
                    })}
            </div>
        </section>
    }
}
