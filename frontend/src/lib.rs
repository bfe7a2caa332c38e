//! The browser entry point: hydrate the server-rendered page into a live app.

use leptos::prelude::*;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // As `leptos::mount::hydrate_lazy` does (the page's own code is loaded before its
    // part of the page is hydrated), then starts the app's browser work.
    wasm_bindgen_futures::spawn_local(async move {
        let Some(body) = document().body() else {
            return;
        };
        let app = leptos::mount::hydrate_from_async(body, || view! { <app::App /> }).await;
        app.forget();
        app::browser::start();
    });
}
