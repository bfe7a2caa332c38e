use crate::components::axis::{Anchor, AxisLabel, Plot, ValueAxis};
use crate::domain::buckets::Bucket;
use crate::domain::chart::{bucket_label, label_step};
use crate::domain::date_text;
use crate::domain::fleet::format_number;
use crate::viewer::local;
use crate::wire::EnergyBucket;
use leptos::either::Either;
use leptos::prelude::*;

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
const MAX_LABELS: usize = 8;

fn describe(bucket: Bucket, b: &EnergyBucket) -> String {
    let date = local(b.start).date_naive();
    let when = match bucket {
        Bucket::Day => date_text::weekday_date(date),
        Bucket::Week => format!("Week of {}", date_text::day_month_year(date)),
        Bucket::Month => date_text::month_year(date),
    };
    format!(
        "{when}: {} kWh in {} session{}",
        format_number(b.energy_kwh),
        b.sessions,
        if b.sessions == 1 { "" } else { "s" }
    )
}

/// Energy added per bucket as bars. Each bar has its figures as a tooltip (also without
/// JavaScript), a read-out on hover or keyboard focus, and the same figures are in a
/// table for screen readers.
#[component]
pub fn EnergyChart(
    buckets: Vec<EnergyBucket>,
    bucket: Bucket,
    /// What the chart shows, for its accessible name.
    label: String,
) -> impl IntoView {
    if buckets.is_empty() {
        return Either::Left(view! { <p class="muted">"No energy in this range."</p> });
    }
    let total: f64 = buckets.iter().map(|b| b.energy_kwh).sum();
    let max = buckets.iter().map(|b| b.energy_kwh).fold(0.0_f64, f64::max);
    let axis = ValueAxis::from_zero(max, W, H, [LEFT, RIGHT, TOP, BOTTOM]);
    let y = axis.y;
    let n = buckets.len();
    let slot = (W - LEFT - RIGHT) / n as f64;
    let bar = (slot * 0.75).max(1.0);
    let step = label_step(n, MAX_LABELS);
    let texts: Vec<String> = buckets.iter().map(|b| describe(bucket, b)).collect();
    let summary = format!(
        "{} kWh in total over {n} {}{}",
        format_number(total),
        bucket.as_param(),
        if n == 1 { "" } else { "s" }
    );
    let hovered = RwSignal::new(None::<usize>);
    let readout = {
        let texts = texts.clone();
        let summary = summary.clone();
        move || match hovered.get() {
            Some(i) => texts.get(i).cloned().unwrap_or_default(),
            None => summary.clone(),
        }
    };
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
            let y0 = y.map(b.energy_kwh);
            let height = (H - BOTTOM - y0).max(0.0);
            let text = texts[i].clone();
            view! {
                <g
                    class="bar"
                    tabindex="0"
                    on:mouseenter=move |_| hovered.set(Some(i))
                    on:focus=move |_| hovered.set(Some(i))
                    on:blur=move |_| hovered.set(None)
                >
                    <title>{text}</title>
                    <rect
                        class="bar-hit"
                        x=LEFT + slot * i as f64
                        y=TOP
                        width=slot
                        height=H - TOP - BOTTOM
                    />
                    <rect class="bar-fill" x=x y=y0 width=bar height=height />
                </g>
            }
        })
        .collect_view();
    // Every `step`-th bar from the newest is labelled; on a phone every other of those.
    let bar_labels = buckets
        .iter()
        .enumerate()
        .filter(|(i, _)| (n - 1 - i).is_multiple_of(step))
        .map(|(i, b)| {
            let from_newest = (n - 1 - i) / step;
            view! {
                <AxisLabel
                    x=LEFT + slot * i as f64 + slot / 2.0
                    y=H - BOTTOM / 2.0
                    width=W
                    height=H
                    anchor=Anchor::Middle
                    text=bucket_label(bucket, local(b.start).date_naive())
                    minor=from_newest % 2 == 1
                />
            }
        })
        .collect_view();
    let accessible_name = format!("{label}: {summary}");
    Either::Right(view! {
        <figure class="chart energy-chart">
            <figcaption>
                <span class="legend legend-energy">"Energy added (kWh)"</span>
                <output class="readout" aria-live="polite">
                    {readout}
                </output>
            </figcaption>
            <Plot width=W height=H>
                <svg
                    viewBox=format!("0 0 {W} {H}")
                    preserveAspectRatio="none"
                    role="img"
                    aria-label=accessible_name
                    on:mouseleave=move |_| hovered.set(None)
                >
                    {axis.grid()}
                    {bars}
                </svg>
                {axis.labels()}
                {bar_labels}
            </Plot>
            <table class="visually-hidden">
                <caption>{label}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Period"</th>
                        <th scope="col">"kWh"</th>
                        <th scope="col">"Sessions"</th>
                    </tr>
                </thead>
                <tbody>
                    {buckets
                        .iter()
                        .map(|b| {
                            view! {
                                <tr>
                                    <th scope="row">
                                        {bucket_label(bucket, local(b.start).date_naive())}
                                    </th>
                                    <td>{format_number(b.energy_kwh)}</td>
                                    <td>{b.sessions}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </figure>
    })
}
