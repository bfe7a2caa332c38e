//! `/alerts`: what needs an operator, open first, then history; filtered by status, kind
//! and vehicle, paged by plain links. A server-rendered document: acknowledging is a
//! plain form post that comes back here, and the page is drawn again when the open
//! alerts change (its `data-alerts-state`, `live::ALERTS_STATE_ATTRIBUTE`), so it reads
//! the same without JavaScript.

use crate::api::alerts::get_alerts;
use crate::components::error_view::ErrorView;
use crate::components::form_refusal::FormRefusal;
use crate::domain::alerts::{describe, Kind};
use crate::domain::fleet::{path_escape, url_escape};
use crate::viewer::{format_local, Timestamp};
use crate::wire::{AlertItem, AlertsView};
use chrono::DateTime;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The filter a page shows, as its query holds it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Shown {
    status: Option<String>,
    kind: Option<String>,
    vehicle: Option<String>,
    after: Option<String>,
}

impl Shown {
    /// This filter's URL, starting after `after`.
    fn href(&self, after: Option<&str>) -> String {
        let query: Vec<String> = [
            ("status", self.status.as_deref()),
            ("kind", self.kind.as_deref()),
            ("vehicle", self.vehicle.as_deref()),
            ("after", after),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}={}", url_escape(v))))
        .collect();
        if query.is_empty() {
            "/alerts".to_owned()
        } else {
            format!("/alerts?{}", query.join("&"))
        }
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let shown = Memo::new(move |_| {
        let q = query.read();
        let get = |name: &str| q.get(name).filter(|s| !s.trim().is_empty());
        Shown {
            status: get("status"),
            kind: get("kind"),
            vehicle: get("vehicle"),
            after: get("after"),
        }
    });
    let data = Resource::new(
        move || shown.get(),
        |s| get_alerts(s.status, s.kind, s.vehicle, s.after),
    );
    view! {
        <Title text="Alerts" />
        <h1>"Alerts"</h1>
        <p class="muted">
            "What needs someone now: open alerts first, then those resolved. Rules and thresholds are in the "
            <a href="/settings#alert-rules">"settings"</a> "; where they are sent, on "
            <a href="/notifications">"notifications"</a> "."
        </p>
        <FormRefusal />
        <Transition fallback=|| view! { <p class="loading">"Loading alerts…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    let shown = shown.get_untracked();
                    data.await.map(|view| view! { <Alerts view shown /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Filters(shown: Shown) -> impl IntoView {
    let status = shown.status.clone().unwrap_or_default();
    let kind = shown.kind.clone().unwrap_or_default();
    view! {
        <form method="get" action="/alerts" class="filters" role="search">
            <label>
                "Status " <select name="status">
                    <option value="" selected=status.is_empty()>
                        "Open, then resolved"
                    </option>
                    <option value="open" selected=status == "open">
                        "Open"
                    </option>
                    <option value="resolved" selected=status == "resolved">
                        "Resolved"
                    </option>
                </select>
            </label>
            <label>
                "Kind " <select name="kind">
                    <option value="" selected=kind.is_empty()>
                        "Every kind"
                    </option>
                    {Kind::ALL
                        .into_iter()
                        .map(|k| {
                            view! {
                                <option value=k.as_str() selected=kind == k.as_str()>
                                    {k.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Vehicle "
                <input
                    type="text"
                    name="vehicle"
                    value=shown.vehicle.clone().unwrap_or_default()
                    placeholder="Vehicle id"
                    maxlength="200"
                />
            </label>
            <button type="submit">"Show"</button>
        </form>
    }
}

#[component]
fn Alerts(view: AlertsView, shown: Shown) -> impl IntoView {
    let list = view.list;
    let counts = if list.open == 0 {
        "No alert is open.".to_owned()
    } else {
        let kinds: Vec<String> = list
            .open_by_kind
            .iter()
            .map(|c| format!("{} {}", c.open, c.kind.label().to_lowercase()))
            .collect();
        format!("{} open: {}.", list.open, kinds.join(", "))
    };
    let back = shown.href(shown.after.as_deref());
    let next = list
        .next_cursor
        .as_deref()
        .map(|cursor| shown.href(Some(cursor)));
    let rows = list.alerts;
    view! {
        <p class="stale" role="status" hidden data-alerts-state=view.state>
            "Alerts have changed since this page was drawn. "
            <a href="">"Show them"</a>
        </p>
        <p class="alert-counts" data-open=list.open>
            {counts}
        </p>
        <Filters shown=shown.clone() />
        {if rows.is_empty() {
            Either::Left(view! { <p class="empty">"No alert matches."</p> })
        } else {
            Either::Right(
                view! {
                    <ul class="alerts">
                        {rows
                            .into_iter()
                            .map(|alert| view! { <AlertRow alert back=back.clone() /> })
                            .collect_view()}
                    </ul>
                },
            )
        }}
        {next
            .map(|href| {
                view! {
                    <p class="pager">
                        <a href=href rel="next">
                            "Older alerts →"
                        </a>
                    </p>
                }
            })}
    }
}

/// An RFC 3339 time of an alert's facts, in the viewer's zone.
fn local_time(text: &str) -> String {
    DateTime::parse_from_rfc3339(text)
        .map_or_else(|_| text.to_owned(), |t| format_local(t.to_utc()))
}

#[component]
fn AlertRow(alert: AlertItem, back: String) -> impl IntoView {
    let open = alert.resolved_at.is_none();
    let state = if open { "open" } else { "resolved" };
    let vehicle_href = format!("/vehicles/{}", path_escape(&alert.vehicle_id));
    let name = alert
        .name
        .clone()
        .unwrap_or_else(|| alert.vehicle_id.clone());
    let summary = describe(alert.kind, &alert.facts, local_time);
    let action = format!("/forms/alerts/{}/acknowledge", alert.id);
    let acknowledged = alert.acknowledged_at.map(|at| {
        view! {
            <p class="acknowledged">
                "Acknowledged by " {alert.acknowledged_by.clone().unwrap_or_default()} " "
                <Timestamp at=Some(at) />
                {alert.note.clone().map(|n| view! { <q class="note">{n}</q> })}
            </p>
        }
    });
    let form = open.then(|| {
        let label = if alert.acknowledged_at.is_some() {
            "Update note"
        } else {
            "Acknowledge"
        };
        view! {
            <form method="post" action=action class="ack">
                <input type="hidden" name="back" value=back />
                <label class="visually-hidden" for=format!("note-{}", alert.id)>
                    "Note"
                </label>
                <textarea
                    id=format!("note-{}", alert.id)
                    name="note"
                    rows="1"
                    maxlength="500"
                    placeholder="Note (optional): who is on it"
                ></textarea>
                <button type="submit">{label}</button>
            </form>
        }
    });
    view! {
        <li
            id=format!("alert-{}", alert.id)
            class="alert"
            data-kind=alert.kind.as_str()
            data-state=state
            data-vehicle=alert.vehicle_id.clone()
            data-acknowledged=alert.acknowledged_at.is_some().to_string()
        >
            <div class="alert-head">
                <span class=format!(
                    "chip alert-{}",
                    alert.kind.as_str(),
                )>{alert.kind.label()}</span>
                <a href=vehicle_href>{name}</a>
                <span class="when">
                    "Opened " <Timestamp at=Some(alert.opened_at) />
                    {alert
                        .resolved_at
                        .map(|at| {
                            view! {
                                ", resolved "
                                <Timestamp at=Some(at) />
                            }
                        })}
                </span>
            </div>
            <p class="summary">{summary}</p>
            {acknowledged}
            {form}
        </li>
    }
}
