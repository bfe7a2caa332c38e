//! `/places/{id}/load`: what the fleet drew at a place: its power in 15 (or 5, or 60)
//! minute intervals over a range of days, each day's and month's peak with the vehicles
//! that made it, a weekday × hour map of the average power, and what a power cap would
//! have done to the recorded sessions. `/places/peaks`: every place's monthly peak side
//! by side. Server-rendered documents with no island: the chart zooms by links and the
//! forms are plain GET forms, so they fetch no code and work without JavaScript. Times
//! are the place's own (its zone).

use crate::api::site_load::{get_place_load, get_site_peaks, get_what_if};
use crate::components::axis::{Anchor, AxisLabel, Plot, ValueAxis};
use crate::components::error_view::ErrorView;
use crate::domain::chart::label_step;
use crate::domain::date_text;
use crate::domain::fleet::{format_number, path_escape};
use crate::domain::site_load::query::INTERVALS;
use crate::wire::{CapFigures, LoadPeak, PeakPeriod, PlaceLoad, SitePeaks, WhatIf};
use chrono::{DateTime, NaiveDate, Utc};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Ranges up to this many days chart every interval; longer ones each day's peak.
const INTERVAL_CHART_DAYS: i64 = 7;
/// Days listed under "Highest days".
const TOP_DAYS: usize = 10;
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// What the page shows, from its URL.
#[derive(Debug, Clone, PartialEq, Default)]
struct Asked {
    id: String,
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    cap_kw: Option<String>,
    what_if_from: Option<String>,
    what_if_to: Option<String>,
}

/// The page's URL for a place, range and interval.
fn load_href(id: &str, from: NaiveDate, to: NaiveDate, interval: u32) -> String {
    format!(
        "/places/{}/load?from={from}&to={to}&interval={interval}m",
        path_escape(id)
    )
}

/// An instant in the place's zone, to the minute.
fn at_place(at: DateTime<Utc>, zone: &str) -> String {
    match zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => date_text::date_minute(&at.with_timezone(&tz)),
        Err(_) => date_text::date_minute(&at),
    }
}

fn kw(v: f64) -> String {
    format!("{} kW", format_number(v))
}

#[component]
pub fn LoadPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let asked = Memo::new(move |_| {
        let q = query.read();
        let given = |name: &str| q.get(name).filter(|s| !s.trim().is_empty());
        Asked {
            id: params.read().get("id").unwrap_or_default(),
            from: given("from"),
            to: given("to"),
            interval: given("interval"),
            cap_kw: given("cap_kw"),
            what_if_from: given("wfrom"),
            what_if_to: given("wto"),
        }
    });
    let load = Resource::new(
        move || asked.get(),
        |a| get_place_load(a.id, a.from, a.to, a.interval),
    );
    let what_if = Resource::new(
        move || asked.get(),
        |a| async move {
            match a.cap_kw {
                None => Ok(None),
                Some(cap) => get_what_if(a.id, cap, a.what_if_from, a.what_if_to)
                    .await
                    .map(Some),
            }
        },
    );
    view! {
        <Title text="Site load" />
        <Transition fallback=|| view! { <p class="loading">"Loading the site's load…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! {
                    <h1>"Site load"</h1>
                    <ErrorView errors />
                }
            }>
                {move || Suspend::new(async move {
                    let load = load.await?;
                    let asked = asked.get_untracked();
                    Ok::<
                        _,
                        crate::api::error::AppError,
                    >(
                        view! {
                            <Load load=load.clone() />
                            <WhatIfSection load what_if asked />
                        },
                    )
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Load(load: PlaceLoad) -> impl IntoView {
    let id = load.place_id.clone();
    let csv = format!(
        "/places/{}/load.csv?from={}&to={}&interval={}m",
        path_escape(&id),
        load.from,
        load.to,
        load.interval_minutes
    );
    let pending = (load.pricing_pending > 0).then(|| {
        view! {
            <p class="notice" role="status">
                {format!(
                    "Catching up after a change: {} session(s) still wait for their place and load. Reload to follow.",
                    load.pricing_pending,
                )}
            </p>
        }
    });
    // The earliest of equal intervals, as the peaks below are chosen.
    let highest = load
        .intervals
        .iter()
        .reduce(|best, i| if i.avg_kw > best.avg_kw { i } else { best })
        .map(|i| format!("{} at {}", kw(i.avg_kw), at_place(i.start, &load.timezone)));
    let intervals = load.intervals.len();
    let interval = load.interval_minutes;
    let options = INTERVALS
        .iter()
        .map(|m| {
            view! {
                <option value=format!("{m}m") selected=*m == interval>
                    {format!("{m} minutes")}
                </option>
            }
        })
        .collect_view();
    view! {
        <h1>{format!("Load at {}", load.place_name)}</h1>
        <p class="muted">
            "What the fleet's vehicles drew here, from their side: each session's "
            <code>"Charge.Wattage"</code>
            " readings where it has them, else its energy samples, else its average power. Times are the place's ("
            {load.timezone.clone()} ")."
        </p>
        <p>
            <a href="/places">"All places"</a>
            " · "
            <a href="/places/peaks">"Every site's monthly peak"</a>
            " · "
            <a href=csv download="">
                "Download these intervals (CSV)"
            </a>
        </p>
        <form method="get" class="filters" aria-label="Range">
            <label>"From " <input type="date" name="from" value=load.from.to_string() /></label>
            <label>"To " <input type="date" name="to" value=load.to.to_string() /></label>
            <label>"Intervals " <select name="interval">{options}</select></label>
            <button type="submit">"Show"</button>
        </form>
        {pending}
        <dl class="figures">
            <div>
                <dt>"Energy"</dt>
                <dd>{format!("{} kWh", format_number(load.energy_kwh))}</dd>
            </div>
            <div>
                <dt>{format!("Highest {interval}-minute average")}</dt>
                <dd>{highest.unwrap_or_else(|| "—".into())}</dd>
            </div>
            <div>
                <dt>"Intervals with charge"</dt>
                <dd>{intervals}</dd>
            </div>
        </dl>
        <LoadChart load=load.clone() />
        <Peaks load=load.clone() />
        <HeatMap load />
    }
}

/// The range's intervals as bars placed by time (a week or less), else each day's peak
/// as a bar that zooms to that day.
#[component]
fn LoadChart(load: PlaceLoad) -> impl IntoView {
    if load.intervals.is_empty() {
        return Either::Left(view! { <p class="muted">"Nothing charged here in this range."</p> });
    }
    let days = (load.to - load.from).num_days() + 1;
    let by_interval = days <= INTERVAL_CHART_DAYS;
    // (x, width, kW, tooltip, zoom link)
    let mut bars: Vec<(f64, f64, f64, String, Option<String>)> = Vec::new();
    let mut labels: Vec<(f64, String)> = Vec::new();
    let plot = W - LEFT - RIGHT;
    if by_interval {
        let start = load.range_start.timestamp_millis() as f64;
        let span = (load.range_end.timestamp_millis() as f64 - start).max(1.0);
        let width = (f64::from(load.interval_minutes) * 60_000.0 / span * plot).max(1.0);
        for i in &load.intervals {
            let x = LEFT + (i.start.timestamp_millis() as f64 - start) / span * plot;
            let text = format!(
                "{}: {} average, {} kWh, at most {} charging",
                at_place(i.start, &load.timezone),
                kw(i.avg_kw),
                format_number(i.energy_kwh),
                i.max_vehicles
            );
            bars.push((x, width, i.avg_kw, text, None));
        }
        let tz: chrono_tz::Tz = load.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
        let mut date = load.from;
        while date <= load.to {
            let at = crate::domain::buckets::day_start(tz, date).timestamp_millis() as f64;
            let x = LEFT + (at - start) / span * plot;
            labels.push((x, date_text::weekday_date(date)));
            date = date.succ_opt().unwrap_or(date);
            if days == 1 {
                break;
            }
        }
    } else {
        let daily: Vec<&LoadPeak> = load
            .peaks
            .iter()
            .filter(|p| p.period == PeakPeriod::Day)
            .collect();
        let slot = plot / days as f64;
        for p in &daily {
            let k = (p.date - load.from).num_days() as f64;
            let text = format!(
                "{}: peak {} at {}; select to see the day",
                date_text::weekday_date(p.date),
                kw(p.avg_kw),
                at_place(p.start, &load.timezone)
            );
            let href = load_href(&load.place_id, p.date, p.date, load.interval_minutes);
            bars.push((
                LEFT + slot * k,
                (slot * 0.8).max(1.0),
                p.avg_kw,
                text,
                Some(href),
            ));
        }
        let step = label_step(days as usize, 8);
        let mut date = load.from;
        let mut k = 0;
        while date <= load.to {
            if k % step == 0 {
                labels.push((LEFT + slot * (k as f64 + 0.5), date_text::day_month(date)));
            }
            date = date.succ_opt().unwrap_or(date);
            k += 1;
        }
    }
    let max = bars.iter().map(|b| b.2).fold(0.0_f64, f64::max);
    let axis = ValueAxis::from_zero(max, W, H, [LEFT, RIGHT, TOP, BOTTOM]);
    let y = axis.y;
    let shapes = bars
        .into_iter()
        .map(|(x, width, value, text, href)| {
            let y0 = y.map(value);
            let height = (H - BOTTOM - y0).max(0.0);
            let bar = view! {
                <rect class="bar-fill" x=x y=y0 width=width height=height>
                    <title>{text}</title>
                </rect>
            };
            match href {
                Some(href) => Either::Left(view! { <a href=href>{bar}</a> }),
                None => Either::Right(bar),
            }
        })
        .collect_view();
    let label_views = labels
        .into_iter()
        .enumerate()
        .map(|(i, (x, text))| {
            view! {
                <AxisLabel
                    x=x
                    y=H - BOTTOM / 2.0
                    width=W
                    height=H
                    anchor=if by_interval { Anchor::Start } else { Anchor::Middle }
                    text=text
                    minor=i % 2 == 1
                />
            }
        })
        .collect_view();
    let (legend, name) = if by_interval {
        (
            format!("Average power per {} minutes (kW)", load.interval_minutes),
            "The site's power over the range",
        )
    } else {
        (
            "Each day's peak (kW); select a day to see it".to_owned(),
            "Each day's peak power over the range",
        )
    };
    Either::Right(view! {
        <figure class="chart load-chart">
            <figcaption>
                <span class="legend legend-energy">{legend}</span>
            </figcaption>
            <Plot width=W height=H>
                <svg
                    viewBox=format!("0 0 {W} {H}")
                    preserveAspectRatio="none"
                    role="img"
                    aria-label=name
                >
                    {axis.grid()}
                    {shapes}
                </svg>
                {axis.labels()}
                {label_views}
            </Plot>
        </figure>
    })
}

/// The vehicles of a peak, most energy first (or, for a day's peak in a long range, how
/// many were charging).
fn vehicles_text(peak: &LoadPeak, most: usize) -> String {
    if peak.vehicles.is_empty() {
        return format!("{} charging at once", peak.vehicles_charging);
    }
    let mut names: Vec<String> = peak
        .vehicles
        .iter()
        .take(most)
        .map(|v| format!("{} ({} kWh)", v.name, format_number(v.energy_kwh)))
        .collect();
    if peak.vehicles.len() > most {
        names.push(format!("and {} more", peak.vehicles.len() - most));
    }
    names.join(", ")
}

#[component]
fn Peaks(load: PlaceLoad) -> impl IntoView {
    if load.peaks.is_empty() {
        return Either::Left(());
    }
    let interval = load.interval_minutes;
    let months = load
        .peaks
        .iter()
        .filter(|p| p.period == PeakPeriod::Month)
        .map(|p| {
            view! {
                <tr>
                    <th scope="row">{date_text::month_year(p.date)}</th>
                    <td class="num">{kw(p.avg_kw)}</td>
                    <td>{at_place(p.start, &load.timezone)}</td>
                    <td>{vehicles_text(p, 5)}</td>
                </tr>
            }
        })
        .collect_view();
    let mut days: Vec<&LoadPeak> = load
        .peaks
        .iter()
        .filter(|p| p.period == PeakPeriod::Day)
        .collect();
    days.sort_by(|a, b| b.avg_kw.total_cmp(&a.avg_kw).then(a.date.cmp(&b.date)));
    let day_rows = days
        .into_iter()
        .take(TOP_DAYS)
        .map(|p| {
            let href = load_href(&load.place_id, p.date, p.date, interval);
            view! {
                <tr>
                    <th scope="row">
                        <a href=href>{date_text::weekday_date(p.date)}</a>
                    </th>
                    <td class="num">{kw(p.avg_kw)}</td>
                    <td>{at_place(p.start, &load.timezone)}</td>
                    <td>{vehicles_text(p, 3)}</td>
                </tr>
            }
        })
        .collect_view();
    Either::Right(view! {
        <section aria-labelledby="peaks" class="card">
            <h2 id="peaks">"Peaks"</h2>
            <p class="muted">
                {format!(
                    "The highest {interval}-minute average of each month and of the highest days, and the vehicles that drew in it (demand charges are usually measured over 15 minutes).",
                )}
            </p>
            <table class="peaks">
                <caption>"Monthly peaks"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Month"</th>
                        <th scope="col">"Peak"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"Vehicles"</th>
                    </tr>
                </thead>
                <tbody>{months}</tbody>
            </table>
            <table class="peaks">
                <caption>"Highest days"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Day"</th>
                        <th scope="col">"Peak"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"Vehicles"</th>
                    </tr>
                </thead>
                <tbody>{day_rows}</tbody>
            </table>
        </section>
    })
}

#[component]
fn HeatMap(load: PlaceLoad) -> impl IntoView {
    if load.intervals.is_empty() {
        return Either::Left(());
    }
    let max = load
        .weekday_hour_kw
        .iter()
        .flatten()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let hours = (0..24)
        .map(|h| view! { <th scope="col">{format!("{h:02}")}</th> })
        .collect_view();
    let rows = load
        .weekday_hour_kw
        .iter()
        .zip(WEEKDAYS)
        .map(|(row, day)| {
            let cells = row
                .iter()
                .enumerate()
                .map(|(h, v)| {
                    let text = format!("{day} {h:02}:00: {} on average", kw(*v));
                    let title = text.clone();
                    view! {
                        <td style=format!("--heat: {:.3}", v / max) title=title>
                            <span class="visually-hidden">{text}</span>
                        </td>
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">{day}</th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    let energy = load
        .hour_kwh
        .iter()
        .map(|e| view! { <td class="num">{format_number(*e)}</td> })
        .collect_view();
    Either::Right(view! {
        <section aria-labelledby="heat" class="card">
            <h2 id="heat">"When the site draws"</h2>
            <p class="muted">
                {format!(
                    "The average power in each hour of each weekday over the range (darker is more; the highest is {}), and the energy in each hour of the day (kWh).",
                    kw(max),
                )}
            </p>
            <div class="table-scroll">
                <table class="heat">
                    <thead>
                        <tr>
                            <td></td>
                            {hours}
                        </tr>
                    </thead>
                    <tbody>
                        {rows} <tr class="hour-energy">
                            <th scope="row">"kWh"</th>
                            {energy}
                        </tr>
                    </tbody>
                </table>
            </div>
        </section>
    })
}

#[component]
fn WhatIfSection(
    load: PlaceLoad,
    what_if: Resource<Result<Option<WhatIf>, crate::api::error::AppError>>,
    asked: Asked,
) -> impl IntoView {
    // The replay's range: asked for, else the last week of the range shown.
    let week_from = (load.to - chrono::Days::new(6)).max(load.from);
    let from = asked.what_if_from.clone().unwrap_or(week_from.to_string());
    let to = asked.what_if_to.clone().unwrap_or(load.to.to_string());
    let cap = asked.cap_kw.clone().unwrap_or_default();
    view! {
        <section aria-labelledby="what-if" class="card">
            <h2 id="what-if">"What if the site were capped?"</h2>
            <p class="muted">
                "The recorded sessions replayed a minute at a time as if the chargers shared a power limit: each vehicle at most the power it really drew at that charge, the limit shared equally (what one cannot use going to the others), or to the vehicles leaving soonest first. A vehicle leaves when it was unplugged; where that was never reported, at its next charge or a day after this one ended. Up to 31 days."
            </p>
            <form method="get" class="filters" aria-label="What if">
                <input type="hidden" name="from" value=load.from.to_string() />
                <input type="hidden" name="to" value=load.to.to_string() />
                <input type="hidden" name="interval" value=format!("{}m", load.interval_minutes) />
                <label>
                    "Limit (kW) "
                    <input type="number" name="cap_kw" min="0.1" step="any" required value=cap />
                </label>
                <label>"From " <input type="date" name="wfrom" value=from /></label>
                <label>"To " <input type="date" name="wto" value=to /></label>
                <button type="submit">"Replay"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Replaying…"</p> }>
                <ErrorBoundary fallback=|errors| {
                    view! { <ErrorView errors /> }
                }>
                    {move || Suspend::new(async move {
                        what_if.await.map(|found| found.map(|w| view! { <WhatIfResult w /> }))
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn WhatIfResult(w: WhatIf) -> impl IntoView {
    type Row = (&'static str, fn(&CapFigures) -> String);
    let rows: [Row; 7] = [
        ("Peak as recorded", |f| kw(f.recorded_peak_kw)),
        ("Peak under the limit", |f| kw(f.new_peak_kw)),
        ("Sessions that finish later", |f| {
            f.sessions_later.to_string()
        }),
        ("Median delay", |f| {
            format!("{} min", format_number(f.median_delay_min))
        }),
        ("Worst delay", |f| {
            format!("{} min", format_number(f.worst_delay_min))
        }),
        ("Sessions short when the vehicle left", |f| {
            f.sessions_short.to_string()
        }),
        ("Energy short", |f| {
            format!("{} kWh", format_number(f.kwh_short))
        }),
    ];
    let body = rows
        .iter()
        .map(|(name, figure)| {
            view! {
                <tr>
                    <th scope="row">{*name}</th>
                    <td class="num">{figure(&w.equal_share)}</td>
                    <td class="num">{figure(&w.departure_aware)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="what-if" aria-live="polite">
            <caption>
                {format!(
                    "{} replayed under {} from {} to {}",
                    if w.sessions == 1 {
                        "1 session".to_owned()
                    } else {
                        format!("{} sessions", w.sessions)
                    },
                    kw(w.cap_kw),
                    date_text::day_month_year(w.from),
                    date_text::day_month_year(w.to),
                )}
            </caption>
            <thead>
                <tr>
                    <td></td>
                    <th scope="col">"Shared equally"</th>
                    <th scope="col">"Leaving soonest first"</th>
                </tr>
            </thead>
            <tbody>{body}</tbody>
        </table>
    }
}

/// `/places/peaks?month=`: every place's peak in a month, side by side.
#[component]
pub fn SitePeaksPage() -> impl IntoView {
    let query = use_query_map();
    let month = Memo::new(move |_| query.read().get("month").filter(|s| !s.trim().is_empty()));
    let data = Resource::new(move || month.get(), get_site_peaks);
    view! {
        <Title text="Site peaks" />
        <h1>"Every site's monthly peak"</h1>
        <p class="muted">
            "The highest 15-minute average power the fleet drew at each place in the month (each place's own month, in its zone): what a demand charge is measured on."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading site peaks…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    data.await.map(|peaks| view! { <SitePeaksView peaks /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn SitePeaksView(peaks: SitePeaks) -> impl IntoView {
    use chrono::Months;
    let month = peaks.month;
    let href = |m: NaiveDate| format!("/places/peaks?month={}", m.format("%Y-%m"));
    let previous = month - Months::new(1);
    let next = month + Months::new(1);
    let nav = view! {
        <p class="pager">
            <a href=href(previous) rel="prev">
                {format!("← {}", date_text::month_year(previous))}
            </a>
            <strong>{date_text::month_year(month)}</strong>
            <a href=href(next) rel="next">
                {format!("{} →", date_text::month_year(next))}
            </a>
        </p>
    };
    if peaks.places.is_empty() {
        return Either::Left(view! {
            {nav}
            <p class="notice">
                "No places yet: create one on " <a href="/places">"the places page"</a> "."
            </p>
        });
    }
    let max = peaks
        .places
        .iter()
        .filter_map(|p| p.peak_kw)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let last = month + Months::new(1) - chrono::Days::new(1);
    let rows = peaks
        .places
        .iter()
        .map(|p| {
            let link = format!(
                "/places/{}/load?from={month}&to={last}&interval=15m",
                path_escape(&p.place_id)
            );
            let (bar, figure, when) = match (p.peak_kw, p.peak_start) {
                (Some(peak), Some(start)) => (
                    format!("width: {:.1}%", peak / max * 100.0),
                    kw(peak),
                    at_place(start, &p.timezone),
                ),
                _ => (
                    "width: 0".to_owned(),
                    "—".to_owned(),
                    "nothing charged".to_owned(),
                ),
            };
            view! {
                <tr data-place-id=p.place_id.clone()>
                    <th scope="row">
                        <a href=link>{p.name.clone()}</a>
                        <span class="muted">{format!(" {}", p.kind.as_str())}</span>
                    </th>
                    <td class="peak-bar">
                        <span class="bar" style=bar></span>
                    </td>
                    <td class="num">{figure}</td>
                    <td title=p.timezone.clone()>{when}</td>
                    <td class="num">{format!("{} kWh", format_number(p.energy_kwh))}</td>
                </tr>
            }
        })
        .collect_view();
    let more = (peaks.more > 0).then(
        || view! { <p class="muted">{format!("{} more places are not shown.", peaks.more)}</p> },
    );
    Either::Right(view! {
        {nav}
        <table class="site-peaks">
            <thead>
                <tr>
                    <th scope="col">"Place"</th>
                    <th scope="col" class="peak-bar">
                        <span class="visually-hidden">"Peak, as a bar"</span>
                    </th>
                    <th scope="col">"Peak"</th>
                    <th scope="col">"When (the place's time)"</th>
                    <th scope="col">"Energy"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {more}
    })
}
