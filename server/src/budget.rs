//! Per-second allowances for what an anonymous client can make the server do at will:
//! write log rows for refused requests, keep dead letters, print WARN lines. Past the
//! allowance the work is skipped (log rows, lines) or deferred with 429 (dead letters),
//! so a flood costs a bounded number of rows and lines a second, however fast it comes.

use std::sync::Mutex;
use std::time::Instant;

/// Log rows of refused requests, dead letters and WARN lines each get this many a
/// second (each its own allowance).
pub const PER_SECOND: u32 = 20;

/// An allowance of `limit` a second, counting what it turned away.
#[derive(Debug)]
pub struct PerSecond {
    limit: u32,
    started: Instant,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    second: u64,
    used: u32,
    /// Turned away since the last use that was allowed.
    refused: u64,
}

impl Default for PerSecond {
    fn default() -> Self {
        Self::new(PER_SECOND)
    }
}

impl PerSecond {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            started: Instant::now(),
            window: Mutex::default(),
        }
    }

    /// Takes one from this second's allowance: `Some(n)` if there was one left, where
    /// `n` is how many were turned away since the last one taken; `None` if it is spent.
    pub fn take(&self) -> Option<u64> {
        let second = self.started.elapsed().as_secs();
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if window.second != second {
            window.second = second;
            window.used = 0;
        }
        if window.used < self.limit {
            window.used += 1;
            Some(std::mem::take(&mut window.refused))
        } else {
            window.refused += 1;
            None
        }
    }
}

/// A log line about something an anonymous client caused (a refused signature, a login
/// over its limit, an answered VERIFY), printed only while the budget lasts; the first
/// line after some were suppressed says how many. `budgeted_warn!` is this at WARN.
#[macro_export]
macro_rules! budgeted_event {
    ($budget:expr, $level:expr, $($line:tt)+) => {
        if let Some(suppressed) = $budget.take() {
            if suppressed > 0 {
                tracing::warn!(
                    suppressed,
                    "{suppressed} log lines about requests from outside were not printed (at most {} a second)",
                    $crate::budget::PER_SECOND
                );
            }
            tracing::event!($level, $($line)+);
        }
    };
}

/// [`budgeted_event!`] at WARN.
#[macro_export]
macro_rules! budgeted_warn {
    ($budget:expr, $($line:tt)+) => {
        $crate::budgeted_event!($budget, tracing::Level::WARN, $($line)+)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowance_is_spent_then_counts_what_it_refuses() {
        let budget = PerSecond::new(3);
        let taken: Vec<_> = (0..10).map(|_| budget.take()).collect();
        assert_eq!(taken[0], Some(0));
        // Three a second (up to six if a new second began during the loop).
        let allowed = taken.iter().filter(|t| t.is_some()).count();
        assert!((3..=6).contains(&allowed), "{taken:?}");
        // The next second's first use reports what was refused since the last one.
        let refused_since = taken.iter().rev().take_while(|t| t.is_none()).count() as u64;
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        assert_eq!(budget.take(), Some(refused_since));
        assert_eq!(budget.take(), Some(0));
    }
}
