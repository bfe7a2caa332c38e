//! Pages: each owns its data loading; components only display.
//!
//! Each page is a lazy route: with `cargo leptos build --split` its code (the view,
//! the server function it calls, the decoding of its data) is cut out of the main WASM
//! into a file of its own, fetched when the page is first visited. The server names
//! the files a page needs in the HTML it renders, so the first page's code loads beside
//! the main file, and hydration waits for it (the entry point in `frontend`). A page
//! loads its data in its view, not in `LazyRoute::data`: the data's decoding then
//! leaves the main file too, and only a page's first visit in a session pays for the
//! wait (code, then data).

pub mod events;
pub mod fleet;
pub mod not_found;
pub mod session;
pub mod vehicle;

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// `/`: [`fleet::FleetPage`].
pub struct FleetRoute;

#[lazy_route]
impl LazyRoute for FleetRoute {
    fn data() -> Self {
        FleetRoute
    }

    fn view(this: Self) -> AnyView {
        let FleetRoute = this;
        view! { <fleet::FleetPage /> }.into_any()
    }
}

/// `/vehicles/{id}`: [`vehicle::VehiclePage`].
pub struct VehicleRoute;

#[lazy_route]
impl LazyRoute for VehicleRoute {
    fn data() -> Self {
        VehicleRoute
    }

    fn view(this: Self) -> AnyView {
        let VehicleRoute = this;
        view! { <vehicle::VehiclePage /> }.into_any()
    }
}

/// `/sessions/{id}`: [`session::SessionPage`].
pub struct SessionRoute;

#[lazy_route]
impl LazyRoute for SessionRoute {
    fn data() -> Self {
        SessionRoute
    }

    fn view(this: Self) -> AnyView {
        let SessionRoute = this;
        view! { <session::SessionPage /> }.into_any()
    }
}

/// `/events`: [`events::EventsPage`].
pub struct EventsRoute;

#[lazy_route]
impl LazyRoute for EventsRoute {
    fn data() -> Self {
        EventsRoute
    }

    fn view(this: Self) -> AnyView {
        let EventsRoute = this;
        view! { <events::EventsPage /> }.into_any()
    }
}
