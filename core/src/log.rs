//! Log levels and the structured log line: one JSON object per line.

use std::fmt;

pub mod limiter;

/// Log level (`LOG_LEVEL`), most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Failures that affect requests.
    Error,
    /// Degraded service: failed refreshes, stale serves, KV errors.
    Warn,
    /// Refreshes and other state changes.
    Info,
    /// Per-request detail: cache hits and misses.
    Debug,
}

impl Level {
    /// The lowercase name used in `LOG_LEVEL` and in log lines.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// Parses a `LOG_LEVEL` value (case-insensitive).
    pub fn parse(text: &str) -> Option<Level> {
        [Level::Error, Level::Warn, Level::Info, Level::Debug]
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Receives the core's structured events; the Worker writes them as JSON lines.
pub trait EventSink {
    /// Records `event` at `level` with extra `fields` (a JSON object).
    fn event(&self, level: Level, event: &'static str, fields: serde_json::Value);

    /// Whether an event at `level` would be written: callers on the request path ask first, so
    /// that an event filtered out costs no allocation and no formatting.
    fn enabled(&self, level: Level) -> bool {
        let _ = level;
        true
    }
}

/// One log line: `{"level":..,"event":..,"time":..,<fields>}`.
pub fn line(level: Level, event: &str, time_ms: u64, fields: &serde_json::Value) -> String {
    let mut object = serde_json::Map::new();
    object.insert("level".to_owned(), level.name().into());
    object.insert("event".to_owned(), event.into());
    object.insert("time".to_owned(), time_ms.into());
    if let serde_json::Value::Object(extra) = fields {
        for (name, value) in extra {
            object.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    serde_json::Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse("WARN"), Some(Level::Warn));
        assert_eq!(Level::parse(" debug "), Some(Level::Debug));
        assert_eq!(Level::parse("verbose"), None);
        assert!(Level::Error < Level::Debug);
    }

    #[test]
    fn a_line_is_one_json_object_whose_own_fields_win() {
        let text = line(
            Level::Info,
            "jwks_refreshed",
            5,
            &json!({"kids": ["a"], "level": "x"}),
        );
        assert!(!text.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["level"], "info");
        assert_eq!(value["event"], "jwks_refreshed");
        assert_eq!(value["time"], 5);
        assert_eq!(value["kids"], json!(["a"]));
    }
}
