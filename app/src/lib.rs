//! chargelog's shared crate: domain types and logic, the UI, and server functions.
#![recursion_limit = "256"]

pub mod api;
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub mod browser;
pub mod components;
pub mod domain;
pub mod live;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod viewer;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    server::set_page_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                // The stylesheet by its built name (hashed in release builds).
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// On every page of a server started with `--demo`: this data is simulated.
#[component]
fn DemoBanner() -> impl IntoView {
    let demo = OnceResource::new(api::fleet::get_demo_mode());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                matches!(demo.await, Ok(true))
                    .then(|| {
                        view! {
                            <p class="demo-banner" role="note">
                                <strong>"Demo mode."</strong>
                                " These vehicles and their charging are simulated; nothing here came from a real car. "
                                "Run chargelog without "
                                <code>"--demo"</code>
                                ", on a database of its own, for your fleet."
                            </p>
                        }
                    })
            })}
        </Transition>
    }
}

/// The top bar's live part (`live::LiveBadge`), given how many alerts are open.
#[component]
fn LiveParts() -> impl IntoView {
    let open = OnceResource::new(api::alerts::get_open_alert_count());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let open = open.await.unwrap_or_default();
                view! { <live::LiveBadge open /> }
            })}
        </Transition>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    viewer::Viewer::provide();
    live::Live::provide();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Title formatter=|page: String| {
            if page.is_empty() { "chargelog".to_owned() } else { format!("{page} · chargelog") }
        } />
        <Router>
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <header class="topbar">
                <A href="/" attr:class="brand">
                    "chargelog"
                </A>
                <nav aria-label="Main">
                    <A href="/" exact=true>
                        "Fleet"
                    </A>
                    <A href="/readiness">"Readiness"</A>
                    <A href="/places">"Places"</A>
                    <A href="/reports">"Reports"</A>
                    <A href="/events">"Deliveries"</A>
                    <A href="/health">"Health"</A>
                    <A href="/settings">"Settings"</A>
                </nav>
                <LiveParts />
                <form method="post" action="/logout" class="logout">
                    <button type="submit">"Log out"</button>
                </form>
            </header>
            <DemoBanner />
            <main id="main" tabindex="-1">
                <Routes fallback=pages::not_found::NotFound>
                    // Async SSR: the whole page, data included, arrives as plain HTML, so it
                    // reads without JavaScript; each page's islands then come alive.
                    <Route path=path!("/") view=pages::fleet::FleetPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/vehicles/:id")
                        view=pages::vehicle::VehiclePage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/sessions/:id")
                        view=pages::session::SessionPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/vehicles/:id/statement")
                        view=pages::reports::StatementPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/readiness")
                        view=pages::readiness::ReadinessPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/alerts")
                        view=pages::alerts::AlertsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/notifications")
                        view=pages::notifications::NotificationsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/health")
                        view=pages::health::HealthPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/places")
                        view=pages::places::PlacesPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/places/peaks")
                        view=pages::site_load::SitePeaksPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/places/:id/load")
                        view=pages::site_load::LoadPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/reports")
                        view=pages::reports::ReportsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings")
                        view=pages::settings::SettingsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/events")
                        view=pages::events::EventsPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
            <footer class="footer">
                <viewer::ZoneNote />
            </footer>
        </Router>
    }
}
