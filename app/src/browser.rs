//! The app's work in the browser once the page is interactive: the viewer's zone, the
//! clock for relative times, and live updates. The page's last island
//! ([`crate::viewer::ZoneNote`]) calls [`start`] when every island is hydrated: a value
//! that changes before its island is hydrated would not be shown.

use crate::live;
use crate::viewer;
use leptos::prelude::*;

/// Starts the zone, the clock and live updates, then marks the page as interactive
/// (`<body data-hydrated="true">`), which the browser tests (and curious operators) can
/// see. Call once.
pub fn start() {
    let viewer = viewer::browser::shared();
    let live = live::browser::shared();
    if viewer::browser::remember_zone(viewer) {
        // The page was rendered for another zone: fetch its data again in this one.
        live.refresh_all();
    }
    viewer::browser::start_clock(viewer);
    live::browser::connect(live);
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
