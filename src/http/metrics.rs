//! `GET /metrics`: the Prometheus text of [`crate::metrics::Metrics`].
//!
//! Who may read it: a client on this machine (the socket peer is loopback and
//! no proxy header names anyone else), or any client with the configured
//! bearer token (`metrics.token`). A trusted proxy's `X-Forwarded-For` can
//! only take access away, never grant it: a request that a proxy on this
//! machine forwards from the internet names a non-loopback client and is
//! refused, whatever the client wrote into the header itself.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::config::SecretString;
use crate::http::response::NO_STORE;
use crate::metrics::ScrapeSources;
use crate::service::{ServiceError, Services};

/// Whether a request may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A local client or a valid token.
    Allowed,
    /// Not local, and no token is configured: the route is hidden (404).
    Hidden,
    /// Not local, and the token is missing or wrong (401).
    TokenRequired,
}

/// Decides who may read `/metrics`: a valid bearer token from anywhere, or a
/// local client. Local means the socket peer is loopback AND every address a
/// proxy header names (`X-Forwarded-For`, `X-Real-IP`, `Forwarded`) is
/// loopback too; a header that does not parse counts as remote. So a proxy
/// on this machine that forwards an internet client is refused, and a
/// client writing `127.0.0.1` into its own header gains nothing: the proxy
/// appends the real address after it.
pub fn access(peer: IpAddr, headers: &HeaderMap, token: &SecretString) -> Access {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(candidate) = bearer
        && token.matches(candidate)
    {
        return Access::Allowed;
    }
    if is_loopback(peer) && forwarded_addresses_are_local(headers) {
        return Access::Allowed;
    }
    if token.is_empty() { Access::Hidden } else { Access::TokenRequired }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(|v4| v4.is_loopback()).unwrap_or(v6.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// True when no proxy header names a non-loopback (or unreadable) address.
fn forwarded_addresses_are_local(headers: &HeaderMap) -> bool {
    let local = |text: &str| text.trim().parse::<IpAddr>().is_ok_and(is_loopback);
    let all_values = |name: &str, check: &dyn Fn(&str) -> bool| {
        headers.get_all(name).iter().all(|value| value.to_str().is_ok_and(check))
    };
    let forwarded_for = |value: &str| value.split(',').all(local);
    let real_ip = |value: &str| local(value);
    let forwarded = |value: &str| {
        value.split(',').all(|element| {
            element.split(';').all(|pair| {
                let Some((key, node)) = pair.split_once('=') else { return pair.trim().is_empty() };
                if !key.trim().eq_ignore_ascii_case("for") {
                    return true;
                }
                let node = node.trim().trim_matches('"');
                // `[v6]:port`, `[v6]`, `v4:port` or `v4`.
                let address = match node.strip_prefix('[') {
                    Some(rest) => rest.split(']').next().unwrap_or(""),
                    None => node.split(':').next().unwrap_or(""),
                };
                local(address)
            })
        })
    };
    all_values("x-forwarded-for", &forwarded_for)
        && all_values("x-real-ip", &real_ip)
        && all_values("forwarded", &forwarded)
}

/// `GET /metrics`.
pub async fn render(
    State(services): State<Services>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ServiceError> {
    match access(peer.ip(), &headers, &services.config.metrics.token) {
        Access::Allowed => {}
        Access::Hidden => return Err(ServiceError::not_found("no such page")),
        Access::TokenRequired => {
            let mut response = ServiceError::auth_required().into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Ok(response);
        }
    }
    let sources = ScrapeSources {
        writer: services.writer.stats(),
        live: &services.live,
        search: &services.search,
        store: &services.store,
    };
    let text = services.metrics.exposition(&sources).map_err(|_| ServiceError::internal("cannot encode metrics"))?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prometheus_client::encoding::prometheus_text::CONTENT_TYPE),
    );
    response.headers_mut().insert(header::CACHE_CONTROL, NO_STORE);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn token(text: &str) -> SecretString {
        serde_json::from_value(serde_json::json!(text)).expect("secret")
    }

    #[test]
    fn local_clients_get_in_and_remote_ones_do_not() {
        let none = SecretString::default();
        assert_eq!(access(ip("127.0.0.1"), &headers(&[]), &none), Access::Allowed);
        assert_eq!(access(ip("::1"), &headers(&[]), &none), Access::Allowed);
        assert_eq!(access(ip("::ffff:127.0.0.1"), &headers(&[]), &none), Access::Allowed);
        assert_eq!(access(ip("203.0.113.9"), &headers(&[]), &none), Access::Hidden);
        assert_eq!(access(ip("192.168.1.4"), &headers(&[]), &none), Access::Hidden);
        assert_eq!(access(ip("203.0.113.9"), &headers(&[]), &token("a-long-enough-token")), Access::TokenRequired);
    }

    #[test]
    fn proxy_headers_only_take_access_away() {
        let none = SecretString::default();
        let refused = [
            &[("x-forwarded-for", "203.0.113.7")][..],
            &[("x-forwarded-for", "127.0.0.1, 203.0.113.7")],
            &[("x-forwarded-for", "127.0.0.1"), ("x-forwarded-for", "203.0.113.7")],
            &[("x-forwarded-for", "unknown")],
            &[("x-real-ip", "203.0.113.7")],
            &[("forwarded", "for=203.0.113.7;proto=https")],
            &[("forwarded", "for=\"[2001:db8::1]:4711\"")],
            &[("forwarded", "for=_hidden")],
        ];
        for case in refused {
            assert_eq!(access(ip("127.0.0.1"), &headers(case), &none), Access::Hidden, "{case:?}");
        }
        let allowed = [
            &[("x-forwarded-for", "127.0.0.1")][..],
            &[("x-real-ip", "::1")],
            &[("forwarded", "for=127.0.0.1:5000;proto=http")],
            &[("forwarded", "for=\"[::1]\"")],
        ];
        for case in allowed {
            assert_eq!(access(ip("127.0.0.1"), &headers(case), &none), Access::Allowed, "{case:?}");
        }
        // A header claiming loopback does not help a remote peer.
        let spoof = headers(&[("x-forwarded-for", "127.0.0.1")]);
        assert_eq!(access(ip("203.0.113.9"), &spoof, &none), Access::Hidden);
    }

    #[test]
    fn the_token_lets_anyone_in_and_a_wrong_one_nobody() {
        let secret = token("scrape-me-0123456789");
        let good = headers(&[("authorization", "Bearer scrape-me-0123456789")]);
        let wrong = headers(&[("authorization", "Bearer scrape-me-0123456780")]);
        let basic = headers(&[("authorization", "Basic scrape-me-0123456789")]);
        assert_eq!(access(ip("203.0.113.9"), &good, &secret), Access::Allowed);
        assert_eq!(access(ip("203.0.113.9"), &wrong, &secret), Access::TokenRequired);
        assert_eq!(access(ip("203.0.113.9"), &basic, &secret), Access::TokenRequired);
        let empty = headers(&[("authorization", "Bearer ")]);
        assert_eq!(access(ip("203.0.113.9"), &empty, &SecretString::default()), Access::Hidden);
    }
}
