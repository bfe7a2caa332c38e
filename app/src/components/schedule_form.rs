//! A departure schedule as a plain HTML form (it posts to `/forms/…` and needs no
//! JavaScript): the zone, the charge needed, and up to [`FORM_DEPARTURES`] departure
//! times, each on the days ticked. A row with no time is left out.

use crate::domain::pricing::tariff::Day;
use crate::domain::schedule::{Schedule, DEFAULT_REQUIRED_SOC};
use leptos::prelude::*;

/// Departure rows a form offers.
pub const FORM_DEPARTURES: usize = 4;
const DAYS: [Day; 7] = [
    Day::Mon,
    Day::Tue,
    Day::Wed,
    Day::Thu,
    Day::Fri,
    Day::Sat,
    Day::Sun,
];

#[component]
pub fn ScheduleForm(
    action: String,
    schedule: Option<Schedule>,
    default_zone: String,
    label: &'static str,
) -> impl IntoView {
    let zone = schedule
        .as_ref()
        .map_or(default_zone, |s| s.timezone.clone());
    let required = schedule
        .as_ref()
        .map_or(DEFAULT_REQUIRED_SOC, |s| s.required_soc);
    let departures = schedule.map(|s| s.departures).unwrap_or_default();
    let rows = (0..FORM_DEPARTURES)
        .map(|i| {
            let given = departures.get(i);
            // An empty form starts with the working week ticked on its first row.
            let ticked = |day: Day| match given {
                Some(d) => d.days.contains(&day),
                None => i == 0 && departures.is_empty() && day < Day::Sat,
            };
            let time = given.map(|d| String::from(d.time)).unwrap_or_default();
            let days = DAYS
                .into_iter()
                .map(|day| {
                    view! {
                        <label class="day">
                            <input
                                type="checkbox"
                                name=format!("d{i}_{}", day.as_str())
                                checked=ticked(day)
                            />
                            {day.as_str()}
                        </label>
                    }
                })
                .collect_view();
            view! {
                <fieldset class="departure-row">
                    <legend>{format!("Departure {}", i + 1)}</legend>
                    <label>
                        "Time " <input type="time" name=format!("d{i}_time") value=time />
                    </label>
                    {days}
                </fieldset>
            }
        })
        .collect_view();
    view! {
        <form method="post" action=action class="stack" aria-label=label>
            <label>
                "Time zone (IANA)" <input type="text" name="timezone" value=zone required />
            </label>
            <label>
                "Charge needed at departure (%)"
                <input
                    type="number"
                    name="required_soc"
                    min="1"
                    max="100"
                    step="1"
                    value=required.to_string()
                    required
                />
            </label>
            {rows}
            <button type="submit">"Save schedule"</button>
        </form>
    }
}
