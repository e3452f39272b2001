//! Test-only Worker for the differential tests: the same shared checks and the WebCrypto backend
//! that the gateway uses, driven by vectors and tokens that the end-to-end tests send, so that
//! WebCrypto in workerd and RustCrypto natively can be compared case by case. Never deployed.
#![forbid(unsafe_code)]

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_jwt_core::jws::backend::SignatureBackend;
use edge_jwt_core::jws::claims::ClaimsPolicy;
use edge_jwt_core::jws::jwk::{import_jwk, KeySet};
use edge_jwt_core::jws::key::{Curve, KeyMaterial, PublicKey};
use edge_jwt_core::jws::native::NativeBackend;
use edge_jwt_core::jws::signature;
use edge_jwt_core::{Algorithm, VerificationPolicy, Verifier};
use edge_jwt_webcrypto::WebCryptoBackend;
use serde_json::{json, Value};
use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

thread_local! {
    /// Requests served; every request borrows it.
    static SERVED: std::cell::RefCell<u64> = const { std::cell::RefCell::new(0) };
    static BACKEND: std::rc::Rc<WebCryptoBackend> = std::rc::Rc::new(WebCryptoBackend::new());
}

/// `POST /vectors`: `[{id, alg, jwk, msg, sig}]` (base64url msg/sig) → `[{id, result}]`, where
/// result is "valid", "invalid", or the code of the rejection raised before the backend.
/// `POST /tokens`: `{jwks, issuer, audience, now, tokens: [..]}` → `[{result, sub}]`.
/// `POST /bench`: `{backend: "webcrypto"|"rustcrypto", alg, jwk, msg, sig, iterations}` runs that
/// many verifications (the caller times the request: workerd's clock stands still while a
/// request computes) and answers how many were valid.
/// `POST /raw-ed25519`: `[{id, x, msg, sig}]` (base64url) → `[{id, webcrypto, native}]`: the
/// signature verified with the 32 bytes `x` as an Ed25519 key *without* JWK import or any shared
/// check, by each backend ("valid", "invalid" or "backend_error: ..."). It shows what the
/// import checks protect the backends from.
/// `POST /raw-ec`: `[{id, alg, crv, x, y, msg, sig}]` (base64url) → `[{id, webcrypto}]`: the same
/// for an EC key: WebCrypto's answer with the coordinates taken as they are, without the native
/// build's on-curve check at JWK import (the Worker has none: `importKey` checks the point).
/// `POST /panic`: panics (wasm `unreachable`) while holding state, to test that the next request
/// gets a new instance (wasm-bindgen's abort handler marks the instance as terminated).
/// `POST /trap`: the same with a bare `unreachable` trap, which no panic handler sees: only the
/// entry module (src/entry.js, the gateway's too) notices it and gives the next request a new
/// instance.
#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let backend = BACKEND.with(|b| b.clone());
    if req.path() != "/panic" {
        SERVED.with(|served| *served.borrow_mut() += 1);
    }
    let body: Value = req.json().await?;
    let results = match req.path().as_str() {
        "/vectors" => vectors(&backend, &body).await,
        "/tokens" => tokens(&backend, &body).await,
        "/bench" => bench(&backend, &body).await,
        "/raw-ed25519" => raw_ed25519(&backend, &body).await,
        "/raw-ec" => raw_ec(&backend, &body).await,
        "/panic" => SERVED.with(|served| {
            // Panics while the state is borrowed, as a panic inside the gateway's caches would:
            // the instance is unusable after it.
            let _borrowed = served.borrow_mut();
            panic!("the test asked for a panic")
        }),
        "/trap" => SERVED.with(|served| {
            let _borrowed = served.borrow_mut();
            trap()
        }),
        _ => return Response::error("not found", 404),
    };
    Response::from_json(&json!({ "results": results, "imported_keys": backend.imported_keys() }))
}

async fn bench(webcrypto: &WebCryptoBackend, body: &Value) -> Vec<Value> {
    let (Some(alg), Ok(key)) = (
        Algorithm::from_name(body["alg"].as_str().unwrap_or_default()),
        import_jwk(&body["jwk"]),
    ) else {
        return vec![json!({ "error": "bad algorithm or key" })];
    };
    let (msg, sig) = (bytes(&body["msg"]), bytes(&body["sig"]));
    let iterations = body["iterations"].as_u64().unwrap_or(0).min(100_000);
    let mut valid = 0_u64;
    for _ in 0..iterations {
        let ok = match body["backend"].as_str() {
            Some("rustcrypto") => NativeBackend.verify(alg, &key, &msg, &sig).await,
            _ => webcrypto.verify(alg, &key, &msg, &sig).await,
        };
        valid += u64::from(ok == Ok(true));
    }
    vec![json!({ "iterations": iterations, "valid": valid })]
}

async fn raw_ed25519(webcrypto: &WebCryptoBackend, body: &Value) -> Vec<Value> {
    let mut results = Vec::new();
    for vector in body.as_array().into_iter().flatten() {
        let Ok(x) = <[u8; 32]>::try_from(bytes(&vector["x"])) else {
            results.push(json!({ "id": vector["id"], "error": "x is not 32 bytes" }));
            continue;
        };
        let key = PublicKey::from_material(KeyMaterial::Ed25519 { x });
        let (msg, sig) = (bytes(&vector["msg"]), bytes(&vector["sig"]));
        let name = |result: std::result::Result<bool, _>| match result {
            Ok(true) => "valid".to_owned(),
            Ok(false) => "invalid".to_owned(),
            Err(err) => format!("backend_error: {err}"),
        };
        results.push(json!({
            "id": vector["id"],
            "webcrypto": name(webcrypto.verify(Algorithm::EdDsa, &key, &msg, &sig).await),
            "native": name(NativeBackend.verify(Algorithm::EdDsa, &key, &msg, &sig).await),
        }));
    }
    results
}

async fn raw_ec(webcrypto: &WebCryptoBackend, body: &Value) -> Vec<Value> {
    let mut results = Vec::new();
    for vector in body.as_array().into_iter().flatten() {
        let curve = match vector["crv"].as_str() {
            Some("P-256") => Curve::P256,
            Some("P-384") => Curve::P384,
            _ => {
                results.push(json!({ "id": vector["id"], "error": "crv is not P-256 or P-384" }));
                continue;
            }
        };
        let Some(alg) = Algorithm::from_name(vector["alg"].as_str().unwrap_or_default()) else {
            results.push(json!({ "id": vector["id"], "error": "unknown alg" }));
            continue;
        };
        let key = PublicKey::from_material(KeyMaterial::Ec {
            curve,
            x: bytes(&vector["x"]),
            y: bytes(&vector["y"]),
        });
        let (msg, sig) = (bytes(&vector["msg"]), bytes(&vector["sig"]));
        let webcrypto = match webcrypto.verify(alg, &key, &msg, &sig).await {
            Ok(true) => "valid".to_owned(),
            Ok(false) => "invalid".to_owned(),
            Err(err) => format!("backend_error: {err}"),
        };
        results.push(json!({ "id": vector["id"], "webcrypto": webcrypto }));
    }
    results
}

fn bytes(value: &Value) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(value.as_str().unwrap_or_default()).unwrap_or_default()
}

async fn vectors(backend: &WebCryptoBackend, body: &Value) -> Vec<Value> {
    let mut results = Vec::new();
    for vector in body.as_array().into_iter().flatten() {
        let result = match (
            Algorithm::from_name(vector["alg"].as_str().unwrap_or_default()),
            import_jwk(&vector["jwk"]),
        ) {
            (None, _) => "unknown_algorithm".to_owned(),
            (_, Err(err)) => format!("key_rejected: {err}"),
            (Some(alg), Ok(key)) => {
                let (msg, sig) = (bytes(&vector["msg"]), bytes(&vector["sig"]));
                match signature::check_form(alg, &key, &sig) {
                    Err(rejection) => rejection.code().to_owned(),
                    Ok(()) => match backend.verify(alg, &key, &msg, &sig).await {
                        Ok(true) => "valid".to_owned(),
                        Ok(false) => "invalid".to_owned(),
                        Err(err) => format!("backend_error: {err}"),
                    },
                }
            }
        };
        results.push(json!({ "id": vector["id"], "result": result }));
    }
    results
}

async fn tokens(backend: &WebCryptoBackend, body: &Value) -> Vec<Value> {
    let keys = match KeySet::from_jwks_value(&body["jwks"], KeySet::DEFAULT_MAX_KEYS) {
        Ok(keys) => keys,
        Err(err) => return vec![json!({ "result": format!("jwks_rejected: {err}") })],
    };
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let verifier = Verifier::new(VerificationPolicy {
        algorithms: Algorithm::ALL.to_vec(),
        max_token_bytes: 8192,
        types: vec![],
        claims: ClaimsPolicy {
            issuer: text("issuer"),
            audiences: vec![text("audience")],
            clock_skew: 60,
            required: vec![],
            max_age: None,
        },
    });
    let now = body["now"].as_u64().unwrap_or_default();
    let mut results = Vec::new();
    for token in body["tokens"].as_array().into_iter().flatten() {
        let token = token.as_str().unwrap_or_default();
        results.push(
            match verifier.verify_token(token, &keys, backend, now).await {
                Ok(verified) => json!({ "result": "accepted", "sub": verified.claims.get("sub") }),
                Err(rejection) => json!({ "result": rejection.code() }),
            },
        );
    }
    results
}

/// A WebAssembly trap that does not go through Rust's panic handler.
#[cfg(target_arch = "wasm32")]
fn trap() -> Vec<Value> {
    core::arch::wasm32::unreachable()
}

/// (Only the Worker build traps; the host build of this crate is for clippy.)
#[cfg(not(target_arch = "wasm32"))]
fn trap() -> Vec<Value> {
    unreachable!("a host build serves no requests")
}

/// No cron runs it: it gives this Worker the gateway's two handlers, so that it is bundled with
/// the gateway's entry module (src/entry.js, scripts/esbuild.sh), whose recovery after a panic
/// `POST /panic` tests.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, _env: Env, _ctx: ScheduleContext) {}
