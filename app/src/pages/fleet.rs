use crate::api::fleet::get_fleet_overview;
use crate::components::empty_fleet::EmptyFleet;
use crate::components::error_view::ErrorView;
use crate::components::vehicle_table::VehicleTable;
use leptos::prelude::*;
use leptos_meta::Title;

/// `/`: every vehicle and its latest state.
#[component]
pub fn FleetPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_fleet_overview());
    view! {
        <Title text="Fleet" />
        <h1>"Fleet"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading vehicles…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorView errors /> }>
                {move || Suspend::new(async move {
                    overview
                        .await
                        .map(|overview| {
                            if overview.vehicles.is_empty() {
                                view! { <EmptyFleet webhooks_enabled=overview.webhooks_enabled /> }
                                    .into_any()
                            } else {
                                view! { <VehicleTable vehicles=overview.vehicles /> }.into_any()
                            }
                        })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}
