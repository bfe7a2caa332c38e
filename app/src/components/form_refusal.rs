//! What a page says when one of its forms came back refused (`/forms/…` answers with
//! `?error=` naming the field): one notice, the same on every page.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The `?error=` of the page's address, if any, as an alert.
#[component]
pub fn FormRefusal() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error").filter(|s| !s.is_empty());
    move || {
        error().map(|e| {
            view! {
                <p class="notice notice-error" role="alert">
                    "Not saved: "
                    {e}
                </p>
            }
        })
    }
}
