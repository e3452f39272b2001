//! Compact JWS parsing: untrusted text in, an [`UntrustedToken`] out, with every structural limit
//! enforced before any cryptography or claims work.

use serde_json::{Map, Value};

use crate::jws::base64url;
use crate::jws::error::Rejection;
use crate::jws::json::parse_object;

/// Default maximum token length in bytes (`JWT_MAX_TOKEN_BYTES`).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Header parameters that change how the signature or payload must be processed. None is
/// implemented, so a token using one is refused rather than misread.
const UNSUPPORTED_HEADER_PARAMETERS: [&str; 3] = ["crit", "b64", "zip"];

/// The protected header, as far as the gateway reads it. `jku`, `x5u`, `jwk` and `x5c` are never
/// read: keys come only from the configured key set.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// `alg` exactly as sent; the verifier compares it with its allow-list.
    pub alg: String,
    /// `kid`, when present.
    pub kid: Option<String>,
    /// `typ`, when present.
    pub typ: Option<String>,
}

/// A compact JWS whose structure is valid but whose signature and claims are not checked yet.
/// It owns its parts, so that a check can outlive the request's borrow of the text (the
/// Worker finishes a verification in a promise's callback).
#[derive(Debug, Clone, PartialEq)]
pub struct UntrustedToken {
    header: Header,
    signing_input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl UntrustedToken {
    /// Parses `token`: at most `max_len` bytes, exactly three non-empty segments of canonical
    /// unpadded base64url (no whitespace, no padding, no stray bits), a header that is a strict
    /// JSON object with a string `alg`, and no `crit`, `b64` or `zip`.
    pub fn parse(token: &str, max_len: usize) -> Result<Self, Rejection> {
        if token.len() > max_len {
            return Err(Rejection::TokenTooLarge {
                len: token.len(),
                max: max_len,
            });
        }
        // A byte other than base64url's and '.' makes a step below fail (it lies in a segment,
        // and every segment is decoded strictly), and such a token is named for that byte
        // whichever step failed. Looking for one only then keeps the scan off every token that
        // parses.
        Self::parse_parts(token).map_err(|rejection| foreign_byte(token).unwrap_or(rejection))
    }

    /// [`UntrustedToken::parse`] after the length check.
    fn parse_parts(token: &str) -> Result<Self, Rejection> {
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(malformed("not three dot-separated segments"));
        };
        if header_b64.is_empty() || payload_b64.is_empty() {
            return Err(malformed("empty segment"));
        }
        // An empty signature (an "unsecured JWS") parses; the algorithm allow-list refuses its
        // `alg: none`, and any allowed algorithm refuses a zero-length signature.
        let header = parse_header(&decode(header_b64, "header is not base64url")?)?;
        let payload = decode(payload_b64, "payload is not base64url")?;
        let signature = decode(signature_b64, "signature is not base64url")?;
        let signing_input = token[..header_b64.len() + 1 + payload_b64.len()].to_owned();
        Ok(UntrustedToken {
            header,
            signing_input,
            payload,
            signature,
        })
    }

    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The bytes the signature covers: `BASE64URL(header) || '.' || BASE64URL(payload)`.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Parses the payload as a strict JSON object. Call only after the signature is verified.
    pub fn claims(&self) -> Result<Map<String, Value>, Rejection> {
        parse_object(&self.payload).map_err(|err| malformed(err.reason()))
    }
}

fn malformed(reason: &'static str) -> Rejection {
    Rejection::Malformed { reason }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// The rejection of a token holding a byte other than base64url's and '.', if it holds one.
fn foreign_byte(token: &str) -> Option<Rejection> {
    let bad = token.bytes().find(|b| !is_token_byte(*b))?;
    Some(malformed(if bad.is_ascii_whitespace() {
        "contains whitespace"
    } else {
        "contains a character outside base64url"
    }))
}

fn decode(segment: &str, reason: &'static str) -> Result<Vec<u8>, Rejection> {
    base64url::decode(segment).ok_or(malformed(reason))
}

fn parse_header(bytes: &[u8]) -> Result<Header, Rejection> {
    let map = parse_object(bytes).map_err(|err| malformed(err.reason()))?;
    if let Some(name) = UNSUPPORTED_HEADER_PARAMETERS
        .into_iter()
        .find(|name| map.contains_key(*name))
    {
        return Err(Rejection::UnsupportedHeader { name });
    }
    let alg = match map.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        Some(_) => return Err(malformed("alg is not a string")),
        None => return Err(malformed("header has no alg")),
    };
    Ok(Header {
        alg,
        kid: optional_string(&map, "kid", "kid is not a string")?,
        typ: optional_string(&map, "typ", "typ is not a string")?,
    })
}

fn optional_string(
    map: &Map<String, Value>,
    name: &str,
    reason: &'static str,
) -> Result<Option<String>, Rejection> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(malformed(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};

    fn b64(text: &str) -> String {
        Base64UrlUnpadded::encode_string(text.as_bytes())
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    fn code(token: &str) -> &'static str {
        UntrustedToken::parse(token, DEFAULT_MAX_TOKEN_BYTES)
            .unwrap_err()
            .code()
    }

    #[test]
    fn parses_a_well_formed_token() {
        let text = token(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"sub":"a"}"#,
        );
        let parsed = UntrustedToken::parse(&text, DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(parsed.header().alg, "RS256");
        assert_eq!(parsed.header().kid.as_deref(), Some("k1"));
        assert_eq!(parsed.header().typ.as_deref(), Some("JWT"));
        assert_eq!(parsed.signature(), b"sig");
        assert_eq!(
            parsed.signing_input(),
            text.rsplit_once('.').unwrap().0.as_bytes()
        );
        assert_eq!(parsed.claims().unwrap()["sub"], "a");
    }

    #[test]
    fn length_is_checked_before_anything_else() {
        let text = token(r#"{"alg":"RS256"}"#, "{}");
        assert!(UntrustedToken::parse(&text, text.len()).is_ok());
        assert_eq!(
            UntrustedToken::parse(&text, text.len() - 1),
            Err(Rejection::TokenTooLarge {
                len: text.len(),
                max: text.len() - 1
            })
        );
        let huge = "a".repeat(DEFAULT_MAX_TOKEN_BYTES + 1);
        assert_eq!(code(&huge), "token_too_large");
    }

    #[test]
    fn structure_must_be_exactly_three_non_empty_segments() {
        let h = b64(r#"{"alg":"RS256"}"#);
        let p = b64("{}");
        for text in [
            format!("{h}.{p}"),
            format!("{h}.{p}.c2ln.c2ln"),
            format!("{h}.{p}.."),
            format!(".{p}.c2ln"),
            format!("{h}..c2ln"),
            String::new(),
            "..".to_owned(),
        ] {
            assert_eq!(code(&text), "malformed_token", "{text:?}");
        }
    }

    #[test]
    fn whitespace_and_foreign_characters_are_refused() {
        let good = token(r#"{"alg":"RS256"}"#, "{}");
        for (at, insert) in [
            (0, " "),
            (5, "\n"),
            (good.len(), " "),
            (3, "+"),
            (3, "/"),
            (good.len(), "="),
        ] {
            let mut text = good.clone();
            text.insert_str(at, insert);
            assert_eq!(code(&text), "malformed_token", "{text:?}");
        }
    }

    #[test]
    fn a_foreign_byte_names_the_rejection_wherever_it_is() {
        // Whatever else is wrong with the token (bad header JSON, `crit`, four segments, an
        // empty one), a byte outside base64url is what the rejection names.
        let h = b64(r#"{"alg":"RS256"}"#);
        let crit = b64(r#"{"alg":"RS256","crit":["x"]}"#);
        let p = b64(r#"{"sub":"a"}"#);
        for good in [
            format!("{h}.{p}.c2ln"),
            format!("{crit}.{p}.c2ln"),
            format!("{}.{p}.c2ln", b64("not json")),
            format!("{h}.{p}.c2ln.c2ln"),
            format!("{h}..c2ln"),
        ] {
            for at in 0..=good.len() {
                for (byte, reason) in [
                    (" ", "contains whitespace"),
                    ("\t", "contains whitespace"),
                    ("\n", "contains whitespace"),
                    ("+", "contains a character outside base64url"),
                    ("/", "contains a character outside base64url"),
                    ("=", "contains a character outside base64url"),
                    ("é", "contains a character outside base64url"),
                ] {
                    let mut text = good.clone();
                    text.insert_str(at, byte);
                    assert_eq!(
                        UntrustedToken::parse(&text, DEFAULT_MAX_TOKEN_BYTES),
                        Err(Rejection::Malformed { reason }),
                        "{text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn base64url_must_be_canonical() {
        // "{}" is e30; e31 has non-zero trailing bits and decodes to the same bytes in lax decoders.
        let h = b64(r#"{"alg":"RS256"}"#);
        assert!(UntrustedToken::parse(&format!("{h}.e30.c2ln"), 9999).is_ok());
        assert_eq!(code(&format!("{h}.e31.c2ln")), "malformed_token");
        // A lone base64url character cannot encode whole bytes.
        assert_eq!(code(&format!("{h}.e30.c")), "malformed_token");
    }

    #[test]
    fn header_must_be_a_strict_object_with_string_alg() {
        for header in [
            "[]",
            "not json",
            r#"{"kid":"k"}"#,
            r#"{"alg":null}"#,
            r#"{"alg":256}"#,
            r#"{"alg":"RS256","alg":"none"}"#,
            r#"{"alg":"RS256","kid":7}"#,
            r#"{"alg":"RS256","typ":["JWT"]}"#,
        ] {
            assert_eq!(code(&token(header, "{}")), "malformed_token", "{header}");
        }
    }

    #[test]
    fn crit_b64_and_zip_are_unsupported() {
        for header in [
            r#"{"alg":"RS256","crit":["exp"],"exp":1}"#,
            r#"{"alg":"RS256","crit":[]}"#,
            r#"{"alg":"RS256","b64":false,"crit":["b64"]}"#,
            r#"{"alg":"RS256","b64":true}"#,
            r#"{"alg":"RS256","zip":"DEF"}"#,
        ] {
            assert_eq!(code(&token(header, "{}")), "unsupported_header", "{header}");
        }
    }

    #[test]
    fn payload_is_parsed_strictly_only_on_request() {
        let text = token(r#"{"alg":"RS256"}"#, r#"{"exp":1,"exp":2}"#);
        let parsed = UntrustedToken::parse(&text, DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(parsed.claims().unwrap_err().code(), "malformed_token");
        let text = token(r#"{"alg":"RS256"}"#, "[1]");
        let parsed = UntrustedToken::parse(&text, DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(parsed.claims().unwrap_err().code(), "malformed_token");
    }
}
