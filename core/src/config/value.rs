//! How one variable's value is read: the types a Workers binding can have ([`VarValue`]) and the
//! rules of each kind of variable (text, number, boolean, list), so that a value of the wrong
//! type is an error and never the default.
//!
//! | kind | accepted |
//! |---|---|
//! | text (URLs, `JWKS_CACHE_TYPE`, `AUTH_REALM`, `LOG_LEVEL`, `STATUS_TOKEN`) | a string |
//! | number | a string of decimal digits, or a whole non-negative number |
//! | boolean | `true`/`false`, the numbers `1`/`0`, or the strings `"true"`/`"false"`/`"1"`/`"0"` |
//! | list | a string with the list's separator, or a JSON array of strings, one entry each |
//!
//! An array element is trimmed and checked like an entry of the text form; it may not contain
//! the separator, which would make one element mean several entries (or one entry that the
//! text form cannot express). An empty array reads like blank text: the default.

use std::fmt;

use serde_json::Value;

use super::{default_of, error, is_secret, ConfigError};
use crate::jws::error::truncated;

/// A variable's value as the platform hands it over. On Workers, `[vars]` strings and secrets
/// are strings, while `[vars]` numbers, booleans, arrays and tables (and non-string Miniflare
/// `bindings`) arrive as JSON bindings with their JavaScript types.
///
/// `From<String>`, `From<&str>` and `From<serde_json::Value>` build it; a JSON string, number
/// or boolean is read like [`VarValue::Text`], [`VarValue::Number`] or [`VarValue::Bool`].
#[derive(Debug, Clone, PartialEq)]
pub enum VarValue {
    /// A string: a `[vars]` string, a secret, or a text binding.
    Text(String),
    /// A number. JavaScript numbers are doubles, so fractions, negative numbers, NaN and the
    /// infinities can arrive; only whole numbers in a variable's range are accepted.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A JSON array, object or null.
    Json(Value),
    /// Not a value: a binding of another kind under the variable's name (a KV namespace, a
    /// service...) or a property that could not be read, described for the error message (for
    /// example by its JavaScript class). Always an error.
    Binding(String),
}

impl From<String> for VarValue {
    fn from(text: String) -> Self {
        VarValue::Text(text)
    }
}

impl From<&str> for VarValue {
    fn from(text: &str) -> Self {
        VarValue::Text(text.to_owned())
    }
}

impl From<Value> for VarValue {
    fn from(value: Value) -> Self {
        match value {
            Value::String(text) => VarValue::Text(text),
            Value::Bool(value) => VarValue::Bool(value),
            // Without `arbitrary_precision`, every JSON number has an f64 form.
            Value::Number(number) => VarValue::Number(number.as_f64().unwrap_or(f64::NAN)),
            other => VarValue::Json(other),
        }
    }
}

/// The type of a value that is not a string, as a [`ConfigError`] describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// A number (`5`, `1.5`, NaN...).
    Number,
    /// `true` or `false`.
    Boolean,
    /// JSON `null`.
    Null,
    /// A JSON array.
    Array,
    /// A JSON object (a TOML table).
    Object,
    /// A binding of another kind, not a value ([`VarValue::Binding`]).
    Binding,
}

impl ValueType {
    /// The type of a JSON value; `None` for a string.
    fn of(value: &Value) -> Option<ValueType> {
        match value {
            Value::String(_) => None,
            Value::Number(_) => Some(ValueType::Number),
            Value::Bool(_) => Some(ValueType::Boolean),
            Value::Null => Some(ValueType::Null),
            Value::Array(_) => Some(ValueType::Array),
            Value::Object(_) => Some(ValueType::Object),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Number => "a number",
            ValueType::Boolean => "a boolean",
            ValueType::Null => "null",
            ValueType::Array => "a JSON array",
            ValueType::Object => "a JSON object",
            ValueType::Binding => "a binding that is not a variable",
        })
    }
}

/// What a list variable's value is made of: a separated string or a JSON array of strings.
#[derive(Debug, Clone, Copy)]
pub(super) enum ListShape {
    /// Entries separated by `,` (`JWT_AUDIENCE`, `PUBLIC_PATHS`, `CLAIM_HEADERS`...).
    Comma,
    /// Rules separated by `;` (`ROUTE_SCOPES`).
    Semicolon,
}

impl ListShape {
    fn separator(self) -> char {
        match self {
            ListShape::Comma => ',',
            ListShape::Semicolon => ';',
        }
    }

    fn expected(self) -> &'static str {
        match self {
            ListShape::Comma => {
                "a comma-separated string or a JSON array of strings (one entry each)"
            }
            ListShape::Semicolon => {
                "a string of rules separated by ';' or a JSON array of strings (one rule each)"
            }
        }
    }
}

/// One variable as read: its name and its value, with the default in place of an unset or
/// blank value (an empty array counts as blank).
pub(super) struct Var {
    name: &'static str,
    value: Read,
}

/// A value after trimming, defaults and the normalisation of JSON scalars.
enum Read {
    /// Trimmed text, or the default.
    Text(String),
    Number(f64),
    Bool(bool),
    /// A non-empty JSON array.
    Array(Vec<Value>),
    /// A JSON object or null.
    Json(Value),
    Binding(String),
}

/// The entries of a list variable, each trimmed and non-empty, in order.
pub(super) struct Entries {
    /// The entries.
    pub(super) items: Vec<String>,
    name: &'static str,
    /// The whole value as an error shows it: trimmed text, or the array as JSON.
    shown: String,
    found_type: Option<ValueType>,
}

impl Entries {
    /// An error about the list as a whole (for example: no entries at all).
    pub(super) fn error(&self, expected: impl Into<String>) -> ConfigError {
        ConfigError {
            found_type: self.found_type,
            ..error(self.name, expected, &self.shown)
        }
    }
}

impl Var {
    /// `name`'s value as `get` returned it (`None`: unset).
    pub(super) fn new(name: &'static str, value: Option<VarValue>) -> Var {
        let default = || Read::Text(default_of(name).to_owned());
        let value = match value.map(|value| match value {
            VarValue::Json(json) => VarValue::from(json),
            other => other,
        }) {
            None => default(),
            Some(VarValue::Text(text)) => match text.trim() {
                "" => default(),
                trimmed => Read::Text(trimmed.to_owned()),
            },
            Some(VarValue::Number(number)) => Read::Number(number),
            Some(VarValue::Bool(value)) => Read::Bool(value),
            Some(VarValue::Json(Value::Array(elements))) if elements.is_empty() => default(),
            Some(VarValue::Json(Value::Array(elements))) => Read::Array(elements),
            Some(VarValue::Json(json)) => Read::Json(json),
            Some(VarValue::Binding(kind)) => Read::Binding(kind),
        };
        Var { name, value }
    }

    /// The error for a value whose type the variable does not accept, or a number or boolean
    /// that is out of bounds; a secret's value is never shown.
    fn mismatch(&self, expected: impl Into<String>) -> ConfigError {
        self.unexpected(expected)
    }

    /// Whether the value is unset or blank (an empty array included) and has no default.
    pub(super) fn is_blank(&self) -> bool {
        matches!(&self.value, Read::Text(text) if text.is_empty())
    }

    /// The error for a value this variable may not have, saying what it expected instead; a
    /// secret's value is never shown.
    pub(super) fn unexpected(&self, expected: impl Into<String>) -> ConfigError {
        let (found_type, found) = match &self.value {
            Read::Text(text) => (None, text.clone()),
            Read::Number(number) => (Some(ValueType::Number), show_number(*number)),
            Read::Bool(value) => (Some(ValueType::Boolean), value.to_string()),
            Read::Array(elements) => (Some(ValueType::Array), json_text(elements)),
            Read::Json(json) => (ValueType::of(json), json.to_string()),
            Read::Binding(kind) => (Some(ValueType::Binding), kind.clone()),
        };
        ConfigError {
            variable: self.name,
            expected: expected.into(),
            found: (!is_secret(self.name)).then(|| truncated(&found)),
            found_type,
            element: None,
        }
    }

    /// A string variable: text only.
    pub(super) fn text(self) -> Result<String, ConfigError> {
        match self.value {
            Read::Text(text) => Ok(text),
            _ => Err(self.mismatch("a string")),
        }
    }

    /// A whole number of `unit` in `min..=max`, as a number or as decimal digits; `note`
    /// explains a range that depends on another variable.
    pub(super) fn number(
        self,
        (min, max): (u64, u64),
        unit: &str,
        note: &str,
    ) -> Result<u64, ConfigError> {
        let parsed = match &self.value {
            // Only digits: the sole failure left is overflow, which is out of range too.
            Read::Text(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                text.parse::<u64>().ok()
            }
            // Every range is far below 2^53, where doubles hold every whole number exactly.
            Read::Number(number) if number.is_finite() && number.fract() == 0.0 => {
                (*number >= min as f64 && *number <= max as f64).then_some(*number as u64)
            }
            _ => None,
        };
        match parsed {
            Some(number) if (min..=max).contains(&number) => Ok(number),
            _ => Err(self.mismatch(format!(
                "a whole number of {unit} from {min} to {max}{note}"
            ))),
        }
    }

    /// Like [`Var::number`], but blank (the empty default) is `None`.
    pub(super) fn optional_number(
        self,
        range: (u64, u64),
        unit: &str,
    ) -> Result<Option<u64>, ConfigError> {
        match &self.value {
            Read::Text(text) if text.is_empty() => Ok(None),
            _ => self.number(range, unit, "").map(Some),
        }
    }

    /// `true`/`false` (as booleans, or as text in any case) or `1`/`0` (as numbers or text).
    pub(super) fn boolean(self) -> Result<bool, ConfigError> {
        let parsed = match &self.value {
            Read::Bool(value) => Some(*value),
            Read::Number(number) if *number == 1.0 => Some(true),
            Read::Number(number) if *number == 0.0 => Some(false),
            Read::Text(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.mismatch("true or false, or 1 or 0 (as a boolean, a number or a string)")
        })
    }

    /// A JSON array variable (`JWT_ISSUERS`): a JSON array value, or a string holding one
    /// (`"[]"` is an empty array); `None` when unset or blank (an empty array value included).
    /// `expected` describes a valid value.
    pub(super) fn json_array(self, expected: &str) -> Result<Option<Vec<Value>>, ConfigError> {
        match &self.value {
            Read::Text(text) if text.is_empty() => Ok(None),
            Read::Text(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(elements)) => Ok(Some(elements)),
                Ok(_) | Err(_) => Err(self.mismatch(expected)),
            },
            Read::Array(elements) => Ok(Some(elements.clone())),
            _ => Err(self.mismatch(expected)),
        }
    }

    /// The entries of a list variable: the text split at the separator, or the elements of a
    /// JSON array of strings, each trimmed, empty ones dropped.
    pub(super) fn entries(self, shape: ListShape) -> Result<Entries, ConfigError> {
        let separator = shape.separator();
        match self.value {
            Read::Text(text) => Ok(Entries {
                items: text
                    .split(separator)
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .map(str::to_owned)
                    .collect(),
                name: self.name,
                shown: text,
                found_type: None,
            }),
            Read::Array(elements) => {
                let mut items = Vec::new();
                for (index, element) in elements.iter().enumerate() {
                    let element_error = |expected: String, found_type, found: String| ConfigError {
                        variable: self.name,
                        expected,
                        found: Some(truncated(&found)),
                        found_type,
                        element: Some(index),
                    };
                    let Value::String(entry) = element else {
                        return Err(element_error(
                            shape.expected().to_owned(),
                            ValueType::of(element),
                            element.to_string(),
                        ));
                    };
                    let entry = entry.trim();
                    if entry.contains(separator) {
                        return Err(element_error(
                            format!(
                                "one entry per array element, so no element may contain \
                                 '{separator}'"
                            ),
                            None,
                            entry.to_owned(),
                        ));
                    }
                    if !entry.is_empty() {
                        items.push(entry.to_owned());
                    }
                }
                Ok(Entries {
                    items,
                    name: self.name,
                    shown: json_text(&elements),
                    found_type: Some(ValueType::Array),
                })
            }
            _ => Err(self.mismatch(shape.expected())),
        }
    }
}

/// A number as JavaScript would write it, for error messages.
fn show_number(number: f64) -> String {
    if number.is_nan() {
        "NaN".to_owned()
    } else if number.is_infinite() {
        if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .to_owned()
    } else if number.fract() == 0.0 && number.abs() < 1e16 {
        // Whole doubles without ".0".
        (number as i64).to_string()
    } else {
        // The shortest form that reads back as the same double, in exponent notation for very
        // large or small magnitudes: serde_json's writer, so that the module needs no second
        // float formatter.
        serde_json::Value::from(number).to_string()
    }
}

fn json_text(elements: &[Value]) -> String {
    serde_json::to_string(elements).unwrap_or_default()
}

#[cfg(test)]
mod tests;
