//! `/reports?month=YYYY-MM`: a month's charging in the viewer's zone, per vehicle, place
//! kind, charger type and place, with fleet totals, a CSV download and a print layout;
//! and `/vehicles/{id}/statement?month=&kind=`, what to reimburse a driver. Rendered on
//! the server with no island: a month is a finished document.

use crate::api::places::{get_monthly_report, get_statement};
use crate::components::error_view::ErrorView;
use crate::domain::fleet::{format_number, path_escape, url_escape};
use crate::domain::places::PlaceKind;
use crate::domain::reports::Totals;
use crate::viewer::Timestamp;
use crate::wire::{MonthlyReport, ReportFigures, Statement};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// "12.30 EUR + 40.00 SEK", or "—".
pub fn money(totals: &Totals) -> String {
    if totals.cost.is_empty() {
        return "—".to_owned();
    }
    totals
        .cost
        .iter()
        .map(|(currency, amount)| format!("{amount} {currency}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn kwh(value: f64) -> String {
    format!("{} kWh", format_number(value))
}

/// Grid energy, with how many sessions it leaves out.
fn grid(totals: &Totals) -> String {
    match totals.grid_unknown_sessions {
        0 => kwh(totals.grid_kwh),
        n if n == totals.sessions => "—".to_owned(),
        n => format!("{} ({n} unknown)", kwh(totals.grid_kwh)),
    }
}

/// A vehicle's splits, one line each: "home: 75 kWh, 20.25 EUR", then "AC: 75 kWh".
fn split_text(figures: &ReportFigures) -> Vec<String> {
    let kinds = figures.by_kind.iter().map(|k| {
        format!(
            "{}: {}, {}",
            kind_label(k.kind),
            kwh(k.totals.battery_kwh),
            money(&k.totals)
        )
    });
    let chargers = figures.by_charger.iter().map(|c| {
        format!(
            "{}: {}",
            c.charger_type.map_or("charger unknown", |c| c.as_str()),
            kwh(c.totals.battery_kwh)
        )
    });
    kinds.chain(chargers).collect()
}

fn kind_label(kind: Option<PlaceKind>) -> &'static str {
    kind.map_or("no place", PlaceKind::as_str)
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let query = use_query_map();
    let month = Memo::new(move |_| query.read().get("month").filter(|s| !s.is_empty()));
    let data = Resource::new(move || month.get(), get_monthly_report);
    view! {
        <Title text="Monthly report" />
        <Transition fallback=|| view! { <p class="loading">"Loading the report…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    data.await.map(|report| view! { <Report report /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// One row of totals: sessions, energy, cost.
#[component]
fn TotalsCells(totals: Totals) -> impl IntoView {
    view! {
        <td class="num">
            {totals.sessions}
            {(totals.open_sessions > 0).then(|| format!(" ({} open)", totals.open_sessions))}
        </td>
        <td class="num">{kwh(totals.battery_kwh)}</td>
        <td class="num">{grid(&totals)}</td>
        <td class="num">
            {money(&totals)}
            {(totals.unpriced_sessions > 0)
                .then(|| format!(" ({} unpriced)", totals.unpriced_sessions))}
        </td>
    }
}

#[component]
fn TotalsHead(first: &'static str) -> impl IntoView {
    view! {
        <thead>
            <tr>
                <th scope="col">{first}</th>
                <th scope="col" class="num">
                    "Sessions"
                </th>
                <th scope="col" class="num">
                    "Battery"
                </th>
                <th scope="col" class="num">
                    "Grid"
                </th>
                <th scope="col" class="num">
                    "Cost"
                </th>
            </tr>
        </thead>
    }
}

#[component]
fn Splits(figures: ReportFigures) -> impl IntoView {
    let kinds = figures
        .by_kind
        .into_iter()
        .map(|k| {
            view! {
                <tr>
                    <th scope="row">{kind_label(k.kind)}</th>
                    <TotalsCells totals=k.totals />
                </tr>
            }
        })
        .collect_view();
    let chargers = figures
        .by_charger
        .into_iter()
        .map(|c| {
            view! {
                <tr>
                    <th scope="row">{c.charger_type.map_or("unknown", |c| c.as_str())}</th>
                    <TotalsCells totals=c.totals />
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="fleet report">
                <caption>"By kind of place"</caption>
                <TotalsHead first="Kind" />
                <tbody>{kinds}</tbody>
            </table>
        </div>
        <div class="table-wrap">
            <table class="fleet report">
                <caption>"By charger"</caption>
                <TotalsHead first="Charger" />
                <tbody>{chargers}</tbody>
            </table>
        </div>
    }
}

#[component]
fn Report(report: MonthlyReport) -> impl IntoView {
    let month = report.month.clone();
    let csv = format!(
        "/reports.csv?month={}&tz={}",
        url_escape(&month),
        url_escape(&report.timezone)
    );
    let vehicles = report
        .vehicles
        .into_iter()
        .map(|v| {
            let statement = format!(
                "/vehicles/{}/statement?month={}&kind=home",
                path_escape(&v.vehicle_id),
                url_escape(&month)
            );
            let splits = split_text(&v.figures);
            view! {
                <tr data-vehicle-id=v.vehicle_id.clone()>
                    <th scope="row">
                        <a href=format!("/vehicles/{}", path_escape(&v.vehicle_id))>{v.name}</a>
                    </th>
                    <TotalsCells totals=v.figures.totals />
                    <td class="splits">
                        {splits
                            .into_iter()
                            .map(|line| view! { <span>{line}</span> })
                            .collect_view()}
                    </td>
                    <td class="no-print">
                        <a href=statement>"Home statement"</a>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let places = report
        .places
        .into_iter()
        .map(|p| {
            let name = p
                .place
                .as_ref()
                .map_or("No place".to_owned(), |p| p.name.clone());
            let kind = kind_label(p.place.as_ref().map(|p| p.kind));
            view! {
                <tr>
                    <th scope="row">{name}</th>
                    <td>{kind}</td>
                    <td>{p.cost_center.unwrap_or_default()}</td>
                    <TotalsCells totals=p.totals />
                </tr>
            }
        })
        .collect_view();
    let pending = (report.pricing_pending > 0)
        .then(|| {
            view! {
                <p class="notice" role="status">
                    {format!(
                        "{} session(s) are still being priced after a change; these figures are not final.",
                        report.pricing_pending,
                    )}
                </p>
            }
        });
    view! {
        <h1>{format!("Charging in {month}")}</h1>
        <p class="muted">
            "Read in " {report.timezone.clone()}
            ". Energy counts where it was added and costs are shared at the month's edges, so consecutive months add up. "
            "Grid energy is battery energy ÷ the place's charging efficiency, where known."
        </p>
        <form method="get" action="/reports" class="filter no-print" aria-label="Choose a month">
            <label>"Month " <input type="month" name="month" value=month.clone() required /></label>
            <button type="submit">"Show"</button>
            <a href=csv class="download" download>
                "Download CSV"
            </a>
        </form>
        {pending}
        <section aria-labelledby="fleet-totals">
            <h2 id="fleet-totals">"Fleet"</h2>
            <div class="table-wrap">
                <table class="fleet report">
                    <TotalsHead first="" />
                    <tbody>
                        <tr class="total">
                            <th scope="row">"All vehicles"</th>
                            <TotalsCells totals=report.fleet.totals.clone() />
                        </tr>
                    </tbody>
                </table>
            </div>
            <Splits figures=report.fleet />
        </section>
        <section aria-labelledby="per-vehicle">
            <h2 id="per-vehicle">"Per vehicle"</h2>
            <div class="table-wrap">
                <table class="fleet report" id="vehicle-report">
                    <thead>
                        <tr>
                            <th scope="col">"Vehicle"</th>
                            <th scope="col" class="num">
                                "Sessions"
                            </th>
                            <th scope="col" class="num">
                                "Battery"
                            </th>
                            <th scope="col" class="num">
                                "Grid"
                            </th>
                            <th scope="col" class="num">
                                "Cost"
                            </th>
                            <th scope="col" class="no-print"></th>
                        </tr>
                    </thead>
                    <tbody>{vehicles}</tbody>
                </table>
            </div>
        </section>
        <section aria-labelledby="per-place">
            <h2 id="per-place">"Per place"</h2>
            <div class="table-wrap">
                <table class="fleet report">
                    <thead>
                        <tr>
                            <th scope="col">"Place"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Cost centre"</th>
                            <th scope="col" class="num">
                                "Sessions"
                            </th>
                            <th scope="col" class="num">
                                "Battery"
                            </th>
                            <th scope="col" class="num">
                                "Grid"
                            </th>
                            <th scope="col" class="num">
                                "Cost"
                            </th>
                        </tr>
                    </thead>
                    <tbody>{places}</tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
pub fn StatementPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let q = query.read();
        let given = |name: &str| q.get(name).filter(|s| !s.is_empty());
        (
            params.read().get("id").unwrap_or_default(),
            given("month"),
            given("kind"),
        )
    });
    let data = Resource::new(
        move || key.get(),
        |(id, month, kind)| get_statement(id, month, kind),
    );
    view! {
        <Title text="Reimbursement statement" />
        <Transition fallback=|| view! { <p class="loading">"Loading the statement…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    data.await.map(|statement| view! { <StatementView statement /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn StatementView(statement: Statement) -> impl IntoView {
    let id = path_escape(&statement.vehicle_id);
    let kind = statement.kind.as_str();
    let csv = format!(
        "/vehicles/{id}/statement.csv?month={}&kind={kind}&tz={}",
        url_escape(&statement.month),
        url_escape(&statement.timezone)
    );
    let empty = statement.lines.is_empty();
    let lines = statement
        .lines
        .into_iter()
        .map(|l| {
            let cost = l
                .amount
                .as_ref()
                .zip(l.currency.as_ref())
                .map_or("—".to_owned(), |(a, c)| format!("{a} {c}"));
            let manual =
                (l.source == Some(crate::wire::CostSource::Manual)).then_some(" (receipt)");
            view! {
                <tr>
                    <th scope="row">
                        <a href=format!("/sessions/{}", path_escape(&l.session_id))>
                            <Timestamp at=Some(l.started_at) />
                        </a>
                        {l.open.then_some(" (still charging)")}
                    </th>
                    <td>{l.place.name}</td>
                    <td class="num">{kwh(l.battery_kwh)}</td>
                    <td class="num">{l.grid_kwh.map_or("—".to_owned(), kwh)}</td>
                    <td class="num">{l.price_per_kwh.unwrap_or_else(|| "—".to_owned())}</td>
                    <td class="num">{cost} {manual}</td>
                </tr>
            }
        })
        .collect_view();
    let totals = statement.totals.clone();
    view! {
        <h1>{format!("Reimbursement statement, {}", statement.month)}</h1>
        <p class="statement-for">
            <a href=format!("/vehicles/{id}")>{statement.name.clone()}</a>
            {format!(
                ": charging at {kind} places in {}, read in {}.",
                statement.month,
                statement.timezone,
            )}
        </p>
        <form method="get" action="" class="filter no-print" aria-label="Choose a month and kind">
            <label>
                "Month " <input type="month" name="month" value=statement.month.clone() required />
            </label>
            <label>
                "Places "
                <select name="kind">
                    {PlaceKind::ALL
                        .into_iter()
                        .map(|k| {
                            view! {
                                <option value=k.as_str() selected=k == statement.kind>
                                    {k.as_str()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="submit">"Show"</button>
            <a href=csv class="download" download>
                "Download CSV"
            </a>
        </form>
        {if empty {
            Either::Left(
                view! { <p class="notice">"No sessions at such places in this month."</p> },
            )
        } else {
            Either::Right(
                view! {
                    <div class="table-wrap">
                        <table class="fleet report statement">
                            <thead>
                                <tr>
                                    <th scope="col">"Date"</th>
                                    <th scope="col">"Place"</th>
                                    <th scope="col" class="num">
                                        "Battery"
                                    </th>
                                    <th scope="col" class="num">
                                        "Grid"
                                    </th>
                                    <th scope="col" class="num">
                                        "Per kWh, all in"
                                    </th>
                                    <th scope="col" class="num">
                                        "Amount"
                                    </th>
                                </tr>
                            </thead>
                            <tbody>{lines}</tbody>
                            <tfoot>
                                <tr class="total">
                                    <th scope="row" colspan="2">
                                        "Total to reimburse"
                                    </th>
                                    <td class="num">{kwh(totals.battery_kwh)}</td>
                                    <td class="num">{grid(&totals)}</td>
                                    <td></td>
                                    <td class="num">{money(&totals)}</td>
                                </tr>
                            </tfoot>
                        </table>
                    </div>
                },
            )
        }}
    }
}
