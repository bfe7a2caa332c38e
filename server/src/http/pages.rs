//! The UI: every Leptos page (server-rendered, its islands then hydrated), the server
//! functions its pages call (`/api/{fn}`), and the answer to any path nothing else
//! serves. All of it is for logged-in operators; `startup` puts it behind the gate.
//!
//! Pages and server functions' answers are compressed (brotli or gzip, as the browser
//! accepts) at a fast level: a fleet page's 80 KB of HTML is a tenth of that on the wire,
//! which a phone on a slow network sees before anything else. Nothing secret is in a
//! page's body (sessions are cookies; no form carries a token), so compression discloses
//! nothing (BREACH).

use app::server::ServerContext;
use app::{shell, App};
use axum::extract::FromRef;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// The UI's routes, generated once per process. Generating them runs the app with
/// resource loading suppressed process-wide (leptos#4773): a page rendering at that moment
/// would wait forever. Once, before any router exists, nothing renders meanwhile.
pub fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The pages, the server functions, and the fallback (Leptos's page for a path it does
/// not know), each given `context`, compressed.
pub fn routes<S>(state: &S, context: ServerContext) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    LeptosOptions: FromRef<S>,
{
    let fallback_context = context.clone();
    let server_fn_context = context.clone();
    let options = LeptosOptions::from_ref(state);
    let server_fns = move |request: Request| {
        let context = server_fn_context.clone();
        async move {
            handle_server_fns_with_context(move || provide_context(context.clone()), request)
                .await
                .into_response()
        }
    };
    Router::new()
        .route("/api/{*fn_name}", get(server_fns.clone()).post(server_fns))
        .leptos_routes_with_context(
            state,
            route_list(),
            move || provide_context(context.clone()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<S, _>(
            move || provide_context(fallback_context.clone()),
            shell,
        ))
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(PAGE_COMPRESSION)))
}

/// Brotli's and gzip's level for pages: 4 compresses an 80 KB page to about what the
/// highest does, in a fraction of the time.
const PAGE_COMPRESSION: i32 = 4;
