//! Benchmark reference, never deployed: the jose Worker's job (bench/workers/jose.mjs) in as
//! little Rust as it can be done with the token checked in Rust: base64url and JSON decoded by the
//! usual crates (base64, serde_json), the key set read from the same KV record as jose's
//! (`jose:jwks`, fetched from the issuer and stored there when missing) and parsed in Rust, RS256
//! through WebCrypto, `iss`, `aud` and `exp` checked, and the request forwarded to `ORIGIN_URL`
//! with `x-auth-subject`, through the runtime's own objects (web-sys), as the gateway does. No
//! cache tiers, no refresh, no key checks, no header hygiene, no timeout: the least we could make
//! a fresh isolate's first request cost a Rust Worker (bench/cold.mjs,
//! bench/cold-instructions.mjs; docs/decisions/0010-cold-start.md).
#![forbid(unsafe_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use serde_json::Value;
use std::cell::RefCell;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{CryptoKey, Headers, Request, RequestInit, Response, SubtleCrypto};

const KV_KEY: &str = "jose:jwks";

/// The gateway's allocator (its src/lib.rs), smaller than dlmalloc for a fresh isolate to compile.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

thread_local! {
    /// The isolate's imported keys, by `kid`.
    static KEYS: RefCell<Vec<(String, CryptoKey)>> = const { RefCell::new(Vec::new()) };
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> Promise;
}

fn get(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(name))
}

/// `env[name]` as a string.
fn var(env: &JsValue, name: &str) -> Result<String, JsValue> {
    get(env, name)?
        .as_string()
        .ok_or_else(|| JsValue::from_str(name))
}

/// `target[method](args...)`.
fn call(target: &JsValue, method: &str, args: &Array) -> Result<JsValue, JsValue> {
    Reflect::apply(
        get(target, method)?.unchecked_ref::<js_sys::Function>(),
        target,
        args,
    )
}

fn subtle() -> Result<SubtleCrypto, JsValue> {
    Ok(get(&js_sys::global(), "crypto")?
        .unchecked_into::<web_sys::Crypto>()
        .subtle())
}

fn unauthorized(description: &str) -> Result<JsValue, JsValue> {
    let body = format!("{{\"error\":\"invalid_token\",\"error_description\":\"{description}\"}}");
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("www-authenticate", "Bearer error=\"invalid_token\"")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(401);
    init.set_headers(&headers);
    Ok(Response::new_with_opt_str_and_init(Some(&body), &init)?.into())
}

/// The JWKS: from KV, else from the issuer (then stored in KV as jose stores it).
async fn key_set(env: &JsValue) -> Result<Value, JsValue> {
    let kv = get(env, "JWKS_CACHE")?;
    let text =
        JsFuture::from(call(&kv, "get", &Array::of1(&KV_KEY.into()))?.unchecked_into::<Promise>())
            .await?;
    if let Some(text) = text.as_string() {
        if let Ok(mut state) = serde_json::from_str::<Value>(&text) {
            if state.get("jwks").is_some() {
                return Ok(state["jwks"].take());
            }
        }
    }
    fetched(env, &kv).await
}

#[inline(never)]
async fn fetched(env: &JsValue, kv: &JsValue) -> Result<Value, JsValue> {
    let request = Request::new_with_str(&var(env, "JWT_JWKS_URL")?)?;
    let response: Response = JsFuture::from(global_fetch(&request))
        .await?
        .unchecked_into();
    let text = JsFuture::from(response.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    let jwks: Value = serde_json::from_str(&text).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let state = serde_json::json!({"jwks": jwks, "uat": js_sys::Date::now()});
    let options = Object::new();
    Reflect::set(&options, &"expirationTtl".into(), &600.into())?;
    let put = call(
        kv,
        "put",
        &Array::of3(&KV_KEY.into(), &state.to_string().into(), &options),
    )?;
    JsFuture::from(put.unchecked_into::<Promise>()).await?;
    Ok(jwks)
}

async fn key(env: &JsValue, kid: &str) -> Result<Option<CryptoKey>, JsValue> {
    if let Some(key) = KEYS.with(|k| {
        k.borrow()
            .iter()
            .find(|(id, _)| id == kid)
            .map(|(_, key)| key.clone())
    }) {
        return Ok(Some(key));
    }
    let jwks = key_set(env).await?;
    let Some(jwk) = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
    else {
        return Ok(None);
    };
    let (Some(n), Some(e)) = (jwk["n"].as_str(), jwk["e"].as_str()) else {
        return Ok(None);
    };
    let jwk = Object::new();
    Reflect::set(&jwk, &"kty".into(), &"RSA".into())?;
    Reflect::set(&jwk, &"n".into(), &n.into())?;
    Reflect::set(&jwk, &"e".into(), &e.into())?;
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"RSASSA-PKCS1-v1_5".into())?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into())?;
    let promise = subtle()?.import_key_with_object(
        "jwk",
        &jwk,
        &algorithm,
        false,
        &Array::of1(&"verify".into()),
    )?;
    let key: CryptoKey = JsFuture::from(promise).await?.unchecked_into();
    KEYS.with(|k| k.borrow_mut().push((kid.to_owned(), key.clone())));
    Ok(Some(key))
}

async fn handle(req: Request, env: JsValue) -> Result<JsValue, JsValue> {
    let auth = req.headers().get("authorization")?.unwrap_or_default();
    let Some(token) = auth.strip_prefix("Bearer ") else {
        return unauthorized("missing bearer token");
    };
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return unauthorized("malformed");
    };
    let decoded = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let Some(header) = decoded(h).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
        return unauthorized("malformed header");
    };
    if header["alg"] != "RS256" {
        return unauthorized("algorithm");
    }
    let (Some(kid), Some(payload), Some(signature)) =
        (header["kid"].as_str(), decoded(p), decoded(s))
    else {
        return unauthorized("malformed");
    };
    let Some(key) = key(&env, kid).await? else {
        return unauthorized("unknown key");
    };
    let data = Uint8Array::from(&token.as_bytes()[..h.len() + 1 + p.len()]);
    let promise = subtle()?.verify_with_str_and_buffer_source_and_buffer_source(
        "RSASSA-PKCS1-v1_5",
        &key,
        &Uint8Array::from(signature.as_slice()),
        &data,
    )?;
    if JsFuture::from(promise).await?.as_bool() != Some(true) {
        return unauthorized("signature");
    }
    let Ok(claims) = serde_json::from_slice::<Value>(&payload) else {
        return unauthorized("claims");
    };
    let audience = var(&env, "JWT_AUDIENCE")?;
    let aud_ok = match &claims["aud"] {
        Value::String(a) => *a == audience,
        Value::Array(list) => list.iter().any(|a| *a == audience.as_str()),
        _ => false,
    };
    let (Some(sub), Some(exp)) = (claims["sub"].as_str(), claims["exp"].as_f64()) else {
        return unauthorized("claims");
    };
    if claims["iss"] != var(&env, "JWT_AUTHORITY")?.as_str()
        || !aud_ok
        || exp * 1000.0 <= js_sys::Date::now()
    {
        return unauthorized("claims");
    }
    let url = web_sys::Url::new(&req.url())?;
    let target = format!(
        "{}{}{}",
        var(&env, "ORIGIN_URL")?,
        url.pathname(),
        url.search()
    );
    let headers = Headers::new_with_headers(&req.headers())?;
    headers.set("x-auth-subject", sub)?;
    let init = RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&headers);
    let forwarded = Request::new_with_str_and_init(&target, &init)?;
    JsFuture::from(global_fetch(&forwarded)).await
}

/// The fetch handler (src/entry.js calls it as the gateway's).
#[wasm_bindgen]
pub fn fetch(req: Request, env: JsValue, _ctx: JsValue) -> Promise {
    future_to_promise(handle(req, env))
}

/// The scheduled handler: nothing to do (src/entry.js needs one).
#[wasm_bindgen]
pub fn scheduled(_event: JsValue, _env: JsValue, _ctx: JsValue) -> Promise {
    Promise::resolve(&JsValue::UNDEFINED)
}

// The module shim's reset of a crashed instance (`__worker_init_state`, `__wbg_reset_state`)
// comes with the worker crate.
use worker as _;
