//! A per-isolate budget of log lines for one kind of event, so that a flood (an attack sending
//! bad tokens) writes a bounded number of lines: at most `per_window` lines in each window of
//! `window` seconds, and the lines left out are counted and reported once, by the first line
//! written in a later window (or by [`LogLimiter::flush`]). Time is passed in.

use std::cell::Cell;

/// Lines per window and window length (seconds) of the rejection log: about one line per second
/// and isolate under a flood, plus one "suppressed" line per window.
pub const REJECTION_LINES_PER_WINDOW: u32 = 10;
/// See [`REJECTION_LINES_PER_WINDOW`].
pub const REJECTION_WINDOW_SECONDS: u64 = 10;

/// What to do with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Write it; `suppressed` lines were left out in earlier windows and not reported yet
    /// (report them first when it is not 0).
    Write {
        /// Lines left out since the last report.
        suppressed: u64,
    },
    /// Leave it out (it is counted).
    Suppress,
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    window_start: u64,
    written: u32,
    suppressed: u64,
}

/// A fixed-window line budget.
#[derive(Debug)]
pub struct LogLimiter {
    window: u64,
    per_window: u32,
    state: Cell<State>,
}

impl LogLimiter {
    /// At most `per_window` lines per `window` seconds (a window of 0 is taken as 1).
    pub fn new(per_window: u32, window: u64) -> LogLimiter {
        LogLimiter {
            window: window.max(1),
            per_window,
            state: Cell::new(State::default()),
        }
    }

    /// The rejection log's budget ([`REJECTION_LINES_PER_WINDOW`] per
    /// [`REJECTION_WINDOW_SECONDS`]).
    pub fn for_rejections() -> LogLimiter {
        LogLimiter::new(REJECTION_LINES_PER_WINDOW, REJECTION_WINDOW_SECONDS)
    }

    /// The window length, in seconds.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Whether a line at `now` (seconds) may be written.
    pub fn admit(&self, now: u64) -> Admission {
        let mut state = self.state.get();
        let mut report = 0;
        if now >= state.window_start.saturating_add(self.window) {
            report = std::mem::take(&mut state.suppressed);
            state.window_start = now;
            state.written = 0;
        }
        let admission = if state.written < self.per_window {
            state.written += 1;
            Admission::Write { suppressed: report }
        } else {
            state.suppressed += 1;
            Admission::Suppress
        };
        self.state.set(state);
        admission
    }

    /// The count of lines left out in windows that have ended by `now`, if any, to report now
    /// (for a periodic task, so that the end of a flood is reported without a next line).
    pub fn flush(&self, now: u64) -> Option<u64> {
        let mut state = self.state.get();
        if state.suppressed == 0 || now < state.window_start.saturating_add(self.window) {
            return None;
        }
        let report = std::mem::take(&mut state.suppressed);
        self.state.set(state);
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(limiter: &LogLimiter, now: u64, n: usize) -> Vec<Admission> {
        (0..n).map(|_| limiter.admit(now)).collect()
    }

    #[test]
    fn a_flood_writes_the_budget_then_counts_and_reports_once() {
        let limiter = LogLimiter::new(3, 10);
        let first = writes(&limiter, 100, 5);
        assert_eq!(
            first,
            [
                Admission::Write { suppressed: 0 },
                Admission::Write { suppressed: 0 },
                Admission::Write { suppressed: 0 },
                Admission::Suppress,
                Admission::Suppress,
            ]
        );
        // Still the same window: nothing more, whatever the volume.
        assert!(writes(&limiter, 109, 1000)
            .iter()
            .all(|a| *a == Admission::Suppress));
        // The next window's first line carries the count of the previous windows, once.
        assert_eq!(limiter.admit(110), Admission::Write { suppressed: 1002 });
        assert_eq!(limiter.admit(110), Admission::Write { suppressed: 0 });
    }

    #[test]
    fn time_going_back_stays_in_the_window() {
        let limiter = LogLimiter::new(1, 10);
        assert_eq!(limiter.admit(50), Admission::Write { suppressed: 0 });
        assert_eq!(limiter.admit(40), Admission::Suppress);
        assert_eq!(limiter.admit(60), Admission::Write { suppressed: 1 });
    }

    #[test]
    fn flush_reports_only_ended_windows_and_only_once() {
        let limiter = LogLimiter::new(1, 10);
        assert_eq!(limiter.flush(0), None);
        limiter.admit(0);
        limiter.admit(0);
        limiter.admit(5);
        assert_eq!(limiter.flush(9), None, "the window is still open");
        assert_eq!(limiter.flush(10), Some(2));
        assert_eq!(limiter.flush(30), None);
        // Reported by the flush, so not again by the next line.
        assert_eq!(limiter.admit(30), Admission::Write { suppressed: 0 });
    }

    #[test]
    fn the_rejection_budget_is_at_most_a_line_per_second() {
        // README ("Logs and metrics") and docs/operations.md state these numbers.
        assert_eq!(
            (REJECTION_LINES_PER_WINDOW, REJECTION_WINDOW_SECONDS),
            (10, 10)
        );
        assert!(u64::from(REJECTION_LINES_PER_WINDOW) <= REJECTION_WINDOW_SECONDS);
    }

    #[test]
    fn the_rejection_budget_is_bounded() {
        let limiter = LogLimiter::for_rejections();
        let written = (0..REJECTION_WINDOW_SECONDS * 100)
            .map(|i| limiter.admit(1_000 + i / 100))
            .filter(|a| matches!(a, Admission::Write { .. }))
            .count();
        assert_eq!(written, REJECTION_LINES_PER_WINDOW as usize);
    }
}
