//! The browser code, the stylesheet and the icon, straight from disk (cargo-leptos's
//! output under `LEPTOS_SITE_ROOT`), open to anyone: the login page needs them. A file
//! that is not there is a plain 404, not a page rendered for whoever asks. (A path that
//! tries to walk out of the folder meets the operator gate: `auth::guard::plain_paths_only`.)
//!
//! A release build (`cargo leptos build --release --precompress --split`) writes each file
//! beside its brotli and gzip forms, and names the files by their content (`hash-files`
//! in Cargo.toml). So `/pkg` answers with the smallest form the browser accepts, and,
//! when the names are hashed, lets the browser keep a file for a year without asking
//! again: a new build has new names. Unhashed names (a debug build) and the icon are
//! kept only until the browser checks that they are unchanged (`no-cache`, answered
//! with 304 by `Last-Modified`).

use axum::http::{header, HeaderValue};
use axum::Router;
use leptos::prelude::LeptosOptions;
use std::path::{Path, PathBuf};
use tower::ServiceBuilder;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// Where cargo-leptos's `hash-files` writes the hashed names: beside the server binary.
pub const HASH_FILE: &str = "hash.txt";

/// Whether this binary was built with hashed asset names: its hash file is beside it.
pub fn hashed_names() -> bool {
    hash_file().is_some_and(|path| path.is_file())
}

fn hash_file() -> Option<PathBuf> {
    Some(std::env::current_exe().ok()?.parent()?.join(HASH_FILE))
}

/// For a year, never checked again: the name changes with the content.
const FOREVER: &str = "public, max-age=31536000, immutable";
/// Kept, but checked before each use.
const CHECK_FIRST: &str = "no-cache";

pub fn routes<S>(options: &LeptosOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let root = Path::new(options.site_root.as_ref());
    let pkg = format!("/{}", options.site_pkg_dir);
    let pkg_cache = if options.hash_files {
        FOREVER
    } else {
        CHECK_FIRST
    };
    let files = ServeDir::new(root.join(options.site_pkg_dir.as_ref()))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .nest_service(
            &pkg,
            ServiceBuilder::new()
                .layer(cache_control(pkg_cache))
                // The answer depends on Accept-Encoding: caches must keep each form apart.
                .layer(SetResponseHeaderLayer::overriding(
                    header::VARY,
                    HeaderValue::from_static("accept-encoding"),
                ))
                .service(files),
        )
        .route_service(
            "/favicon.svg",
            ServiceBuilder::new()
                .layer(cache_control(CHECK_FIRST))
                .service(ServeFile::new(root.join("favicon.svg"))),
        )
}

fn cache_control(value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(value))
}
