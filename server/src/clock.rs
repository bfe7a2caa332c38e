//! The time the server stamps on what it receives and derives.

use app::domain::time::EpochMs;

/// Now. A clock set before 1970 reads as [`EpochMs::FIRST`]: a valid, obviously wrong
/// time, rather than a request or a processor that fails.
pub fn now() -> EpochMs {
    EpochMs::from_datetime(chrono::Utc::now()).unwrap_or(EpochMs::FIRST)
}
