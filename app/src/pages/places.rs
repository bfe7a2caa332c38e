//! `/places`: the places sessions belong to, their tariffs, the fleet default tariff, and
//! suggestions where sessions gather at no place. Rendered on the server with no island:
//! every change is a plain form post (`/forms/…`) that comes back here.

use crate::api::places::get_places;
use crate::components::error_view::ErrorView;
use crate::components::form_refusal::FormRefusal;
use crate::domain::fleet::{format_number, path_escape, url_escape};
use crate::domain::places::{PlaceKind, Suggestion, DEFAULT_RADIUS_M};
use crate::domain::pricing::tariff::Tariff;
use crate::wire::{PlaceDto, PlacesView, TariffDto};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// A link to the point on OpenStreetMap (a link only: the page itself asks no third party).
fn map_link(lat: f64, lon: f64) -> impl IntoView {
    let href = format!(
        "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}"
    );
    view! {
        <a href=href rel="noopener noreferrer" target="_blank">
            {format!("{lat:.5}, {lon:.5}")}
        </a>
    }
}

#[component]
pub fn PlacesPage() -> impl IntoView {
    let query = use_query_map();
    let after = Memo::new(move |_| query.read().get("after").filter(|s| !s.is_empty()));
    let data = Resource::new(move || after.get(), get_places);
    view! {
        <Title text="Places" />
        <h1>"Places and tariffs"</h1>
        <p class="muted">
            "A session belongs to the place whose circle holds where it started (the nearest centre when circles overlap). "
            "Its place's tariff in force on its local start date prices it; sessions at no place use the fleet default."
        </p>
        <FormRefusal />
        <Transition fallback=|| view! { <p class="loading">"Loading places…"</p> }>
            <ErrorBoundary fallback=|errors| {
                view! { <ErrorView errors /> }
            }>
                {move || Suspend::new(async move {
                    data.await.map(|view| view! { <Places view /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Places(view: PlacesView) -> impl IntoView {
    let zone = view.default_timezone.clone();
    let pending = (view.pricing_pending > 0).then(|| {
        view! {
            <p class="notice" role="status">
                {format!(
                    "Re-pricing after a change: {} session(s) left. Reload to follow.",
                    view.pricing_pending,
                )}
            </p>
        }
    });
    let more = view.next_cursor.map(|after| {
        view! {
            <p class="pager">
                <a href=format!("/places?after={}", url_escape(&after))>"More places →"</a>
            </p>
        }
    });
    let empty = view.places.is_empty();
    let places = view
        .places
        .into_iter()
        .map(|(place, tariffs)| view! { <PlaceCard place tariffs zone=zone.clone() /> })
        .collect_view();
    view! {
        {pending}
        <section aria-labelledby="suggested">
            <h2 id="suggested">"Suggested places"</h2>
            <Suggestions suggestions=view.suggestions zone=zone.clone() />
        </section>
        <section aria-labelledby="places">
            <h2 id="places">"Places"</h2>
            <p>
                <a href="/places/peaks">"Every site's monthly peak, side by side"</a>
            </p>
            {empty.then(|| view! { <p class="notice">"No places yet."</p> })}
            <div class="places">{places}</div>
            {more}
            <details class="card">
                <summary>"New place"</summary>
                <form method="post" action="/forms/places" class="stack" aria-label="New place">
                    <PlaceFields place=None zone=zone.clone() />
                    <button type="submit">"Create place"</button>
                </form>
            </details>
        </section>
        <section aria-labelledby="default-tariff" class="card">
            <h2 id="default-tariff">"Fleet default tariff"</h2>
            <p class="muted">"For sessions at no place, read in " {zone.clone()} "."</p>
            <TariffList tariffs=view.default_tariffs />
            <TariffForm action="/forms/tariffs/default".to_owned() />
        </section>
    }
}

#[component]
fn Suggestions(suggestions: Vec<Suggestion>, zone: String) -> impl IntoView {
    if suggestions.is_empty() {
        return Either::Left(view! {
            <p class="muted">
                "None: every spot with at least 3 sessions in the last 365 days belongs to a place."
            </p>
        });
    }
    let rows = suggestions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let label = format!("suggestion-{i}");
            view! {
                <tr>
                    <td>{map_link(s.latitude, s.longitude)}</td>
                    <td class="num">{s.sessions}</td>
                    <td class="num">{s.vehicles}</td>
                    <td class="num">{format!("{} kWh", format_number(s.energy_kwh))}</td>
                    <td>{s.likely_kind.as_str()}</td>
                    <td>
                        <form
                            method="post"
                            action="/forms/places"
                            class="inline"
                            aria-label=label.clone()
                        >
                            <input type="hidden" name="latitude" value=s.latitude.to_string() />
                            <input type="hidden" name="longitude" value=s.longitude.to_string() />
                            <input
                                type="hidden"
                                name="radius_m"
                                value=s.radius_m.round().to_string()
                            />
                            <input type="hidden" name="timezone" value=zone.clone() />
                            <label>
                                "Name "
                                <input type="text" name="name" required maxlength="100" size="14" />
                            </label>
                            <KindSelect selected=s.likely_kind />
                            <button type="submit">"Create place"</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    Either::Right(view! {
        <div class="table-wrap">
            <table class="fleet">
                <thead>
                    <tr>
                        <th scope="col">"Centre"</th>
                        <th scope="col" class="num">
                            "Sessions"
                        </th>
                        <th scope="col" class="num">
                            "Vehicles"
                        </th>
                        <th scope="col" class="num">
                            "Energy"
                        </th>
                        <th scope="col">"Likely"</th>
                        <th scope="col">"Make it a place"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    })
}

#[component]
fn KindSelect(selected: PlaceKind) -> impl IntoView {
    view! {
        <label>
            "Kind "
            <select name="kind">
                {PlaceKind::ALL
                    .into_iter()
                    .map(|k| {
                        view! {
                            <option value=k.as_str() selected=k == selected>
                                {k.as_str()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The fields of a place, empty or filled with `place`'s.
#[component]
fn PlaceFields(place: Option<PlaceDto>, zone: String) -> impl IntoView {
    let p = place.as_ref();
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    view! {
        <label>
            "Name "
            <input
                type="text"
                name="name"
                required
                maxlength="100"
                value=p.map(|p| p.name.clone()).unwrap_or_default()
            />
        </label>
        <KindSelect selected=p.map_or(PlaceKind::Depot, |p| p.kind) />
        <label>
            "Latitude "
            <input
                type="number"
                name="latitude"
                required
                step="any"
                min="-90"
                max="90"
                value=num(p.map(|p| p.latitude))
            />
        </label>
        <label>
            "Longitude "
            <input
                type="number"
                name="longitude"
                required
                step="any"
                min="-180"
                max="180"
                value=num(p.map(|p| p.longitude))
            />
        </label>
        <label>
            "Radius (m) "
            <input
                type="number"
                name="radius_m"
                min="10"
                max="5000"
                step="any"
                value=num(Some(p.map_or(DEFAULT_RADIUS_M, |p| p.radius_m)))
            />
        </label>
        <label>
            "Time zone "
            <input
                type="text"
                name="timezone"
                maxlength="64"
                value=p.map_or(zone, |p| p.timezone.clone())
            />
        </label>
        <label>
            "Charging efficiency (0.5–1, empty if unknown) "
            <input
                type="number"
                name="charging_efficiency"
                min="0.5"
                max="1"
                step="0.01"
                value=num(p.and_then(|p| p.charging_efficiency))
            />
        </label>
        <label>
            "Cost centre "
            <input
                type="text"
                name="cost_center"
                maxlength="100"
                value=p.and_then(|p| p.cost_center.clone()).unwrap_or_default()
            />
        </label>
    }
}

#[component]
fn PlaceCard(place: PlaceDto, tariffs: Vec<TariffDto>, zone: String) -> impl IntoView {
    let id = path_escape(&place.id);
    let efficiency = place.charging_efficiency.map_or("unknown".to_owned(), |e| {
        format!("{} %", format_number(e * 100.0))
    });
    view! {
        <article class="card place" data-place-id=place.id.clone()>
            <h3>{place.name.clone()} " " <span class="badge">{place.kind.as_str()}</span></h3>
            <dl class="facts">
                <dt>"Centre"</dt>
                <dd>{map_link(place.latitude, place.longitude)}</dd>
                <dt>"Radius"</dt>
                <dd>{format!("{} m", format_number(place.radius_m))}</dd>
                <dt>"Time zone"</dt>
                <dd>{place.timezone.clone()}</dd>
                <dt>"Charging efficiency"</dt>
                <dd>{efficiency}</dd>
                <dt>"Cost centre"</dt>
                <dd>{place.cost_center.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                <dt>"Sessions"</dt>
                <dd>{place.session_count}</dd>
                <dt>"Load"</dt>
                <dd>
                    <a href=format!("/places/{id}/load")>"Power, peaks and what-if"</a>
                </dd>
            </dl>
            <h4>"Tariffs"</h4>
            <TariffList tariffs />
            <details>
                <summary>"Add a tariff version"</summary>
                <TariffForm action=format!("/forms/places/{id}/tariffs") />
            </details>
            <details>
                <summary>"Edit or delete"</summary>
                <form
                    method="post"
                    action=format!("/forms/places/{id}")
                    class="stack"
                    aria-label=format!("Edit {}", place.name)
                >
                    <PlaceFields place=Some(place.clone()) zone />
                    <button type="submit">"Save"</button>
                </form>
                <form method="post" action=format!("/forms/places/{id}/delete") class="inline">
                    <button type="submit" class="danger">
                        "Delete this place and its tariffs"
                    </button>
                </form>
            </details>
        </article>
    }
}

/// "Mon–Fri 22:00–06:00 (Nov, Dec): 0.12"
fn band_text(tariff: &Tariff) -> Vec<String> {
    tariff
        .bands
        .iter()
        .map(|b| {
            let days: Vec<&str> = b.days.iter().map(|d| d.as_str()).collect();
            let months = b.months.as_ref().map_or(String::new(), |m| {
                let list: Vec<String> = m.iter().map(u32::to_string).collect();
                format!(" in months {}", list.join(", "))
            });
            format!(
                "{} {}–{}{months}: {} per kWh",
                days.join(" "),
                String::from(b.from),
                String::from(b.to),
                b.price_per_kwh
            )
        })
        .collect()
}

#[component]
fn TariffList(tariffs: Vec<TariffDto>) -> impl IntoView {
    if tariffs.is_empty() {
        return Either::Left(
            view! { <p class="muted">"No tariff: sessions here have no cost."</p> },
        );
    }
    let rows = tariffs
        .into_iter()
        .map(|t| {
            let bands = band_text(&t.tariff);
            let c = &t.tariff;
            view! {
                <tr>
                    <th scope="row">{c.valid_from.to_string()}</th>
                    <td>{c.charger_type.map_or("any", |c| c.as_str())}</td>
                    <td class="num">{format!("{} {}", c.session_fee, c.currency)}</td>
                    <td class="num">{format!("{} {}", c.per_minute, c.currency)}</td>
                    <td class="num">{format!("{} {}", c.default_per_kwh, c.currency)}</td>
                    <td>
                        {if bands.is_empty() {
                            Either::Left("—")
                        } else {
                            Either::Right(
                                view! {
                                    <ul class="bands">
                                        {bands
                                            .into_iter()
                                            .map(|b| view! { <li>{b}</li> })
                                            .collect_view()}
                                    </ul>
                                },
                            )
                        }}
                    </td>
                    <td>
                        <form
                            method="post"
                            action=format!("/forms/tariffs/{}/delete", path_escape(&t.id))
                            class="inline"
                        >
                            <button type="submit" class="danger">
                                "Delete"
                            </button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    Either::Right(view! {
        <div class="table-wrap">
            <table class="fleet tariffs">
                <thead>
                    <tr>
                        <th scope="col">"From"</th>
                        <th scope="col">"Charger"</th>
                        <th scope="col" class="num">
                            "Session fee"
                        </th>
                        <th scope="col" class="num">
                            "Per minute"
                        </th>
                        <th scope="col" class="num">
                            "Per kWh"
                        </th>
                        <th scope="col">"Time-of-use bands"</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    })
}

/// A tariff version's fields: prices and up to three time-of-use bands.
#[component]
fn TariffForm(action: String) -> impl IntoView {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let bands = (0..3)
        .map(|i| {
            view! {
                <fieldset class="tariff-band">
                    <legend>
                        {format!("Band {} (optional; the first that matches wins)", i + 1)}
                    </legend>
                    {days
                        .into_iter()
                        .map(|d| {
                            view! {
                                <label class="day">
                                    <input type="checkbox" name=format!("b{i}_{d}") />
                                    {d}
                                </label>
                            }
                        })
                        .collect_view()}
                    <label>"From " <input type="time" name=format!("b{i}_from") /></label>
                    <label>
                        "To (24:00 for midnight) "
                        <input type="text" name=format!("b{i}_to") size="5" placeholder="06:00" />
                    </label>
                    <label>
                        "Months (empty: all) "
                        <input
                            type="text"
                            name=format!("b{i}_months")
                            size="10"
                            placeholder="11,12,1"
                        />
                    </label>
                    <label>
                        "Price per kWh "
                        <input
                            type="text"
                            name=format!("b{i}_price")
                            size="7"
                            inputmode="decimal"
                        />
                    </label>
                </fieldset>
            }
        })
        .collect_view();
    view! {
        <form method="post" action=action class="stack tariff-form" aria-label="New tariff version">
            <label>
                "Currency "
                <input type="text" name="currency" required size="3" maxlength="3" value="EUR" />
            </label>
            <label>"Valid from " <input type="date" name="valid_from" required /></label>
            <label>
                "Charger " <select name="charger_type">
                    <option value="">"any"</option>
                    <option value="AC">"AC only"</option>
                    <option value="DC">"DC only"</option>
                </select>
            </label>
            <label>
                "Session fee "
                <input type="text" name="session_fee" size="7" inputmode="decimal" value="0.00" />
            </label>
            <label>
                "Per minute "
                <input type="text" name="per_minute" size="7" inputmode="decimal" value="0.00" />
            </label>
            <label>
                "Per kWh "
                <input type="text" name="default_per_kwh" required size="7" inputmode="decimal" />
            </label>
            {bands}
            <button type="submit">"Add tariff version"</button>
        </form>
    }
}
