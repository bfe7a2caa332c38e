//! A session's place and what it cost, with the breakdown that explains the amount and
//! the form that sets a manual cost (a receipt). Server-rendered, outside the session
//! page's island: it changes only when an operator changes it, by a form post.

use crate::domain::fleet::{format_number, path_escape};
use crate::domain::pricing::cost::Breakdown;
use crate::wire::{CostSource, SessionCost, SessionDto};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

fn breakdown_rows(b: &Breakdown) -> impl IntoView {
    let c = b.currency.clone();
    let mut rows = vec![(
        "Session fee".to_owned(),
        String::new(),
        format!("{} {c}", b.session_fee),
    )];
    if !b.per_minute.is_zero() {
        rows.push((
            "Minutes".to_owned(),
            format!(
                "{} min × {} {c}",
                b.minutes.round_dp(2).normalize(),
                b.per_minute
            ),
            format!("{} {c}", (b.minutes * b.per_minute).round_dp(4)),
        ));
    }
    for line in &b.energy {
        let band = line
            .band
            .map_or("Default price".to_owned(), |i| format!("Band {}", i + 1));
        rows.push((
            band,
            format!(
                "{} kWh × {} {c} (battery {} kWh)",
                line.grid_kwh.round_dp(3).normalize(),
                line.price_per_kwh,
                line.battery_kwh.round_dp(3).normalize()
            ),
            format!("{} {c}", line.amount.round_dp(4)),
        ));
    }
    rows.into_iter()
        .map(|(what, how, amount)| {
            view! {
                <tr>
                    <th scope="row">{what}</th>
                    <td>{how}</td>
                    <td class="num">{amount}</td>
                </tr>
            }
        })
        .collect_view()
}

fn cost_view(cost: Option<SessionCost>) -> impl IntoView {
    let Some(cost) = cost else {
        return Either::Left(view! {
            <p class="muted" data-cost="none">
                "No cost: no tariff covers this session (see "
                <a href="/places">"Places"</a>
                ")."
            </p>
        });
    };
    let total = format!("{} {}", cost.amount, cost.currency);
    let footer = total.clone();
    let shown = total.clone();
    let detail = match (cost.source, cost.breakdown) {
        (CostSource::Manual, _) => EitherOf3::A(
            view! { <p>"Set by an operator" {cost.note.map(|n| format!(": {n}"))}</p> },
        ),
        (CostSource::Tariff, Some(b)) => EitherOf3::B(view! {
            <div class="table-wrap">
                <table class="fleet breakdown">
                    <caption>
                        "Why it costs this (tariff version " {cost.tariff_id.unwrap_or_default()}
                        ")"
                    </caption>
                    <tbody>{breakdown_rows(&b)}</tbody>
                    <tfoot>
                        <tr class="total">
                            <th scope="row" colspan="2">
                                "Total, rounded once"
                            </th>
                            <td class="num">{footer}</td>
                        </tr>
                    </tfoot>
                </table>
            </div>
        }),
        (CostSource::Tariff, None) => EitherOf3::C(view! { <p>"From the tariff."</p> }),
    };
    Either::Right(view! {
        <p class="cost" data-cost=total>
            <strong>{shown}</strong>
        </p>
        {detail}
    })
}

#[component]
pub fn SessionCostPanel(session: SessionDto, error: Option<String>) -> impl IntoView {
    let id = path_escape(&session.id);
    let place = match &session.place {
        Some(p) => Either::Left(view! {
            <a href="/places">{p.name.clone()}</a>
            {format!(" ({})", p.kind.as_str())}
        }),
        None => Either::Right(view! { "none" }),
    };
    let grid = session.grid_energy_kwh.map_or(
        "unknown (the place has no charging efficiency)".to_owned(),
        |g| format!("{} kWh", format_number(g)),
    );
    let manual = session
        .cost
        .as_ref()
        .is_some_and(|c| c.source == CostSource::Manual);
    view! {
        <section aria-labelledby="cost" class="card session-cost">
            <h2 id="cost">"Place and cost"</h2>
            {error
                .map(|e| {
                    view! {
                        <p class="notice notice-error" role="alert">
                            "Not saved: "
                            {e}
                        </p>
                    }
                })}
            <dl class="facts">
                <div>
                    <dt>"Place"</dt>
                    <dd data-place=session.place.as_ref().map(|p| p.name.clone())>{place}</dd>
                </div>
                <div>
                    <dt>"Grid energy"</dt>
                    <dd>{grid}</dd>
                </div>
            </dl>
            {cost_view(session.cost.clone())}
            <details>
                <summary>
                    {if manual {
                        "Change the manual cost"
                    } else {
                        "Set the cost by hand (a receipt)"
                    }}
                </summary>
                <form
                    method="post"
                    action=format!("/forms/sessions/{id}/cost")
                    class="stack"
                    aria-label="Manual cost"
                >
                    <label>
                        "Amount "
                        <input type="text" name="amount" required inputmode="decimal" size="9" />
                    </label>
                    <label>
                        "Currency "
                        <input
                            type="text"
                            name="currency"
                            required
                            size="3"
                            maxlength="3"
                            value="EUR"
                        />
                    </label>
                    <label>
                        "Note " <input type="text" name="note" maxlength="500" size="30" />
                    </label>
                    <button type="submit">"Save cost"</button>
                </form>
            </details>
            {manual
                .then(|| {
                    view! {
                        <form
                            method="post"
                            action=format!("/forms/sessions/{id}/cost/clear")
                            class="inline"
                        >
                            <button type="submit" class="danger">
                                "Clear the manual cost"
                            </button>
                        </form>
                    }
                })}
        </section>
    }
}
