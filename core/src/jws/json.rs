//! Strict JSON for token headers and payloads: duplicate member names and deep nesting are
//! errors, not "last one wins" (which lets two parsers read one token two ways).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use serde_json::{Map, Value};

/// Deepest nesting of arrays and objects accepted in a header or payload (the top-level object
/// is depth 1). Real claims sets nest two or three levels.
pub const MAX_DEPTH: usize = 16;

/// Why a JSON text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictJsonError {
    /// Not JSON at all, or trailing data.
    Syntax,
    /// The top-level value is not an object.
    NotAnObject,
    /// An object has the same member name twice.
    DuplicateMember,
    /// Arrays and objects nest deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl StrictJsonError {
    /// A short description for a rejection.
    pub const fn reason(self) -> &'static str {
        match self {
            StrictJsonError::Syntax => "invalid JSON",
            StrictJsonError::NotAnObject => "JSON is not an object",
            StrictJsonError::DuplicateMember => "duplicate JSON member name",
            StrictJsonError::TooDeep => "JSON nests too deeply",
        }
    }
}

// serde_json refuses nesting past 128 levels by itself, as a syntax error: ours must come first.
const _: () = assert!(MAX_DEPTH < 128);

/// Parses `bytes` as one JSON object, refusing duplicate member names at any depth and nesting
/// deeper than [`MAX_DEPTH`].
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, StrictJsonError> {
    let refused = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue {
        depth: 0,
        refused: &refused,
    }
    .deserialize(&mut deserializer)
    .map_err(|err| classify(&err, refused.get()))?;
    deserializer.end().map_err(|_| StrictJsonError::Syntax)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(StrictJsonError::NotAnObject),
    }
}

/// Why parsing stopped, from serde_json's error category and the refusal [`StrictValue`]
/// recorded, never from the error's text. Our refusals reach serde_json as custom errors
/// ([`Category::Data`]); everything serde_json reports itself (syntax, end of input) is
/// [`StrictJsonError::Syntax`].
fn classify(err: &serde_json::Error, refused: Option<StrictJsonError>) -> StrictJsonError {
    match (err.classify(), refused) {
        (Category::Data, Some(reason)) => reason,
        _ => StrictJsonError::Syntax,
    }
}

/// Deserializes any JSON value, tracking depth and refusing duplicate member names. A refusal
/// is recorded in `refused` before it is returned as an error, so the caller knows which it was.
#[derive(Clone, Copy)]
struct StrictValue<'a> {
    depth: usize,
    refused: &'a Cell<Option<StrictJsonError>>,
}

impl<'a> StrictValue<'a> {
    fn nested<E: de::Error>(self) -> Result<StrictValue<'a>, E> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(self.refuse(StrictJsonError::TooDeep));
        }
        Ok(StrictValue { depth, ..self })
    }

    fn refuse<E: de::Error>(self, reason: StrictJsonError) -> E {
        self.refused.set(Some(reason));
        E::custom(reason.reason())
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(self.refuse(StrictJsonError::DuplicateMember));
            }
            let value = map.next_value_seed(inner)?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ordinary_objects() {
        let map = parse_object(br#"{"a":1,"b":[true,null,"x",{"c":2.5}],"d":{"e":-3}}"#).unwrap();
        assert_eq!(map["a"], 1);
        assert_eq!(map["b"][3]["c"], 2.5);
        assert_eq!(map["d"]["e"], -3);
    }

    #[test]
    fn refuses_duplicate_members_at_any_depth() {
        for text in [
            r#"{"alg":"RS256","alg":"none"}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"{"a":[{"x":1,"x":1}]}"#,
        ] {
            assert_eq!(
                parse_object(text.as_bytes()),
                Err(StrictJsonError::DuplicateMember),
                "{text}"
            );
        }
    }

    #[test]
    fn escaped_duplicate_names_are_still_duplicates() {
        assert_eq!(
            parse_object(br#"{"alg":"RS256","\u0061lg":"none"}"#),
            Err(StrictJsonError::DuplicateMember)
        );
    }

    #[test]
    fn refuses_deep_nesting_but_allows_the_limit() {
        let at_limit = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse_object(format!(r#"{{"a":{at_limit}}}"#).as_bytes()).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(
            parse_object(format!(r#"{{"a":{too_deep}}}"#).as_bytes()),
            Err(StrictJsonError::TooDeep)
        );
        let huge = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            parse_object(format!(r#"{{"a":{huge}}}"#).as_bytes()),
            Err(StrictJsonError::TooDeep)
        );
    }

    /// Runs [`StrictValue`] alone: serde_json's error and what the side channel recorded.
    fn refusal(text: &str) -> (serde_json::Error, Option<StrictJsonError>) {
        let refused = Cell::new(None);
        let err = StrictValue {
            depth: 0,
            refused: &refused,
        }
        .deserialize(&mut serde_json::Deserializer::from_str(text))
        .unwrap_err();
        (err, refused.get())
    }

    #[test]
    fn refusals_are_typed_in_the_side_channel() {
        let too_deep = format!(r#"{{"a":{}}}"#, "[".repeat(MAX_DEPTH));
        for (text, reason) in [
            (r#"{"a":1,"a":2}"#, StrictJsonError::DuplicateMember),
            (too_deep.as_str(), StrictJsonError::TooDeep),
        ] {
            let (err, refused) = refusal(text);
            assert_eq!(err.classify(), Category::Data, "{text}");
            assert_eq!(refused, Some(reason), "{text}");
        }
        // serde_json's own errors record nothing.
        for text in ["{", r#"{"a":}"#, "[1e400]"] {
            let (err, refused) = refusal(text);
            assert_ne!(err.classify(), Category::Data, "{text}");
            assert_eq!(refused, None, "{text}");
        }
    }

    #[test]
    fn classification_never_reads_the_message_text() {
        use serde::de::Error as _;
        // A message that reads like a refusal decides nothing without the side channel...
        for text in [
            "duplicate JSON member name",
            "JSON nests too deeply",
            "recursion limit exceeded",
            "edge-jwt: duplicate member",
            "edge-jwt: too deep",
        ] {
            let lookalike = serde_json::Error::custom(text);
            assert_eq!(
                classify(&lookalike, None),
                StrictJsonError::Syntax,
                "{text}"
            );
        }
        // ...and a refusal holds whatever its message says.
        let silent = serde_json::Error::custom("");
        for reason in [StrictJsonError::DuplicateMember, StrictJsonError::TooDeep] {
            assert_eq!(classify(&silent, Some(reason)), reason);
        }
    }

    #[test]
    fn refuses_non_objects_and_bad_syntax() {
        assert_eq!(parse_object(b"[]"), Err(StrictJsonError::NotAnObject));
        assert_eq!(parse_object(b"\"x\""), Err(StrictJsonError::NotAnObject));
        for text in [
            "",
            "{",
            r#"{"a":1} x"#,
            r#"{"a":1}{}"#,
            "{'a':1}",
            r#"{"a":01}"#,
            "\u{feff}{}",
        ] {
            assert_eq!(
                parse_object(text.as_bytes()),
                Err(StrictJsonError::Syntax),
                "{text:?}"
            );
        }
    }
}
