//! `/notifications`: where alert notifications go (webhook URLs with their signing
//! secrets, and the e-mail recipients of the server's configuration), forms to add and
//! remove a webhook, and each endpoint's delivery log. A server-rendered document.

use crate::api::alerts::get_notifications;
use crate::components::error_view::ErrorView;
use crate::components::form_refusal::FormRefusal;
use crate::viewer::Timestamp;
use crate::wire::{NotificationsView, NotifyAttempt, NotifyEndpoint};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let q = query.read();
        let number = |name: &str| q.get(name).and_then(|v| v.trim().parse::<i64>().ok());
        (number("endpoint"), number("before"))
    });
    let data = Resource::new(
        move || params.get(),
        |(endpoint, before)| get_notifications(endpoint, before),
    );
    view! {
        <Title text="Notifications" />
        <h1>"Notifications"</h1>
        <p class="muted">
            "Every alert opened and resolved is sent to each endpoint here: POSTed as JSON to a webhook, signed with its secret, or e-mailed. "
            "A receiver that is down is tried again, waiting longer each time, for 24 hours."
        </p>
        <FormRefusal />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    data.await.map(|view| view! { <Notifications view /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Notifications(view: NotificationsView) -> impl IntoView {
    let shown = view.shown;
    let shown_name = view
        .endpoints
        .iter()
        .find(|e| Some(e.id) == shown)
        .map(|e| e.name.clone());
    let next = view
        .next_before
        .zip(shown)
        .map(|(before, id)| format!("/notifications?endpoint={id}&before={before}"));
    view! {
        <section class="card" aria-labelledby="endpoints">
            <h2 id="endpoints">"Endpoints"</h2>
            {if view.endpoints.is_empty() {
                Either::Left(
                    view! {
                        <p class="empty">
                            "None yet: add a webhook below, or configure e-mail (CHARGELOG_SMTP_HOST and the rest, see OPERATIONS.md)."
                        </p>
                    },
                )
            } else {
                Either::Right(
                    view! {
                        <table class="fleet endpoints">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Sends to"</th>
                                    <th scope="col">"Delivered"</th>
                                    <th scope="col">"Waiting"</th>
                                    <th scope="col">"Given up"</th>
                                    <th scope="col">"State"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {view
                                    .endpoints
                                    .into_iter()
                                    .map(|endpoint| {
                                        let current = Some(endpoint.id) == shown;
                                        view! { <EndpointRow endpoint current /> }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    },
                )
            }}
            <form method="post" action="/forms/notify" class="inline-form add-endpoint">
                <label>
                    "Name "
                    <input type="text" name="name" maxlength="100" placeholder="Depot pager" />
                </label>
                <label>
                    "Webhook URL "
                    <input
                        type="url"
                        name="url"
                        required
                        maxlength="2048"
                        placeholder="https://hooks.example.com/chargelog"
                    />
                </label>
                <button type="submit">"Add webhook"</button>
            </form>
        </section>
        {shown_name
            .map(|name| {
                view! {
                    <section class="card" aria-labelledby="log">
                        <h2 id="log">"Delivery log: " {name}</h2>
                        <DeliveryLog attempts=view.attempts />
                        {next
                            .map(|href| {
                                view! {
                                    <p class="pager">
                                        <a href=href rel="next">
                                            "Older attempts →"
                                        </a>
                                    </p>
                                }
                            })}
                    </section>
                }
            })}
    }
}

#[component]
fn EndpointRow(endpoint: NotifyEndpoint, current: bool) -> impl IntoView {
    let removed = endpoint.removed_at.is_some();
    let state = match (&endpoint.removed_at, endpoint.removed_reason.as_deref()) {
        (None, _) => "In use".to_owned(),
        (Some(_), Some("gone")) => "Removed: the receiver answered 410 Gone".to_owned(),
        (Some(_), Some("unconfigured")) => "Removed: e-mail is no longer configured".to_owned(),
        (Some(_), _) => "Removed".to_owned(),
    };
    let log = format!("/notifications?endpoint={}#log", endpoint.id);
    let remove = format!("/forms/notify/{}/remove", endpoint.id);
    let is_webhook = endpoint.kind == "webhook";
    view! {
        <tr data-endpoint=endpoint.id data-removed=removed.to_string()>
            <td>
                <a href=log aria-current=current.then_some("true")>
                    {endpoint.name.clone()}
                </a>
                <span class="muted">" (" {endpoint.kind.clone()} ")"</span>
            </td>
            <td class="wrap mono">
                {endpoint.url.clone()}
                {(is_webhook && !removed)
                    .then(|| {
                        view! {
                            <details class="secret">
                                <summary>"Signing secret"</summary>
                                <code>{endpoint.secret.clone()}</code>
                            </details>
                        }
                    })}
            </td>
            <td class="num">{endpoint.delivered}</td>
            <td class="num">{endpoint.pending}</td>
            <td class="num">{endpoint.failed}</td>
            <td>
                {state}
                {(is_webhook && !removed)
                    .then(|| {
                        view! {
                            <form method="post" action=remove class="inline-form">
                                <button type="submit">"Remove"</button>
                            </form>
                        }
                    })}
            </td>
        </tr>
    }
}

#[component]
fn DeliveryLog(attempts: Vec<NotifyAttempt>) -> impl IntoView {
    if attempts.is_empty() {
        return Either::Left(view! { <p class="empty">"Nothing sent yet."</p> });
    }
    Either::Right(view! {
        <table class="fleet delivery-log">
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Event"</th>
                    <th scope="col">"Alert"</th>
                    <th scope="col">"Answer"</th>
                    <th scope="col">"Took"</th>
                </tr>
            </thead>
            <tbody>
                {attempts
                    .into_iter()
                    .map(|a| {
                        let ok = a.error.is_none();
                        let answer = match (a.status, a.error.clone()) {
                            (Some(status), None) => status.to_string(),
                            (Some(status), Some(error)) => format!("{status}: {error}"),
                            (None, Some(error)) => error,
                            (None, None) => "—".to_owned(),
                        };
                        view! {
                            <tr data-ok=ok.to_string()>
                                <td>
                                    <Timestamp at=Some(a.at) />
                                </td>
                                <td>{a.event}</td>
                                <td>
                                    <a href=format!("/alerts#alert-{}", a.alert_id)>{a.alert_id}</a>
                                </td>
                                <td class=if ok {
                                    "outcome outcome-ok"
                                } else {
                                    "outcome outcome-problem"
                                }>{answer}</td>
                                <td class="num">{format!("{} ms", a.duration_ms)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    })
}
