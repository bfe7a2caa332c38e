//! Enums kept as text (in database columns, URLs and CSV): their `Display` and `FromStr`
//! come from the type's own `as_str` and `parse`, so each spelling is written once.
//!
//! On the server such an enum is also a SeaORM column type: it derives
//! `sea_orm::DeriveValueType` with `value_type = "String"`, which reads and writes through
//! these two traits, so entities hold the enum and queries compare with it, never with a
//! string literal.

/// A stored or sent name that is not one of the enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{got:?} is not a known {kind}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub got: String,
}

/// `text_enum!(SessionStatus, "session status")`: `Display` by `as_str`, `FromStr` by
/// `parse`, failing with an [`UnknownName`] of that kind.
macro_rules! text_enum {
    ($name:ty, $kind:literal) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::text::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::domain::text::UnknownName {
                    kind: $kind,
                    got: s.to_owned(),
                })
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use super::UnknownName;
    use crate::domain::events::Outcome;
    use crate::domain::reading::ReadingStatus;
    use crate::domain::sessions::{ChargerType, EnergySource, SessionStatus};
    use std::fmt::Debug;
    use std::str::FromStr;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + Debug + PartialEq + ToString + FromStr<Err = UnknownName>,
    {
        for value in all {
            assert_eq!(value.to_string().parse::<T>(), Ok(*value));
        }
    }

    #[test]
    fn every_stored_enum_reads_back_what_it_writes() {
        round_trips(&Outcome::ALL);
        round_trips(&[ReadingStatus::Ok, ReadingStatus::Error]);
        round_trips(&[
            SessionStatus::Charging,
            SessionStatus::Completed,
            SessionStatus::Stale,
        ]);
        round_trips(&[
            EnergySource::Counter,
            EnergySource::Power,
            EnergySource::Soc,
        ]);
        round_trips(&[ChargerType::Ac, ChargerType::Dc]);
        round_trips(&crate::domain::fleet::ChargeStatus::ALL);
    }

    #[test]
    fn a_name_it_does_not_know_is_refused_by_name() {
        let err = "paused".parse::<SessionStatus>().unwrap_err();
        assert_eq!(err.to_string(), "\"paused\" is not a known session status");
        assert!("Charging".parse::<SessionStatus>().is_err());
        assert!("".parse::<Outcome>().is_err());
    }
}
