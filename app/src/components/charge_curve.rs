use crate::components::axis::{Anchor, AxisLabel, Plot, ValueAxis};
use crate::domain::chart::{line_path, Scale};
use crate::domain::date_text;
use crate::domain::fleet::format_number;
use crate::viewer::local;
use crate::wire::Sample;
use leptos::either::Either;
use leptos::prelude::*;

const W: f64 = 720.0;
const H: f64 = 280.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 52.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 32.0;

fn readout(s: &Sample) -> String {
    let mut parts = vec![date_text::hour_minute(&local(s.at))];
    if let Some(kw) = s.power_kw {
        parts.push(format!("{} kW", format_number(kw)));
    }
    if let Some(soc) = s.soc_percent {
        parts.push(format!("{} %", format_number(soc)));
    }
    if let Some(kwh) = s.energy_added_kwh {
        parts.push(format!("counter {} kWh", format_number(kwh)));
    }
    parts.join(" · ")
}

/// Power (kW, left axis) and state of charge (%, right axis) over a session. Each
/// reading has a hover band with the values; without JavaScript the bands' titles show
/// them as tooltips.
#[component]
pub fn ChargeCurve(samples: Vec<Sample>) -> impl IntoView {
    if samples.len() < 2 {
        return Either::Left(
            view! { <p class="muted">"Too few readings to draw a charge curve."</p> },
        );
    }
    let xs: Vec<f64> = samples
        .iter()
        .map(|s| s.at.timestamp_millis() as f64)
        .collect();
    let (t0, t1) = (xs[0], xs[xs.len() - 1]);
    let x = Scale::new((t0, t1), (LEFT, W - RIGHT));
    let max_kw = samples
        .iter()
        .filter_map(|s| s.power_kw)
        .fold(0.0_f64, f64::max);
    let kw = ValueAxis::from_zero(max_kw, W, H, [LEFT, RIGHT, TOP, BOTTOM]);
    let y_kw = kw.y;
    let y_soc = Scale::new((0.0, 100.0), (H - BOTTOM, TOP));
    let power_path = line_path(
        &xs.iter()
            .zip(&samples)
            .map(|(x, s)| (*x, s.power_kw))
            .collect::<Vec<_>>(),
        &x,
        &y_kw,
    );
    let soc_path = line_path(
        &xs.iter()
            .zip(&samples)
            .map(|(x, s)| (*x, s.soc_percent))
            .collect::<Vec<_>>(),
        &x,
        &y_soc,
    );
    let time_ticks: Vec<(f64, String)> = (0..=4)
        .map(|i| {
            let t = t0 + (t1 - t0) * f64::from(i) / 4.0;
            let label = chrono::DateTime::from_timestamp_millis(t as i64)
                .map(|d| date_text::hour_minute(&local(d)))
                .unwrap_or_default();
            (x.map(t), label)
        })
        .collect();
    // Hover bands: from halfway to the previous reading to halfway to the next.
    let bands: Vec<(f64, f64, String)> = (0..xs.len())
        .map(|i| {
            let left = if i == 0 {
                x.map(xs[0])
            } else {
                x.map((xs[i - 1] + xs[i]) / 2.0)
            };
            let right = if i + 1 == xs.len() {
                x.map(xs[i])
            } else {
                x.map((xs[i] + xs[i + 1]) / 2.0)
            };
            (left, (right - left).max(1.0), readout(&samples[i]))
        })
        .collect();
    // Dots mark each power reading, so a reading between two gaps is still seen.
    let dots: Vec<(f64, f64)> = xs
        .iter()
        .zip(&samples)
        .filter_map(|(t, s)| Some((x.map(*t), y_kw.map(s.power_kw?))))
        .collect();
    let hovered = RwSignal::new(None::<usize>);
    let first = readout(&samples[0]);
    let texts: Vec<String> = bands.iter().map(|b| b.2.clone()).collect();
    Either::Right(view! {
        <figure class="chart">
            <figcaption>
                <span class="legend legend-power">"Power (kW)"</span>
                <span class="legend legend-soc">"State of charge (%)"</span>
                <output class="readout" aria-live="polite">
                    {move || match hovered.get() {
                        Some(i) => texts.get(i).cloned().unwrap_or_default(),
                        None => format!("Start: {first}"),
                    }}
                </output>
            </figcaption>
            <Plot width=W height=H>
                <svg
                    viewBox=format!("0 0 {W} {H}")
                    preserveAspectRatio="none"
                    role="img"
                    aria-label="Charge curve: power and state of charge over the session"
                    on:mouseleave=move |_| hovered.set(None)
                >
                    {kw.grid()}
                    <path class="line-power" d=power_path />
                    <path class="line-soc" d=soc_path />
                    {dots
                        .into_iter()
                        .map(|(cx, cy)| view! { <circle class="dot-power" cx=cx cy=cy r="3" /> })
                        .collect_view()}
                    {bands
                        .into_iter()
                        .enumerate()
                        .map(|(i, (bx, bw, text))| {
                            view! {
                                <rect
                                    class="band"
                                    x=bx
                                    y=TOP
                                    width=bw
                                    height=H - TOP - BOTTOM
                                    on:mouseenter=move |_| hovered.set(Some(i))
                                >
                                    <title>{text}</title>
                                </rect>
                            }
                        })
                        .collect_view()}
                </svg>
                {kw.labels()}
                {[0.0, 25.0, 50.0, 75.0, 100.0]
                    .into_iter()
                    .map(|p| {
                        view! {
                            <AxisLabel
                                x=W - RIGHT + 6.0
                                y=y_soc.map(p)
                                width=W
                                height=H
                                anchor=Anchor::Start
                                text=format!("{p}%")
                            />
                        }
                    })
                    .collect_view()}
                {time_ticks
                    .into_iter()
                    .enumerate()
                    .map(|(i, (tx, label))| {
                        view! {
                            <AxisLabel
                                x=tx
                                y=H - BOTTOM / 2.0
                                width=W
                                height=H
                                anchor=Anchor::Middle
                                text=label
                                minor=i % 2 == 1
                            />
                        }
                    })
                    .collect_view()}
            </Plot>
        </figure>
    })
}
