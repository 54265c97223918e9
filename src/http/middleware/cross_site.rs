//! Cross-site request refusal for every state-changing request.
//!
//! Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`);
//! when they do, it must be this site, or the request is refused with 403
//! `csrf_failed` before any handler runs, so it changes nothing. Clients that
//! send neither header (curl, mobile apps) are not browsers riding on a
//! victim's cookies and pass. Signed-in form posts also carry the session's
//! form token, checked by the page handlers.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};

/// Whether the request changes state (it is not GET, HEAD or OPTIONS) and
/// comes from another site; [`guard`](super::guard) then answers 403
/// `csrf_failed` instead of running it.
pub fn refuses(request: &Request, public_url: Option<&str>) -> bool {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    !safe && !is_same_site(request.headers(), public_url)
}

/// Whether the browser's own headers place the request on this site.
///
/// `Sec-Fetch-Site` decides when present (browsers cannot forge it).
/// Otherwise `Origin` is compared as (scheme, host, port), the host without
/// regard to case and a missing port read as the scheme's default:
/// - with `public_url` set, an origin equal to it is this site; so is one
///   naming the `Host` the request was sent to over plain HTTP, unless that
///   host is `public_url`'s own (then only `public_url`'s scheme and port
///   are this site: `http://film.example.org` is not `https://…`);
/// - without it, an `http` or `https` origin naming the request's `Host`
///   (a TLS proxy in front may have turned one into the other).
pub fn is_same_site(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Some(origin) = origin.to_str().ok().and_then(SiteOrigin::parse) else { return false };
    let public = public_url.and_then(SiteOrigin::parse);
    if public.as_ref() == Some(&origin) {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|host| host.to_str().ok()) else { return false };
    let addressed = |scheme: &'static str| SiteOrigin::parse_authority(scheme, host);
    match public {
        Some(public) => {
            origin.scheme == "http" && addressed("http") == Some(origin.clone()) && origin.host != public.host
        }
        None => matches!(origin.scheme, "http" | "https") && addressed(origin.scheme) == Some(origin),
    }
}

/// A web origin: scheme, lower-case host and port (the scheme's default
/// when the text has none).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SiteOrigin {
    scheme: &'static str,
    host: String,
    port: u16,
}

impl SiteOrigin {
    /// Reads `scheme://host[:port][/…]`; only `http` and `https` are web
    /// origins this server can be.
    fn parse(text: &str) -> Option<SiteOrigin> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => "http",
            "https" => "https",
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        Self::parse_authority(scheme, authority)
    }

    /// Reads `host[:port]` (an IPv6 host in brackets) under `scheme`.
    fn parse_authority(scheme: &'static str, authority: &str) -> Option<SiteOrigin> {
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
            _ => (authority, default_port),
        };
        if host.is_empty() {
            return None;
        }
        Some(SiteOrigin { scheme, host: host.to_ascii_lowercase(), port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn judges_by_fetch_metadata_then_origin() {
        assert!(is_same_site(&headers(&[]), None));
        assert!(is_same_site(&headers(&[("sec-fetch-site", "same-origin")]), None));
        assert!(!is_same_site(&headers(&[("sec-fetch-site", "cross-site")]), None));
        assert!(!is_same_site(&headers(&[("sec-fetch-site", "same-site")]), None));
        assert!(is_same_site(&headers(&[("origin", "http://a.test:8080"), ("host", "a.test:8080")]), None));
        assert!(!is_same_site(&headers(&[("origin", "http://evil.test"), ("host", "a.test")]), None));
        assert!(!is_same_site(&headers(&[("origin", "null"), ("host", "a.test")]), None));
        assert!(is_same_site(
            &headers(&[("origin", "https://film.example"), ("host", "127.0.0.1:8080")]),
            Some("https://film.example/")
        ));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let public = Some("https://film.example.org");
        let cases = [
            (("https://film.example.org", "127.0.0.1:8080"), public, true),
            (("https://FILM.example.org:443", "127.0.0.1:8080"), public, true),
            (("http://film.example.org", "film.example.org"), public, false),
            (("http://film.example.org:443", "film.example.org:443"), public, false),
            (("https://film.example.org:8443", "film.example.org:8443"), public, false),
            (("http://127.0.0.1:8080", "127.0.0.1:8080"), public, true),
            (("http://127.0.0.1:8080", "127.0.0.1:8080"), None, true),
            (("http://a.test", "a.test:80"), None, true),
            (("ftp://127.0.0.1:8080", "127.0.0.1:8080"), None, false),
            (("x://127.0.0.1:8080", "127.0.0.1:8080"), None, false),
            (("127.0.0.1:8080", "127.0.0.1:8080"), None, false),
            (("http://127.0.0.1:8081", "127.0.0.1:8080"), None, false),
            (("http://[::1]:8080", "[::1]:8080"), None, true),
            (("http://user@a.test", "a.test"), None, false),
        ];
        for ((origin, host), public_url, expected) in cases {
            let mut map = HeaderMap::new();
            map.insert(header::ORIGIN, HeaderValue::from_str(origin).expect("origin"));
            map.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
            assert_eq!(
                is_same_site(&map, public_url),
                expected,
                "Origin {origin}, Host {host}, public_url {public_url:?}"
            );
        }
    }
}
