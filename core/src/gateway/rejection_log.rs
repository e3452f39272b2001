//! The log line of a refused request (`request_rejected`), under a per-isolate budget so that a
//! flood of bad requests writes a bounded number of lines (and one `rejections_suppressed` line
//! with the count of those left out).
//!
//! A line names what an operator needs to find the cause: the stable code, the status, the
//! method, the canonical path (never the query), and the token's `kid`, `alg` and `iss` as sent
//! when they can be read. It never holds the token, nor any other claim. Everything is cut to a
//! bounded length: all of it comes from the client.

use serde::Serialize;
use serde_json::json;

use crate::gateway::answer::GatewayError;
use crate::jws::error::truncated;
use crate::jws::token::UntrustedToken;
use crate::log::limiter::{Admission, LogLimiter};
use crate::log::{EventSink, Level};

/// The event of a refused request.
pub const EVENT: &str = "request_rejected";
/// The event that counts the lines the budget left out.
pub const SUPPRESSED_EVENT: &str = "rejections_suppressed";

/// The fields of one `request_rejected` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionLine<'a> {
    /// [`GatewayError::code`].
    pub code: &'static str,
    /// The HTTP status answered.
    pub status: u16,
    /// The method, as received (cut to 64 characters).
    pub method: String,
    /// The canonical path, without the query; absent when the path has none (a 400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Why a request was malformed (the 400's fixed description).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The scopes the route requires (a 403): the configuration's, not the token's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scopes: Option<&'a [String]>,
    /// The token's header `kid`, when the token has a readable header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The token's header `alg`, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// The token's `iss`, as sent (not verified unless the signature was), when its payload is
    /// a JSON object with a string `iss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

impl<'a> RejectionLine<'a> {
    /// The line for `error`, answered to `method` on `route` (the canonical path, if the request
    /// has one) with `token` (the bearer token, if there was exactly one), read with the
    /// verifier's length limit.
    pub fn new(
        error: &'a GatewayError,
        method: &str,
        route: Option<&str>,
        token: Option<&str>,
        max_token_bytes: usize,
    ) -> RejectionLine<'a> {
        let parsed = token.and_then(|token| UntrustedToken::parse(token, max_token_bytes).ok());
        let header = parsed.as_ref().map(UntrustedToken::header);
        let iss = parsed.as_ref().and_then(|token| {
            let claims = token.claims().ok()?;
            claims.get("iss")?.as_str().map(truncated)
        });
        RejectionLine {
            code: error.code(),
            status: error.status(),
            method: truncated(method),
            route: route.map(truncated),
            reason: match error {
                GatewayError::InvalidRequest(why) => Some(why),
                _ => None,
            },
            required_scopes: match error {
                GatewayError::InsufficientScope { required } => Some(required),
                _ => None,
            },
            kid: header.and_then(|h| h.kid.as_deref()).map(truncated),
            alg: header.map(|h| truncated(&h.alg)),
            iss,
        }
    }
}

/// The level of the line for `error`: `warn` when the gateway failed (5xx), `info` when the
/// client did (4xx).
pub fn level(error: &GatewayError) -> Level {
    if error.status() >= 500 {
        Level::Warn
    } else {
        Level::Info
    }
}

/// The rejection log of one isolate: its line budget.
#[derive(Debug)]
pub struct RejectionLog {
    limiter: LogLimiter,
}

impl Default for RejectionLog {
    fn default() -> Self {
        RejectionLog::new(LogLimiter::for_rejections())
    }
}

impl RejectionLog {
    /// A log with the budget `limiter`.
    pub fn new(limiter: LogLimiter) -> RejectionLog {
        RejectionLog { limiter }
    }

    /// Writes the line for `error` to `log` at `now` (seconds) if its level is enabled and the
    /// budget allows. `line` is called only then, so a line left out costs no allocation.
    pub fn record<'e, L: EventSink>(
        &self,
        log: &L,
        error: &'e GatewayError,
        now: u64,
        line: impl FnOnce(&'e GatewayError) -> RejectionLine<'e>,
    ) {
        let level = level(error);
        if !log.enabled(level) {
            return;
        }
        match self.limiter.admit(now) {
            Admission::Suppress => return,
            Admission::Write { suppressed } => self.report(log, suppressed),
        }
        let fields = serde_json::to_value(line(error)).expect("a rejection line serializes");
        log.event(level, EVENT, fields);
    }

    /// Reports the lines left out in windows that have ended by `now`, if any (for a periodic
    /// task: the end of a flood is then reported without waiting for the next rejection).
    pub fn flush<L: EventSink>(&self, log: &L, now: u64) {
        if let Some(suppressed) = self.limiter.flush(now) {
            self.report(log, suppressed);
        }
    }

    fn report<L: EventSink>(&self, log: &L, suppressed: u64) {
        if suppressed > 0 {
            log.event(
                Level::Warn,
                SUPPRESSED_EVENT,
                json!({ "suppressed": suppressed, "window_seconds": self.limiter.window() }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use base64ct::Encoding as _;

    use super::*;
    use crate::jws::error::Rejection;

    /// Counts what it is given at or above `level`.
    struct Counting {
        level: Level,
        written: RefCell<Vec<&'static str>>,
    }

    impl EventSink for Counting {
        fn event(&self, level: Level, event: &'static str, _fields: serde_json::Value) {
            if self.enabled(level) {
                self.written.borrow_mut().push(event);
            }
        }

        fn enabled(&self, level: Level) -> bool {
            level <= self.level
        }
    }

    #[test]
    fn a_line_filtered_out_is_never_built() {
        let log = Counting {
            level: Level::Warn,
            written: RefCell::new(Vec::new()),
        };
        let rejections = RejectionLog::default();
        let expired = GatewayError::InvalidToken(Rejection::Expired);
        rejections.record(&log, &expired, 0, |_| panic!("built while filtered out"));
        assert!(log.written.borrow().is_empty());
        // A 503 passes the same filter.
        let unavailable = GatewayError::KeysUnavailable { retry_after: 1 };
        rejections.record(&log, &unavailable, 0, |error| {
            RejectionLine::new(error, "GET", None, None, 8192)
        });
        assert_eq!(*log.written.borrow(), [EVENT]);
    }

    #[test]
    fn a_line_left_out_by_the_budget_is_never_built() {
        let log = Counting {
            level: Level::Debug,
            written: RefCell::new(Vec::new()),
        };
        let rejections = RejectionLog::new(LogLimiter::new(1, 10));
        let error = GatewayError::NoCredentials;
        rejections.record(&log, &error, 0, |e| {
            RejectionLine::new(e, "GET", None, None, 1)
        });
        rejections.record(&log, &error, 0, |_| panic!("built over budget"));
        assert_eq!(*log.written.borrow(), [EVENT]);
    }

    #[test]
    fn client_text_is_cut_and_oversized_tokens_are_not_read() {
        let long = "x".repeat(500);
        let error = GatewayError::InvalidToken(Rejection::TokenTooLarge { len: 9, max: 8 });
        let header = base64ct::Base64UrlUnpadded::encode_string(
            serde_json::json!({ "alg": "RS256", "kid": long })
                .to_string()
                .as_bytes(),
        );
        let token = format!("{header}.e30.AAAA");
        let line = RejectionLine::new(&error, &long, Some(&long), Some(&token), 16);
        assert_eq!(
            (line.kid, line.alg),
            (None, None),
            "longer than the limit: not parsed"
        );
        assert!(line.method.chars().count() <= 65 && line.route.unwrap().chars().count() <= 65);
        let line = RejectionLine::new(&error, "GET", None, Some(&token), 8192);
        assert_eq!(line.kid.unwrap().chars().count(), 65);
        assert_eq!(line.alg.as_deref(), Some("RS256"));
        assert_eq!(line.iss, None, "no iss in the payload");
    }
}
