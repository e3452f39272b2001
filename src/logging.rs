//! The core's events as JSON log lines (one object per line), filtered by `LOG_LEVEL`.

use edge_jwt_core::log::{line, EventSink, Level};
use worker::Date;

/// Writes events at or above its level to the console (Workers Logs / `wrangler tail`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConsoleLog {
    pub(crate) level: Level,
}

impl EventSink for ConsoleLog {
    fn event(&self, level: Level, event: &'static str, fields: serde_json::Value) {
        if !self.enabled(level) {
            return;
        }
        let text = line(level, event, Date::now().as_millis(), &fields);
        match level {
            Level::Error => worker::console_error!("{text}"),
            Level::Warn => worker::console_warn!("{text}"),
            Level::Info | Level::Debug => worker::console_log!("{text}"),
        }
    }

    fn enabled(&self, level: Level) -> bool {
        level <= self.level
    }
}
