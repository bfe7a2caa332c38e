//! Live updates in the browser: one `EventSource` on `/live` for the whole page. Page
//! islands show their data through [`refetched`], driven by [`Live::version`] (or
//! [`Live::version_for`], [`Live::log_version`]), so a delivery refetches what they
//! show. Bursts are coalesced: at most one refetch every [`THROTTLE_MS`], so a busy
//! fleet cannot make a page refetch continuously.

use leptos::prelude::*;
use std::collections::BTreeSet;

/// Minimum time between two refreshes of open pages.
pub const THROTTLE_MS: i64 = 500;

/// How old a page drawn from the open alerts must be before the stream's word on them is
/// taken over the page's own (the server reads them every 2 s).
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
const SETTLE_MS: f64 = 2_500.0;

/// The attribute that marks a page drawn from the open alerts (`/alerts`), with their
/// state then (`OpenAlerts::encode`). When the stream announces another state, the page
/// is drawn again, unless the operator is typing in it: then the element is shown (it
/// says so, with a link).
pub const ALERTS_STATE_ATTRIBUTE: &str = "data-alerts-state";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveStatus {
    /// Server rendering, or before the browser connected.
    #[default]
    Off,
    Connected,
    Reconnecting,
    /// The tab is hidden: the connection is closed until it is shown again.
    Paused,
}

/// What changed since the last refresh.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tick {
    pub seq: u64,
    /// The vehicles the deliveries were about; `None` means "assume everything".
    pub vehicles: Option<BTreeSet<String>>,
}

impl Tick {
    pub fn touches(&self, vehicle_id: &str) -> bool {
        self.vehicles
            .as_ref()
            .is_none_or(|v| v.contains(vehicle_id))
    }
}

/// Collects events between refreshes (pure, so it is tested natively).
#[derive(Debug, Default)]
pub struct Pending {
    /// Anything arrived: the webhook log changed.
    log: bool,
    /// Vehicle data may have changed.
    data: bool,
    everything: bool,
    vehicles: BTreeSet<String>,
}

/// What one refresh brings: a new log tick, a new data tick, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flush {
    pub log: bool,
    pub data: Option<Tick>,
}

impl Pending {
    /// One handled webhook request. Only a stored delivery changes vehicle data; the
    /// others (refusals, duplicates, dead letters, TEST) change only the log, so a flood
    /// of forged requests does not make every open page refetch.
    pub fn add(&mut self, outcome: &str, vehicle_id: Option<&str>) {
        self.log = true;
        if outcome != crate::domain::events::Outcome::Stored.as_str() {
            return;
        }
        self.data = true;
        match vehicle_id {
            Some(id) if self.vehicles.len() < 256 => {
                self.vehicles.insert(id.to_owned());
            }
            _ => self.everything = true,
        }
    }

    /// Events may have been missed: refresh everything.
    pub fn add_everything(&mut self) {
        self.log = true;
        self.data = true;
        self.everything = true;
    }

    /// What to refresh after data tick `previous`, if anything; resets.
    pub fn take(&mut self, previous: u64) -> Option<Flush> {
        let log = std::mem::take(&mut self.log);
        let data = std::mem::take(&mut self.data);
        let everything = std::mem::take(&mut self.everything);
        let vehicles = std::mem::take(&mut self.vehicles);
        if !log && !data {
            return None;
        }
        Some(Flush {
            log,
            data: data.then(|| Tick {
                seq: previous + 1,
                vehicles: (!everything).then_some(vehicles),
            }),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Live {
    /// Moves when vehicle data may have changed.
    pub tick: RwSignal<Tick>,
    /// Moves when anything reached the webhook log.
    pub log_tick: RwSignal<u64>,
    pub status: RwSignal<LiveStatus>,
    /// The open alerts, as the stream last announced them (`None` until it has).
    pub alerts: RwSignal<Option<crate::wire::OpenAlerts>>,
}

impl Live {
    /// Provides the live state to the server's rendering of a page; call once, in the
    /// app's root. (The app's root runs only on the server: in the browser, islands
    /// find the page's one instance through [`Live::get`].)
    pub fn provide() -> Live {
        let live = Live::new();
        provide_context(live);
        live
    }

    /// The live state: the app's on the server, in the browser the page's one instance
    /// (which [`browser::connect`] drives).
    pub fn get() -> Option<Live> {
        let provided = use_context::<Live>();
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        let provided = provided.or_else(|| Some(browser::shared()));
        provided
    }

    fn new() -> Live {
        Live {
            tick: RwSignal::new(Tick::default()),
            log_tick: RwSignal::new(0),
            status: RwSignal::new(LiveStatus::Off),
            alerts: RwSignal::new(None),
        }
    }

    /// Changes when any vehicle's data may have changed.
    pub fn version(self) -> u64 {
        self.tick.with(|t| t.seq)
    }

    /// Grows whenever the webhook log grew (or data was refreshed).
    pub fn log_version(self) -> u64 {
        self.log_tick.get() + self.version()
    }

    /// Changes only on refreshes that may concern this vehicle.
    pub fn version_for(self, vehicle_id: String) -> Memo<u64> {
        let tick = self.tick;
        Memo::new(move |previous: Option<&u64>| {
            tick.with(|t| {
                if previous.is_none() || t.touches(&vehicle_id) {
                    t.seq
                } else {
                    previous.copied().unwrap_or_default()
                }
            })
        })
    }

    /// Refetch everything (the viewer's zone changed, or events may have been missed).
    pub fn refresh_all(self) {
        self.tick.update(|t| {
            t.seq += 1;
            t.vehicles = None;
        });
    }

    /// Moves the ticks a refresh names.
    pub fn apply(self, flush: Flush) {
        if flush.log {
            self.log_tick.update(|n| *n += 1);
        }
        if let Some(tick) = flush.data {
            self.tick.set(tick);
        }
    }
}

/// What a page shows, kept current by live updates: `initial` (the server's data, fresh
/// when the page was rendered) until `version` moves, then the newest answer of `fetch`.
/// A slow answer never replaces a newer one, and a failed one leaves the last data in
/// place. Only in the browser: effects do not run on the server.
pub fn refetched<T, Fut>(
    initial: T,
    version: impl Fn() -> u64 + 'static,
    fetch: impl Fn() -> Fut + 'static,
) -> Signal<T>
where
    T: Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, crate::api::error::AppError>> + 'static,
{
    let rendered_at = untrack(&version);
    // The data and the version it was fetched at.
    let data = RwSignal::new((rendered_at, initial));
    Effect::new(move |_| {
        let wanted = version();
        if wanted == rendered_at {
            return;
        }
        let answer = fetch();
        leptos::task::spawn_local(async move {
            if let Ok(fresh) = answer.await {
                if data.with_untracked(|(have, _)| *have < wanted) {
                    data.set((wanted, fresh));
                }
            }
        });
    });
    Signal::derive(move || data.with(|(_, value)| value.clone()))
}

/// The live part of the top bar (an island): the count of open alerts, a link to
/// `/alerts` (the server's count when the page was rendered, then the live stream's),
/// and the live indicator.
#[island]
pub fn LiveBadge(open: u64) -> impl IntoView {
    let live = Live::get();
    let status = live.map(|l| l.status);
    let state = move || status.map(|s| s.get()).unwrap_or_default();
    let alerts = live.map(|l| l.alerts);
    let count = move || alerts.and_then(|a| a.get()).map_or(open, |a| a.open);
    view! {
        <a
            href="/alerts"
            class="alert-count"
            data-open=move || count().to_string()
            aria-label=move || format!("Alerts: {} open", count())
        >
            "Alerts"
            <span class="count">{move || count().to_string()}</span>
        </a>
        <span
            class="live"
            role="status"
            aria-live="polite"
            data-live=move || match state() {
                LiveStatus::Off => "off",
                LiveStatus::Connected => "connected",
                LiveStatus::Reconnecting => "reconnecting",
                LiveStatus::Paused => "paused",
            }
        >
            {move || match state() {
                LiveStatus::Off => "",
                LiveStatus::Connected => "Live",
                LiveStatus::Reconnecting => "Reconnecting…",
                LiveStatus::Paused => "Paused",
            }}
        </span>
    }
}

/// Browser-only: the `EventSource`, the throttle, reconnecting with backoff, and pausing
/// while the tab is hidden (browsers allow few connections per host over HTTP/1.1, so
/// background tabs must not hold one each).
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub mod browser {
    use super::{Live, LiveStatus, Pending, THROTTLE_MS};
    use crate::domain::events::LiveEvent;
    use leptos::prelude::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Duration;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    thread_local! {
        // Owned by a root of its own, kept with it: created by whichever island asks
        // first, it must not be disposed with that island's views.
        static SHARED: (Owner, Live) = {
            let owner = Owner::new_root(None);
            let live = owner.with(Live::new);
            (owner, live)
        };
    }

    /// The page's one live state.
    pub fn shared() -> Live {
        SHARED.with(|(_, live)| *live)
    }

    /// Reconnect delays grow from this, doubling, up to [`MAX_BACKOFF_MS`].
    const FIRST_BACKOFF_MS: f64 = 1_000.0;
    const MAX_BACKOFF_MS: f64 = 30_000.0;

    type Handler = Closure<dyn FnMut(web_sys::MessageEvent)>;

    struct Connection {
        source: web_sys::EventSource,
        // Kept alive with the source, dropped with it.
        _handlers: Vec<Handler>,
        _on_error: Closure<dyn FnMut()>,
    }

    impl Drop for Connection {
        fn drop(&mut self) {
            self.source.set_onerror(None);
            self.source.close();
        }
    }

    struct State {
        live: Live,
        pending: RefCell<Pending>,
        scheduled: Cell<bool>,
        last_flush: Cell<f64>,
        /// A connection was lost (or paused) since the last `hello`.
        lost: Cell<bool>,
        failures: Cell<u32>,
        connection: RefCell<Option<Connection>>,
        /// Bumped on every (re)open, so a stale retry timer does nothing.
        generation: Cell<u64>,
        /// When the page connected (ms since the epoch).
        opened_at: Cell<f64>,
    }

    fn flush(state: &Rc<State>) {
        state.scheduled.set(false);
        state.last_flush.set(js_sys::Date::now());
        let previous = state.live.tick.with_untracked(|t| t.seq);
        if let Some(flush) = state.pending.borrow_mut().take(previous) {
            state.live.apply(flush);
        }
    }

    fn schedule(state: &Rc<State>) {
        if state.scheduled.replace(true) {
            return;
        }
        let since = js_sys::Date::now() - state.last_flush.get();
        let wait = (THROTTLE_MS as f64 - since).max(50.0);
        let state = state.clone();
        set_timeout(move || flush(&state), Duration::from_millis(wait as u64));
    }

    fn handler(
        source: &web_sys::EventSource,
        name: &str,
        f: impl FnMut(web_sys::MessageEvent) + 'static,
    ) -> Handler {
        let closure = Handler::new(f);
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        closure
    }

    fn hidden() -> bool {
        document().visibility_state() == web_sys::VisibilityState::Hidden
    }

    /// On a page drawn from other open alerts than `now`: draws it again, or, while the
    /// operator types, shows the element that says so.
    fn redraw_if_stale(now: crate::wire::OpenAlerts) {
        let Ok(Some(marker)) =
            document().query_selector(&format!("[{}]", super::ALERTS_STATE_ATTRIBUTE))
        else {
            return;
        };
        let drawn = marker
            .get_attribute(super::ALERTS_STATE_ATTRIBUTE)
            .unwrap_or_default();
        if crate::wire::OpenAlerts::decode(&drawn) == Some(now) {
            return;
        }
        if typing() {
            let _ = marker.remove_attribute("hidden");
        } else {
            reload();
        }
    }

    /// Whether the operator is typing on the page: a field has the focus, or a note
    /// holds text (its placeholder is hidden).
    fn typing() -> bool {
        let document = document();
        let focused = document
            .active_element()
            .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        focused
            || document
                .query_selector("textarea:not(:placeholder-shown)")
                .ok()
                .flatten()
                .is_some()
    }

    /// Draws the page again from the server.
    fn reload() {
        let _ = window().location().reload();
    }

    fn retry_later(state: &Rc<State>) {
        let failures = state.failures.get();
        state.failures.set(failures.saturating_add(1));
        let ceiling = (FIRST_BACKOFF_MS * 2f64.powi(failures.min(10) as i32)).min(MAX_BACKOFF_MS);
        // Jitter spreads the reconnects of many tabs after a restart.
        let delay = ceiling * (0.5 + js_sys::Math::random() / 2.0);
        let generation = state.generation.get();
        let state = state.clone();
        set_timeout(
            move || {
                if state.generation.get() == generation && !hidden() {
                    open(&state);
                }
            },
            Duration::from_millis(delay as u64),
        );
    }

    fn open(state: &Rc<State>) {
        state.generation.set(state.generation.get() + 1);
        // Dropping the old connection closes it and frees its handlers.
        state.connection.replace(None);
        let Ok(source) = web_sys::EventSource::new("/live") else {
            state.live.status.set(LiveStatus::Reconnecting);
            retry_later(state);
            return;
        };
        let hello = {
            let state = state.clone();
            handler(&source, "hello", move |_| {
                state.live.status.set(LiveStatus::Connected);
                state.failures.set(0);
                if state.lost.replace(false) {
                    state.pending.borrow_mut().add_everything();
                    schedule(&state);
                }
            })
        };
        let delivery = {
            let state = state.clone();
            handler(&source, "delivery", move |event| {
                let data = event.data().as_string().unwrap_or_default();
                match serde_json::from_str::<LiveEvent>(&data) {
                    Ok(e) => state
                        .pending
                        .borrow_mut()
                        .add(&e.outcome, e.vehicle_id.as_deref()),
                    Err(_) => state.pending.borrow_mut().add_everything(),
                }
                schedule(&state);
            })
        };
        let resync = {
            let state = state.clone();
            handler(&source, "resync", move |_| {
                state.pending.borrow_mut().add_everything();
                schedule(&state);
            })
        };
        let alerts = {
            let state = state.clone();
            handler(&source, "alerts", move |event| {
                let data = event.data().as_string().unwrap_or_default();
                if let Some(open) = crate::wire::OpenAlerts::decode(&data) {
                    state.live.alerts.set(Some(open));
                    let age = js_sys::Date::now() - state.opened_at.get();
                    let wait = (super::SETTLE_MS - age).max(0.0);
                    set_timeout(
                        move || redraw_if_stale(open),
                        Duration::from_millis(wait as u64),
                    );
                }
            })
        };
        let on_error = {
            let state = state.clone();
            let source = source.clone();
            Closure::<dyn FnMut()>::new(move || {
                state.live.status.set(LiveStatus::Reconnecting);
                state.lost.set(true);
                // The browser retries by itself unless the server answered with an error
                // (the source is then closed): then we retry, backing off.
                if source.ready_state() == web_sys::EventSource::CLOSED {
                    retry_later(&state);
                }
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        state.connection.replace(Some(Connection {
            source,
            _handlers: vec![hello, delivery, resync, alerts],
            _on_error: on_error,
        }));
    }

    fn on_visibility(state: &Rc<State>) {
        if hidden() {
            state.generation.set(state.generation.get() + 1);
            state.connection.replace(None);
            state.lost.set(true);
            state.live.status.set(LiveStatus::Paused);
        } else if state.connection.borrow().is_none() {
            state.failures.set(0);
            open(state);
        }
    }

    /// Connects the app to `/live`, for as long as the page lives.
    pub fn connect(live: Live) {
        let state = Rc::new(State {
            live,
            pending: RefCell::new(Pending::default()),
            scheduled: Cell::new(false),
            last_flush: Cell::new(0.0),
            lost: Cell::new(false),
            failures: Cell::new(0),
            connection: RefCell::new(None),
            generation: Cell::new(0),
            opened_at: Cell::new(js_sys::Date::now()),
        });
        let watcher = {
            let state = state.clone();
            Closure::<dyn FnMut()>::new(move || on_visibility(&state))
        };
        let _ = document()
            .add_event_listener_with_callback("visibilitychange", watcher.as_ref().unchecked_ref());
        // One listener for the page's lifetime.
        watcher.forget();
        if hidden() {
            state.live.status.set(LiveStatus::Paused);
        } else {
            open(&state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_deliveries_name_their_vehicles() {
        let mut p = Pending::default();
        assert_eq!(p.take(0), None);
        p.add("stored", Some("a"));
        p.add("stored", Some("b"));
        p.add("stored", Some("a"));
        let flush = p.take(4).unwrap();
        assert!(flush.log);
        let tick = flush.data.unwrap();
        assert_eq!(tick.seq, 5);
        assert!(tick.touches("a") && tick.touches("b") && !tick.touches("c"));
        assert_eq!(p.take(5), None);
    }

    #[test]
    fn requests_that_stored_nothing_only_move_the_log() {
        let mut p = Pending::default();
        p.add("rejected_signature", None);
        p.add("duplicate", Some("a"));
        p.add("dead_letter", None);
        assert_eq!(
            p.take(7),
            Some(Flush {
                log: true,
                data: None
            })
        );
    }

    #[test]
    fn missed_events_refresh_everything() {
        let mut p = Pending::default();
        p.add("stored", None);
        assert!(p.take(0).unwrap().data.unwrap().touches("zzz"));
        p.add("stored", Some("a"));
        p.add_everything();
        assert!(p.take(0).unwrap().data.unwrap().touches("anything"));
    }
}
