//! A `[vars]` value as the Worker receives it: wrangler passes TOML strings as text bindings and
//! every other value as a JSON binding, which arrives with its JavaScript type. The core reads
//! each as a [`VarValue`] and decides whether the variable accepts that type.

use edge_jwt_core::config::VarValue;

/// `value` as the Worker sees it: a string as text, an integer or a float as a JavaScript
/// number, a boolean as a boolean, an array or a table as JSON. A date-time (which TOML has and
/// JSON has not) arrives as its text, as `JSON.stringify` writes a JavaScript `Date`.
pub fn var_value(value: &toml::Value) -> VarValue {
    match value {
        toml::Value::String(text) => VarValue::Text(text.clone()),
        // Workers vars are JavaScript numbers: doubles.
        toml::Value::Integer(number) => VarValue::Number(*number as f64),
        toml::Value::Float(number) => VarValue::Number(*number),
        toml::Value::Boolean(flag) => VarValue::Bool(*flag),
        toml::Value::Datetime(datetime) => VarValue::Text(datetime.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            VarValue::Json(serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(text: &str) -> toml::Value {
        let table: toml::Table = toml::from_str(&format!("v = {text}")).unwrap();
        table["v"].clone()
    }

    #[test]
    fn each_toml_type_arrives_as_the_worker_receives_it() {
        for (text, expected) in [
            ("\"orders-api\"", VarValue::Text("orders-api".to_owned())),
            ("''", VarValue::Text(String::new())),
            ("30", VarValue::Number(30.0)),
            ("-1", VarValue::Number(-1.0)),
            ("1.5", VarValue::Number(1.5)),
            ("true", VarValue::Bool(true)),
            ("[\"a\", \"b\"]", VarValue::Json(json!(["a", "b"]))),
            ("[\"a\", 1]", VarValue::Json(json!(["a", 1]))),
            ("[]", VarValue::Json(json!([]))),
            ("{ a = 1 }", VarValue::Json(json!({ "a": 1 }))),
            (
                "1979-05-27T07:32:00Z",
                VarValue::Text("1979-05-27T07:32:00Z".to_owned()),
            ),
        ] {
            assert_eq!(var_value(&value(text)), expected, "{text}");
        }
        let VarValue::Number(nan) = var_value(&value("nan")) else {
            panic!("nan is a number");
        };
        assert!(nan.is_nan());
    }
}
