//! Live updates in the browser: one `EventSource` on `/live` for the whole app. Pages
//! put [`Live::version`] (or [`Live::version_for`]) in their resources' sources, so a
//! delivery refetches what they show. Bursts are coalesced: at most one refetch every
//! [`THROTTLE_MS`], so a busy fleet cannot make a page refetch continuously.

use leptos::prelude::*;
use std::collections::BTreeSet;

/// Minimum time between two refreshes of open pages.
pub const THROTTLE_MS: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveStatus {
    /// Server rendering, or before the browser connected.
    #[default]
    Off,
    Connected,
    Reconnecting,
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
    any: bool,
    everything: bool,
    vehicles: BTreeSet<String>,
}

impl Pending {
    pub fn add(&mut self, vehicle_id: Option<&str>) {
        self.any = true;
        match vehicle_id {
            Some(id) if self.vehicles.len() < 256 => {
                self.vehicles.insert(id.to_owned());
            }
            // Not about one vehicle (a refusal, a dead letter), or too many to list.
            _ => self.everything = true,
        }
    }

    pub fn add_everything(&mut self) {
        self.any = true;
        self.everything = true;
    }

    /// The next tick after `previous`, if anything happened; resets.
    pub fn take(&mut self, previous: u64) -> Option<Tick> {
        if !std::mem::take(&mut self.any) {
            return None;
        }
        let vehicles = std::mem::take(&mut self.vehicles);
        Some(Tick {
            seq: previous + 1,
            vehicles: (!std::mem::take(&mut self.everything)).then_some(vehicles),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub tick: RwSignal<Tick>,
    pub status: RwSignal<LiveStatus>,
}

impl Live {
    pub fn provide() -> Live {
        let live = Live {
            tick: RwSignal::new(Tick::default()),
            status: RwSignal::new(LiveStatus::Off),
        };
        provide_context(live);
        live
    }

    pub fn get() -> Option<Live> {
        use_context::<Live>()
    }

    /// Changes on every refresh.
    pub fn version(self) -> u64 {
        self.tick.with(|t| t.seq)
    }

    /// Changes only on refreshes that may concern this vehicle.
    pub fn version_for(self, vehicle_id: impl Fn() -> String + Send + Sync + 'static) -> Memo<u64> {
        let tick = self.tick;
        Memo::new(move |previous: Option<&u64>| {
            tick.with(|t| {
                if previous.is_none() || t.touches(&vehicle_id()) {
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
}

/// The live indicator in the top bar.
#[component]
pub fn LiveBadge() -> impl IntoView {
    let status = Live::get().map(|l| l.status);
    let state = move || status.map(|s| s.get()).unwrap_or_default();
    view! {
        <span class="live" role="status" aria-live="polite" data-live=move || match state() {
            LiveStatus::Off => "off",
            LiveStatus::Connected => "connected",
            LiveStatus::Reconnecting => "reconnecting",
        }>
            {move || match state() {
                LiveStatus::Off => "",
                LiveStatus::Connected => "Live",
                LiveStatus::Reconnecting => "Reconnecting…",
            }}
        </span>
    }
}

/// Browser-only: the `EventSource` and the throttle.
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

    struct State {
        live: Live,
        pending: RefCell<Pending>,
        scheduled: Cell<bool>,
        last_flush: Cell<f64>,
        /// A connection was lost since the last `hello`: events may have been missed.
        lost: Cell<bool>,
    }

    fn flush(state: &Rc<State>) {
        state.scheduled.set(false);
        state.last_flush.set(js_sys::Date::now());
        let previous = state.live.tick.with_untracked(|t| t.seq);
        if let Some(tick) = state.pending.borrow_mut().take(previous) {
            state.live.tick.set(tick);
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

    fn listen(
        source: &web_sys::EventSource,
        name: &str,
        handler: impl FnMut(web_sys::MessageEvent) + 'static,
    ) {
        let closure = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(handler);
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        // Lives as long as the page: the source is never dropped, only replaced.
        closure.forget();
    }

    fn open(state: Rc<State>) {
        let Ok(source) = web_sys::EventSource::new("/live") else {
            state.live.status.set(LiveStatus::Reconnecting);
            return;
        };
        {
            let state = state.clone();
            listen(&source, "hello", move |_| {
                state.live.status.set(LiveStatus::Connected);
                if state.lost.replace(false) {
                    state.pending.borrow_mut().add_everything();
                    schedule(&state);
                }
            });
        }
        {
            let state = state.clone();
            listen(&source, "delivery", move |event| {
                let data = event.data().as_string().unwrap_or_default();
                let vehicle = serde_json::from_str::<LiveEvent>(&data)
                    .ok()
                    .and_then(|e| e.vehicle_id);
                state.pending.borrow_mut().add(vehicle.as_deref());
                schedule(&state);
            });
        }
        {
            let state = state.clone();
            listen(&source, "resync", move |_| {
                state.pending.borrow_mut().add_everything();
                schedule(&state);
            });
        }
        let on_error = {
            let state = state.clone();
            let source = source.clone();
            Closure::<dyn FnMut()>::new(move || {
                state.live.status.set(LiveStatus::Reconnecting);
                state.lost.set(true);
                // The browser retries by itself unless the server answered with an error
                // (the source is then closed): start over a little later.
                if source.ready_state() == web_sys::EventSource::CLOSED {
                    let state = state.clone();
                    set_timeout(move || open(state), Duration::from_secs(3));
                }
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
    }

    /// Connects the app to `/live`.
    pub fn connect(live: Live) {
        open(Rc::new(State {
            live,
            pending: RefCell::new(Pending::default()),
            scheduled: Cell::new(false),
            last_flush: Cell::new(0.0),
            lost: Cell::new(false),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_collects_vehicles_and_resets() {
        let mut p = Pending::default();
        assert_eq!(p.take(0), None);
        p.add(Some("a"));
        p.add(Some("b"));
        p.add(Some("a"));
        let tick = p.take(4).unwrap();
        assert_eq!(tick.seq, 5);
        assert!(tick.touches("a") && tick.touches("b") && !tick.touches("c"));
        assert_eq!(p.take(5), None);
    }

    #[test]
    fn an_event_without_a_vehicle_concerns_everyone() {
        let mut p = Pending::default();
        p.add(Some("a"));
        p.add(None);
        let tick = p.take(0).unwrap();
        assert!(tick.touches("zzz"));
        let mut p = Pending::default();
        p.add_everything();
        assert!(p.take(0).unwrap().touches("anything"));
    }
}
