//! The record the scheduled handler writes to KV on every run, so that a run can be observed.

use serde::Serialize;
use serde_json::Value;

use super::record::fields;

/// KV key under which the latest [`ScheduledRun`] is stored.
pub const LAST_SCHEDULED_RUN_KEY: &str = "scheduled:last-run";

/// What one run of the scheduled handler did, as stored in KV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledRun {
    /// The cron pattern that fired (from `wrangler.toml`).
    pub cron: String,
    /// When the run was scheduled, in milliseconds since the Unix epoch.
    pub scheduled_time_ms: u64,
    /// When the handler ran, in milliseconds since the Unix epoch.
    pub ran_at_ms: u64,
}

impl ScheduledRun {
    /// The JSON text stored in KV.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a struct of strings and integers always serializes")
    }

    /// Reads a stored record back; `None` for anything that is not a well-formed record, since a
    /// corrupt heartbeat must never break a request.
    pub fn from_json(text: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(text).ok()?;
        let run = fields(&value, &["cron", "scheduled_time_ms", "ran_at_ms"])?;
        Some(ScheduledRun {
            cron: run.get("cron")?.as_str()?.to_owned(),
            scheduled_time_ms: run.get("scheduled_time_ms")?.as_u64()?,
            ran_at_ms: run.get("ran_at_ms")?.as_u64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> ScheduledRun {
        ScheduledRun {
            cron: "*/5 * * * *".to_owned(),
            scheduled_time_ms: 1_700_000_000_000,
            ran_at_ms: 1_700_000_000_123,
        }
    }

    #[test]
    fn round_trips_through_json() {
        assert_eq!(ScheduledRun::from_json(&run().to_json()), Some(run()));
    }

    #[test]
    fn stored_form_has_the_documented_field_names() {
        let value: serde_json::Value = serde_json::from_str(&run().to_json()).unwrap();
        assert_eq!(value["cron"], "*/5 * * * *");
        assert_eq!(value["scheduled_time_ms"], 1_700_000_000_000_u64);
        assert_eq!(value["ran_at_ms"], 1_700_000_000_123_u64);
    }

    #[test]
    fn rejects_corrupt_records() {
        for text in [
            "",
            "null",
            "[]",
            r#"{"cron":"x"}"#,
            r#"{"cron":"x","scheduled_time_ms":-1,"ran_at_ms":0}"#,
            r#"{"cron":"x","scheduled_time_ms":"1","ran_at_ms":0}"#,
            r#"{"cron":"x","scheduled_time_ms":1,"ran_at_ms":0,"extra":true}"#,
        ] {
            assert_eq!(ScheduledRun::from_json(text), None, "accepted {text:?}");
        }
    }
}
