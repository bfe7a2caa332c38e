use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any path no route matches, with a real 404 status on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <section class="notice">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. "<a href="/">"Back to the fleet"</a></p>
        </section>
    }
}
