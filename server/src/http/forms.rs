//! The UI's writes, as plain HTML form posts that work without JavaScript: places,
//! tariffs, manual costs, departure schedules, alert settings and acknowledgements. Each answers `303 See Other` back to the page it came from;
//! a refused form goes back with `?error=` naming the field, and loses nothing stored.
//! They sit behind the operator gate and the cross-site check like every UI route.

use crate::http::api::Reads;
use crate::http::auth::Actor;
use crate::http::error::HttpError;
use crate::http::json_body::read;
use app::components::schedule_form::FORM_DEPARTURES;
use app::domain::alerts::{Hours, Minutes, Settings as AlertSettings, Share, Switch};
use app::domain::fleet::url_escape;
use app::domain::ids::VehicleId;
use app::domain::pricing::tariff::Tariff;
use app::domain::schedule::Schedule;
use app::server::alerts;
use app::server::places::{self, WriteError};
use app::server::schedules;
use app::wire::{ManualCostInput, PlaceInput};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::Redirect;
use axum::routing::post;
use axum::{Extension, Form, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The largest form body taken (a tariff with three bands is well under 2 KiB).
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// Bands a tariff form offers.
pub const FORM_BANDS: usize = 3;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

type Fields = Form<HashMap<String, String>>;

/// Back to `page` (its `#fragment` kept last), with the error to show when there is one.
fn back(page: &str, result: Result<(), String>) -> Redirect {
    match result {
        Ok(()) => Redirect::to(page),
        Err(message) => {
            let (path, fragment) = match page.split_once('#') {
                Some((path, fragment)) => (path, format!("#{fragment}")),
                None => (page, String::new()),
            };
            let join = if path.contains('?') { '&' } else { '?' };
            Redirect::to(&format!(
                "{path}{join}error={}{fragment}",
                url_escape(&message)
            ))
        }
    }
}

/// What an operator reads of a refused write.
fn say(err: HttpError) -> String {
    match err {
        HttpError::BadRequest { param, message } => format!("{param}: {message}"),
        other => other.to_string(),
    }
}

fn said(err: WriteError) -> String {
    say(err.into())
}

fn text(fields: &HashMap<String, String>, name: &str) -> Option<String> {
    fields
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A form's field as a JSON number, or the error naming it.
fn number(fields: &HashMap<String, String>, name: &str) -> Result<Option<Value>, String> {
    match text(fields, name) {
        None => Ok(None),
        Some(raw) => raw
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(|n| Some(json!(n)))
            .ok_or_else(|| format!("{name}: {raw:?} is not a number")),
    }
}

/// The place a form describes, read as the API reads one (so the same field is named).
fn place_input(fields: &HashMap<String, String>) -> Result<PlaceInput, String> {
    let mut body = Map::new();
    for name in ["name", "kind", "timezone", "cost_center"] {
        if let Some(value) = text(fields, name) {
            body.insert(name.to_owned(), json!(value));
        }
    }
    for name in ["latitude", "longitude", "radius_m", "charging_efficiency"] {
        if let Some(value) = number(fields, name)? {
            body.insert(name.to_owned(), value);
        }
    }
    read(&serde_json::to_vec(&body).map_err(|e| e.to_string())?).map_err(say)
}

/// The tariff a form describes: bands `b0` to `b2`, each kept when it has a price.
fn tariff_input(fields: &HashMap<String, String>) -> Result<Tariff, String> {
    let field = |name: &str| text(fields, name).unwrap_or_default();
    let mut bands = Vec::new();
    for i in 0..FORM_BANDS {
        let Some(price) = text(fields, &format!("b{i}_price")) else {
            continue;
        };
        let days: Vec<&str> = DAYS
            .into_iter()
            .filter(|d| fields.contains_key(&format!("b{i}_{d}")))
            .collect();
        let months = match text(fields, &format!("b{i}_months")) {
            None => Value::Null,
            Some(list) => {
                let parsed: Result<Vec<u32>, _> = list
                    .split([',', ' '])
                    .filter(|m| !m.is_empty())
                    .map(str::parse)
                    .collect();
                json!(parsed.map_err(|_| format!(
                    "bands[{i}].months: {list:?} is not a list of months such as 11,12,1"
                ))?)
            }
        };
        bands.push(json!({
            "days": days,
            "from": field(&format!("b{i}_from")),
            "to": field(&format!("b{i}_to")),
            "months": months,
            "price_per_kwh": price,
        }));
    }
    let or_zero = |name: &str| text(fields, name).unwrap_or_else(|| "0".to_owned());
    let body = json!({
        "currency": field("currency").to_uppercase(),
        "valid_from": field("valid_from"),
        "session_fee": or_zero("session_fee"),
        "per_minute": or_zero("per_minute"),
        "default_per_kwh": field("default_per_kwh"),
        "charger_type": text(fields, "charger_type"),
        "bands": bands,
    });
    read(&serde_json::to_vec(&body).map_err(|e| e.to_string())?).map_err(say)
}

/// The schedule a form describes: rows `d0` to `d3`, each kept when it has a time (with
/// `none`, no departures at all).
fn schedule_input(fields: &HashMap<String, String>) -> Result<Schedule, String> {
    let mut departures = Vec::new();
    if !fields.contains_key("none") {
        for i in 0..FORM_DEPARTURES {
            let Some(time) = text(fields, &format!("d{i}_time")) else {
                continue;
            };
            let days: Vec<&str> = DAYS
                .into_iter()
                .filter(|d| fields.contains_key(&format!("d{i}_{d}")))
                .collect();
            departures.push(json!({"days": days, "time": time}));
        }
    }
    let required = match text(fields, "required_soc") {
        None => Value::Null,
        Some(raw) => raw
            .parse::<u8>()
            .map(|n| json!(n))
            .map_err(|_| format!("required_soc: {raw:?} is not a whole number from 1 to 100"))?,
    };
    let mut body = json!({
        "timezone": text(fields, "timezone").unwrap_or_default(),
        "departures": departures,
    });
    if !required.is_null() {
        body["required_soc"] = required;
    }
    let schedule: Schedule =
        read(&serde_json::to_vec(&body).map_err(|e| e.to_string())?).map_err(say)?;
    schedule.check().map_err(|e| e.to_string())?;
    Ok(schedule)
}

async fn set_default_schedule(State(state): State<Reads>, Form(fields): Fields) -> Redirect {
    let result = match schedule_input(&fields) {
        Ok(schedule) => schedules::set_fleet_default(&state.db, &schedule)
            .await
            .map_err(said),
        Err(message) => Err(message),
    };
    back("/settings", result)
}

fn vehicle_page(id: &str) -> String {
    format!("/vehicles/{}", app::domain::fleet::path_escape(id))
}

async fn set_vehicle_schedule(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Redirect {
    let result = match (VehicleId::parse(&id), schedule_input(&fields)) {
        (Err(_), _) => Err(format!("no vehicle with id {id:?}")),
        (_, Err(message)) => Err(message),
        (Ok(vehicle), Ok(schedule)) => schedules::set_vehicle(&state.db, &vehicle, &schedule)
            .await
            .map_err(said),
    };
    back(&vehicle_page(&id), result)
}

async fn clear_vehicle_schedule(State(state): State<Reads>, Path(id): Path<String>) -> Redirect {
    let result = match VehicleId::parse(&id) {
        Err(_) => Err(format!("no vehicle with id {id:?}")),
        Ok(vehicle) => schedules::clear_vehicle(&state.db, &vehicle)
            .await
            .map_err(said),
    };
    back(&vehicle_page(&id), result)
}

async fn create_place(State(state): State<Reads>, Form(fields): Fields) -> Redirect {
    let result = match place_input(&fields) {
        Ok(input) => places::create(&state.db, input, state.timezone)
            .await
            .map(|_| ())
            .map_err(said),
        Err(message) => Err(message),
    };
    back("/places", result)
}

async fn update_place(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Redirect {
    let result = match place_input(&fields) {
        Ok(input) => places::update(&state.db, &id, input, state.timezone)
            .await
            .map(|_| ())
            .map_err(said),
        Err(message) => Err(message),
    };
    back("/places", result)
}

async fn delete_place(State(state): State<Reads>, Path(id): Path<String>) -> Redirect {
    back(
        "/places",
        places::delete(&state.db, &id).await.map_err(said),
    )
}

async fn add_tariff(
    state: &Reads,
    place_id: Option<&str>,
    fields: &HashMap<String, String>,
) -> Result<(), String> {
    let tariff = tariff_input(fields)?;
    places::add_tariff(&state.db, place_id, tariff)
        .await
        .map(|_| ())
        .map_err(said)
}

async fn add_place_tariff(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Redirect {
    back("/places", add_tariff(&state, Some(&id), &fields).await)
}

async fn add_default_tariff(State(state): State<Reads>, Form(fields): Fields) -> Redirect {
    back("/places", add_tariff(&state, None, &fields).await)
}

async fn delete_tariff(State(state): State<Reads>, Path(id): Path<String>) -> Redirect {
    back(
        "/places",
        places::delete_tariff(&state.db, &id).await.map_err(said),
    )
}

fn session_page(id: &str) -> String {
    format!("/sessions/{}", app::domain::fleet::path_escape(id))
}

async fn set_cost(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Redirect {
    let input = ManualCostInput {
        amount: text(&fields, "amount").unwrap_or_default(),
        currency: text(&fields, "currency").unwrap_or_default().to_uppercase(),
        note: text(&fields, "note"),
    };
    let result = places::set_cost(&state.db, &id, &input)
        .await
        .map(|_| ())
        .map_err(said);
    back(&session_page(&id), result)
}

/// Clears a manual cost; back to the page named by `back` (a path on this site, such as
/// the vehicle page listing a cost whose session is gone), else the session's.
async fn clear_cost(
    State(state): State<Reads>,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Redirect {
    let result = places::clear_cost(&state.db, &id).await.map_err(said);
    let page = text(&fields, "back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| session_page(&id));
    back(&page, result)
}

/// Where a form that came from the alerts page goes back to: the page it came from (with
/// its filter), never another site.
fn alerts_page(fields: &HashMap<String, String>) -> String {
    text(fields, "back")
        .filter(|b| b.starts_with("/alerts") && !b.contains('\\'))
        .unwrap_or_else(|| "/alerts".to_owned())
}

async fn acknowledge_alert(
    State(state): State<Reads>,
    actor: Option<Extension<Actor>>,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Redirect {
    let page = alerts_page(&fields);
    let result = async {
        let id: i64 = id.parse().map_err(|_| format!("no alert {id:?}"))?;
        let by = match actor {
            Some(Extension(actor)) => actor.name(&state.db).await.map_err(|e| say(e.into()))?,
            None => "operator".to_owned(),
        };
        let now = crate::clock::now().to_datetime();
        alerts::acknowledge(&state.db, id, &by, text(&fields, "note").as_deref(), now)
            .await
            .map(|_| ())
            .map_err(|e| say(e.into()))
    }
    .await;
    back(&page, result)
}

/// The alert settings a form describes: a rule is on when its box is ticked.
fn alert_settings_input(fields: &HashMap<String, String>) -> Result<AlertSettings, String> {
    let on = |name: &str| fields.contains_key(&format!("{name}.enabled"));
    let whole = |name: &str| -> Result<u32, String> {
        let raw = text(fields, name).unwrap_or_default();
        raw.parse::<u32>()
            .map_err(|_| format!("{name}: {raw:?} is not a whole number"))
    };
    let settings = AlertSettings {
        not_plugged: Minutes {
            enabled: on("not_plugged"),
            minutes: whole("not_plugged.minutes")?,
        },
        plugged_not_charging: Minutes {
            enabled: on("plugged_not_charging"),
            minutes: whole("plugged_not_charging.minutes")?,
        },
        ended_below_required: Switch {
            enabled: on("ended_below_required"),
        },
        vehicle_silent: Hours {
            enabled: on("vehicle_silent"),
            plugged_hours: whole("vehicle_silent.plugged_hours")?,
            unplugged_hours: whole("vehicle_silent.unplugged_hours")?,
        },
        vehicle_error: Switch {
            enabled: on("vehicle_error"),
        },
        slow_charging: Share {
            enabled: on("slow_charging"),
            percent_of_median: whole("slow_charging.percent_of_median")?,
        },
    };
    settings.check().map_err(|e| e.to_string())?;
    Ok(settings)
}

async fn set_alert_settings(State(state): State<Reads>, Form(fields): Fields) -> Redirect {
    let result = match alert_settings_input(&fields) {
        Ok(settings) => alerts::set_settings(&state.db, &settings)
            .await
            .map_err(said),
        Err(message) => Err(message),
    };
    back("/settings#alert-rules", result)
}

async fn add_endpoint(State(state): State<Reads>, Form(fields): Fields) -> Redirect {
    let result = async {
        let url = text(&fields, "url").ok_or("url: give the webhook's URL")?;
        let checked = crate::notify::address::check(&url, state.notify_allow_private)
            .await
            .map_err(|e| format!("url: {e}"))?;
        let name = text(&fields, "name")
            .unwrap_or_else(|| checked.host_str().unwrap_or_default().to_owned());
        if name.chars().count() > 100 {
            return Err("name: longer than 100 characters".to_owned());
        }
        let secret = format!("whsec_{}", crate::secret::new_secret());
        app::server::notifications::add_webhook(&state.db, &name, checked.as_str(), &secret)
            .await
            .map(|added| added.id)
            .map_err(|e| say(e.into()))
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/notifications?endpoint={id}")),
        Err(message) => back("/notifications", Err(message)),
    }
}

async fn remove_endpoint(State(state): State<Reads>, Path(id): Path<String>) -> Redirect {
    let result = match id.parse::<i64>() {
        Err(_) => Err(format!("no endpoint {id:?}")),
        Ok(id) => match app::server::notifications::remove(&state.db, id, "operator").await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("no endpoint {id} in use")),
            Err(e) => Err(say(e.into())),
        },
    };
    back("/notifications", result)
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Reads: axum::extract::FromRef<S>,
{
    Router::new()
        .route("/forms/places", post(create_place))
        .route("/forms/places/{id}", post(update_place))
        .route("/forms/places/{id}/delete", post(delete_place))
        .route("/forms/places/{id}/tariffs", post(add_place_tariff))
        .route("/forms/tariffs/default", post(add_default_tariff))
        .route("/forms/tariffs/{id}/delete", post(delete_tariff))
        .route("/forms/sessions/{id}/cost", post(set_cost))
        .route("/forms/sessions/{id}/cost/clear", post(clear_cost))
        .route("/forms/schedules/default", post(set_default_schedule))
        .route("/forms/vehicles/{id}/schedule", post(set_vehicle_schedule))
        .route(
            "/forms/vehicles/{id}/schedule/clear",
            post(clear_vehicle_schedule),
        )
        .route("/forms/alerts/settings", post(set_alert_settings))
        .route("/forms/alerts/{id}/acknowledge", post(acknowledge_alert))
        .route("/forms/notify", post(add_endpoint))
        .route("/forms/notify/{id}/remove", post(remove_endpoint))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}
