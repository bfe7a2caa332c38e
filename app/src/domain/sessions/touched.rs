//! Which part of a vehicle's history newly stored readings can change: the rule ingest
//! uses to re-derive only the sessions that may differ (`server::sessions::touched`
//! feeds it from the database, the `ingest` fuzz target from memory).

use super::{Observation, ObservedValue};
use crate::domain::signals;
use crate::domain::time::EpochMs;

/// Which part of a vehicle's history new readings can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touched {
    /// None of the readings is one the engine reads, or each repeats one stored.
    Nothing,
    /// The earliest OEM time among the new readings that change something.
    From(EpochMs),
    /// A reading without a time (a static fact such as capacity): everything.
    Everything,
}

/// The largest static nominal capacity among the new observations, if any: it changes
/// everything unless a capacity at least as large is stored already (the engine takes
/// the largest).
pub fn new_capacity(new: &[Observation]) -> Option<f64> {
    new.iter()
        .filter(|o| o.at.is_none() && o.code == signals::NOMINAL_CAPACITY)
        .filter_map(|o| match o.value {
            ObservedValue::Number(n) => Some(n),
            _ => None,
        })
        .reduce(f64::max)
}

/// The OEM times at which the stored observations are needed to tell a repeat from a
/// change, sorted and without duplicates.
pub fn repeat_times(new: &[Observation]) -> Vec<i64> {
    let mut times: Vec<i64> = new
        .iter()
        .filter_map(|o| o.at.map(EpochMs::as_millis))
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// What the new observations (of the engine's signals, stored with a value) change,
/// given whether a stored static capacity covers [`new_capacity`] and the observations
/// stored before at [`repeat_times`]. A repeat of a stored observation changes nothing,
/// unless it is the first normal copy of one that so far came only in FIRST_DELIVERYs;
/// otherwise the earliest new observation's time is where sessions may change.
pub fn touched(new: &[Observation], capacity_covered: bool, stored: &[Observation]) -> Touched {
    if new_capacity(new).is_some() && !capacity_covered {
        return Touched::Everything;
    }
    let repeats = |new: &Observation| {
        stored.iter().any(|e| {
            e.at == new.at
                && e.code == new.code
                && e.value == new.value
                && (!e.first_delivery || new.first_delivery)
        })
    };
    new.iter()
        .filter(|o| o.at.is_some())
        .filter(|o| !repeats(o))
        .filter_map(|o| o.at)
        .min()
        .map_or(Touched::Nothing, Touched::From)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(at: Option<i64>, code: &str, value: ObservedValue, first: bool) -> Observation {
        Observation {
            at: at.map(|t| EpochMs::new(t).unwrap()),
            code: code.to_owned(),
            value,
            first_delivery: first,
        }
    }

    #[test]
    fn repeats_change_nothing_and_new_readings_change_from_the_earliest() {
        let soc = |at, v| {
            obs(
                Some(at),
                signals::STATE_OF_CHARGE,
                ObservedValue::Number(v),
                false,
            )
        };
        let stored = [soc(100, 50.0)];
        assert_eq!(touched(&[soc(100, 50.0)], true, &stored), Touched::Nothing);
        assert_eq!(
            touched(
                &[soc(300, 52.0), soc(100, 50.0), soc(200, 51.0)],
                true,
                &stored
            ),
            Touched::From(EpochMs::new(200).unwrap())
        );
        // A normal copy of what came only in a FIRST_DELIVERY is news.
        let first = [obs(
            Some(100),
            signals::STATE_OF_CHARGE,
            ObservedValue::Number(50.0),
            true,
        )];
        assert_eq!(
            touched(&[soc(100, 50.0)], true, &first),
            Touched::From(EpochMs::new(100).unwrap())
        );
        assert_eq!(
            repeat_times(&[soc(300, 1.0), soc(100, 1.0), soc(300, 2.0)]),
            [100, 300]
        );
    }

    #[test]
    fn a_larger_capacity_changes_everything_unless_one_as_large_is_stored() {
        let capacity = |kwh| {
            obs(
                None,
                signals::NOMINAL_CAPACITY,
                ObservedValue::Number(kwh),
                false,
            )
        };
        let new = [capacity(60.0), capacity(75.0)];
        assert_eq!(new_capacity(&new), Some(75.0));
        assert_eq!(touched(&new, false, &[]), Touched::Everything);
        assert_eq!(touched(&new, true, &[]), Touched::Nothing);
        assert_eq!(new_capacity(&[]), None);
    }
}
