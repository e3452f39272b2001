//! The client headers that never reach the origin: one list, with the reason for each.
//!
//! Origins act on more headers than the ones a gateway thinks about. Frameworks honour method
//! overrides (`X-HTTP-Method-Override`), IIS and Symfony route on `X-Original-URL`, most apps log
//! or trust `X-Real-IP`, and CGI, WSGI and Rack fold `-` and `_` into the same variable
//! (`X-Auth_Subject` and `X_Auth_Subject` both become `HTTP_X_AUTH_SUBJECT`). So a header is
//! judged by its [normalised](normalized) name: lowercase, with `_` read as `-`.
//!
//! | reason                               | headers                                          |
//! |--------------------------------------|--------------------------------------------------|
//! | [`Stripped::HopByHop`]               | `Connection` and the headers it names, `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-*` |
//! | [`Stripped::Routing`]                | `Host`                                           |
//! | [`Stripped::ClientAddress`]          | `Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `True-Client-IP`, `X-Client-IP`, ... (the gateway rebuilds `X-Forwarded-For`/`-Proto`/`-Host` and `X-Real-IP`) |
//! | [`Stripped::MethodOverride`]         | `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override` |
//! | [`Stripped::PathRewrite`]            | `X-Original-URL`, `X-Rewrite-URL`, `X-Original-URI`, `X-Forwarded-Prefix`, ... |
//! | [`Stripped::Identity`]               | `X-Auth-*` and every `CLAIM_HEADERS` name        |
//!
//! The list is [`STRIPPED_HEADERS`]; [`stripped`] applies it together with the identity rule.

use crate::gateway::identity::ClaimHeader;

/// Why a client header is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stripped {
    /// It describes the client's connection to the gateway (RFC 9110 section 7.6.1).
    HopByHop,
    /// The origin request's host comes from `ORIGIN_URL`.
    Routing,
    /// A client could claim another address or scheme with it; the gateway sets its own.
    ClientAddress,
    /// It changes the method the origin acts on, after the gateway checked the scopes of the
    /// request's own method.
    MethodOverride,
    /// It changes the path the origin routes, after the gateway checked the request's own path.
    PathRewrite,
    /// Only the gateway may state the verified identity.
    Identity,
}

/// Every header stripped by name (normalised: lowercase, `-` for `_`), with its reason, in byte
/// order (so that [`stripped`] finds a name by binary search). The identity headers are a prefix
/// and a configured list, see [`stripped`].
pub const STRIPPED_HEADERS: &[(&str, Stripped)] = &[
    ("client-ip", Stripped::ClientAddress),
    ("connection", Stripped::HopByHop),
    ("fastly-client-ip", Stripped::ClientAddress),
    ("forwarded", Stripped::ClientAddress),
    ("front-end-https", Stripped::ClientAddress),
    ("host", Stripped::Routing),
    ("keep-alive", Stripped::HopByHop),
    ("proxy-authenticate", Stripped::HopByHop),
    ("proxy-authorization", Stripped::HopByHop),
    ("proxy-connection", Stripped::HopByHop),
    ("te", Stripped::HopByHop),
    ("trailer", Stripped::HopByHop),
    ("transfer-encoding", Stripped::HopByHop),
    ("true-client-ip", Stripped::ClientAddress),
    ("upgrade", Stripped::HopByHop),
    ("x-client-ip", Stripped::ClientAddress),
    ("x-cluster-client-ip", Stripped::ClientAddress),
    ("x-envoy-original-path", Stripped::PathRewrite),
    ("x-forwarded-for", Stripped::ClientAddress),
    ("x-forwarded-host", Stripped::ClientAddress),
    ("x-forwarded-path", Stripped::PathRewrite),
    ("x-forwarded-port", Stripped::ClientAddress),
    ("x-forwarded-prefix", Stripped::PathRewrite),
    ("x-forwarded-proto", Stripped::ClientAddress),
    ("x-forwarded-protocol", Stripped::ClientAddress),
    ("x-forwarded-scheme", Stripped::ClientAddress),
    ("x-forwarded-server", Stripped::ClientAddress),
    ("x-forwarded-ssl", Stripped::ClientAddress),
    ("x-forwarded-uri", Stripped::PathRewrite),
    ("x-http-method", Stripped::MethodOverride),
    ("x-http-method-override", Stripped::MethodOverride),
    ("x-method-override", Stripped::MethodOverride),
    ("x-original-path", Stripped::PathRewrite),
    ("x-original-uri", Stripped::PathRewrite),
    ("x-original-url", Stripped::PathRewrite),
    ("x-originating-ip", Stripped::ClientAddress),
    ("x-real-ip", Stripped::ClientAddress),
    ("x-remote-addr", Stripped::ClientAddress),
    ("x-remote-ip", Stripped::ClientAddress),
    ("x-rewrite-url", Stripped::PathRewrite),
    ("x-url-scheme", Stripped::ClientAddress),
];

/// The prefix of the gateway's identity headers, normalised. Every client header with this
/// prefix is removed before the verified ones are added.
pub const IDENTITY_PREFIX: &str = "x-auth-";

/// A header-name byte as origins that fold `-` and `_` read it: lowercase, `-` for `_`.
fn fold(byte: u8) -> u8 {
    match byte {
        b'_' => b'-',
        byte => byte.to_ascii_lowercase(),
    }
}

/// `name` as origins that fold `-` and `_` read it: lowercase, with `-` for `_`.
pub fn normalized(name: &str) -> String {
    name.bytes().map(|b| char::from(fold(b))).collect()
}

/// Whether origins that fold `-` and `_` read `a` and `b` as the same header. Compares without
/// allocating: it runs for every header of every forwarded request.
pub fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// Why the client header `name` (any case, `_` or `-`) is not forwarded, or `None` when it is.
/// `claim_headers` are the configured identity headers (`CLAIM_HEADERS`).
pub fn stripped(name: &str, claim_headers: &[ClaimHeader]) -> Option<Stripped> {
    let prefix = name.get(..IDENTITY_PREFIX.len());
    if prefix.is_some_and(|prefix| same_name(prefix, IDENTITY_PREFIX))
        || claim_headers
            .iter()
            .any(|entry| same_name(&entry.header, name))
    {
        return Some(Stripped::Identity);
    }
    // Every header of every forwarded request is looked up: the name is folded once, on the
    // stack, then found by binary search with plain byte comparisons. A name longer than every
    // listed one is none of them.
    let mut buffer = [0u8; LONGEST_STRIPPED];
    let folded = buffer.get_mut(..name.len())?;
    for (to, from) in folded.iter_mut().zip(name.bytes()) {
        *to = fold(from);
    }
    STRIPPED_HEADERS
        .binary_search_by(|(listed, _)| listed.as_bytes().cmp(folded))
        .ok()
        .map(|index| STRIPPED_HEADERS[index].1)
}

/// The length of the longest name in [`STRIPPED_HEADERS`].
const LONGEST_STRIPPED: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < STRIPPED_HEADERS.len() {
        if STRIPPED_HEADERS[i].0.len() > longest {
            longest = STRIPPED_HEADERS[i].0.len();
        }
        i += 1;
    }
    longest
};

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(header: &str) -> ClaimHeader {
        ClaimHeader {
            claim: vec!["email".to_owned()],
            header: header.to_owned(),
        }
    }

    #[test]
    fn the_list_is_normalised_sorted_and_has_no_duplicates() {
        for (name, _) in STRIPPED_HEADERS {
            assert_eq!(normalized(name), *name);
            assert!(!name.starts_with(IDENTITY_PREFIX), "{name}");
        }
        for pair in STRIPPED_HEADERS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
    }

    #[test]
    fn every_listed_header_is_found_in_any_spelling() {
        for (name, why) in STRIPPED_HEADERS {
            let upper = name.to_ascii_uppercase();
            let underscored = name.replace('-', "_");
            for spelling in [name, upper.as_str(), underscored.as_str()] {
                assert_eq!(stripped(spelling, &[]), Some(*why), "{spelling}");
            }
            // One byte more or less is another header.
            assert_eq!(stripped(&format!("{name}s"), &[]), None, "{name}s");
            assert_eq!(
                stripped(&name[..name.len() - 1], &[]),
                None,
                "{name} shortened"
            );
        }
        // Longer than every listed name (they are folded on the stack up to the longest).
        let long = format!("x-forwarded-for{}", "-".repeat(1000));
        assert_eq!(stripped(&long, &[]), None);
    }

    #[test]
    fn underscores_and_case_do_not_hide_a_header() {
        let config = [entry("X-User-Email")];
        for (name, why) in [
            ("X-Auth_Subject", Stripped::Identity),
            ("X_Auth_Subject", Stripped::Identity),
            ("x_auth_claims", Stripped::Identity),
            ("X-AUTH-ROLES", Stripped::Identity),
            ("x_user_email", Stripped::Identity),
            ("X-User_Email", Stripped::Identity),
            ("X_Forwarded_For", Stripped::ClientAddress),
            ("X_Real_IP", Stripped::ClientAddress),
            ("X-HTTP-Method-Override", Stripped::MethodOverride),
            ("x_http_method", Stripped::MethodOverride),
            ("X-Method-Override", Stripped::MethodOverride),
            ("X-Original-URL", Stripped::PathRewrite),
            ("X_Rewrite_URL", Stripped::PathRewrite),
            ("True-Client-IP", Stripped::ClientAddress),
            ("Transfer_Encoding", Stripped::HopByHop),
            ("HOST", Stripped::Routing),
        ] {
            assert_eq!(stripped(name, &config), Some(why), "{name}");
        }
    }

    #[test]
    fn same_name_folds_case_and_underscores_only() {
        assert!(same_name("X_Auth_Subject", "x-auth-subject"));
        assert!(same_name("", ""));
        assert!(!same_name("x-auth-subject", "x-auth-subjects"));
        assert!(!same_name("x.auth", "x-auth"));
    }

    #[test]
    fn ordinary_headers_pass() {
        for name in [
            "accept",
            "authorization",
            "content-type",
            "content-length",
            "x-request-id",
            "x-user",
            "x-auth",
            "x-authorization",
            "cf-connecting-ip",
            "origin",
            "access-control-request-method",
        ] {
            assert_eq!(stripped(name, &[entry("X-User-Email")]), None, "{name}");
        }
    }
}
