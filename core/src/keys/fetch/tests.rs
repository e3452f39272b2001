use super::*;
use std::cell::Cell;
use std::collections::VecDeque;

use crate::keys::url::UrlCrate;

const JWKS_URL: &str = "https://idp.example.com/jwks.json";
const DISCOVERY_URL: &str = "https://idp.example.com/.well-known/openid-configuration";
const ISSUER: &str = "https://idp.example.com";

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    url: String,
    etag: Option<String>,
    timeout_ms: u64,
    max_bytes: usize,
}

/// A scripted client: answers from a queue, records requests and sleeps, and keeps a fake
/// clock that requests (by `latency_ms`) and sleeps advance.
struct Fake {
    script: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
    requests: RefCell<Vec<Request>>,
    sleeps: RefCell<Vec<u64>>,
    clock: Cell<u64>,
    latency_ms: u64,
    random: f64,
}

impl Fake {
    fn new(script: Vec<Result<HttpResponse, TransportError>>) -> Fake {
        Fake {
            script: RefCell::new(script.into()),
            requests: RefCell::new(Vec::new()),
            sleeps: RefCell::new(Vec::new()),
            clock: Cell::new(1_700_000_000_000),
            latency_ms: 10,
            random: 0.5,
        }
    }

    fn urls(&self) -> Vec<String> {
        self.requests
            .borrow()
            .iter()
            .map(|r| r.url.clone())
            .collect()
    }

    fn etags(&self) -> Vec<Option<String>> {
        self.requests
            .borrow()
            .iter()
            .map(|r| r.etag.clone())
            .collect()
    }

    fn request_count(&self) -> usize {
        self.requests.borrow().len()
    }

    fn sleeps(&self) -> Vec<u64> {
        self.sleeps.borrow().clone()
    }

    fn push(&self, answer: Result<HttpResponse, TransportError>) {
        self.script.borrow_mut().push_back(answer);
    }
}

impl UrlParser for Fake {
    fn parse_url(&self, text: &str) -> Option<ParsedUrl> {
        UrlCrate.parse_url(text)
    }
}

impl HttpClient for Fake {
    async fn get(
        &self,
        url: &str,
        etag: Option<&str>,
        timeout_ms: u64,
        max_bytes: usize,
    ) -> Result<HttpResponse, TransportError> {
        self.requests.borrow_mut().push(Request {
            url: url.to_owned(),
            etag: etag.map(str::to_owned),
            timeout_ms,
            max_bytes,
        });
        self.clock.set(self.clock.get() + self.latency_ms);
        self.script
            .borrow_mut()
            .pop_front()
            .expect("the fake client ran out of scripted answers")
    }

    async fn sleep(&self, ms: u64) {
        self.sleeps.borrow_mut().push(ms);
        self.clock.set(self.clock.get() + ms);
    }

    fn random(&self) -> f64 {
        self.random
    }

    fn now_ms(&self) -> u64 {
        self.clock.get()
    }
}

fn fixtures() -> Value {
    serde_json::from_str(include_str!("../../../tests/data/jose-fixtures.json")).unwrap()
}

/// A real JWKS document with the first `n` keys of the JOSE fixtures.
fn jwks_with(n: usize) -> String {
    let keys = fixtures()["jwks"]["keys"].as_array().unwrap()[..n].to_vec();
    serde_json::json!({ "keys": keys }).to_string()
}

fn jwks() -> String {
    jwks_with(1)
}

fn first_kid() -> String {
    fixtures()["jwks"]["keys"][0]["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn status(status: u16) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse {
        status,
        ..HttpResponse::default()
    })
}

fn ok_body(body: &str, content_type: Option<&str>) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse {
        status: 200,
        etag: None,
        cache_control: None,
        content_type: content_type.map(str::to_owned),
        body: body.as_bytes().to_vec(),
    })
}

fn ok_jwks() -> Result<HttpResponse, TransportError> {
    ok_body(&jwks(), Some("application/json"))
}

fn discovery_doc(issuer: &str, jwks_uri: &str) -> Result<HttpResponse, TransportError> {
    let doc = serde_json::json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "authorization_endpoint": format!("{issuer}/authorize"),
    });
    ok_body(&doc.to_string(), Some("application/json; charset=utf-8"))
}

fn direct(fake: Fake) -> JwksFetcher<Fake> {
    direct_with(fake, FetchSettings::default())
}

fn direct_with(fake: Fake, settings: FetchSettings) -> JwksFetcher<Fake> {
    JwksFetcher::new(fake, JwksLocation::Direct(JWKS_URL.to_owned()), settings)
}

fn discovering(fake: Fake) -> JwksFetcher<Fake> {
    JwksFetcher::new(
        fake,
        JwksLocation::Discovery {
            discovery_url: DISCOVERY_URL.to_owned(),
            issuer: ISSUER.to_owned(),
        },
        FetchSettings::default(),
    )
}

fn run(fetcher: &JwksFetcher<Fake>, etag: Option<&str>) -> Result<Fetched, FetchError> {
    pollster::block_on(fetcher.fetch(etag))
}

fn modified(result: Result<Fetched, FetchError>) -> (KeySet, String, Option<String>, Option<u64>) {
    match result {
        Ok(Fetched::Modified {
            keys,
            source,
            etag,
            max_age,
        }) => (keys, source, etag, max_age),
        other => panic!("expected a modified key set, got {other:?}"),
    }
}

fn invalid_document(result: Result<Fetched, FetchError>) -> String {
    match result {
        Err(FetchError::InvalidDocument(why)) => why,
        other => panic!("expected InvalidDocument, got {other:?}"),
    }
}

fn invalid_url(result: Result<Fetched, FetchError>) -> String {
    match result {
        Err(FetchError::InvalidUrl(why)) => why,
        other => panic!("expected InvalidUrl, got {other:?}"),
    }
}

// ---- status paths -------------------------------------------------------------------

#[test]
fn a_200_yields_the_validated_keys_with_source_etag_and_max_age() {
    let fake = Fake::new(vec![Ok(HttpResponse {
        status: 200,
        etag: Some("\"v1\"".to_owned()),
        cache_control: Some("public, max-age=300".to_owned()),
        content_type: Some("application/json".to_owned()),
        body: jwks_with(3).into_bytes(),
    })]);
    let fetcher = direct(fake);
    let (keys, source, etag, max_age) = modified(run(&fetcher, None));
    assert_eq!(keys.len(), 3);
    assert!(keys.get(&first_kid()).is_some());
    assert_eq!(source, JWKS_URL);
    assert_eq!(etag.as_deref(), Some("\"v1\""));
    assert_eq!(max_age, Some(300));
    assert_eq!(fetcher.client().urls(), [JWKS_URL]);
    assert_eq!(fetcher.client().etags(), [None]);
    assert!(fetcher.client().sleeps().is_empty());
}

#[test]
fn the_request_carries_the_size_cap_and_timeout() {
    let settings = FetchSettings {
        timeout_ms: 1_234,
        max_bytes: 4_096,
        ..FetchSettings::default()
    };
    let fetcher = direct_with(Fake::new(vec![ok_jwks()]), settings);
    modified(run(&fetcher, None));
    let request = fetcher.client().requests.borrow()[0].clone();
    assert_eq!(request.timeout_ms, 1_234);
    assert_eq!(request.max_bytes, 4_096);
}

#[test]
fn without_headers_the_result_has_no_etag_and_no_max_age() {
    let fetcher = direct(Fake::new(vec![ok_body(&jwks(), None)]));
    let (_, _, etag, max_age) = modified(run(&fetcher, None));
    assert_eq!(etag, None);
    assert_eq!(max_age, None);
}

#[test]
fn an_empty_response_etag_is_dropped() {
    let fake = Fake::new(vec![Ok(HttpResponse {
        status: 200,
        etag: Some(String::new()),
        body: jwks().into_bytes(),
        ..HttpResponse::default()
    })]);
    let (_, _, etag, _) = modified(run(&direct(fake), None));
    assert_eq!(etag, None);
}

#[test]
fn the_etag_is_sent_and_a_304_means_not_modified() {
    let fake = Fake::new(vec![Ok(HttpResponse {
        status: 304,
        cache_control: Some("max-age=60".to_owned()),
        ..HttpResponse::default()
    })]);
    let fetcher = direct(fake);
    assert_eq!(
        run(&fetcher, Some("\"v1\"")),
        Ok(Fetched::NotModified { max_age: Some(60) })
    );
    assert_eq!(fetcher.client().etags(), [Some("\"v1\"".to_owned())]);
}

#[test]
fn the_etag_is_passed_through_on_every_retry() {
    let fetcher = direct(Fake::new(vec![status(503), ok_jwks()]));
    modified(run(&fetcher, Some("W/\"abc\"")));
    assert_eq!(
        fetcher.client().etags(),
        [Some("W/\"abc\"".to_owned()), Some("W/\"abc\"".to_owned())]
    );
}

#[test]
fn an_empty_etag_is_not_sent() {
    let fetcher = direct(Fake::new(vec![ok_jwks()]));
    modified(run(&fetcher, Some("")));
    assert_eq!(fetcher.client().etags(), [None]);
}

#[test]
fn a_304_without_an_etag_is_an_unexpected_status() {
    let fetcher = direct(Fake::new(vec![status(304)]));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(304)));
    assert_eq!(fetcher.client().request_count(), 1);
}

#[test]
fn redirects_are_not_followed_nor_retried() {
    for code in [301, 302, 303, 307, 308] {
        let fake = Fake::new(vec![Ok(HttpResponse {
            status: code,
            body: b"<a href=\"https://evil.example/jwks\">moved</a>".to_vec(),
            ..HttpResponse::default()
        })]);
        let fetcher = direct(fake);
        assert_eq!(run(&fetcher, None), Err(FetchError::Redirect(code)));
        assert_eq!(fetcher.client().urls(), [JWKS_URL], "status {code}");
        assert!(fetcher.client().sleeps().is_empty());
    }
}

#[test]
fn client_errors_other_than_429_are_not_retried() {
    for code in [400, 401, 403, 404, 410] {
        let fetcher = direct(Fake::new(vec![status(code)]));
        assert_eq!(run(&fetcher, None), Err(FetchError::Status(code)));
        assert_eq!(fetcher.client().request_count(), 1, "status {code}");
    }
}

#[test]
fn other_success_and_informational_statuses_are_refused_at_once() {
    for code in [100, 201, 204, 206] {
        let fetcher = direct(Fake::new(vec![status(code)]));
        assert_eq!(run(&fetcher, None), Err(FetchError::Status(code)));
        assert_eq!(fetcher.client().request_count(), 1, "status {code}");
    }
}

// ---- retries ------------------------------------------------------------------------

#[test]
fn two_503s_then_a_200_succeed_after_three_requests() {
    let fetcher = direct(Fake::new(vec![status(503), status(503), ok_jwks()]));
    modified(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 3);
    assert_eq!(fetcher.client().sleeps().len(), 2);
}

#[test]
fn three_503s_end_with_status_503_after_three_requests() {
    let fetcher = direct(Fake::new(vec![status(503), status(503), status(503)]));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(503)));
    assert_eq!(fetcher.client().request_count(), 3);
    assert_eq!(fetcher.client().sleeps().len(), 2);
}

#[test]
fn the_last_attempts_error_is_returned() {
    let fetcher = direct(Fake::new(vec![
        status(503),
        Err(TransportError::Timeout),
        status(502),
    ]));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(502)));
    assert_eq!(fetcher.client().request_count(), 3);
}

#[test]
fn a_429_is_retried() {
    let fetcher = direct(Fake::new(vec![status(429), ok_jwks()]));
    modified(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 2);
}

#[test]
fn every_5xx_is_retried() {
    for code in [500, 502, 504, 599] {
        let fetcher = direct(Fake::new(vec![status(code), ok_jwks()]));
        modified(run(&fetcher, None));
        assert_eq!(fetcher.client().request_count(), 2, "status {code}");
    }
}

#[test]
fn a_retry_after_a_5xx_can_still_end_in_a_final_4xx() {
    let fetcher = direct(Fake::new(vec![status(500), status(404)]));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(404)));
    assert_eq!(fetcher.client().request_count(), 2);
}

#[test]
fn timeouts_and_network_errors_are_retried() {
    let fetcher = direct(Fake::new(vec![
        Err(TransportError::Timeout),
        Err(TransportError::Network("connection reset".to_owned())),
        ok_jwks(),
    ]));
    modified(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 3);
}

#[test]
fn persistent_network_errors_end_as_transport_errors() {
    let fetcher = direct(Fake::new(vec![
        Err(TransportError::Timeout),
        Err(TransportError::Timeout),
        Err(TransportError::Network("dns failure".to_owned())),
    ]));
    match run(&fetcher, None) {
        Err(FetchError::Transport(why)) => assert!(why.contains("dns failure"), "{why}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
    let fetcher = direct(Fake::new(vec![
        Err(TransportError::Timeout),
        Err(TransportError::Timeout),
        Err(TransportError::Timeout),
    ]));
    match run(&fetcher, None) {
        Err(FetchError::Transport(why)) => assert!(why.contains("timed out"), "{why}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[test]
fn long_network_error_messages_are_truncated() {
    let long = "x".repeat(1_000);
    let fetcher = direct_with(
        Fake::new(vec![Err(TransportError::Network(long))]),
        FetchSettings {
            attempts: 1,
            ..FetchSettings::default()
        },
    );
    match run(&fetcher, None) {
        Err(FetchError::Transport(why)) => assert!(why.chars().count() <= 65, "{why}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[test]
fn one_attempt_means_no_retry_and_zero_counts_as_one() {
    for attempts in [0, 1] {
        let settings = FetchSettings {
            attempts,
            ..FetchSettings::default()
        };
        let fetcher = direct_with(Fake::new(vec![status(503)]), settings);
        assert_eq!(run(&fetcher, None), Err(FetchError::Status(503)));
        assert_eq!(fetcher.client().request_count(), 1);
        assert!(fetcher.client().sleeps().is_empty());
    }
}

#[test]
fn more_attempts_are_honoured_exactly() {
    let settings = FetchSettings {
        attempts: 5,
        budget_ms: 60_000,
        ..FetchSettings::default()
    };
    let fetcher = direct_with(Fake::new(vec![status(503); 5]), settings);
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(503)));
    assert_eq!(fetcher.client().request_count(), 5);
    assert_eq!(fetcher.client().sleeps().len(), 4);
}

#[test]
fn retry_sleeps_follow_the_jittered_backoff_and_stay_bounded() {
    let settings = FetchSettings {
        attempts: 6,
        base_delay_ms: 200,
        max_delay_ms: 1_000,
        budget_ms: 60_000,
        ..FetchSettings::default()
    };
    let mut fake = Fake::new(vec![status(503); 6]);
    fake.random = 0.25;
    let fetcher = direct_with(fake, settings.clone());
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(503)));
    let sleeps = fetcher.client().sleeps();
    // caps 200, 400, 800, 1000, 1000 → cap/2 + 0.25 · cap/2
    assert_eq!(sleeps, [125, 250, 500, 625, 625]);
    for (index, sleep) in sleeps.iter().enumerate() {
        assert_eq!(*sleep, backoff_ms(index as u32 + 1, &settings, 0.25));
        assert!(*sleep <= settings.max_delay_ms);
    }
}

// ---- budget -------------------------------------------------------------------------

#[test]
fn the_budget_stops_retries_before_a_sleep_that_would_pass_it() {
    // Backoff before the first retry is 1000–2000 ms; only 1500 ms of budget.
    let settings = FetchSettings {
        base_delay_ms: 2_000,
        max_delay_ms: 2_000,
        budget_ms: 1_500,
        ..FetchSettings::default()
    };
    let fetcher = direct_with(Fake::new(vec![status(503), ok_jwks()]), settings);
    assert_eq!(run(&fetcher, None), Err(FetchError::BudgetExhausted));
    assert_eq!(fetcher.client().request_count(), 1);
    assert!(fetcher.client().sleeps().is_empty());
}

#[test]
fn slow_attempts_use_up_the_budget() {
    // Each request takes 5 s: after two of them and a 150 ms sleep the 10 s budget has no
    // room for another sleep and attempt.
    let mut fake = Fake::new(vec![
        Err(TransportError::Timeout),
        Err(TransportError::Timeout),
        ok_jwks(),
    ]);
    fake.latency_ms = 5_000;
    let fetcher = direct(fake);
    assert_eq!(run(&fetcher, None), Err(FetchError::BudgetExhausted));
    assert_eq!(fetcher.client().request_count(), 2);
    assert_eq!(fetcher.client().sleeps().len(), 1);
}

#[test]
fn a_request_timeout_is_capped_by_the_remaining_budget() {
    let mut fake = Fake::new(vec![status(503), ok_jwks()]);
    fake.latency_ms = 6_000;
    let fetcher = direct(fake);
    modified(run(&fetcher, None));
    let requests = fetcher.client().requests.borrow().clone();
    assert_eq!(requests[0].timeout_ms, 5_000);
    // 10 000 − 6 000 (first request) − 150 (sleep: cap 200, random 0.5) = 3 850 left.
    assert_eq!(fetcher.client().sleeps(), [150]);
    assert_eq!(requests[1].timeout_ms, 3_850);
}

#[test]
fn no_attempt_starts_once_the_budget_is_gone() {
    let settings = FetchSettings {
        budget_ms: 0,
        ..FetchSettings::default()
    };
    let fetcher = direct_with(Fake::new(vec![ok_jwks()]), settings);
    assert_eq!(run(&fetcher, None), Err(FetchError::BudgetExhausted));
    assert_eq!(fetcher.client().request_count(), 0);
}

#[test]
fn discovery_and_jwks_share_one_budget() {
    let mut fake = Fake::new(vec![discovery_doc(ISSUER, JWKS_URL), ok_jwks()]);
    fake.latency_ms = 10_000;
    let fetcher = discovering(fake);
    assert_eq!(run(&fetcher, None), Err(FetchError::BudgetExhausted));
    assert_eq!(fetcher.client().urls(), [DISCOVERY_URL]);
    // The discovered URL is still remembered for the next call.
    assert_eq!(fetcher.discovered_url().as_deref(), Some(JWKS_URL));
}

#[test]
fn each_call_gets_a_fresh_budget() {
    let mut fake = Fake::new(vec![Err(TransportError::Timeout), ok_jwks()]);
    fake.latency_ms = 10_000;
    let fetcher = direct(fake);
    assert_eq!(run(&fetcher, None), Err(FetchError::BudgetExhausted));
    modified(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 2);
}

// ---- bodies -------------------------------------------------------------------------

#[test]
fn a_garbage_body_is_an_invalid_document_and_not_retried() {
    let fetcher = direct(Fake::new(vec![ok_body("{\"keys\": [", None)]));
    let why = invalid_document(run(&fetcher, None));
    assert!(why.contains("not valid JSON"), "{why}");
    assert_eq!(fetcher.client().request_count(), 1);
}

#[test]
fn an_html_content_type_is_refused() {
    for content_type in [
        "text/html",
        "text/html; charset=utf-8",
        "TEXT/PLAIN",
        "application/jso",
        "jso",
    ] {
        let fetcher = direct(Fake::new(vec![ok_body(&jwks(), Some(content_type))]));
        let why = invalid_document(run(&fetcher, None));
        assert!(why.contains("content type"), "{why}");
        assert_eq!(fetcher.client().request_count(), 1);
    }
}

#[test]
fn json_content_types_are_accepted() {
    for content_type in [
        "application/json",
        "application/json; charset=UTF-8",
        "application/jwk-set+json",
        "Application/JSON",
        "",
    ] {
        let fetcher = direct(Fake::new(vec![ok_body(&jwks(), Some(content_type))]));
        modified(run(&fetcher, None));
    }
}

#[test]
fn a_body_that_is_not_utf8_is_refused() {
    let fake = Fake::new(vec![Ok(HttpResponse {
        status: 200,
        body: vec![b'{', 0xff, 0xfe, b'}'],
        ..HttpResponse::default()
    })]);
    assert!(invalid_document(run(&direct(fake), None)).contains("UTF-8"));
}

#[test]
fn a_leading_byte_order_mark_is_ignored() {
    let body = format!("\u{feff}{}", jwks());
    let fetcher = direct(Fake::new(vec![ok_body(&body, None)]));
    modified(run(&fetcher, None));
}

#[test]
fn jwks_errors_become_invalid_documents_with_their_text() {
    let cases = [
        ("[]", "not a JSON object"),
        ("{}", "no \"keys\" array"),
        ("{\"keys\": {}}", "no \"keys\" array"),
        ("{\"keys\": [", "not valid JSON"),
    ];
    for (body, expected) in cases {
        let fetcher = direct(Fake::new(vec![ok_body(body, None)]));
        let why = invalid_document(run(&fetcher, None));
        assert!(why.contains(expected), "{body}: {why}");
    }
}

#[test]
fn a_jwks_without_a_usable_key_is_an_empty_set_not_an_error() {
    let cases = [
        ("{\"keys\": []}", 0),
        ("{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}]}", 1),
        (
            "{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"x\": \"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}, null]}",
            2,
        ),
    ];
    for (body, skipped) in cases {
        let fetcher = direct(Fake::new(vec![ok_body(body, None)]));
        let (keys, ..) = modified(run(&fetcher, None));
        assert!(keys.is_empty(), "{body}");
        assert_eq!(keys.skipped().len(), skipped, "{body}");
    }
}

#[test]
fn the_key_count_cap_applies() {
    let settings = FetchSettings {
        max_keys: 2,
        ..FetchSettings::default()
    };
    let fetcher = direct_with(Fake::new(vec![ok_body(&jwks_with(3), None)]), settings);
    let why = invalid_document(run(&fetcher, None));
    assert!(why.contains("3 keys, more than the 2 allowed"), "{why}");
}

#[test]
fn an_oversized_body_is_refused_and_not_retried() {
    let fetcher = direct(Fake::new(vec![Err(TransportError::TooLarge)]));
    assert_eq!(
        run(&fetcher, None),
        Err(FetchError::TooLarge { max: 256 * 1024 })
    );
    assert_eq!(fetcher.client().request_count(), 1);
}

#[test]
fn an_oversized_body_is_refused_even_if_the_client_let_it_through() {
    let settings = FetchSettings {
        max_bytes: 64,
        ..FetchSettings::default()
    };
    let fetcher = direct_with(Fake::new(vec![ok_jwks()]), settings);
    assert_eq!(run(&fetcher, None), Err(FetchError::TooLarge { max: 64 }));
}

#[test]
fn a_configured_url_that_fails_the_policy_makes_no_request() {
    let fetcher = JwksFetcher::new(
        Fake::new(vec![]),
        JwksLocation::Direct("http://idp.example.com/jwks.json".to_owned()),
        FetchSettings::default(),
    );
    invalid_url(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 0);
}

#[test]
fn the_source_is_the_normalised_url() {
    let fetcher = JwksFetcher::new(
        Fake::new(vec![ok_jwks()]),
        JwksLocation::Direct("HTTPS://IdP.Example.COM:443/jwks.json".to_owned()),
        FetchSettings::default(),
    );
    let (_, source, _, _) = modified(run(&fetcher, None));
    assert_eq!(source, JWKS_URL);
    assert_eq!(fetcher.client().urls(), [JWKS_URL]);
}

// ---- discovery ----------------------------------------------------------------------

#[test]
fn discovery_finds_and_fetches_the_jwks() {
    let fake = Fake::new(vec![discovery_doc(ISSUER, JWKS_URL), ok_jwks()]);
    let fetcher = discovering(fake);
    assert_eq!(fetcher.discovered_url(), None);
    let (keys, source, _, _) = modified(run(&fetcher, Some("\"v1\"")));
    assert!(keys.get(&first_kid()).is_some());
    assert_eq!(source, JWKS_URL);
    assert_eq!(fetcher.client().urls(), [DISCOVERY_URL, JWKS_URL]);
    // The ETag is for the key set, never for the discovery document.
    assert_eq!(fetcher.client().etags(), [None, Some("\"v1\"".to_owned())]);
    assert_eq!(fetcher.discovered_url().as_deref(), Some(JWKS_URL));
}

#[test]
fn discovery_is_cached_per_fetcher() {
    let fetcher = discovering(Fake::new(vec![discovery_doc(ISSUER, JWKS_URL), ok_jwks()]));
    modified(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 2);
    fetcher.client().push(ok_jwks());
    modified(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 3);
    assert_eq!(fetcher.client().urls()[2], JWKS_URL);
}

#[test]
fn a_discovery_issuer_mismatch_is_refused() {
    for issuer in [
        "https://evil.example.com",
        "https://idp.example.com/",
        "HTTPS://IDP.EXAMPLE.COM",
    ] {
        let fetcher = discovering(Fake::new(vec![discovery_doc(issuer, JWKS_URL)]));
        let why = invalid_document(run(&fetcher, None));
        assert!(why.contains("issuer"), "{why}");
        assert_eq!(fetcher.client().request_count(), 1);
        assert_eq!(fetcher.discovered_url(), None);
    }
}

#[test]
fn a_discovered_http_url_to_a_remote_host_is_refused() {
    let fetcher = discovering(Fake::new(vec![discovery_doc(
        ISSUER,
        "http://idp.example.com/jwks.json",
    )]));
    invalid_url(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 1);
    assert_eq!(fetcher.discovered_url(), None);
}

#[test]
fn a_discovered_loopback_http_url_is_allowed() {
    let fetcher = discovering(Fake::new(vec![
        discovery_doc(ISSUER, "http://localhost:8787/jwks"),
        ok_jwks(),
    ]));
    let (_, source, _, _) = modified(run(&fetcher, None));
    assert_eq!(source, "http://localhost:8787/jwks");
}

#[test]
fn a_relative_jwks_uri_is_refused() {
    let fetcher = discovering(Fake::new(vec![discovery_doc(ISSUER, "/jwks.json")]));
    invalid_url(run(&fetcher, None));
}

#[test]
fn malformed_discovery_documents_are_refused() {
    let cases = [
        ("<html></html>", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            "{\"jwks_uri\": \"https://idp.example.com/jwks\"}",
            "\"issuer\"",
        ),
        ("{\"issuer\": \"https://idp.example.com\"}", "\"jwks_uri\""),
        (
            "{\"issuer\": \"https://idp.example.com\", \"jwks_uri\": 7}",
            "\"jwks_uri\"",
        ),
    ];
    for (body, expected) in cases {
        let fetcher = discovering(Fake::new(vec![ok_body(body, None)]));
        let why = invalid_document(run(&fetcher, None));
        assert!(why.contains(expected), "{body}: {why}");
        assert_eq!(fetcher.client().request_count(), 1);
    }
}

#[test]
fn a_discovery_document_served_as_html_is_refused() {
    let doc = serde_json::json!({ "issuer": ISSUER, "jwks_uri": JWKS_URL }).to_string();
    let fetcher = discovering(Fake::new(vec![ok_body(&doc, Some("text/html"))]));
    assert!(invalid_document(run(&fetcher, None)).contains("content type"));
}

#[test]
fn discovery_follows_the_status_and_retry_rules() {
    let fetcher = discovering(Fake::new(vec![
        status(503),
        discovery_doc(ISSUER, JWKS_URL),
        ok_jwks(),
    ]));
    modified(run(&fetcher, None));
    assert_eq!(
        fetcher.client().urls(),
        [DISCOVERY_URL, DISCOVERY_URL, JWKS_URL]
    );

    let fetcher = discovering(Fake::new(vec![status(404)]));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(404)));
    assert_eq!(fetcher.client().request_count(), 1);

    let fetcher = discovering(Fake::new(vec![status(302)]));
    assert_eq!(run(&fetcher, None), Err(FetchError::Redirect(302)));

    let fetcher = discovering(Fake::new(vec![Err(TransportError::TooLarge)]));
    assert!(matches!(
        run(&fetcher, None),
        Err(FetchError::TooLarge { .. })
    ));
}

#[test]
fn a_failed_discovery_is_tried_again_on_the_next_call() {
    let fetcher = discovering(Fake::new(vec![status(404)]));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(404)));
    fetcher.client().push(discovery_doc(ISSUER, JWKS_URL));
    fetcher.client().push(ok_jwks());
    modified(run(&fetcher, None));
    assert_eq!(
        fetcher.client().urls(),
        [DISCOVERY_URL, DISCOVERY_URL, JWKS_URL]
    );
}

#[test]
fn an_invalid_discovery_url_makes_no_request() {
    let fetcher = JwksFetcher::new(
        Fake::new(vec![]),
        JwksLocation::Discovery {
            discovery_url: "ftp://idp.example.com/.well-known/openid-configuration".to_owned(),
            issuer: ISSUER.to_owned(),
        },
        FetchSettings::default(),
    );
    invalid_url(run(&fetcher, None));
    assert_eq!(fetcher.client().request_count(), 0);
}

#[test]
fn a_gone_jwks_uri_triggers_one_rediscovery() {
    const MOVED: &str = "https://idp.example.com/keys/v2";
    for gone in [404, 410] {
        let fetcher = discovering(Fake::new(vec![discovery_doc(ISSUER, JWKS_URL), ok_jwks()]));
        modified(run(&fetcher, Some("\"v1\"")));
        fetcher.client().push(status(gone));
        fetcher.client().push(discovery_doc(ISSUER, MOVED));
        fetcher.client().push(ok_jwks());
        let (_, source, _, _) = modified(run(&fetcher, Some("\"v1\"")));
        assert_eq!(source, MOVED);
        assert_eq!(
            fetcher.client().urls()[2..],
            [JWKS_URL, DISCOVERY_URL, MOVED]
        );
        // The old URL's ETag is not sent to the new one.
        assert_eq!(fetcher.client().etags()[4], None);
        assert_eq!(fetcher.discovered_url().as_deref(), Some(MOVED));
    }
}

#[test]
fn rediscovery_happens_at_most_once_per_call() {
    const MOVED: &str = "https://idp.example.com/keys/v2";
    let fetcher = discovering(Fake::new(vec![discovery_doc(ISSUER, JWKS_URL), ok_jwks()]));
    modified(run(&fetcher, None));
    fetcher.client().push(status(404));
    fetcher.client().push(discovery_doc(ISSUER, MOVED));
    fetcher.client().push(status(404));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(404)));
    assert_eq!(
        fetcher.client().urls()[2..],
        [JWKS_URL, DISCOVERY_URL, MOVED]
    );
}

#[test]
fn rediscovery_of_the_same_url_does_not_refetch_it() {
    let fetcher = discovering(Fake::new(vec![discovery_doc(ISSUER, JWKS_URL), ok_jwks()]));
    modified(run(&fetcher, None));
    fetcher.client().push(status(404));
    fetcher.client().push(discovery_doc(ISSUER, JWKS_URL));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(404)));
    assert_eq!(fetcher.client().urls()[2..], [JWKS_URL, DISCOVERY_URL]);
}

#[test]
fn a_fresh_discovery_is_not_repeated_when_its_jwks_uri_is_gone() {
    let fetcher = discovering(Fake::new(vec![
        discovery_doc(ISSUER, JWKS_URL),
        status(404),
    ]));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(404)));
    assert_eq!(fetcher.client().urls(), [DISCOVERY_URL, JWKS_URL]);
}

#[test]
fn other_jwks_failures_keep_the_discovered_url() {
    let fetcher = discovering(Fake::new(vec![discovery_doc(ISSUER, JWKS_URL), ok_jwks()]));
    modified(run(&fetcher, None));
    fetcher.client().push(status(403));
    assert_eq!(run(&fetcher, None), Err(FetchError::Status(403)));
    assert_eq!(fetcher.client().request_count(), 3);
    assert_eq!(fetcher.discovered_url().as_deref(), Some(JWKS_URL));
}

// ---- check_url ----------------------------------------------------------------------

#[test]
fn check_url_accepts_https_and_loopback_http() {
    for url in [
        "https://idp.example.com/.well-known/jwks.json",
        "https://idp.example.com:8443/jwks?tenant=a",
        "https://203.0.113.7/jwks",
        "http://127.0.0.1:8080/jwks",
        "http://127.1.2.3/jwks",
        "http://localhost/jwks",
        "http://LOCALHOST:8787/jwks",
        "http://[::1]/jwks",
        "http://[::1]:9000/jwks",
    ] {
        assert!(check_url(&UrlCrate, url).is_ok(), "{url}");
    }
    assert_eq!(
        check_url(&UrlCrate, "https://idp.example.com/jwks")
            .unwrap()
            .href,
        "https://idp.example.com/jwks"
    );
}

#[test]
fn check_url_refuses_everything_else() {
    for url in [
        "http://example.com/jwks",
        "http://10.0.0.1/jwks",
        "http://[::2]/jwks",
        "http://[::ffff:127.0.0.1]/jwks",
        "http://localhost.example.com/jwks",
        "ftp://idp.example.com/jwks",
        "file:///etc/passwd",
        "data:application/json,{}",
        "javascript:alert(1)",
        "/jwks.json",
        "jwks.json",
        "//idp.example.com/jwks",
        "",
        "https://",
    ] {
        assert!(
            matches!(check_url(&UrlCrate, url), Err(FetchError::InvalidUrl(_))),
            "{url}"
        );
    }
}

#[test]
fn check_url_refuses_credentials_without_repeating_them() {
    for url in [
        "https://user:pw@idp.example.com/jwks",
        "https://user@idp.example.com/jwks",
        "https://:pw@idp.example.com/jwks",
        "http://user:pw@localhost/jwks",
    ] {
        match check_url(&UrlCrate, url) {
            Err(FetchError::InvalidUrl(why)) => {
                assert!(!why.contains("pw") && !why.contains("user"), "{why}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

// ---- max_age ------------------------------------------------------------------------

#[test]
fn max_age_reads_the_directive() {
    assert_eq!(max_age("public, max-age=300"), Some(300));
    assert_eq!(max_age("MAX-AGE=60"), Some(60));
    assert_eq!(max_age("max-age=0"), Some(0));
    assert_eq!(max_age(" must-revalidate ,max-age=3600 "), Some(3600));
    assert_eq!(max_age("max-age=\"120\""), Some(120));
    assert_eq!(max_age("max-age=99999999999999999999999"), Some(u64::MAX));
    assert_eq!(max_age("max-age=10, max-age=20"), Some(10));
    assert_eq!(max_age("max-age=abc, max-age=20"), Some(20));
}

#[test]
fn max_age_no_store_and_no_cache_mean_zero() {
    assert_eq!(max_age("no-store"), Some(0));
    assert_eq!(max_age("No-Cache"), Some(0));
    assert_eq!(max_age("max-age=300, no-store"), Some(0));
    assert_eq!(max_age("no-cache=\"Set-Cookie\", max-age=300"), Some(0));
}

#[test]
fn max_age_ignores_what_it_does_not_understand() {
    assert_eq!(max_age("max-age=abc"), None);
    assert_eq!(max_age("max-age="), None);
    assert_eq!(max_age("max-age"), None);
    assert_eq!(max_age("max-age=-5"), None);
    assert_eq!(max_age("max-age=1.5"), None);
    assert_eq!(max_age("s-maxage=5"), None);
    assert_eq!(max_age("s-maxage=5, max-age=7"), Some(7));
    assert_eq!(max_age("public, immutable"), None);
    assert_eq!(max_age(""), None);
    assert_eq!(max_age("x-max-age=5"), None);
}

// ---- backoff ------------------------------------------------------------------------

#[test]
fn backoff_is_exponential_with_equal_jitter() {
    let settings = FetchSettings::default(); // 200 ms base, 2 s cap
    assert_eq!(backoff_ms(1, &settings, 0.0), 100);
    assert_eq!(backoff_ms(1, &settings, 0.5), 150);
    assert_eq!(backoff_ms(1, &settings, 0.999_999), 199);
    assert_eq!(backoff_ms(2, &settings, 0.0), 200);
    assert_eq!(backoff_ms(3, &settings, 0.0), 400);
    assert_eq!(backoff_ms(4, &settings, 0.0), 800);
    assert_eq!(backoff_ms(5, &settings, 0.0), 1_000);
    assert_eq!(backoff_ms(5, &settings, 0.5), 1_500);
    assert_eq!(backoff_ms(0, &settings, 0.0), backoff_ms(1, &settings, 0.0));
}

#[test]
fn backoff_is_bounded_by_half_cap_and_cap() {
    let settings = FetchSettings {
        base_delay_ms: 300,
        max_delay_ms: 2_500,
        ..FetchSettings::default()
    };
    for attempt in 0..80u32 {
        let cap = 300u64
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(63))
            .min(2_500);
        for step in 0..=20 {
            let random = f64::from(step) / 20.0;
            let delay = backoff_ms(attempt, &settings, random);
            assert!(
                delay >= cap / 2 && delay <= cap,
                "{attempt} {random} {delay}"
            );
            assert!(delay <= settings.max_delay_ms);
        }
    }
}

#[test]
fn backoff_survives_extreme_inputs() {
    let settings = FetchSettings {
        base_delay_ms: u64::MAX,
        max_delay_ms: u64::MAX,
        ..FetchSettings::default()
    };
    assert_eq!(backoff_ms(u32::MAX, &settings, 1.0), u64::MAX);
    let defaults = FetchSettings::default();
    assert_eq!(backoff_ms(1, &defaults, f64::NAN), 100);
    assert_eq!(backoff_ms(1, &defaults, -3.0), 100);
    assert_eq!(backoff_ms(1, &defaults, 7.0), 200);
    let zero = FetchSettings {
        base_delay_ms: 0,
        ..FetchSettings::default()
    };
    assert_eq!(backoff_ms(3, &zero, 0.9), 0);
}

#[test]
fn default_settings_are_as_documented() {
    let settings = FetchSettings::default();
    assert_eq!(settings.timeout_ms, 5_000);
    assert_eq!(settings.max_bytes, 262_144);
    assert_eq!(settings.max_keys, 100);
    assert_eq!(settings.attempts, 3);
    assert_eq!(settings.base_delay_ms, 200);
    assert_eq!(settings.max_delay_ms, 2_000);
    assert_eq!(settings.budget_ms, 10_000);
}
