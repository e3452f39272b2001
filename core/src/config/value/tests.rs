//! Typed values: every variable against every type, and the right types read like their text.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::config::{is_secret, variables, Config, ConfigError, ValueType, VarValue};

const AUTHORITY: &str = "https://login.example.com/realms/orders";
const SECRET: &str = "s3cr3t-status-token-0123456789";

fn minimal() -> BTreeMap<&'static str, VarValue> {
    BTreeMap::from([
        ("JWT_AUTHORITY", AUTHORITY.into()),
        ("JWT_AUDIENCE", "orders-api".into()),
        ("ORIGIN_URL", "https://orders.internal.example.com".into()),
    ])
}

fn load(env: &BTreeMap<&'static str, VarValue>) -> Result<Config, ConfigError> {
    Config::from_env(|name| env.get(name).cloned())
}

/// The minimal environment plus `name = value` (for `JWT_ISSUERS`, without the single-issuer
/// variables it replaces).
fn with(name: &'static str, value: impl Into<VarValue>) -> Result<Config, ConfigError> {
    let mut env = minimal();
    if name == "JWT_ISSUERS" {
        env.remove("JWT_AUTHORITY");
        env.remove("JWT_AUDIENCE");
    }
    env.insert(name, value.into());
    load(&env)
}

/// The error for `name = value`, which must be about `name`.
fn err(name: &'static str, value: impl Into<VarValue>) -> ConfigError {
    let value = value.into();
    match with(name, value.clone()) {
        Ok(_) => panic!("{name}={value:?} was accepted"),
        Err(err) => {
            assert_eq!(err.variable, name, "{name}={value:?}: {err}");
            err
        }
    }
}

/// `name = typed` is accepted and means what `name = text` means.
fn same(name: &'static str, typed: impl Into<VarValue>, text: &str) {
    let typed = typed.into();
    let expected = with(name, text).unwrap_or_else(|err| panic!("{name}={text:?}: {err}"));
    let config = with(name, typed.clone())
        .unwrap_or_else(|err| panic!("{name}={typed:?} was refused: {err}"));
    assert_eq!(config, expected, "{name}={typed:?} against {text:?}");
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Number,
    Boolean,
    List,
    /// A JSON array of objects, as a JSON value or a string.
    Json,
}

/// Every variable with the kind of value it means.
const KINDS: &[(&str, Kind)] = &[
    ("JWT_AUTHORITY", Kind::Text),
    ("JWT_AUDIENCE", Kind::List),
    ("JWT_JWKS_URL", Kind::Text),
    ("JWT_ISSUERS", Kind::Json),
    ("JWT_ALGORITHMS", Kind::List),
    ("JWT_CLOCK_SKEW_SECONDS", Kind::Number),
    ("JWT_MAX_TOKEN_BYTES", Kind::Number),
    ("JWT_REQUIRED_CLAIMS", Kind::List),
    ("JWT_TYP", Kind::List),
    ("JWT_MAX_TOKEN_AGE_SECONDS", Kind::Number),
    ("JWKS_CACHE_TYPE", Kind::Text),
    ("JWKS_CACHE_TTL_SECONDS", Kind::Number),
    ("JWKS_MIN_TTL_SECONDS", Kind::Number),
    ("JWKS_MAX_TTL_SECONDS", Kind::Number),
    ("JWKS_MAX_STALE_SECONDS", Kind::Number),
    ("JWKS_UNKNOWN_KID_COOLDOWN_SECONDS", Kind::Number),
    ("JWKS_REFRESH_INTERVAL_MINUTES", Kind::Number),
    ("JWKS_ENABLE_BACKGROUND_REFRESH", Kind::Boolean),
    ("JWKS_FETCH_TIMEOUT_MS", Kind::Number),
    ("ORIGIN_URL", Kind::Text),
    ("ORIGIN_TIMEOUT_MS", Kind::Number),
    ("ORIGIN_AUTH_HEADER", Kind::Text),
    ("PUBLIC_PATHS", Kind::List),
    ("ROUTE_SCOPES", Kind::List),
    ("ROUTE_ISSUERS", Kind::List),
    ("CLAIM_HEADERS", Kind::List),
    ("FORWARD_PREFLIGHT", Kind::Boolean),
    ("JWT_COOKIE", Kind::Text),
    ("JWT_COOKIE_FORWARD", Kind::Boolean),
    ("RESOURCE_METADATA", Kind::Boolean),
    ("RESOURCE_URI", Kind::Text),
    ("AUTH_REALM", Kind::Text),
    ("LOG_LEVEL", Kind::Text),
    ("STATUS_TOKEN", Kind::Text),
    ("ORIGIN_AUTH_SECRET", Kind::Text),
];

/// A valid text value of every variable whose default is empty, for the "same meaning" tests.
fn sample(name: &str) -> &'static str {
    match name {
        "JWT_AUTHORITY" => AUTHORITY,
        "JWT_AUDIENCE" => "orders-api, billing",
        "JWT_JWKS_URL" => "https://login.example.com/keys",
        "JWT_ISSUERS" => {
            r#"[{"issuer": "https://login.example.com/realms/orders", "audience": "orders-api"},
                {"issuer": "https://partners.example.com", "audience": ["partner-api"],
                 "name": "partner", "algorithms": "ES256"}]"#
        }
        "JWT_ALGORITHMS" => "ES256,EdDSA",
        "JWT_REQUIRED_CLAIMS" => "sub,iat",
        "JWT_TYP" => "at+jwt,JWT",
        "JWT_MAX_TOKEN_AGE_SECONDS" => "3600",
        "ORIGIN_URL" => "http://10.1.2.3:8080/api",
        "PUBLIC_PATHS" => "/health,/docs/",
        "ROUTE_SCOPES" => "POST /orders=orders:write; GET /orders=orders:read audit",
        "ROUTE_ISSUERS" => "/orders=https://login.example.com/realms/orders",
        "CLAIM_HEADERS" => "sub=X-Sub,realm_access.roles=X-Roles",
        "STATUS_TOKEN" => SECRET,
        "ORIGIN_AUTH_SECRET" => "origin-secret-0123456789abcdef-0123456789",
        "JWT_COOKIE" => "__Host-access_token",
        "RESOURCE_URI" => "https://api.example.com/mcp",
        _ => {
            let (_, default, _) = variables().iter().find(|(n, _, _)| *n == name).unwrap();
            default
        }
    }
}

#[test]
fn the_kind_table_covers_every_variable_in_order() {
    let names: Vec<&str> = variables().iter().map(|(name, _, _)| *name).collect();
    let kinds: Vec<&str> = KINDS.iter().map(|(name, _)| *name).collect();
    assert_eq!(kinds, names);
}

/// Values of every type. An array's error names the first element that is not a string when
/// the variable is a list, and the array itself otherwise.
fn every_type() -> Vec<VarValue> {
    vec![
        VarValue::Number(5.0),
        VarValue::Number(0.0),
        VarValue::Number(1.0),
        VarValue::Number(1.5),
        VarValue::Number(-1.0),
        VarValue::Number(f64::NAN),
        VarValue::Number(f64::INFINITY),
        VarValue::Bool(true),
        VarValue::Bool(false),
        json!({ "a": 1 }).into(),
        json!({}).into(),
        Value::Null.into(),
        json!([1]).into(),
        json!([true]).into(),
        json!([null]).into(),
        json!([["/a"]]).into(),
        json!([{ "path": "/a" }]).into(),
        json!(["/x", 2]).into(),
        json!(["/x"]).into(),
        VarValue::Binding("KvNamespace".to_owned()),
    ]
}

/// The type a [`ConfigError`] reports for `value` given to a variable of `kind`, and the index
/// of the offending element.
fn reported(kind: Kind, value: &VarValue) -> (ValueType, Option<usize>) {
    let of = |value: &Value| match value {
        Value::Number(_) => ValueType::Number,
        Value::Bool(_) => ValueType::Boolean,
        Value::Null => ValueType::Null,
        Value::Array(_) => ValueType::Array,
        Value::Object(_) => ValueType::Object,
        Value::String(_) => unreachable!("strings are accepted"),
    };
    match value {
        VarValue::Number(_) => (ValueType::Number, None),
        VarValue::Bool(_) => (ValueType::Boolean, None),
        VarValue::Binding(_) => (ValueType::Binding, None),
        VarValue::Json(Value::Array(elements)) if kind == Kind::List => {
            let index = elements.iter().position(|e| !e.is_string()).unwrap();
            (of(&elements[index]), Some(index))
        }
        VarValue::Json(json) => (of(json), None),
        VarValue::Text(_) => unreachable!("strings are accepted"),
    }
}

/// Whether a variable of `kind` accepts a value of this type (its content aside).
fn type_fits(kind: Kind, value: &VarValue) -> bool {
    match (kind, value) {
        (Kind::Number, VarValue::Number(_)) => true,
        (Kind::Boolean, VarValue::Bool(_)) => true,
        (Kind::Boolean, VarValue::Number(n)) => *n == 0.0 || *n == 1.0,
        (Kind::List, VarValue::Json(Value::Array(elements))) => {
            elements.iter().all(Value::is_string)
        }
        _ => false,
    }
}

#[test]
fn every_variable_refuses_every_type_it_does_not_mean() {
    for &(name, kind) in KINDS {
        for value in every_type() {
            // A provider array's element errors are tested with the providers.
            let array = matches!(value, VarValue::Json(Value::Array(_)));
            if type_fits(kind, &value) || (kind == Kind::Json && array) {
                continue;
            }
            let error = err(name, value.clone());
            let (found_type, element) = reported(kind, &value);
            assert_eq!(
                (error.found_type, error.element),
                (Some(found_type), element),
                "{name}={value:?}: {error}"
            );
            let text = error.to_string();
            assert!(
                text.contains(&format!("found {found_type}")),
                "{name}={value:?}: {text}"
            );
            if is_secret(name) {
                assert_eq!(error.found, None, "{text}");
            } else {
                assert!(error.found.is_some(), "{text}");
            }
        }
    }
}

#[test]
fn the_right_types_mean_what_their_text_means() {
    for &(name, kind) in KINDS {
        let text = sample(name);
        // A JSON string is a string.
        same(name, Value::String(text.to_owned()), text);
        match kind {
            Kind::Text => {}
            Kind::Number => {
                let number: u64 = text.parse().unwrap();
                same(name, VarValue::Number(number as f64), text);
                same(name, json!(number), text);
            }
            Kind::Boolean => {
                for (value, text) in [(true, "true"), (false, "false")] {
                    same(name, VarValue::Bool(value), text);
                    same(name, json!(value), text);
                }
                same(name, VarValue::Number(1.0), "1");
                same(name, VarValue::Number(0.0), "0");
            }
            Kind::Json => {
                let value: Value = serde_json::from_str(text).unwrap();
                same(name, value, text);
                // An empty array is blank: the single-issuer variables are then required.
                let empty = with(name, json!([])).unwrap_err();
                assert_eq!(empty.variable, "JWT_AUTHORITY");
            }
            Kind::List => {
                let separator = if name.starts_with("ROUTE_") { ';' } else { ',' };
                let elements: Vec<&str> = text.split(separator).collect();
                same(name, json!(elements), text);
                // Elements are trimmed and blank ones dropped, like text entries.
                let padded: Vec<String> = elements.iter().map(|e| format!("  {e}\t")).collect();
                let mut padded = json!(padded);
                padded.as_array_mut().unwrap().insert(1, json!(" "));
                same(name, padded, text);
                // An empty array is blank: the default (or "missing" for JWT_AUDIENCE).
                let empty = with(name, json!([]));
                let blank = with(name, "");
                assert_eq!(
                    empty.clone().map_err(|e| e.found),
                    blank.map_err(|e| e.found)
                );
                if name == "JWT_AUDIENCE" {
                    assert_eq!(empty.unwrap_err().found.as_deref(), Some(""));
                }
            }
        }
    }
}

#[test]
fn numbers_are_whole_and_within_range() {
    let skew = |value: f64| with("JWT_CLOCK_SKEW_SECONDS", VarValue::Number(value));
    assert_eq!(
        skew(0.0).unwrap().providers[0]
            .verification
            .claims
            .clock_skew,
        0
    );
    assert_eq!(
        skew(-0.0).unwrap().providers[0]
            .verification
            .claims
            .clock_skew,
        0
    );
    assert_eq!(
        skew(600.0).unwrap().providers[0]
            .verification
            .claims
            .clock_skew,
        600
    );
    assert_eq!(
        with("JWT_MAX_TOKEN_AGE_SECONDS", VarValue::Number(31_536_000.0))
            .unwrap()
            .providers[0]
            .verification
            .claims
            .max_age,
        Some(31_536_000)
    );
    for (bad, shown) in [
        (1.5, "1.5"),
        (-1.0, "-1"),
        (600.5, "600.5"),
        (601.0, "601"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        (1e300, "1e+300"),
        (1e-7, "1e-7"),
        (f64::MAX, "1.7976931348623157e+308"),
    ] {
        let error = err("JWT_CLOCK_SKEW_SECONDS", VarValue::Number(bad));
        assert_eq!(error.found.as_deref(), Some(shown));
        assert_eq!(error.found_type, Some(ValueType::Number));
        assert_eq!(
            error.to_string(),
            format!(
                "JWT_CLOCK_SKEW_SECONDS: expected a whole number of seconds from 0 to 600, \
                 found a number ({shown})"
            )
        );
    }
    // Every number variable refuses what is not a whole number in its range.
    for &(name, kind) in KINDS {
        if kind != Kind::Number {
            continue;
        }
        for bad in [1.5, -1.0, 1e300, f64::NAN, f64::INFINITY, 700_000_000.0] {
            let error = err(name, VarValue::Number(bad));
            assert_eq!(error.found_type, Some(ValueType::Number), "{error}");
        }
    }
    // 1e400 in JSON does not fit a double: the adapter's JSON parser refuses it, and a
    // JavaScript number that large is Infinity (above).
    assert!(serde_json::from_str::<Value>("1e400").is_err());
    // The ranges that depend on another variable hold for numbers too.
    err("JWKS_MIN_TTL_SECONDS", VarValue::Number(601.0));
    err("JWKS_MAX_TTL_SECONDS", VarValue::Number(599.0));
    err("ORIGIN_TIMEOUT_MS", VarValue::Number(-5.0));
    err("JWT_MAX_TOKEN_AGE_SECONDS", VarValue::Number(0.0));
}

#[test]
fn booleans_take_one_and_zero_but_no_other_number() {
    for name in ["JWKS_ENABLE_BACKGROUND_REFRESH", "FORWARD_PREFLIGHT"] {
        for bad in [2.0, -1.0, 0.5, f64::NAN] {
            let error = err(name, VarValue::Number(bad));
            assert_eq!(error.found_type, Some(ValueType::Number));
        }
    }
    let preflight = |value: VarValue| with("FORWARD_PREFLIGHT", value).unwrap();
    assert!(!preflight(VarValue::Bool(false)).gateway.forward_preflight);
    assert!(!preflight(VarValue::Number(0.0)).gateway.forward_preflight);
    assert!(preflight(VarValue::Bool(true)).gateway.forward_preflight);
    let refresh = |value: VarValue| with("JWKS_ENABLE_BACKGROUND_REFRESH", value).unwrap();
    assert!(!refresh(VarValue::Bool(false)).refresh.enabled);
    assert!(refresh(VarValue::Number(1.0)).refresh.enabled);
}

#[test]
fn array_elements_are_checked_like_text_entries() {
    for (name, good, bad) in [
        ("PUBLIC_PATHS", "/ok", "health"),
        ("PUBLIC_PATHS", "/ok", "/a/../b"),
        ("ROUTE_SCOPES", "GET /ok=read", "GET /orders="),
        ("ROUTE_SCOPES", "GET /ok=read", "GET /a?b=read"),
        ("CLAIM_HEADERS", "iss=X-Issuer", "sub=Host"),
        ("CLAIM_HEADERS", "iss=X-Issuer", "a..b=X-Sub"),
        ("JWT_ALGORITHMS", "RS256", "HS256"),
        ("JWT_ALGORITHMS", "RS256", "none"),
    ] {
        let separator = if name == "ROUTE_SCOPES" { "; " } else { "," };
        let text = err(name, format!("{good}{separator}{bad}"));
        let array = err(name, json!([good, bad]));
        assert_eq!(array, text, "{name}: [{good:?}, {bad:?}]");
        assert_eq!(array.found.as_deref(), Some(bad));
    }
    // Duplicates across elements, like duplicates across entries.
    assert_eq!(
        err("ROUTE_SCOPES", json!(["GET /a=x", "get /a/=y"])),
        err("ROUTE_SCOPES", "GET /a=x; get /a/=y")
    );
    assert_eq!(
        err("CLAIM_HEADERS", json!(["sub=X-Sub", "email=x-sub"])),
        err("CLAIM_HEADERS", "sub=X-Sub,email=x-sub")
    );
    // No entry at all is the same error as text with none.
    let algorithms = err("JWT_ALGORITHMS", json!([" ", ""]));
    assert!(algorithms.expected.contains("at least one"), "{algorithms}");
    assert_eq!(algorithms.found_type, Some(ValueType::Array));
    let audience = err("JWT_AUDIENCE", json!(["  "]));
    assert_eq!(
        audience.to_string(),
        "JWT_AUDIENCE: expected a comma-separated list of at least one audience, found a JSON \
         array ([\"  \"])"
    );
}

#[test]
fn no_element_may_smuggle_a_separator() {
    for (name, element) in [
        ("JWT_AUDIENCE", "orders-api,billing"),
        ("JWT_ALGORITHMS", "RS256,HS256"),
        ("JWT_REQUIRED_CLAIMS", "sub,iat"),
        ("JWT_TYP", "at+jwt,JWT"),
        // A valid path character in text form, so "/a,/b" would be one path, not two.
        ("PUBLIC_PATHS", "/health,/docs"),
        ("CLAIM_HEADERS", "sub=X-Sub,email=X-Email"),
        (
            "ROUTE_SCOPES",
            "GET /orders=orders:read; POST /orders=orders:write",
        ),
        ("ROUTE_SCOPES", "GET /orders=orders:read;"),
    ] {
        let error = err(name, json!(["ok", element]));
        assert_eq!(error.element, Some(1), "{error}");
        assert_eq!(error.found.as_deref(), Some(element.trim()));
        assert!(
            error.expected.contains("one entry per array element"),
            "{error}"
        );
        assert!(
            error.to_string().ends_with("at index 1 of the array"),
            "{error}"
        );
    }
    // ',' is no separator in ROUTE_SCOPES: a scope may contain it, in text and in arrays.
    same("ROUTE_SCOPES", json!(["GET /a=x,y"]), "GET /a=x,y");
}

#[test]
fn wrong_elements_are_named_by_index_and_type() {
    let error = err("ROUTE_SCOPES", json!([1]));
    assert_eq!(
        error.to_string(),
        "ROUTE_SCOPES: expected a string of rules separated by ';' or a JSON array of strings \
         (one rule each), found a number (1) at index 0 of the array"
    );
    let error = err("PUBLIC_PATHS", json!(["/a", null]));
    assert_eq!(
        (error.element, error.found_type),
        (Some(1), Some(ValueType::Null))
    );
    let error = err("PUBLIC_PATHS", json!({ "a": 1 }));
    assert_eq!(
        error.to_string(),
        "PUBLIC_PATHS: expected a comma-separated string or a JSON array of strings (one entry \
         each), found a JSON object ({\"a\":1})"
    );
    assert_eq!(error.element, None);
}

#[test]
fn type_errors_say_what_was_found() {
    assert_eq!(
        err("JWT_AUDIENCE", VarValue::Number(5.0)).to_string(),
        "JWT_AUDIENCE: expected a comma-separated string or a JSON array of strings (one entry \
         each), found a number (5)"
    );
    assert_eq!(
        err("AUTH_REALM", VarValue::Bool(true)).to_string(),
        "AUTH_REALM: expected a string, found a boolean (true)"
    );
    assert_eq!(
        err("ROUTE_SCOPES", VarValue::Binding("KvNamespace".to_owned())).to_string(),
        "ROUTE_SCOPES: expected a string of rules separated by ';' or a JSON array of strings \
         (one rule each), found a binding that is not a variable (KvNamespace)"
    );
    assert_eq!(
        err("FORWARD_PREFLIGHT", Value::Null).to_string(),
        "FORWARD_PREFLIGHT: expected true or false, or 1 or 0 (as a boolean, a number or a \
         string), found null"
    );
    let long = err("JWT_AUTHORITY", json!({ "url": "x".repeat(500) }));
    assert!(long.found.unwrap().chars().count() <= 65);
}

#[test]
fn a_secret_of_the_wrong_type_is_never_shown() {
    for value in [
        json!([SECRET]),
        json!({ "token": SECRET }),
        json!(123_456_789_012_345_678_u64),
    ] {
        let error = err("STATUS_TOKEN", value);
        assert_eq!(error.found, None);
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(!text.contains("123456789"), "{text}");
        }
        assert!(
            error.to_string().ends_with("(the value is not shown)"),
            "{error}"
        );
    }
}

#[test]
fn a_wrong_type_is_reported_in_the_documented_order() {
    let mut env = minimal();
    env.insert("ROUTE_SCOPES", json!([1]).into());
    env.insert("JWT_CLOCK_SKEW_SECONDS", VarValue::Number(1.5));
    assert_eq!(load(&env).unwrap_err().variable, "JWT_CLOCK_SKEW_SECONDS");
    env.remove("JWT_CLOCK_SKEW_SECONDS");
    assert_eq!(load(&env).unwrap_err().variable, "ROUTE_SCOPES");
}
