//! The fleet table pages, searches, filters and sorts in the database. A fleet of
//! vehicles with every kind of value (missing ones, ties, stale ones) is delivered
//! through the webhook; then every order is walked to its end, forwards through the
//! API's `next_cursor` and backwards through the page's "Previous" links, and must
//! meet each vehicle once, in the order the sort promises.

use crate::helpers::{fixture, spawn_app, Backend, TestApp};
use app::domain::fleet::{sort_name, ChargeStatus, FleetQuery, PageStart, SortKey, MAX_REFRESH};
use app::server::fleet;
use app::server::fleet_search::Search;
use serde_json::{json, Value};
use std::cmp::Ordering;

crate::on_both_backends!(
    every_order_pages_through_each_vehicle_once,
    the_fleet_page_pages_back_and_forth_without_javascript,
    search_and_status_filter_in_the_database,
    a_search_finds_the_same_however_it_reads,
    a_silent_vehicle_reads_as_stale_with_its_age,
    the_fleet_energy_sums_equal_the_sessions,
);

const HOUR: i64 = 3_600_000;

/// One simulated vehicle's latest state.
#[derive(Debug, Clone)]
struct Fake {
    id: String,
    make: &'static str,
    model: &'static str,
    year: i32,
    soc: Option<f64>,
    charging: bool,
    plugged: bool,
    range: Option<f64>,
    watts: f64,
    /// Epoch ms of every reading.
    at: i64,
}

impl Fake {
    fn status(&self, now: i64) -> ChargeStatus {
        if now - self.at > 12 * HOUR {
            ChargeStatus::Stale
        } else {
            ChargeStatus::reported(Some(self.charging), Some(self.plugged))
        }
    }

    fn power_kw(&self) -> Option<f64> {
        self.charging.then_some(self.watts / 1000.0)
    }

    fn sort_name(&self) -> String {
        sort_name(&self.id, Some(self.year), Some(self.make), Some(self.model))
    }

    /// The vehicle's value of a sort key, as a number (status by its stored name's
    /// place), or `None` when it has none.
    fn key(&self, sort: SortKey, now: i64) -> Option<KeyValue> {
        match sort {
            SortKey::Name => Some(KeyValue::Text(String::new())),
            SortKey::Status => Some(KeyValue::Text(self.status(now).as_str().to_owned())),
            SortKey::Soc => self.soc.map(KeyValue::Number),
            SortKey::Power => self.power_kw().map(KeyValue::Number),
            SortKey::Range => self.range.map(KeyValue::Number),
            SortKey::Updated => Some(KeyValue::Number(self.at as f64)),
        }
    }

    /// A first delivery saying all of this, signed as Smartcar would.
    fn delivery(&self) -> Vec<u8> {
        let mut e: Value = serde_json::from_slice(&fixture("02_first_delivery.json")).unwrap();
        e["eventId"] = json!(format!("paging-{}", self.id));
        e["vehicleId"] = json!(self.id);
        e["data"]["vehicle"] =
            json!({ "id": self.id, "make": self.make, "model": self.model, "year": self.year });
        let signals = e["data"]["signals"].as_array_mut().unwrap();
        signals.retain(|s| match s["code"].as_str().unwrap() {
            "tractionbattery-stateofcharge" => self.soc.is_some(),
            "tractionbattery-range" => self.range.is_some(),
            _ => true,
        });
        for s in signals.iter_mut() {
            let value = match s["code"].as_str().unwrap() {
                "charge-ischarging" => Some(json!(self.charging)),
                "charge-ischargingcableconnected" => Some(json!(self.plugged)),
                "charge-wattage" => Some(json!(self.watts)),
                "tractionbattery-stateofcharge" => self.soc.map(|v| json!(v)),
                "tractionbattery-range" => self.range.map(|v| json!(v)),
                _ => None,
            };
            if let Some(value) = value {
                s["body"]["value"] = value;
            }
            if s["meta"]["oemUpdatedAt"].as_i64().is_some_and(|t| t > 0) {
                s["meta"]["oemUpdatedAt"] = json!(self.at);
                s["meta"]["retrievedAt"] = json!(self.at + 1_000);
            }
        }
        serde_json::to_vec(&e).unwrap()
    }
}

#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum KeyValue {
    Number(f64),
    Text(String),
}

/// 130 vehicles: three makes, repeated values (ties broken by name, then id), some
/// without a state of charge or range, some charging, some silent for a month.
fn fleet(now: i64) -> Vec<Fake> {
    let makes = [
        ("TESLA", "Model 3"),
        ("POLESTAR", "Polestar 2"),
        ("BYD", "Atto 3"),
    ];
    (0..130)
        .map(|n: i64| {
            let (make, model) = makes[(n % 3) as usize];
            Fake {
                id: format!("00000000-0000-4000-8000-{n:012}"),
                make,
                model,
                year: 2020 + (n % 4) as i32,
                soc: (n % 7 != 0).then_some((n * 37 % 100) as f64 / 2.0),
                charging: n % 5 == 0,
                plugged: n % 5 <= 1,
                range: (n % 11 != 0).then_some((n * 13 % 400) as f64),
                watts: (n % 4) as f64 * 3_600.0,
                at: if n % 13 == 0 {
                    now - 30 * 24 * HOUR
                } else {
                    now - (n % 6) * HOUR
                },
            }
        })
        .collect()
}

async fn spawn_fleet(backend: Backend) -> (TestApp, Vec<Fake>, i64) {
    let app = spawn_app(backend).await;
    let now = server::clock::now_ms();
    let fleet = fleet(now);
    for fake in &fleet {
        assert_eq!(app.post_signed(fake.delivery()).await.status(), 200);
    }
    (app, fleet, now)
}

/// The order the sort promises: by the key (missing values last, by name), then by
/// name, then id.
fn expected(fleet: &[Fake], sort: SortKey, descending: bool, now: i64) -> Vec<String> {
    let mut rows: Vec<&Fake> = fleet.iter().collect();
    rows.sort_by(|a, b| {
        let tie = || (a.sort_name(), &a.id).cmp(&(b.sort_name(), &b.id));
        match (a.key(sort, now), b.key(sort, now)) {
            (Some(x), Some(y)) => {
                let by_key = x.partial_cmp(&y).unwrap().then_with(tie);
                if descending {
                    by_key.reverse()
                } else {
                    by_key
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => tie(),
        }
    });
    rows.into_iter().map(|f| f.id.clone()).collect()
}

async fn api(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/vehicles?{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

/// Every vehicle `query` lists, following `next_cursor` to the end.
async fn walk_api(app: &TestApp, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            None => query.to_owned(),
            Some(c) => format!("{query}&cursor={c}"),
        };
        let page = api(app, &url).await;
        for v in page["vehicles"].as_array().unwrap() {
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
        assert!(ids.len() <= 1_000, "the pages never end");
    }
}

async fn every_order_pages_through_each_vehicle_once(backend: Backend) {
    let (app, fleet, now) = spawn_fleet(backend).await;
    for sort in SortKey::ALL {
        for descending in [false, true] {
            let sign = if descending { "-" } else { "" };
            let query = format!("limit=17&sort={sign}{}", sort.as_param());
            let ids = walk_api(&app, &query).await;
            assert_eq!(ids, expected(&fleet, sort, descending, now), "{query}");
        }
    }
    let first = api(&app, "limit=17").await;
    assert_eq!(first["matching"], 130);
    assert_eq!(first["vehicles"].as_array().unwrap().len(), 17);
    // A cursor that names no vehicle is refused by name, as are the other parameters.
    for (query, param) in [
        ("cursor=nobody", "cursor"),
        ("sort=colour", "sort"),
        ("status=flying", "status"),
        ("limit=501", "limit"),
    ] {
        let response = app.get(&format!("/api/v1/vehicles?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].to_string().contains(param), "{query}: {body}");
    }
    let long = "x".repeat(101);
    assert_eq!(
        app.get(&format!("/api/v1/vehicles?q={long}"))
            .await
            .status(),
        400
    );
    // A live refresh names the vehicles of one page: up to MAX_REFRESH, or 400.
    let names: Vec<(String, String)> = fleet
        .iter()
        .cycle()
        .take(MAX_REFRESH + 1)
        .enumerate()
        .map(|(i, v)| (format!("ids[{i}]"), v.id.clone()))
        .collect();
    let form = |n: usize| -> Vec<(&str, &str)> {
        names[..n]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    };
    let (status, json) = app.server_fn("fleet_refresh", &form(MAX_REFRESH)).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["vehicles"].as_array().unwrap().len(), 130);
    let (status, json) = app.server_fn("fleet_refresh", &form(MAX_REFRESH + 1)).await;
    assert_eq!(status, 400, "{json}");
    assert!(json.to_string().contains("200 vehicles at most"), "{json}");
}

/// The vehicles a fleet page shows, in order, and its next and previous links.
fn page_rows(html: &str) -> (Vec<String>, Option<String>, Option<String>) {
    let ids = html
        .split("data-vehicle-id=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    let link = |rel: &str| {
        let marker = format!("rel=\"{rel}\"");
        let at = html.find(&marker)?;
        let start = html[..at].rfind("href=\"")? + 6;
        let href = &html[start..];
        Some(href[..href.find('"')?].replace("&amp;", "&"))
    };
    (ids, link("next"), link("prev"))
}

async fn the_fleet_page_pages_back_and_forth_without_javascript(backend: Backend) {
    let (app, fleet, now) = spawn_fleet(backend).await;
    for (sort, descending) in [
        (SortKey::Name, false),
        (SortKey::Soc, true),
        (SortKey::Range, false),
    ] {
        let dir = if descending { "&dir=desc" } else { "" };
        let mut url = format!("/?sort={}{dir}", sort.as_param());
        let mut forward: Vec<String> = Vec::new();
        let mut pages = Vec::new();
        // Forwards to the last page by the "Next" links.
        loop {
            let html = app.get(&url).await.text().await.unwrap();
            let (ids, next, _) = page_rows(&html);
            assert!(ids.len() <= 50, "{url}: {} rows", ids.len());
            assert!(html.len() < 100_000, "{url}: {} bytes", html.len());
            forward.extend(ids.clone());
            pages.push((url.clone(), ids));
            match next {
                Some(next) => url = format!("/{next}"),
                None => break,
            }
        }
        assert_eq!(forward, expected(&fleet, sort, descending, now), "{sort:?}");
        assert_eq!(pages.len(), 3);
        // And back by the "Previous" links: the same pages, in reverse.
        let mut backward: Vec<Vec<String>> = Vec::new();
        let (mut ids, _, mut prev) = page_rows(&app.get(&url).await.text().await.unwrap());
        backward.push(ids);
        while let Some(p) = prev {
            let html = app.get(&format!("/{p}")).await.text().await.unwrap();
            (ids, _, prev) = page_rows(&html);
            backward.push(ids);
        }
        backward.reverse();
        let forward_pages: Vec<Vec<String>> = pages.into_iter().map(|(_, ids)| ids).collect();
        assert_eq!(backward, forward_pages, "{sort:?}");
    }
    // A page that starts at a vehicle that does not exist is the first page.
    let (ids, _, prev) = page_rows(&app.get("/?after=nobody").await.text().await.unwrap());
    assert_eq!(ids.len(), 50);
    assert_eq!(prev, None);
}

/// Which vehicles of the test fleet a search must find.
type Finds = fn(&Fake) -> bool;

/// Searches of the test fleet, URL-encoded, with the vehicles each must find.
fn searches() -> Vec<(&'static str, Finds)> {
    vec![
        ("PoleStar", |v: &Fake| v.make == "POLESTAR"),
        ("pole", |v: &Fake| v.make == "POLESTAR"),
        ("lestar", |_: &Fake| false),
        ("2021", |v: &Fake| v.year == 2021),
        ("3", |v: &Fake| v.model.ends_with(" 3")),
        ("model%203", |v: &Fake| v.model == "Model 3"),
        ("model_3", |v: &Fake| v.model == "Model 3"),
        ("3%20at%2020", |v: &Fake| v.model == "Atto 3"),
        ("3%20at%202020", |v: &Fake| {
            v.model == "Atto 3" && v.year == 2020
        }),
        ("tesla%202022", |v: &Fake| {
            v.make == "TESLA" && v.year == 2022
        }),
        ("00000000000", |v: &Fake| {
            v.id[24..].starts_with("00000000000")
        }),
        ("zzz", |_: &Fake| false),
    ]
}

/// Every vehicle `query` finds on its pages, read directly with its search planned to
/// sort up to `few` matches from their ids.
async fn walk_planned(app: &TestApp, query: &FleetQuery, few: u64) -> (Vec<String>, u64) {
    let engine = app::domain::sessions::EngineConfig::default();
    let now = server::clock::now();
    let search = Search::plan(&app.db, &query.q, few).await.unwrap();
    let mut query = query.clone();
    let (mut ids, mut matching) = (Vec::new(), None);
    loop {
        let slice = fleet::page_of(&app.db, &query, &search, 7, &engine, now)
            .await
            .unwrap()
            .unwrap();
        assert!(matching.is_none_or(|m| m == slice.matching));
        matching = Some(slice.matching);
        ids.extend(slice.vehicles.into_iter().map(|v| v.id));
        match slice.next {
            Some(next) => query.start = PageStart::After(next),
            None => return (ids, matching.unwrap_or_default()),
        }
        assert!(ids.len() <= 1_000, "the pages never end");
    }
}

/// A search reads its matches from their ids when they are few and walks the sort
/// order when they are many; both ways find the same vehicles, in the same order, with
/// the same count, with and without a status filter.
async fn a_search_finds_the_same_however_it_reads(backend: Backend) {
    let (app, fleet, now) = spawn_fleet(backend).await;
    for (q, expected) in searches() {
        let q = q.replace("%20", " ");
        for status in [None, Some(ChargeStatus::Charging)] {
            for sort in [SortKey::Name, SortKey::Range] {
                let query = FleetQuery {
                    q: q.clone(),
                    status,
                    sort,
                    descending: true,
                    ..FleetQuery::default()
                };
                let among = walk_planned(&app, &query, u64::MAX).await;
                let walked = walk_planned(&app, &query, 0).await;
                assert_eq!(among, walked, "{query:?}");
                let mut want: Vec<&String> = fleet
                    .iter()
                    .filter(|v| expected(v) && status.is_none_or(|s| v.status(now) == s))
                    .map(|v| &v.id)
                    .collect();
                want.sort();
                let mut got: Vec<&String> = among.0.iter().collect();
                got.sort();
                assert_eq!(got, want, "{query:?}");
                assert_eq!(among.1, want.len() as u64, "{query:?}");
            }
        }
    }
}

async fn search_and_status_filter_in_the_database(backend: Backend) {
    let (app, fleet, now) = spawn_fleet(backend).await;
    let matching = |f: &dyn Fn(&Fake) -> bool| {
        let mut ids: Vec<String> = fleet
            .iter()
            .filter(|v| f(v))
            .map(|v| v.id.clone())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    // Search: each word begins a word of make, model, year or id, in any case; `%` and
    // `_` part words like spaces, and a search of no letter or digit matches nothing.
    for (q, expected) in searches() {
        let got = sorted(walk_api(&app, &format!("limit=50&q={q}")).await);
        assert_eq!(got, matching(&expected), "{q}");
    }
    let by_id = walk_api(&app, "q=000000000042").await;
    assert_eq!(by_id, ["00000000-0000-4000-8000-000000000042"]);
    assert!(walk_api(&app, "q=%25").await.is_empty());
    // Status: what the fleet page shows, stale ones apart.
    for status in ChargeStatus::ALL {
        let got = sorted(walk_api(&app, &format!("status={}", status.as_str())).await);
        assert_eq!(got, matching(&|v| v.status(now) == status), "{status:?}");
        let page = api(&app, &format!("status={}", status.as_str())).await;
        assert_eq!(page["matching"], got.len(), "{status:?}");
    }
    // Both at once, in the page's HTML too.
    let both = sorted(walk_api(&app, "q=tesla&status=charging").await);
    let expected = matching(&|v| v.make == "TESLA" && v.status(now) == ChargeStatus::Charging);
    assert!(!expected.is_empty());
    assert_eq!(both, expected);
    let html = app
        .get("/?q=tesla&status=charging")
        .await
        .text()
        .await
        .unwrap();
    let (ids, next, _) = page_rows(&html);
    assert_eq!(sorted(ids), expected);
    assert_eq!(next, None);
    assert!(html.contains(&format!("{} of 130 vehicles", expected.len())));
    // The totals count the whole fleet: charging now means charging and not stale.
    let json = app.fleet_page().await;
    assert_eq!(json["totals"]["vehicles"], 130);
    assert_eq!(
        json["totals"]["charging_now"],
        matching(&|v| v.status(now) == ChargeStatus::Charging).len()
    );
    assert_eq!(json["vehicles"].as_array().unwrap().len(), 50);
}

async fn a_silent_vehicle_reads_as_stale_with_its_age(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = server::clock::now_ms();
    let silent = Fake {
        id: "5a1e0000-0000-4000-8000-000000000001".into(),
        make: "TESLA",
        model: "Model Y",
        year: 2024,
        soc: Some(55.0),
        charging: true,
        plugged: true,
        range: Some(300.0),
        watts: 7_200.0,
        at: now - 40 * 24 * HOUR,
    };
    assert_eq!(app.post_signed(silent.delivery()).await.status(), 200);
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("data-status=\"stale\""), "{html}");
    assert!(html.contains("40 days"), "{html}");
    assert!(html.contains("(was Charging)"), "{html}");
    let vehicle = app
        .get(&format!("/vehicles/{}", silent.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(vehicle.contains("data-status=\"stale\"") && vehicle.contains("40 days"));
    let list = api(&app, "").await;
    let latest = &list["vehicles"][0]["latest"];
    assert_eq!(latest["status"], "stale");
    assert_eq!(latest["reported_status"], "charging");
    assert_eq!(latest["stale"], true);
    assert_eq!(app.fleet_page().await["totals"]["charging_now"], 0);

    // A vehicle that was fresh when its delivery was applied turns stale in the status
    // column when the sweep runs after its stale time (here: a sweep "a day later").
    let fresh = Fake {
        id: "5a1e0000-0000-4000-8000-000000000002".into(),
        at: now - HOUR,
        ..silent.clone()
    };
    assert_eq!(app.post_signed(fresh.delivery()).await.status(), 200);
    let status = |id: &'static str| {
        let app = &app;
        async move {
            app.scalar_i64(&format!(
                "SELECT COUNT(*) FROM vehicles WHERE id = '{id}' AND status = 'stale'"
            ))
            .await
        }
    };
    assert_eq!(status("5a1e0000-0000-4000-8000-000000000002").await, 0);
    let later = app::domain::time::EpochMs::new(now + 24 * HOUR).unwrap();
    server::tasks::sweep::sweep_once(&app.db, &Default::default(), later)
        .await
        .unwrap();
    assert_eq!(status("5a1e0000-0000-4000-8000-000000000002").await, 1);
}

async fn the_fleet_energy_sums_equal_the_sessions(backend: Backend) {
    let app = crate::helpers::spawn_scenario(backend).await;
    // Sessions replaced many times over (each delivery re-derives the open one), then
    // all of them again.
    // (In 32-bit integers, which `scalar_i64` reads on both databases.)
    let sum_sessions = "SELECT CAST(COALESCE(SUM(CAST(ROUND(COALESCE(energy_added_kwh, 0) * 1000) AS BIGINT)), 0) AS INTEGER) FROM sessions";
    let sum_slots = "SELECT CAST(COALESCE(SUM(energy_wh), 0) AS INTEGER) FROM fleet_energy";
    let count_slots = "SELECT CAST(COALESCE(SUM(sessions), 0) AS INTEGER) FROM fleet_energy";
    let sessions = app.scalar_i64(sum_sessions).await;
    assert!(sessions > 0);
    // The Polestar's 33.1 kWh from 18:02 to 20:15 count in the quarter hours they were
    // added in, the session in the one it started in.
    let slots = "SELECT CAST(COUNT(*) AS INTEGER) FROM fleet_energy WHERE energy_wh > 0";
    assert!(
        app.scalar_i64(slots).await >= 9,
        "energy spread over the session"
    );
    let start_slot =
        "SELECT CAST(sessions AS INTEGER) FROM fleet_energy WHERE slot = 1773511200000";
    assert_eq!(app.scalar_i64(start_slot).await, 1);
    assert_eq!(app.scalar_i64(sum_slots).await, sessions);
    assert_eq!(
        app.scalar_i64(count_slots).await,
        app.count("sessions").await
    );
    let engine = crate::helpers::engine_for_fixtures();
    server::cli::rederive::run(&app.db, None, &engine, server::clock::now(), false)
        .await
        .unwrap();
    assert_eq!(app.scalar_i64(sum_slots).await, sessions);
    assert_eq!(
        app.scalar_i64(count_slots).await,
        app.count("sessions").await
    );
}
