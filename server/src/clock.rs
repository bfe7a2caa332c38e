//! The one place the server reads the clock: what it stamps on what it receives, and the
//! time sessions, logins and tokens are judged at.

use app::domain::time::EpochMs;

/// Now, or `None` when the clock reads before 1970 or after 9999: for the few callers
/// that would rather refuse than work with a time that is surely wrong.
pub fn checked_now() -> Option<EpochMs> {
    EpochMs::from_datetime(chrono::Utc::now()).ok()
}

/// Now. A clock set before 1970 reads as [`EpochMs::FIRST`]: a valid, obviously wrong
/// time, rather than a request or a processor that fails.
pub fn now() -> EpochMs {
    checked_now().unwrap_or(EpochMs::FIRST)
}

/// [`now`] in epoch milliseconds.
pub fn now_ms() -> i64 {
    now().as_millis()
}
