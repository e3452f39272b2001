//! OAuth 2.0 protected-resource metadata (RFC 9728): the document the gateway serves at
//! `/.well-known/oauth-protected-resource`, and the metadata URL its challenges name
//! (`resource_metadata`, section 5.1), so that OAuth clients (MCP clients among them) find out
//! where to get a token for the API behind it.
//!
//! - The resource identifier is `RESOURCE_URI`, or, without it, the request's own origin
//!   (`https://host[:port]`).
//! - The metadata URL is the identifier with `/.well-known/oauth-protected-resource` inserted
//!   between its host and its path (section 3.1), the path's terminating `/` removed:
//!   `https://api.example.com/mcp` has its metadata at
//!   `https://api.example.com/.well-known/oauth-protected-resource/mcp`. The gateway answers
//!   exactly that path, the bare `/.well-known/oauth-protected-resource` too (clients that do
//!   not insert the path ask there), and 404 for any other path below it; each is matched on the
//!   raw path, before canonicalisation, and never forwarded.
//! - The document: `resource`, `authorization_servers` (the issuers), `scopes_supported` (every
//!   scope of `ROUTE_SCOPES`, left out when there is none: section 3.2 omits empty members) and
//!   `bearer_methods_supported`: `["header"]` only. RFC 9728 defines `header`, `body` and
//!   `query`; the `JWT_COOKIE` cookie is for browser sessions of the API's own site, not for
//!   OAuth clients, and is not mentioned.
//!
//! `RESOURCE_METADATA=false` turns all of it off: the path is an ordinary path again and no
//! challenge names a metadata URL.

use serde_json::{json, Map, Value};

use crate::gateway::answer::GatewayError;
use crate::gateway::routing::RouteScope;

/// The well-known path of the metadata (RFC 9728 section 3).
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";
/// The document's `Cache-Control`: anyone may keep it for five minutes, so a deploy that changes
/// the scopes or the issuers reaches clients within that time, while a burst of clients
/// starting their authorisation at once is answered from their caches.
pub const CACHE_CONTROL: &str = "public, max-age=300";
/// The methods the metadata endpoint answers (`Allow` of its 405).
pub const ALLOW: &str = "GET, HEAD";
/// The bearer methods the document lists (`bearer_methods_supported`).
pub const BEARER_METHODS: [&str; 1] = ["header"];

/// What a valid `RESOURCE_URI` looks like, besides the rules of every configured URL.
pub const RESOURCE_URI_RULE: &str =
    "written as a URL parser writes it (lowercase scheme and host, no default port, no dot \
     segments; a path is allowed)";

/// `RESOURCE_URI`: the resource identifier, an absolute http(s) URL without query or fragment,
/// written as a URL parser writes it (the configuration checks that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceUri {
    text: String,
    /// The end of `scheme://host[:port]` in `text`.
    origin: usize,
}

impl ResourceUri {
    /// `text` as an identifier: `None` unless it is `http(s)://` followed by a host and an
    /// optional path, without `?` or `#`. The rest of the URL rules are the configuration's.
    pub fn new(text: &str) -> Option<ResourceUri> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))?;
        let host_start = text.len() - rest.len();
        let origin = host_start + rest.find('/').unwrap_or(rest.len());
        if origin == host_start || text.contains(['?', '#']) {
            return None;
        }
        Some(ResourceUri {
            text: text.to_owned(),
            origin,
        })
    }

    /// The identifier, as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What RFC 9728 section 3.1 puts after the well-known path: the identifier's path without
    /// its terminating `/` (empty for no path, or `/`).
    pub fn path_suffix(&self) -> &str {
        let path = &self.text[self.origin..];
        path.strip_suffix('/').unwrap_or(path)
    }

    /// The metadata URL (RFC 9728 section 3.1).
    pub fn metadata_url(&self) -> String {
        format!(
            "{}{WELL_KNOWN_PATH}{}",
            &self.text[..self.origin],
            self.path_suffix()
        )
    }
}

/// `RESOURCE_METADATA` on, with `RESOURCE_URI` when set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceMetadata {
    resource: Option<ResourceUri>,
}

impl ResourceMetadata {
    /// The metadata of `resource` (`RESOURCE_URI`), or of each request's origin without one.
    pub fn new(resource: Option<ResourceUri>) -> ResourceMetadata {
        ResourceMetadata { resource }
    }

    /// `RESOURCE_URI`, when set.
    pub fn resource_uri(&self) -> Option<&ResourceUri> {
        self.resource.as_ref()
    }

    /// What the gateway answers on the raw path `path` with `method`: `None` when the path is
    /// not the metadata's (it goes on through the pipeline); `Ok` for the document; 404 for
    /// another path below the well-known path; 405 for a method other than `GET` or `HEAD`.
    pub fn route(&self, path: &str, method: &str) -> Option<Result<(), GatewayError>> {
        let suffix = path.strip_prefix(WELL_KNOWN_PATH)?;
        if !suffix.is_empty() && !suffix.starts_with('/') {
            return None;
        }
        let served = suffix.is_empty()
            || self
                .resource
                .as_ref()
                .is_some_and(|resource| resource.path_suffix() == suffix);
        if !served {
            return Some(Err(GatewayError::NotFound));
        }
        Some(match method {
            "GET" | "HEAD" => Ok(()),
            _ => Err(GatewayError::MethodNotAllowed { allow: ALLOW }),
        })
    }

    /// The resource identifier: `RESOURCE_URI`, or `request_origin` (`scheme://host[:port]`).
    pub fn resource<'a>(&'a self, request_origin: &'a str) -> &'a str {
        self.resource
            .as_ref()
            .map_or(request_origin, ResourceUri::as_str)
    }

    /// The metadata URL for a request from `request_origin` (`resource_metadata` of its
    /// challenges).
    pub fn metadata_url(&self, request_origin: &str) -> String {
        match &self.resource {
            Some(resource) => resource.metadata_url(),
            None => format!("{request_origin}{WELL_KNOWN_PATH}"),
        }
    }

    /// The metadata document for a request from `request_origin`: the identifier, the
    /// `authorization_servers` (issuer identifiers) and every distinct scope of `route_scopes`,
    /// in the order configured; members without a value are left out (RFC 9728 section 3.2).
    pub fn document(
        &self,
        request_origin: &str,
        authorization_servers: &[String],
        route_scopes: &[RouteScope],
    ) -> Value {
        let mut scopes: Vec<&str> = Vec::new();
        for scope in route_scopes.iter().flat_map(|rule| &rule.scopes) {
            if !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
        let mut document = Map::new();
        document.insert("resource".to_owned(), json!(self.resource(request_origin)));
        if !authorization_servers.is_empty() {
            document.insert(
                "authorization_servers".to_owned(),
                json!(authorization_servers),
            );
        }
        if !scopes.is_empty() {
            document.insert("scopes_supported".to_owned(), json!(scopes));
        }
        document.insert("bearer_methods_supported".to_owned(), json!(BEARER_METHODS));
        Value::Object(document)
    }
}

/// A request's origin as the metadata names it: `scheme://host`, the host with its port when
/// it is not the scheme's default (as the runtime's URL gives them).
pub fn request_origin(scheme: &str, host: &str) -> String {
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> ResourceUri {
        ResourceUri::new(text).unwrap_or_else(|| panic!("{text} refused"))
    }

    fn rules(text: &str) -> Vec<RouteScope> {
        text.split(';').map(|rule| rule.parse().unwrap()).collect()
    }

    #[test]
    fn the_metadata_url_inserts_the_well_known_path_before_the_path() {
        for (resource, url) in [
            (
                "https://api.example.com",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/mcp",
                "https://api.example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://api.example.com/mcp/",
                "https://api.example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://api.example.com:8443/a/b%20c",
                "https://api.example.com:8443/.well-known/oauth-protected-resource/a/b%20c",
            ),
            (
                "http://127.0.0.1:8787/v1",
                "http://127.0.0.1:8787/.well-known/oauth-protected-resource/v1",
            ),
        ] {
            assert_eq!(uri(resource).metadata_url(), url, "{resource}");
            assert_eq!(uri(resource).as_str(), resource);
        }
        for bad in [
            "",
            "api.example.com",
            "https://",
            "https:///x",
            "ftp://a.example",
            "https://a.example/?q",
            "https://a.example/#f",
        ] {
            assert_eq!(ResourceUri::new(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_endpoint_is_the_derived_path_and_the_bare_one_only() {
        let with_path = ResourceMetadata::new(Some(uri("https://api.example.com/mcp")));
        let bare = ResourceMetadata::default();
        let root = ResourceMetadata::new(Some(uri("https://api.example.com/")));
        let not_found = Some(Err(GatewayError::NotFound));
        for (metadata, path, expected) in [
            (
                &with_path,
                "/.well-known/oauth-protected-resource/mcp",
                Some(Ok(())),
            ),
            (
                &with_path,
                "/.well-known/oauth-protected-resource",
                Some(Ok(())),
            ),
            (
                &with_path,
                "/.well-known/oauth-protected-resource/",
                not_found.clone(),
            ),
            (
                &with_path,
                "/.well-known/oauth-protected-resource/MCP",
                not_found.clone(),
            ),
            (
                &with_path,
                "/.well-known/oauth-protected-resource/mcp/",
                not_found.clone(),
            ),
            (
                &with_path,
                "/.well-known/oauth-protected-resource/mcp/x",
                not_found.clone(),
            ),
            (
                &with_path,
                "/.well-known/oauth-protected-resource/other",
                not_found.clone(),
            ),
            (&bare, "/.well-known/oauth-protected-resource", Some(Ok(()))),
            (
                &bare,
                "/.well-known/oauth-protected-resource/mcp",
                not_found.clone(),
            ),
            (&root, "/.well-known/oauth-protected-resource", Some(Ok(()))),
            (
                &root,
                "/.well-known/oauth-protected-resource/",
                not_found.clone(),
            ),
            // Not the metadata's: the pipeline goes on (canonical path, token...).
            (&bare, "/.well-known/oauth-protected-resourcex", None),
            (&bare, "//.well-known/oauth-protected-resource", None),
            (&bare, "/.well-known/oauth-protected-resource%2f", None),
            (&bare, "/.WELL-KNOWN/oauth-protected-resource", None),
            (&bare, "/.well-known/openid-configuration", None),
            (&bare, "/mcp", None),
        ] {
            assert_eq!(metadata.route(path, "GET"), expected, "{path}");
        }
        assert_eq!(bare.route(WELL_KNOWN_PATH, "HEAD"), Some(Ok(())));
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "get", "PATCH"] {
            assert_eq!(
                bare.route(WELL_KNOWN_PATH, method),
                Some(Err(GatewayError::MethodNotAllowed { allow: ALLOW })),
                "{method}"
            );
        }
        // An unknown path is 404 whatever the method.
        assert_eq!(
            bare.route("/.well-known/oauth-protected-resource/x", "POST"),
            not_found
        );
    }

    #[test]
    fn the_document_names_the_resource_the_issuers_and_the_scopes() {
        let issuers = ["https://login.example.com/".to_owned()];
        let scopes = rules(
            "POST /orders=orders:write; GET /orders=orders:read; /admin=admin orders:read; \
             DELETE /orders=orders:write",
        );
        let from_request = ResourceMetadata::default();
        assert_eq!(
            from_request.document("https://gateway.test", &issuers, &scopes),
            json!({
                "resource": "https://gateway.test",
                "authorization_servers": ["https://login.example.com/"],
                "scopes_supported": ["orders:write", "orders:read", "admin"],
                "bearer_methods_supported": ["header"],
            })
        );
        assert_eq!(
            from_request.metadata_url("https://gateway.test"),
            "https://gateway.test/.well-known/oauth-protected-resource"
        );
        let configured = ResourceMetadata::new(Some(uri("https://api.example.com/mcp")));
        // No scope rules: no scopes_supported member at all.
        assert_eq!(
            configured.document("https://gateway.test", &issuers, &[]),
            json!({
                "resource": "https://api.example.com/mcp",
                "authorization_servers": ["https://login.example.com/"],
                "bearer_methods_supported": ["header"],
            })
        );
        assert_eq!(
            configured.metadata_url("https://gateway.test"),
            "https://api.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let doc = configured.document("https://gateway.test", &[], &[]);
        assert!(doc.get("authorization_servers").is_none(), "{doc}");
    }
}
