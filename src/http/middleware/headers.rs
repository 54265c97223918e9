//! Security headers on every response (a handler that sets one itself keeps
//! its own): a content security policy without inline script, no sniffing,
//! no framing, and a same-origin referrer policy.
//!
//! With `[media] base_url` set, pages load videos and posters from there,
//! so the policy names that origin in `img-src` and `media-src`.

use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use tower::util::MapResponseLayer;

/// The headers besides the content security policy, and their values.
const SECURITY_HEADERS: [(HeaderName, &str); 3] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// The content security policy; `media_origin` (scheme, host and port of
/// `[media] base_url`, or "") may serve images and video too.
fn content_security_policy(media_origin: &str) -> String {
    let extra = if media_origin.is_empty() { String::new() } else { format!(" {media_origin}") };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{extra}; \
         media-src 'self' blob:{extra}; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The origin (scheme, host, port) of a base URL: what a CSP source names.
pub fn origin_of(base_url: &str) -> &str {
    let after_scheme = base_url.find("://").map_or(0, |at| at + 3);
    match base_url[after_scheme..].find('/') {
        Some(slash) => &base_url[..after_scheme + slash],
        None => base_url,
    }
}

/// The layer that adds the security headers to every response that lacks
/// them; `media_base_url` is `[media] base_url` ("" = media from this server).
///
/// One layer for all four, composed with the other outer layers into one
/// stack (`router.rs`): each layer a router applies on its own is one more
/// boxed service cloned and future polled per request (issue #16).
pub fn security_headers(
    media_base_url: &str,
) -> MapResponseLayer<impl Fn(Response) -> Response + Clone + Send + Sync + use<>> {
    // `config` checked the URL: nothing in it can break out of the header.
    let policy = HeaderValue::from_str(&content_security_policy(origin_of(media_base_url)))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let headers: Arc<[(HeaderName, HeaderValue)]> = std::iter::once((header::CONTENT_SECURITY_POLICY, policy))
        .chain(SECURITY_HEADERS.into_iter().map(|(name, value)| (name, HeaderValue::from_static(value))))
        .collect();
    MapResponseLayer::new(move |mut response: Response| {
        for (name, value) in headers.iter() {
            if !response.headers().contains_key(name) {
                response.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_media_origin_only_when_there_is_one() {
        assert_eq!(origin_of("https://cdn.example.net/zone/a"), "https://cdn.example.net");
        assert_eq!(origin_of("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        let own = content_security_policy("");
        assert!(own.contains("img-src 'self' data:;") && own.contains("media-src 'self' blob:;"), "{own}");
        let cdn = content_security_policy("https://cdn.example.net");
        assert!(cdn.contains("img-src 'self' data: https://cdn.example.net;"), "{cdn}");
        assert!(cdn.contains("media-src 'self' blob: https://cdn.example.net;"), "{cdn}");
    }
}
