//! `/settings`: what applies to the whole fleet. Rendered on the server with no island:
//! every change is a plain form post (`/forms/…`) that comes back here.

use crate::api::settings::get_settings;
use crate::components::error_view::ErrorView;
use crate::components::form_refusal::FormRefusal;
use crate::components::schedule_form::ScheduleForm;
use crate::domain::alerts::{Kind, Settings as AlertSettings, MAX_HOURS, MAX_MINUTES};
use crate::wire::SettingsView;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let data = Resource::new(|| (), |()| get_settings());
    view! {
        <Title text="Settings" />
        <h1>"Fleet settings"</h1>
        <FormRefusal />
        <Transition fallback=|| view! { <p class="loading">"Loading settings…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    data.await.map(|view| view! { <Settings view /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Settings(view: SettingsView) -> impl IntoView {
    let current = match &view.schedule {
        Some(s) => format!(
            "{} ({}), {} % needed.",
            s.describe_departures(),
            s.timezone,
            s.required_soc
        ),
        None => "None set: vehicles without a schedule of their own have no departures.".to_owned(),
    };
    view! {
        <section aria-labelledby="schedule" class="card">
            <h2 id="schedule">"Default departure schedule"</h2>
            <p class="muted">
                "Vehicles follow it unless their own page sets a schedule of their own. "
                "The readiness board judges each vehicle against its next departure."
            </p>
            <p class="current-schedule">"Now: " {current}</p>
            <ScheduleForm
                action="/forms/schedules/default".to_owned()
                schedule=view.schedule
                default_zone=view.default_timezone
                label="Default departure schedule"
            />
        </section>
        <AlertRules settings=view.alerts />
    }
}

/// One rule's row: its switch, what it watches, and its threshold fields.
#[component]
fn Rule(
    name: &'static str,
    enabled: bool,
    label: &'static str,
    text: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let id = format!("{name}-enabled");
    view! {
        <fieldset class="rule" data-rule=name>
            <legend>
                <input
                    type="checkbox"
                    id=id.clone()
                    name=format!("{name}.enabled")
                    checked=enabled
                />
                <label for=id>{label}</label>
            </legend>
            <p class="muted">{text}</p>
            {children.map(|c| c())}
        </fieldset>
    }
}

/// A whole-number field of a rule.
#[component]
fn Threshold(name: &'static str, label: &'static str, value: u32, max: u32) -> impl IntoView {
    view! {
        <label class="threshold">
            {label}
            <input
                type="number"
                name=name
                value=value
                min="1"
                max=max
                required
                inputmode="numeric"
            />
        </label>
    }
}

#[component]
fn AlertRules(settings: AlertSettings) -> impl IntoView {
    let s = settings;
    view! {
        <section aria-labelledby="alert-rules" class="card">
            <h2 id="alert-rules">"Alert rules"</h2>
            <p class="muted">
                "Each rule opens an alert on the alerts page when its condition holds, and resolves it when the condition ends. "
                "The silence thresholds are also when the readiness board stops trusting a vehicle's data. "
                "Alerts are sent to the " <a href="/notifications">"notification endpoints"</a> "."
            </p>
            <form method="post" action="/forms/alerts/settings" class="alert-rules">
                <Rule
                    name="not_plugged"
                    enabled=s.not_plugged.enabled
                    label=Kind::NotPlugged.label()
                    text="At a depot or home place, below the charge its departure needs, and no cable in."
                >
                    <Threshold
                        name="not_plugged.minutes"
                        label="Minutes before departure"
                        value=s.not_plugged.minutes
                        max=MAX_MINUTES
                    />
                </Rule>
                <Rule
                    name="plugged_not_charging"
                    enabled=s.plugged_not_charging.enabled
                    label=Kind::PluggedNotCharging.label()
                    text="Cable in, not charging, below its charge limit."
                >
                    <Threshold
                        name="plugged_not_charging.minutes"
                        label="For minutes"
                        value=s.plugged_not_charging.minutes
                        max=MAX_MINUTES
                    />
                </Rule>
                <Rule
                    name="ended_below_required"
                    enabled=s.ended_below_required.enabled
                    label=Kind::EndedBelowRequired.label()
                    text="A session at a depot or home ended before the departure, below the charge it needs, and it has not charged since."
                />
                <Rule
                    name="vehicle_silent"
                    enabled=s.vehicle_silent.enabled
                    label=Kind::VehicleSilent.label()
                    text="No data from the vehicle."
                >
                    <Threshold
                        name="vehicle_silent.plugged_hours"
                        label="Hours, plugged in"
                        value=s.vehicle_silent.plugged_hours
                        max=MAX_HOURS
                    />
                    <Threshold
                        name="vehicle_silent.unplugged_hours"
                        label="Hours, otherwise"
                        value=s.vehicle_silent.unplugged_hours
                        max=MAX_HOURS
                    />
                </Rule>
                <Rule
                    name="vehicle_error"
                    enabled=s.vehicle_error.enabled
                    label=Kind::VehicleError.label()
                    text="Smartcar reports an error someone must act on (an expired authorisation, a disabled remote access); not a vehicle asleep or out of reach."
                />
                <Rule
                    name="slow_charging"
                    enabled=s.slow_charging.enabled
                    label=Kind::SlowCharging.label()
                    text="A session's average power against the vehicle's median at that place (after half an hour, with three earlier sessions there)."
                >
                    <Threshold
                        name="slow_charging.percent_of_median"
                        label="Below this % of the median"
                        value=s.slow_charging.percent_of_median
                        max=99
                    />
                </Rule>
                <button type="submit">"Save alert rules"</button>
            </form>
        </section>
    }
}
