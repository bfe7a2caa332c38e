//! `/settings`: what applies to the whole fleet. Rendered on the server with no island:
//! every change is a plain form post (`/forms/…`) that comes back here.

use crate::api::settings::get_settings;
use crate::components::error_view::ErrorView;
use crate::components::schedule_form::ScheduleForm;
use crate::wire::SettingsView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error").filter(|s| !s.is_empty());
    let data = Resource::new(|| (), |()| get_settings());
    view! {
        <Title text="Settings" />
        <h1>"Fleet settings"</h1>
        {move || {
            error()
                .map(|e| {
                    view! {
                        <p class="notice notice-error" role="alert">
                            "Not saved: "
                            {e}
                        </p>
                    }
                })
        }}
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
    }
}
