//! Native verification cost per algorithm: the RustCrypto backend alone, and the whole pipeline
//! (parse, key binding, signature, claims). Tokens are the jose-minted fixtures.
//!
//! `cargo run --release -p edge-jwt-core --example verify_bench [-- --json]`
//! (`npm run bench` runs it beside the in-workerd figures.)

use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_jwt_core::jws::backend::SignatureBackend;
use edge_jwt_core::jws::jwk::KeySet;
use edge_jwt_core::jws::native::NativeBackend;
use edge_jwt_core::Algorithm;
use serde_json::{json, Value};

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

/// Wall-clock budget per measurement; the iteration count adapts to it (bounded).
const BUDGET: Duration = Duration::from_millis(300);
const MAX_ITERATIONS: u32 = 100_000;

fn per_op(mut op: impl FnMut() -> bool) -> f64 {
    assert!(op(), "the benchmark input does not verify");
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < BUDGET && n < MAX_ITERATIONS {
        assert!(op());
        n += 1;
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn main() {
    let json_output = std::env::args().any(|arg| arg == "--json");
    let doc = fixtures::document();
    let keys =
        KeySet::from_jwks_value(&doc["jwks"], KeySet::DEFAULT_MAX_KEYS).expect("fixture keys");
    let now = fixtures::valid_at(&doc);
    let verifier = fixtures::verifier(&doc);
    let mut rows = Vec::new();
    for alg in Algorithm::ALL {
        let kid = format!("jose-{}", alg.name().to_lowercase());
        let token = fixtures::token(&doc, &kid);
        let key = keys.get(&kid).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = Base64UrlUnpadded::decode_vec(sig).unwrap();
        let backend_us = per_op(|| {
            pollster::block_on(NativeBackend.verify(alg, key, input.as_bytes(), &sig)) == Ok(true)
        });
        let pipeline_us = per_op(|| {
            pollster::block_on(verifier.verify_token(token, &keys, &NativeBackend, now)).is_ok()
        });
        rows.push(
            json!({ "alg": alg.name(), "backend_us": backend_us, "pipeline_us": pipeline_us }),
        );
    }
    if json_output {
        println!("{}", Value::Array(rows));
        return;
    }
    println!("| alg | RustCrypto verify (µs) | whole pipeline (µs) |");
    println!("|---|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.1} | {:.1} |",
            row["alg"].as_str().unwrap(),
            row["backend_us"].as_f64().unwrap(),
            row["pipeline_us"].as_f64().unwrap()
        );
    }
}
