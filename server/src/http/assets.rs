//! The browser code, the stylesheet and the icon, straight from disk (cargo-leptos's
//! output under `LEPTOS_SITE_ROOT`), open to anyone: the login page needs them. A file
//! that is not there is a plain 404, not a page rendered for whoever asks. (A path that
//! tries to walk out of the folder meets the operator gate: `auth::guard::plain_paths_only`.)

use axum::Router;
use leptos::prelude::LeptosOptions;
use std::path::Path;
use tower_http::services::{ServeDir, ServeFile};

pub fn routes<S>(options: &LeptosOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let root = Path::new(options.site_root.as_ref());
    let pkg = format!("/{}", options.site_pkg_dir);
    Router::new()
        .nest_service(
            &pkg,
            ServeDir::new(root.join(options.site_pkg_dir.as_ref())),
        )
        .route_service("/favicon.svg", ServeFile::new(root.join("favicon.svg")))
}
