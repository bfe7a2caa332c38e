//! Where and when the viewer is: times are shown in the viewer's time zone, and
//! "3 min ago" moves on while a page stays open.
//!
//! The browser tells the server its zone in a cookie ([`ZONE_COOKIE`]), so server
//! rendering, server functions (energy buckets cut at local midnight) and the browser's
//! own rendering agree. On the server the zone is a `chrono_tz::Tz`; in the browser the
//! offset of each instant comes from the browser itself (no time-zone database in the
//! WASM). A reader without JavaScript sees the server's default zone, named on the page.

use chrono::{DateTime, FixedOffset, Utc};
use leptos::either::EitherOf3;
use leptos::prelude::*;

/// The cookie that carries the browser's IANA time zone name.
pub const ZONE_COOKIE: &str = "chargelog_tz";

/// The viewer's time zone: the one their browser stored in the
/// [`ZONE_COOKIE`] cookie, else the server's default.
#[cfg(feature = "ssr")]
pub fn viewer_tz() -> chrono_tz::Tz {
    let default = leptos::prelude::use_context::<crate::server::ServerContext>()
        .map_or(chrono_tz::Tz::UTC, |c| c.timezone);
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| zone_from_cookies(&parts.headers))
        .unwrap_or(default)
}

/// The zone named by the [`ZONE_COOKIE`] cookie, if it is a real one.
#[cfg(feature = "ssr")]
pub fn zone_from_cookies(headers: &http::HeaderMap) -> Option<chrono_tz::Tz> {
    crate::server::cookie(headers, ZONE_COOKIE).and_then(|value| value.parse().ok())
}

/// The viewer's zone name and a clock for relative times, provided by the app.
#[derive(Clone, Copy, Debug)]
pub struct Viewer {
    /// IANA name of the zone times are shown in.
    pub zone: RwSignal<String>,
    /// Now, in epoch milliseconds; ticks every 30 s in the browser.
    pub now_ms: RwSignal<i64>,
}

/// On the server: the zone this request renders in.
#[cfg(feature = "ssr")]
#[derive(Clone, Copy, Debug)]
struct RenderZone(chrono_tz::Tz);

impl Viewer {
    /// Provides the viewer to the server's rendering of a page; call once, in the app's
    /// root. (The app's root runs only on the server: in the browser, islands find the
    /// page's one viewer through [`Viewer::get`].)
    pub fn provide() -> Viewer {
        #[cfg(feature = "ssr")]
        let viewer = {
            let tz = viewer_tz();
            provide_context(RenderZone(tz));
            Viewer::new(tz.name().to_owned())
        };
        #[cfg(not(feature = "ssr"))]
        let viewer = Viewer::new(String::new());
        provide_context(viewer);
        viewer
    }

    /// The viewer: the app's on the server, in the browser the page's one viewer (which
    /// [`crate::browser::start`] keeps current).
    pub fn get() -> Option<Viewer> {
        let provided = use_context::<Viewer>();
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        let provided = provided.or_else(|| Some(browser::shared()));
        provided
    }

    fn new(zone: String) -> Viewer {
        Viewer {
            zone: RwSignal::new(zone),
            now_ms: RwSignal::new(system_now_ms()),
        }
    }
}

/// The system clock in epoch milliseconds (in the browser, the browser's clock).
pub fn system_now_ms() -> i64 {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    {
        Utc::now().timestamp_millis()
    }
}

/// Now, epoch ms: the viewer's clock (ticking, so relative times stay current) or the system's.
pub fn now_or_system() -> i64 {
    Viewer::get().map_or_else(system_now_ms, |v| v.now_ms.get())
}

/// An instant in the viewer's zone.
pub fn local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    #[cfg(feature = "ssr")]
    {
        let tz = use_context::<RenderZone>().map_or(chrono_tz::Tz::UTC, |z| z.0);
        at.with_timezone(&tz).fixed_offset()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        browser::offset_at(at).map_or_else(|| at.fixed_offset(), |o| at.with_timezone(&o))
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        at.fixed_offset()
    }
}

/// `2026-03-14 19:02` in the viewer's zone.
pub fn format_local(at: DateTime<Utc>) -> String {
    crate::domain::date_text::date_minute(&local(at))
}

/// An instant as a `<time>` element in the viewer's zone, to the minute, with the
/// seconds and zone on hover. `relative` shows "3 min ago" instead, kept current.
#[component]
pub fn Timestamp(at: Option<DateTime<Utc>>, #[prop(optional)] relative: bool) -> impl IntoView {
    let Some(at) = at else {
        return EitherOf3::A(view! { <span class="muted">"—"</span> });
    };
    let zone = Viewer::get().map(|v| v.zone);
    let exact = format_local(at);
    let title = move || {
        let name = zone.map(|z| z.get()).unwrap_or_default();
        format!(
            "{} {name}",
            crate::domain::date_text::date_second(&local(at))
        )
    };
    if relative {
        let text = move || {
            crate::domain::fleet::format_ago(now_or_system() - at.timestamp_millis())
                .unwrap_or_else(|| format_local(at))
        };
        EitherOf3::B(view! {
            <time datetime=at.to_rfc3339() title=title>
                {text}
            </time>
        })
    } else {
        EitherOf3::C(view! {
            <time datetime=at.to_rfc3339() title=title>
                {exact}
            </time>
        })
    }
}

/// "Times are shown in Europe/Berlin.", for the page footer. An island, and the page's
/// last: the island script hydrates islands in the order of the page, each once its code
/// has loaded, so when this one is hydrated every other one is too, and it starts the
/// app's browser work.
#[island]
pub fn ZoneNote() -> impl IntoView {
    let zone = Viewer::get().map(|v| v.zone);
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    Effect::new(|_| untrack(crate::browser::start));
    view! {
        <p class="zone-note muted">
            "Times are shown in "
            <span class="zone-name">{move || zone.map(|z| z.get()).unwrap_or_default()}</span> "."
        </p>
    }
}

/// Browser-only glue: the zone name, offsets, the cookie, and the clock.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub mod browser {
    use super::{Viewer, ZONE_COOKIE};
    use chrono::{DateTime, FixedOffset, Utc};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    thread_local! {
        // Owned by a root of its own, kept with it: created by whichever island asks
        // first, it must not be disposed with that island's views. The zone's name is
        // filled in once every island is hydrated (`remember_zone`): the server may have
        // rendered another zone, and hydration keeps the server's text until it changes.
        static SHARED: (Owner, Viewer) = {
            let owner = Owner::new_root(None);
            let viewer = owner.with(|| Viewer::new(String::new()));
            (owner, viewer)
        };
    }

    /// The page's one viewer.
    pub fn shared() -> Viewer {
        SHARED.with(|(_, viewer)| *viewer)
    }

    /// The browser's IANA zone, from `Intl`.
    pub fn zone() -> Option<String> {
        let format =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
        js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
            .ok()?
            .as_string()
    }

    /// The browser zone's offset at an instant (correct on either side of a DST change).
    pub fn offset_at(at: DateTime<Utc>) -> Option<FixedOffset> {
        let date = js_sys::Date::new(&(at.timestamp_millis() as f64).into());
        // Minutes *behind* UTC: -60 in Berlin in winter.
        let minutes = date.get_timezone_offset();
        if !minutes.is_finite() {
            return None;
        }
        FixedOffset::west_opt((minutes * 60.0).round() as i32)
    }

    fn cookie_zone(cookies: &str) -> Option<String> {
        cookies
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == ZONE_COOKIE)
            .map(|(_, value)| value.trim().to_owned())
    }

    /// Stores the browser's zone for the server; returns true when the server did not
    /// know it yet (the page was rendered in another zone and should be reloaded).
    pub fn remember_zone(viewer: Viewer) -> bool {
        let Some(zone) = zone() else {
            return false;
        };
        viewer.zone.set(zone.clone());
        let Some(document) = document().dyn_into::<web_sys::HtmlDocument>().ok() else {
            return false;
        };
        let known = cookie_zone(&document.cookie().unwrap_or_default());
        if known.as_deref() == Some(zone.as_str()) {
            return false;
        }
        let _ = document.set_cookie(&format!(
            "{ZONE_COOKIE}={zone}; path=/; max-age=31536000; samesite=lax"
        ));
        true
    }

    /// Moves `now_ms` on every 30 seconds.
    pub fn start_clock(viewer: Viewer) {
        set_interval(
            move || viewer.now_ms.set(super::system_now_ms()),
            std::time::Duration::from_secs(30),
        );
    }
}

#[cfg(all(test, feature = "ssr"))]
mod zone_cookie_tests {
    use super::*;

    #[test]
    fn the_zone_cookie_is_read_among_others_and_checked() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; chargelog_tz=Europe/Berlin; b=2".parse().unwrap(),
        );
        assert_eq!(zone_from_cookies(&headers), Some(chrono_tz::Europe::Berlin));
        headers.insert(
            http::header::COOKIE,
            "chargelog_tz=Mars/Olympus".parse().unwrap(),
        );
        assert_eq!(zone_from_cookies(&headers), None);
        assert_eq!(zone_from_cookies(&http::HeaderMap::new()), None);
    }
}
