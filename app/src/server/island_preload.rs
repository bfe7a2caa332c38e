//! Preloading a page's lazy island. The browser learns which island a page has only once
//! the main WASM has loaded and found it in the page; naming the island's files in the
//! page's `<head>` lets them download beside the main file instead of after it.
//!
//! Leptos does this for lazy functions the server itself calls, by their name in the
//! split build's manifest (`prefetch_lazy_fn_on_server`). An island's loader exists only
//! in the browser build, so the server finds its name in the manifest instead:
//! `{island}_loader_{hash}`, the hash being the macro's, unknown to the server.

use leptos::prelude::*;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// Names the files of the lazy island `island` (its component's name in snake case:
/// `fleet_view` for `FleetView`) for preloading. Call while rendering the page, where the
/// island is rendered. Does nothing in a build that is not split.
pub fn preload(island: &str) {
    let Some(manifest) = use_context::<leptos::WasmSplitManifest>() else {
        return;
    };
    let prefix = format!("{island}_loader_");
    let name = manifest.0.with_value(|(_, chunks, _)| {
        chunks
            .keys()
            .find(|name| name.starts_with(&prefix))
            .cloned()
    });
    if let Some(name) = name {
        leptos::prefetch_lazy_fn_on_server(interned(name));
    }
}

/// The name as a `&'static str`, as Leptos asks for. The names come from the build's
/// manifest, one per lazy island, so each is leaked at most once.
fn interned(name: String) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = names.get(name.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    leaked
}
