//! The browser entry point: the page is server-rendered, and only its islands (its
//! interactive parts) are hydrated. Leptos's island script calls this, then hydrates
//! each island in the order of the page; the last one, the zone note in the footer,
//! starts the app's browser work (`app::browser::start`).

// The islands: the app's `#[island]` components, exported to the island script.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
