use leptos::prelude::*;

/// The errors an `ErrorBoundary` caught, as messages safe to show.
#[component]
pub fn ErrorView(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <section class="notice notice-error" role="alert">
            <h2>"Could not load this page"</h2>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, e)| view! { <li>{e.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
        </section>
    }
}
