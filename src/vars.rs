//! Reads the gateway's variables from the Worker's `env` object with their JavaScript types.
//!
//! `[vars]` strings and secrets are strings on `env`; `[vars]` numbers, booleans, arrays and
//! tables (and Miniflare's non-string `bindings`) are JSON bindings, which arrive as JavaScript
//! numbers, booleans, arrays and plain objects. `worker::Env::var` reads every one of them as
//! text or not at all, which let a wrongly typed variable fall back to its default; here each
//! value is handed to the core as what it is ([`VarValue`]), and the core decides.

use edge_jwt_core::config::VarValue;
use js_sys::{Array, Function, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

/// The variable `name` of `env`: `None` when unset (`undefined`).
pub(crate) fn read(env: &Env, name: &str) -> Option<VarValue> {
    match Reflect::get(env, &JsValue::from_str(name)) {
        Ok(value) => classify(&value),
        // A property that throws when read is not an unset variable.
        Err(_) => Some(VarValue::Binding(
            "a property that cannot be read".to_owned(),
        )),
    }
}

/// A JavaScript value as the core sees it.
fn classify(value: &JsValue) -> Option<VarValue> {
    if value.is_undefined() {
        return None;
    }
    if let Some(text) = value.as_string() {
        return Some(VarValue::Text(text));
    }
    if let Some(number) = value.as_f64() {
        return Some(VarValue::Number(number));
    }
    if let Some(flag) = value.as_bool() {
        return Some(VarValue::Bool(flag));
    }
    if value.is_null() {
        return Some(VarValue::Json(serde_json::Value::Null));
    }
    if Array::is_array(value) || is_plain_object(value) {
        // What a JSON binding holds, so JSON.stringify gives it back; anything else in it (a
        // cycle, a BigInt) makes it something other than JSON.
        let parsed = JSON::stringify(value)
            .ok()
            .and_then(|text| text.as_string())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
        return Some(match parsed {
            Some(json) => VarValue::from(json),
            None => VarValue::Binding("an object that is not JSON".to_owned()),
        });
    }
    Some(VarValue::Binding(describe(value)))
}

/// Whether `value` is an object made by `{...}` or `JSON.parse` (its prototype is
/// `Object.prototype`, or none), unlike a binding's class instance (a KV namespace, a service).
fn is_plain_object(value: &JsValue) -> bool {
    if !value.is_object() {
        return false;
    }
    let Ok(prototype) = Reflect::get_prototype_of(value) else {
        return false;
    };
    let prototype = JsValue::from(prototype);
    prototype.is_null()
        || Reflect::get_prototype_of(&Object::new())
            .is_ok_and(|object_prototype| JsValue::from(object_prototype) == prototype)
}

/// A binding's class name (`KvNamespace`, `Fetcher`...), or its `typeof`.
fn describe(value: &JsValue) -> String {
    let class = Reflect::get(value, &JsValue::from_str("constructor"))
        .ok()
        .and_then(|constructor| constructor.dyn_into::<Function>().ok())
        .and_then(|constructor| constructor.name().as_string())
        .filter(|name| !name.is_empty());
    match class {
        Some(class) => class,
        None => value.js_typeof().as_string().unwrap_or_default(),
    }
}
