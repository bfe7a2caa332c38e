//! Places: named circles on the map (a driver's home, a depot, a public charger). A
//! session belongs to the place whose circle holds where it started, the nearest centre
//! when circles overlap. Where sessions gather at no place, places are suggested.

use crate::domain::pricing::tariff::Invalid;
use crate::domain::sessions::ChargerType;
use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// What a place is, for reports (home charging is reimbursed, public charging is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType, utoipa::ToSchema),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    Home,
    Depot,
    Work,
    Public,
    Other,
}

impl PlaceKind {
    pub const ALL: [PlaceKind; 5] = [
        PlaceKind::Home,
        PlaceKind::Depot,
        PlaceKind::Work,
        PlaceKind::Public,
        PlaceKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::Home => "home",
            PlaceKind::Depot => "depot",
            PlaceKind::Work => "work",
            PlaceKind::Public => "public",
            PlaceKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        PlaceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

crate::domain::text::text_enum!(PlaceKind, "place kind");

/// A place's circle, in metres: at least 10, at most 5 000, 150 unless chosen.
pub const RADIUS_M: std::ops::RangeInclusive<f64> = 10.0..=5_000.0;
pub const DEFAULT_RADIUS_M: f64 = 150.0;
/// The share of grid energy that reaches the battery, when known.
pub const EFFICIENCY: std::ops::RangeInclusive<f64> = 0.5..=1.0;
/// Names and cost centres are at most this many characters.
pub const MAX_NAME: usize = 100;

/// A place as operators define it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub id: String,
    pub name: String,
    pub kind: PlaceKind,
    pub latitude: f64,
    pub longitude: f64,
    pub radius_m: f64,
    /// IANA zone its tariffs' hours are read in.
    pub timezone: String,
    pub charging_efficiency: Option<f64>,
    pub cost_center: Option<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl Place {
    /// Checks what the types cannot, naming the field: a name, a point on the globe, a
    /// radius and an efficiency in range, a real time zone.
    pub fn check(&self) -> Result<(), Invalid> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(invalid(
                "name",
                format!("must have 1 to {MAX_NAME} characters"),
            ));
        }
        if !(-90.0..=90.0).contains(&self.latitude) {
            return Err(invalid("latitude", "must be from -90 to 90"));
        }
        if !(-180.0..=180.0).contains(&self.longitude) {
            return Err(invalid("longitude", "must be from -180 to 180"));
        }
        if !RADIUS_M.contains(&self.radius_m) {
            return Err(invalid("radius_m", "must be from 10 to 5000 metres"));
        }
        if self.zone().is_none() {
            return Err(invalid(
                "timezone",
                "must be an IANA time zone such as Europe/Berlin",
            ));
        }
        if self
            .charging_efficiency
            .is_some_and(|e| !EFFICIENCY.contains(&e))
        {
            return Err(invalid("charging_efficiency", "must be from 0.5 to 1.0"));
        }
        if self
            .cost_center
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_NAME)
        {
            return Err(invalid(
                "cost_center",
                format!("must have at most {MAX_NAME} characters"),
            ));
        }
        Ok(())
    }

    /// The place's time zone.
    pub fn zone(&self) -> Option<Tz> {
        self.timezone.parse().ok()
    }

    fn holds(&self, at: (f64, f64)) -> Option<f64> {
        let d = distance_m((self.latitude, self.longitude), at);
        (d <= self.radius_m).then_some(d)
    }
}

/// Metres between two points (latitude, longitude in degrees) on the mean Earth sphere.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_M: f64 = 6_371_008.8;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let (dlat, dlon) = ((b.0 - a.0).to_radians(), (b.1 - a.1).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_M * h.sqrt().min(1.0).asin()
}

/// The place a session that started at `at` belongs to: of the circles that hold it, the
/// one with the nearest centre (the first id on a tie).
pub fn place_of(places: &[Place], at: (f64, f64)) -> Option<&Place> {
    places
        .iter()
        .filter_map(|p| p.holds(at).map(|d| (d, p)))
        .min_by(|(d1, p1), (d2, p2)| d1.total_cmp(d2).then_with(|| p1.id.cmp(&p2.id)))
        .map(|(_, p)| p)
}

/// A session where no place holds it, as suggestions see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spot {
    pub vehicle_id: String,
    pub latitude: f64,
    pub longitude: f64,
    pub started_at: DateTime<Utc>,
    /// `None` while charging.
    pub ended_at: Option<DateTime<Utc>>,
    pub energy_kwh: Option<f64>,
    pub charger_type: Option<ChargerType>,
}

/// Sessions gathered where no place is: a place to create in one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Suggestion {
    /// The centre of the sessions' starts.
    pub latitude: f64,
    pub longitude: f64,
    /// A circle holding every one of them (at least [`DEFAULT_RADIUS_M`]).
    pub radius_m: f64,
    pub sessions: usize,
    /// How many vehicles charged there.
    pub vehicles: usize,
    pub energy_kwh: f64,
    pub likely_kind: PlaceKind,
}

/// Sessions within this many metres of a gathering's busiest point gather into it.
pub const GATHER_M: f64 = 150.0;
/// A suggestion needs at least this many sessions.
pub const MIN_SESSIONS: usize = 3;

/// Starts closer than this (in metres) count as one point while gathering, so that
/// thousands of sessions at one spot cost what one does.
const SNAP_M: f64 = 10.0;
const METRES_PER_DEGREE: f64 = 111_195.0;

/// Spots gathered to one snapped point.
#[derive(Debug, Clone, Default)]
struct Point {
    lat_sum: f64,
    lon_sum: f64,
    sessions: usize,
    energy_kwh: f64,
    overnight_ac: usize,
    dc: usize,
    vehicles: BTreeSet<String>,
}

impl Point {
    fn centre(&self) -> (f64, f64) {
        let n = self.sessions as f64;
        (self.lat_sum / n, self.lon_sum / n)
    }
}

/// Squares of at least `size_m` on a side everywhere up to `max_lat` (north or south,
/// up to 85°), so that points closer than `size_m` are in the same or neighbouring
/// squares. (Across the 180th meridian they are not: no suggestion spans it.)
struct Grid {
    lat_deg: f64,
    lon_deg: f64,
}

impl Grid {
    fn new(size_m: f64, max_lat: f64) -> Grid {
        let narrowest = max_lat.abs().min(85.0).to_radians().cos();
        Grid {
            lat_deg: size_m / METRES_PER_DEGREE,
            lon_deg: size_m / (METRES_PER_DEGREE * narrowest),
        }
    }

    fn cell(&self, at: (f64, f64)) -> (i64, i64) {
        (
            (at.0 / self.lat_deg).floor() as i64,
            (at.1 / self.lon_deg).floor() as i64,
        )
    }
}

/// Whether a session charged overnight: started from 17:00 to 04:00 (local time in
/// `zone`) and lasted at least four hours.
fn overnight(spot: &Spot, zone: Tz) -> bool {
    let start = spot.started_at.with_timezone(&zone);
    let evening = start.hour() >= 17 || start.hour() < 4;
    let lasted = spot
        .ended_at
        .is_some_and(|end| (end - spot.started_at).num_hours() >= 4);
    evening && lasted
}

/// Places to suggest: the spots no place holds, snapped to 10 m, gathered around the
/// busiest points within [`GATHER_M`], kept with at least [`MIN_SESSIONS`] sessions, most
/// sessions first. A gathering mostly charged on DC is likely public; one mostly charged
/// overnight on AC (evenings and nights in `zone`) a home when one or two vehicles charge
/// there, a depot when more do; anything else, other.
pub fn suggest(spots: &[Spot], places: &[Place], zone: Tz) -> Vec<Suggestion> {
    let max_lat = spots
        .iter()
        .map(|s| s.latitude.abs())
        .filter(|l| l.is_finite())
        .fold(0.0, f64::max);
    let (snap, gather) = (Grid::new(SNAP_M, max_lat), Grid::new(GATHER_M, max_lat));
    let mut points: HashMap<(i64, i64), Point> = HashMap::new();
    for spot in spots {
        let at = (spot.latitude, spot.longitude);
        if !(at.0.is_finite() && at.1.is_finite()) || place_of(places, at).is_some() {
            continue;
        }
        let p = points.entry(snap.cell(at)).or_default();
        p.lat_sum += at.0;
        p.lon_sum += at.1;
        p.sessions += 1;
        p.vehicles.insert(spot.vehicle_id.clone());
        p.energy_kwh += spot
            .energy_kwh
            .filter(|e| e.is_finite())
            .unwrap_or(0.0)
            .max(0.0);
        match spot.charger_type {
            Some(ChargerType::Dc) => p.dc += 1,
            Some(ChargerType::Ac) | None if overnight(spot, zone) => p.overnight_ac += 1,
            _ => {}
        }
    }
    // Busiest points first (then by place on the map, so the answer never depends on the
    // order spots came in).
    let mut order: Vec<((i64, i64), Point)> = points.into_iter().collect();
    order.sort_by(|(ka, a), (kb, b)| b.sessions.cmp(&a.sessions).then(ka.cmp(kb)));
    // A grid of the points by gathering distance, to find a point's neighbours.
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, (_, p)) in order.iter().enumerate() {
        grid.entry(gather.cell(p.centre())).or_default().push(i);
    }
    let mut taken = vec![false; order.len()];
    let mut suggestions = Vec::new();
    for leader in 0..order.len() {
        if taken[leader] {
            continue;
        }
        let centre = order[leader].1.centre();
        let (cy, cx) = gather.cell(centre);
        let mut members = Vec::new();
        for dy in -1..=1 {
            for dx in -1..=1 {
                for &i in grid.get(&(cy + dy, cx + dx)).into_iter().flatten() {
                    if !taken[i] && distance_m(centre, order[i].1.centre()) <= GATHER_M {
                        members.push(i);
                    }
                }
            }
        }
        let mut all = Point::default();
        for &i in &members {
            taken[i] = true;
            let p = &order[i].1;
            all.lat_sum += p.lat_sum;
            all.lon_sum += p.lon_sum;
            all.sessions += p.sessions;
            all.energy_kwh += p.energy_kwh;
            all.overnight_ac += p.overnight_ac;
            all.dc += p.dc;
            all.vehicles.extend(p.vehicles.iter().cloned());
        }
        if all.sessions < MIN_SESSIONS {
            continue;
        }
        let (lat, lon) = all.centre();
        let reach = members
            .iter()
            .map(|&i| distance_m((lat, lon), order[i].1.centre()) + SNAP_M)
            .fold(DEFAULT_RADIUS_M, f64::max);
        let likely_kind = if all.dc * 2 > all.sessions {
            PlaceKind::Public
        } else if all.overnight_ac * 2 > all.sessions && all.vehicles.len() <= 2 {
            PlaceKind::Home
        } else if all.overnight_ac * 2 > all.sessions {
            PlaceKind::Depot
        } else {
            PlaceKind::Other
        };
        suggestions.push(Suggestion {
            latitude: lat,
            longitude: lon,
            radius_m: reach.min(*RADIUS_M.end()).ceil(),
            sessions: all.sessions,
            vehicles: all.vehicles.len(),
            energy_kwh: all.energy_kwh,
            likely_kind,
        });
    }
    suggestions.sort_by(|a, b| {
        b.sessions
            .cmp(&a.sessions)
            .then(a.latitude.total_cmp(&b.latitude))
    });
    suggestions
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn place(id: &str, at: (f64, f64), radius_m: f64) -> Place {
        Place {
            id: id.to_owned(),
            name: format!("Place {id}"),
            kind: PlaceKind::Depot,
            latitude: at.0,
            longitude: at.1,
            radius_m,
            timezone: "Europe/Berlin".to_owned(),
            charging_efficiency: None,
            cost_center: None,
        }
    }

    /// `metres` north of `at`.
    fn north(at: (f64, f64), metres: f64) -> (f64, f64) {
        (at.0 + metres / METRES_PER_DEGREE, at.1)
    }

    const DEPOT: (f64, f64) = (52.520_008, 13.404_954);

    #[test]
    fn distances_on_the_globe() {
        // Berlin to Paris is about 878 km; 100 m north is 100 m.
        let paris = (48.856_613, 2.352_222);
        assert!((distance_m(DEPOT, paris) / 1000.0 - 878.0).abs() < 2.0);
        assert!((distance_m(DEPOT, north(DEPOT, 100.0)) - 100.0).abs() < 0.1);
        assert_eq!(distance_m(DEPOT, DEPOT), 0.0);
    }

    #[test]
    fn a_session_belongs_to_the_nearest_centre_that_holds_it() {
        let a = place("a", DEPOT, 150.0);
        let b = place("b", north(DEPOT, 200.0), 150.0);
        let places = [a.clone(), b.clone()];
        assert_eq!(place_of(&places, north(DEPOT, 90.0)), Some(&a));
        assert_eq!(place_of(&places, north(DEPOT, 110.0)), Some(&b));
        assert_eq!(place_of(&places, north(DEPOT, 400.0)), None);
        // Same centre: the first id.
        let twin = place("0", DEPOT, 300.0);
        assert_eq!(place_of(&[a.clone(), twin.clone()], DEPOT), Some(&twin));
    }

    #[test]
    fn a_place_that_makes_no_sense_names_the_field() {
        let field = |p: &Place| p.check().err().map(|e| e.field);
        let good = place("a", DEPOT, 150.0);
        assert_eq!(field(&good), None);
        type Spoil = fn(&mut Place);
        let cases: [(&str, Spoil); 8] = [
            ("name", |p| p.name = "  ".to_owned()),
            ("name", |p| p.name = "x".repeat(101)),
            ("latitude", |p| p.latitude = 91.0),
            ("longitude", |p| p.longitude = f64::NAN),
            ("radius_m", |p| p.radius_m = 9.0),
            ("timezone", |p| p.timezone = "Mars/Olympus".to_owned()),
            ("charging_efficiency", |p| p.charging_efficiency = Some(1.2)),
            ("cost_center", |p| p.cost_center = Some("c".repeat(101))),
        ];
        for (expected, spoil) in cases {
            let mut p = good.clone();
            spoil(&mut p);
            assert_eq!(field(&p).as_deref(), Some(expected));
        }
    }

    fn spot(vehicle: &str, at: (f64, f64), hour: u32, hours: i64, dc: bool) -> Spot {
        let started_at = BERLIN
            .with_ymd_and_hms(2026, 3, 10, hour, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        Spot {
            vehicle_id: vehicle.to_owned(),
            latitude: at.0,
            longitude: at.1,
            started_at,
            ended_at: Some(started_at + chrono::Duration::hours(hours)),
            energy_kwh: Some(10.0),
            charger_type: Some(if dc { ChargerType::Dc } else { ChargerType::Ac }),
        }
    }

    #[test]
    fn sessions_gathered_at_no_place_are_suggested_with_a_likely_kind() {
        let home = north(DEPOT, 5_000.0);
        let charger = north(DEPOT, 20_000.0);
        let mut spots = Vec::new();
        // A driver's home: one car, overnight, within 40 m.
        for i in 0..4 {
            spots.push(spot("v1", north(home, f64::from(i) * 10.0), 20, 9, false));
        }
        // A depot: five cars overnight.
        for v in ["v1", "v2", "v3", "v4", "v5"] {
            spots.push(spot(v, north(DEPOT, 30.0), 18, 12, false));
        }
        // A public charger: DC, by day.
        for v in ["v2", "v3", "v6"] {
            spots.push(spot(v, charger, 12, 1, true));
        }
        // Twice somewhere: not enough.
        spots.push(spot("v1", north(DEPOT, 9_000.0), 12, 1, false));
        spots.push(spot("v2", north(DEPOT, 9_000.0), 13, 1, false));
        let found = suggest(&spots, &[], BERLIN);
        let kinds: Vec<(PlaceKind, usize, usize)> = found
            .iter()
            .map(|s| (s.likely_kind, s.sessions, s.vehicles))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (PlaceKind::Depot, 5, 5),
                (PlaceKind::Home, 4, 1),
                (PlaceKind::Public, 3, 3)
            ]
        );
        assert!(distance_m((found[1].latitude, found[1].longitude), home) < 20.0);
        assert_eq!(found[1].energy_kwh, 40.0);
        assert!(found.iter().all(|s| s.radius_m >= DEFAULT_RADIUS_M));
        // Once the depot is a place, it is no longer suggested; the order of the spots
        // does not change the answer.
        let mut reversed = spots.clone();
        reversed.reverse();
        let with_depot = suggest(&reversed, &[place("d", DEPOT, 150.0)], BERLIN);
        assert_eq!(with_depot, found[1..].to_vec());
    }

    #[test]
    fn neighbours_are_found_far_east_and_far_north() {
        // Three sessions 60 m apart east to west, at 64° N and 150° E.
        let east = |metres: f64| {
            (
                64.0,
                150.0 + metres / (METRES_PER_DEGREE * 64f64.to_radians().cos()),
            )
        };
        let spots: Vec<Spot> = (0..3)
            .map(|i| spot("v1", east(f64::from(i) * 60.0), 12, 1, false))
            .collect();
        let found = suggest(&spots, &[], BERLIN);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].sessions, 3);
    }

    #[test]
    fn a_crowded_spot_costs_what_one_point_does() {
        // 50 000 sessions within a few metres gather into one suggestion, quickly: they
        // are one snapped point.
        let spots: Vec<Spot> = (0..50_000)
            .map(|i| {
                spot(
                    &format!("v{}", i % 40),
                    north(DEPOT, f64::from(i % 5)),
                    19,
                    10,
                    false,
                )
            })
            .collect();
        let found = suggest(&spots, &[], BERLIN);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].sessions, 50_000);
        assert_eq!(found[0].likely_kind, PlaceKind::Depot);
    }
}
