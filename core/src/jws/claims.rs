//! Registered-claims checks (RFC 7519 section 4.1) on a verified payload. Time is passed in.

use serde_json::{Map, Value};

use crate::jws::error::Rejection;

/// Default clock skew tolerated on `exp`, `nbf` and `iat` (`JWT_CLOCK_SKEW_SECONDS`).
pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 60;

/// What the claims of an accepted token must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsPolicy {
    /// `iss` must equal this exactly (`JWT_AUTHORITY`).
    pub issuer: String,
    /// `aud` must contain at least one of these (`JWT_AUDIENCE`). Never empty in a valid
    /// configuration: the audience check cannot be skipped by leaving it out.
    pub audiences: Vec<String>,
    /// Leeway for `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew: u64,
    /// Claims that must be present (besides `exp`, `iss` and `aud`, which always must).
    pub required: Vec<String>,
    /// Maximum age from `iat`, in seconds; `iat` is then required.
    pub max_age: Option<u64>,
}

/// Checks every claim in `policy` against `claims`, with `now` in seconds since the epoch.
pub fn check(
    claims: &Map<String, Value>,
    policy: &ClaimsPolicy,
    now: u64,
) -> Result<(), Rejection> {
    check_times(claims, policy, now)?;
    check_issuer(claims, &policy.issuer)?;
    check_audience(claims, &policy.audiences)?;
    if let Some(value) = claims.get("sub") {
        if !value.is_string() {
            return Err(invalid("sub", "not a string"));
        }
    }
    for name in &policy.required {
        if claims.get(name).is_none_or(Value::is_null) {
            return Err(Rejection::MissingClaim { name: name.clone() });
        }
    }
    Ok(())
}

/// The time-dependent checks alone (`exp`, `nbf`, `iat`, maximum age): what must run again on
/// every request even when a token's signature check is cached.
pub fn check_times(
    claims: &Map<String, Value>,
    policy: &ClaimsPolicy,
    now: u64,
) -> Result<(), Rejection> {
    let now = now as f64;
    let skew = policy.clock_skew as f64;
    let exp = numeric_date(claims, "exp")?.ok_or_else(|| Rejection::MissingClaim {
        name: "exp".to_owned(),
    })?;
    if now >= exp + skew {
        return Err(Rejection::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now + skew < nbf {
            return Err(Rejection::NotYetValid);
        }
    }
    let iat = numeric_date(claims, "iat")?;
    if let Some(iat) = iat {
        if iat > now + skew {
            return Err(Rejection::IssuedInFuture);
        }
    }
    if let Some(max_age) = policy.max_age {
        let iat = iat.ok_or_else(|| Rejection::MissingClaim {
            name: "iat".to_owned(),
        })?;
        if now - iat > max_age as f64 + skew {
            return Err(Rejection::TooOld);
        }
    }
    Ok(())
}

fn invalid(name: &str, reason: &'static str) -> Rejection {
    Rejection::InvalidClaim {
        name: name.to_owned(),
        reason,
    }
}

/// A NumericDate claim: absent, or a finite non-negative JSON number. Any other type is an error,
/// never "absent": a string `exp` must not turn into a token that never expires.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(value) if value.is_finite() && value >= 0.0 => Ok(Some(value)),
            _ => Err(invalid(name, "not a valid NumericDate")),
        },
        Some(_) => Err(invalid(name, "not a number")),
    }
}

fn check_issuer(claims: &Map<String, Value>, issuer: &str) -> Result<(), Rejection> {
    match claims.get("iss") {
        None => Err(Rejection::MissingClaim {
            name: "iss".to_owned(),
        }),
        Some(Value::String(iss)) if iss == issuer => Ok(()),
        Some(Value::String(_)) => Err(Rejection::InvalidIssuer),
        Some(_) => Err(invalid("iss", "not a string")),
    }
}

fn check_audience(claims: &Map<String, Value>, accepted: &[String]) -> Result<(), Rejection> {
    let matches = |aud: &str| accepted.iter().any(|a| a == aud);
    match claims.get("aud") {
        None => Err(Rejection::MissingClaim {
            name: "aud".to_owned(),
        }),
        Some(Value::String(aud)) if matches(aud) => Ok(()),
        Some(Value::String(_)) => Err(Rejection::InvalidAudience),
        Some(Value::Array(items)) => {
            let mut found = false;
            for item in items {
                let Value::String(aud) = item else {
                    return Err(invalid("aud", "not a string or an array of strings"));
                };
                found |= matches(aud);
            }
            if found {
                Ok(())
            } else {
                Err(Rejection::InvalidAudience)
            }
        }
        Some(_) => Err(invalid("aud", "not a string or an array of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn policy() -> ClaimsPolicy {
        ClaimsPolicy {
            issuer: "https://issuer.test".to_owned(),
            audiences: vec!["orders".to_owned(), "billing".to_owned()],
            clock_skew: 60,
            required: vec![],
            max_age: None,
        }
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut base = json!({
            "iss": "https://issuer.test",
            "aud": "orders",
            "sub": "alice",
            "exp": NOW + 300,
            "iat": NOW - 10,
        });
        let Value::Object(map) = &mut base else {
            unreachable!()
        };
        let Value::Object(extra) = extra else {
            panic!("extra must be an object")
        };
        for (name, value) in extra {
            if value == json!("__remove__") {
                map.remove(&name);
            } else {
                map.insert(name, value);
            }
        }
        map.clone()
    }

    fn result(extra: Value) -> Result<(), &'static str> {
        check(&claims(extra), &policy(), NOW).map_err(|r| r.code())
    }

    #[test]
    fn accepts_a_valid_claims_set() {
        assert_eq!(result(json!({})), Ok(()));
        assert_eq!(result(json!({"aud": ["x", "billing"]})), Ok(()));
        assert_eq!(result(json!({"exp": (NOW + 1) as f64 + 0.5})), Ok(()));
        assert_eq!(result(json!({"sub": "__remove__"})), Ok(()));
    }

    #[test]
    fn exp_is_required_numeric_and_has_leeway() {
        assert_eq!(result(json!({"exp": "__remove__"})), Err("missing_claim"));
        assert_eq!(
            result(json!({"exp": (NOW + 300).to_string()})),
            Err("invalid_claim")
        );
        assert_eq!(result(json!({"exp": null})), Err("invalid_claim"));
        assert_eq!(result(json!({"exp": true})), Err("invalid_claim"));
        assert_eq!(result(json!({"exp": -1})), Err("invalid_claim"));
        assert_eq!(result(json!({"exp": NOW - 59})), Ok(()));
        assert_eq!(result(json!({"exp": NOW - 60})), Err("token_expired"));
        assert_eq!(result(json!({"exp": NOW - 100_000})), Err("token_expired"));
    }

    #[test]
    fn nbf_and_iat_have_leeway() {
        assert_eq!(result(json!({"nbf": NOW + 60})), Ok(()));
        assert_eq!(result(json!({"nbf": NOW + 61})), Err("token_not_yet_valid"));
        assert_eq!(result(json!({"nbf": "0"})), Err("invalid_claim"));
        assert_eq!(result(json!({"iat": NOW + 60})), Ok(()));
        assert_eq!(
            result(json!({"iat": NOW + 61})),
            Err("token_issued_in_future")
        );
        assert_eq!(result(json!({"iat": [NOW]})), Err("invalid_claim"));
    }

    #[test]
    fn max_age_needs_iat() {
        let mut policy = policy();
        policy.max_age = Some(3600);
        let check = |extra| check(&claims(extra), &policy, NOW).map_err(|r| r.code());
        assert_eq!(check(json!({"iat": NOW - 3600 - 60})), Ok(()));
        assert_eq!(check(json!({"iat": NOW - 3600 - 61})), Err("token_too_old"));
        assert_eq!(check(json!({"iat": "__remove__"})), Err("missing_claim"));
    }

    #[test]
    fn issuer_must_match_exactly() {
        assert_eq!(result(json!({"iss": "__remove__"})), Err("missing_claim"));
        assert_eq!(
            result(json!({"iss": "https://issuer.test/"})),
            Err("invalid_issuer")
        );
        assert_eq!(
            result(json!({"iss": "HTTPS://ISSUER.TEST"})),
            Err("invalid_issuer")
        );
        assert_eq!(
            result(json!({"iss": ["https://issuer.test"]})),
            Err("invalid_claim")
        );
    }

    #[test]
    fn audience_string_or_array_must_contain_an_accepted_one() {
        assert_eq!(result(json!({"aud": "__remove__"})), Err("missing_claim"));
        assert_eq!(result(json!({"aud": "other"})), Err("invalid_audience"));
        assert_eq!(result(json!({"aud": []})), Err("invalid_audience"));
        assert_eq!(result(json!({"aud": ["other"]})), Err("invalid_audience"));
        assert_eq!(result(json!({"aud": ["orders", 7]})), Err("invalid_claim"));
        assert_eq!(
            result(json!({"aud": {"orders": true}})),
            Err("invalid_claim")
        );
        assert_eq!(result(json!({"aud": "Orders"})), Err("invalid_audience"));
    }

    #[test]
    fn required_claims_and_sub_type() {
        let mut policy = policy();
        policy.required = vec!["scope".to_owned()];
        let check = |extra| check(&claims(extra), &policy, NOW).map_err(|r| r.code());
        assert_eq!(check(json!({})), Err("missing_claim"));
        assert_eq!(check(json!({"scope": null})), Err("missing_claim"));
        assert_eq!(check(json!({"scope": "orders:read"})), Ok(()));
        assert_eq!(result(json!({"sub": 42})), Err("invalid_claim"));
    }
}
