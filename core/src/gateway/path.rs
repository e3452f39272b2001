//! One canonical form of a request path: what the gateway matches its rules against is what the
//! origin receives.
//!
//! Origins read paths in different ways. ASP.NET Core routes case-insensitively, most frameworks
//! decode percent-escapes before routing, many merge repeated slashes, and Java servers strip
//! `;parameters`. A rule matched on the raw path could therefore be bypassed by spelling the path
//! differently (`/ORDERS`, `/%6Frders`, `//orders`, `/orders;x=1`). [`canonicalize`] removes that
//! freedom:
//!
//! - percent-escapes of unreserved characters (RFC 3986: letters, digits, `-`, `_`, `~`) are
//!   decoded, and repeated slashes merged: the result, [`CanonicalPath::as_sent`], is the path the
//!   origin receives;
//! - [`CanonicalPath::key`] is that path in lowercase, for matching (rules match
//!   case-insensitively);
//! - a path that cannot be made canonical without guessing how the origin reads it is refused
//!   ([`PathError`]): `;` parameters, dot segments, a backslash, an escaped `.`, `/`, `\`, `%`
//!   (double encoding such as `%252e`), `;`, `?` or `#`, an escaped control character, a
//!   malformed escape, or a character that a URL never carries unescaped.
//!
//! Other escapes (`%20`, `%C3%A9`, `%3A`...) are kept exactly as received: decoding them could
//! only change what the origin sees, never which rule applies, since no rule path can contain
//! them decoded either.

/// A request path in the gateway's canonical form (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath {
    sent: String,
    key: String,
}

impl CanonicalPath {
    /// The path the origin receives: unreserved escapes decoded, repeated slashes merged, the
    /// case and every other escape as received.
    pub fn as_sent(&self) -> &str {
        &self.sent
    }

    /// The path in lowercase, which rules are matched against.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Why a path has no unambiguous canonical form. Every variant is a `400 invalid_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}", self.description())]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `;` (path parameters, which some servers strip before routing).
    Parameters,
    /// A `.` or `..` segment, which the origin may resolve into another path.
    DotSegment,
    /// A backslash, which some servers read as `/`.
    Backslash,
    /// An escaped character the origin may decode into a different path: `.`, `/`, `\`, `%`
    /// (double encoding), `;`, `?` or `#`.
    EncodedDelimiter,
    /// An escaped control character (`%00`-`%1F`, `%7F`), which some servers cut the path at.
    EncodedControl,
    /// A `%` not followed by two hexadecimal digits.
    MalformedEscape,
    /// A character a URL path never carries unescaped (space, control, non-ASCII, `"`, `<`...).
    InvalidCharacter,
}

impl PathError {
    /// A short description for the `400` answer.
    pub fn description(self) -> &'static str {
        match self {
            PathError::NotAbsolute => "the request path must start with '/'",
            PathError::Parameters => "';' parameters in the request path are not accepted",
            PathError::DotSegment => "dot segments in the request path are not accepted",
            PathError::Backslash => "a backslash in the request path is not accepted",
            PathError::EncodedDelimiter => {
                "an escaped dot, slash, backslash, percent sign, semicolon, question mark or hash \
                 in the request path is not accepted"
            }
            PathError::EncodedControl => {
                "an escaped control character in the request path is not accepted"
            }
            PathError::MalformedEscape => "a malformed percent-escape in the request path",
            PathError::InvalidCharacter => "an invalid character in the request path",
        }
    }
}

/// RFC 3986 `unreserved` (without `.`, whose escape is refused instead: decoding it could make
/// a dot segment).
fn decodes(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~')
}

/// What a URL path may carry unescaped: RFC 3986 `pchar` and `/`, without `;` (refused) and
/// `%` (handled as an escape), plus `[`, `]`, `|`, `^`, `{` and `}`, which the WHATWG URL parser
/// (the Workers runtime's) leaves unescaped in paths and no origin reads as a delimiter.
fn is_path_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,=:@/[]|^{}".contains(&byte)
}

/// The canonical form of `raw`, a request path as received (without query), or why it has none.
pub fn canonicalize(raw: &str) -> Result<CanonicalPath, PathError> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    let mut sent = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match byte {
            b'%' => {
                let escape = raw.get(i + 1..i + 3).ok_or(PathError::MalformedEscape)?;
                if !escape.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(PathError::MalformedEscape);
                }
                let value =
                    u8::from_str_radix(escape, 16).map_err(|_| PathError::MalformedEscape)?;
                if decodes(value) {
                    sent.push(char::from(value));
                } else if matches!(value, b'.' | b'/' | b'\\' | b'%' | b';' | b'?' | b'#') {
                    return Err(PathError::EncodedDelimiter);
                } else if value < 0x20 || value == 0x7f {
                    return Err(PathError::EncodedControl);
                } else {
                    sent.push_str(&raw[i..i + 3]);
                }
                i += 3;
                continue;
            }
            b';' => return Err(PathError::Parameters),
            b'\\' => return Err(PathError::Backslash),
            b'/' if sent.ends_with('/') => {}
            byte if is_path_char(byte) => sent.push(char::from(byte)),
            _ => return Err(PathError::InvalidCharacter),
        }
        i += 1;
    }
    if sent
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(PathError::DotSegment);
    }
    let key = sent.to_ascii_lowercase();
    Ok(CanonicalPath { sent, key })
}

/// What a configured path (`PUBLIC_PATHS`, `ROUTE_SCOPES`) must look like, for error messages.
pub const CONFIGURED_PATH_RULE: &str = "starting with '/', in visible ASCII (percent-encode \
                                        anything else), without ';', '?', '#', '.'/'..' segments \
                                        or escaped '.', '/', '\\' or '%'";

/// A configured path in canonical form (unreserved escapes decoded, repeated slashes merged),
/// without trailing `/` (except `/` itself); `None` when the path has no canonical form (`;`,
/// dot segments, escaped delimiters...) or is not plain visible ASCII.
pub fn configured(path: &str) -> Option<String> {
    let canonical = canonicalize(path).ok()?;
    match canonical.as_sent().trim_end_matches('/') {
        "" => Some("/".to_owned()),
        trimmed => Some(trimmed.to_owned()),
    }
}

/// Whether the configured path `prefix` covers `path` segment by segment: `path` equals it or
/// continues it with `/` (`/health` covers `/health`, `/health/` and `/health/live`, never
/// `/healthz`); `/` covers every path. A trailing `/` on `prefix` is ignored. Both are compared
/// as given: the caller decides between [`CanonicalPath::as_sent`] and [`CanonicalPath::key`].
pub fn covers(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return true;
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(raw: &str) -> String {
        match canonicalize(raw) {
            Ok(path) => path.as_sent().to_owned(),
            Err(err) => panic!("{raw:?} refused: {err}"),
        }
    }

    fn refused(raw: &str) -> PathError {
        match canonicalize(raw) {
            Ok(path) => panic!("{raw:?} accepted as {path:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn plain_paths_are_their_own_canonical_form() {
        for raw in [
            "/",
            "/orders",
            "/orders/42",
            "/orders/",
            "/a-b_c~d.e/v1.2/...",
            "/a:b@c!$&'()*+,=",
        ] {
            assert_eq!(sent(raw), raw);
        }
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_slashes_merged() {
        assert_eq!(sent("/%6Frders"), "/orders");
        assert_eq!(sent("/%6frders/%34%32"), "/orders/42");
        assert_eq!(sent("/%2D%5F%7E"), "/-_~");
        assert_eq!(sent("//orders"), "/orders");
        assert_eq!(sent("///orders//42///"), "/orders/42/");
        assert_eq!(sent("//"), "/");
    }

    #[test]
    fn the_key_is_the_sent_path_in_lowercase() {
        let path = canonicalize("/ORDERS/%4bey%C3%A9").unwrap();
        assert_eq!(path.as_sent(), "/ORDERS/Key%C3%A9");
        assert_eq!(path.key(), "/orders/key%c3%a9");
    }

    #[test]
    fn other_escapes_are_kept_as_received() {
        assert_eq!(
            sent("/a%20b/caf%c3%a9/%3A%40%2B%2c%3d%26%22"),
            "/a%20b/caf%c3%a9/%3A%40%2B%2c%3d%26%22"
        );
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        let cases = [
            ("orders", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("/orders;x=1", PathError::Parameters),
            ("/orders/..;/admin", PathError::Parameters),
            ("/orders/../admin", PathError::DotSegment),
            ("/orders/./x", PathError::DotSegment),
            ("/orders/..", PathError::DotSegment),
            ("/.", PathError::DotSegment),
            ("/orders\\admin", PathError::Backslash),
            ("/%2e%2e/admin", PathError::EncodedDelimiter),
            ("/orders/%2E", PathError::EncodedDelimiter),
            ("/v1%2e2", PathError::EncodedDelimiter),
            ("/orders%2fadmin", PathError::EncodedDelimiter),
            ("/orders%2Fadmin", PathError::EncodedDelimiter),
            ("/orders%5cadmin", PathError::EncodedDelimiter),
            ("/%252e%252e/admin", PathError::EncodedDelimiter),
            ("/orders%25", PathError::EncodedDelimiter),
            ("/orders%3bx=1", PathError::EncodedDelimiter),
            ("/orders%3Fx", PathError::EncodedDelimiter),
            ("/orders%23x", PathError::EncodedDelimiter),
            ("/orders%00.json", PathError::EncodedControl),
            ("/orders%0a", PathError::EncodedControl),
            ("/orders%7F", PathError::EncodedControl),
            ("/orders%", PathError::MalformedEscape),
            ("/orders%4", PathError::MalformedEscape),
            ("/orders%zz", PathError::MalformedEscape),
            ("/orders%+1", PathError::MalformedEscape),
            ("/or ders", PathError::InvalidCharacter),
            ("/orders\n", PathError::InvalidCharacter),
            ("/orders\u{0}", PathError::InvalidCharacter),
            ("/caf\u{e9}", PathError::InvalidCharacter),
            ("/a\"b", PathError::InvalidCharacter),
            ("/a<b>", PathError::InvalidCharacter),
            ("/a?b", PathError::InvalidCharacter),
            ("/a#b", PathError::InvalidCharacter),
        ];
        for (raw, expected) in cases {
            assert_eq!(refused(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn a_multibyte_character_after_a_percent_is_malformed_not_a_panic() {
        assert_eq!(refused("/%\u{e9}"), PathError::MalformedEscape);
        assert_eq!(refused("/%a\u{e9}"), PathError::MalformedEscape);
    }

    #[test]
    fn covers_is_segment_aware() {
        for path in ["/health", "/health/", "/health/live"] {
            assert!(covers("/health", path), "{path}");
            assert!(covers("/health/", path), "{path}");
        }
        for path in ["/healthz", "/health-check", "/", "/x/health"] {
            assert!(!covers("/health", path), "{path}");
        }
        for path in ["/", "/anything/at/all"] {
            assert!(covers("/", path), "{path}");
        }
    }

    #[test]
    fn every_description_is_printable_ascii() {
        for err in [
            PathError::NotAbsolute,
            PathError::Parameters,
            PathError::DotSegment,
            PathError::Backslash,
            PathError::EncodedDelimiter,
            PathError::EncodedControl,
            PathError::MalformedEscape,
            PathError::InvalidCharacter,
        ] {
            assert!(err
                .description()
                .bytes()
                .all(|b| b == b' ' || b.is_ascii_graphic()));
        }
    }
}
