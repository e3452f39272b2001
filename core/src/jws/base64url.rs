//! Strict base64url decoding of what a request or a key set brings: unpadded, canonical (no
//! stray bits, no lone last character), the URL-safe alphabet only.
//!
//! Decoding uses the `base64` crate's table-driven engine rather than `base64ct`, whose
//! constant-time decoding protects secrets the gateway never decodes (tokens and public keys are
//! public): on a token with an invalid signature it cost about 100 thousand instructions of
//! 924 (`bench/instructions.mjs`; docs/decisions/0006-bundle-size.md). Encoding stays with
//! `base64ct`, whose code is the smaller of the two: moving it too made the module 1.8 KiB larger
//! gzip'd. The differential property test below holds the two crates to the same answers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// `text` decoded, or `None` when it is not canonical unpadded base64url.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::decode;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use proptest::prelude::*;

    #[test]
    fn canonical_unpadded_only() {
        assert_eq!(decode("e30").as_deref(), Some(&b"{}"[..]));
        assert_eq!(decode(""), Some(vec![]));
        for bad in ["e31", "e30=", "c", "e3 0", "e3+0", "e3/0", "e30\n"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    proptest! {
        /// Any text over the alphabet, padding and a few strangers: accepted by both crates
        /// with the same bytes, or refused by both.
        #[test]
        fn agrees_with_base64ct(text in "[A-Za-z0-9_=+/. -]{0,24}") {
            prop_assert_eq!(decode(&text), Base64UrlUnpadded::decode_vec(&text).ok());
        }

        /// Every byte string encodes (with base64ct) to text that decodes back to it.
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let text = Base64UrlUnpadded::encode_string(&bytes);
            prop_assert_eq!(decode(&text), Some(bytes));
        }
    }
}
