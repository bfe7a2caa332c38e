//! The browser code, the stylesheet and the icon, straight from disk (cargo-leptos's
//! output under `LEPTOS_SITE_ROOT`), open to anyone: the login page needs them. A file
//! that is not there is a plain 404, not a page rendered for whoever asks.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use std::path::Path;
use tower_http::services::{ServeDir, ServeFile};

pub fn routes(state: &AppState) -> Router<AppState> {
    let options = &state.leptos_options;
    let root = Path::new(options.site_root.as_ref());
    let pkg = format!("/{}", options.site_pkg_dir);
    Router::new()
        .nest_service(
            &pkg,
            ServeDir::new(root.join(options.site_pkg_dir.as_ref())),
        )
        .route_service("/favicon.svg", ServeFile::new(root.join("favicon.svg")))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            plain_paths_only,
        ))
}

/// A path with a `.` or `..` segment or a percent-escape does not name a file here (it
/// may try to walk out of the open folder, `/pkg/../vehicles/…`): it meets the operator
/// gate like any other path.
async fn plain_paths_only(state: State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.contains('%') && !path.split('/').any(|seg| seg == "." || seg == "..") {
        next.run(request).await
    } else {
        crate::http::auth::guard::require_operator(state, request, next).await
    }
}
