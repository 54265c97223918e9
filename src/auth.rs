//! Who is asking: the client address (believing `X-Forwarded-For` only from
//! trusted proxies) and the voter identity derived from it.
//!
//! A signed-in voter votes as their account (`u:<id>`); anyone else votes
//! as an anonymous device, keyed by a hash of the client address (IPv6 by
//! its /64) and User-Agent under the server secret, so the key reveals
//! neither. `http::extract::Caller` picks one or the other.

use std::io::Write;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

use crate::domain::ids::VoterKey;

/// The server secret, generated into the data dir on first start. Its Debug
/// output never shows the bytes.
#[derive(Clone)]
pub struct ServerSecret([u8; 32]);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

impl ServerSecret {
    /// Wraps secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Derives an independent key for one purpose, so no two uses share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        blake3::derive_key(purpose, &self.0)
    }
}

/// Finds the client address: the socket peer, unless the peer is a trusted
/// proxy, in which case `X-Forwarded-For` is walked from the right, skipping
/// trusted proxies, and the first untrusted hop is the client. The leftmost
/// entry is never believed blindly: any client can write it. A hop may carry
/// a port (`1.2.3.4:5555`, `[2001:db8::1]:443`), as some proxies append it.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(header) = forwarded_for else { return peer };
    let mut client = peer;
    for hop in header.rsplit(',') {
        let Some(ip) = parse_hop(hop) else {
            // An unparseable hop ends the walk: what lies left of it cannot be trusted.
            break;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, with or without a port (IPv6
/// with a port in brackets).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(address) = hop.parse::<std::net::SocketAddr>() {
        return Some(address.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|v6| v6.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// Maps IPv4-mapped IPv6 addresses to IPv4 so one client has one form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The part of an address that identifies one client: the whole IPv4
/// address, or the /64 prefix of an IPv6 address (one subscriber's network).
pub fn client_prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0))
        }
    }
}

/// The network a client belongs to for fraud signals (IPv4 /24, IPv6 /48),
/// folded into a number.
pub fn network_id(ip: IpAddr) -> u64 {
    let prefix: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets()[..3].to_vec(),
        IpAddr::V6(v6) => v6.octets()[..6].to_vec(),
    };
    let hash = blake3::hash(&prefix);
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// The anonymous voter key of a device: a keyed hash of its address prefix
/// and User-Agent.
pub fn device_voter_key(secret_key: &[u8; 32], client: IpAddr, user_agent: &str) -> VoterKey {
    let mut hasher = blake3::Hasher::new_keyed(secret_key);
    // The address's text, written straight into the hash: the same bytes as
    // `to_string`, without a string per vote. A hasher's `write` never fails.
    let _ = write!(hasher, "{}", client_prefix(client));
    hasher.update(b"\0");
    hasher.update(user_agent.as_bytes());
    let hash = hasher.finalize();
    let mut fingerprint = [0u8; 16];
    fingerprint.copy_from_slice(&hash.as_bytes()[..16]);
    VoterKey::device(fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Vec<IpNet> {
        vec!["127.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")]
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &loopback()), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_peer_forwards_the_rightmost_untrusted_hop() {
        let header = "6.6.6.6, 198.51.100.7, 127.0.0.2";
        assert_eq!(client_ip(ip("127.0.0.1"), Some(header), &loopback()), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("127.0.0.1"), None, &loopback()), ip("127.0.0.1"));
        assert_eq!(client_ip(ip("127.0.0.1"), Some("junk, 198.51.100.7"), &loopback()), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("127.0.0.1"), Some("198.51.100.7, junk"), &loopback()), ip("127.0.0.1"));
    }

    #[test]
    fn forwarded_hops_with_ports_parse() {
        let walk = |header: &str| client_ip(ip("127.0.0.1"), Some(header), &loopback());
        assert_eq!(walk("198.51.100.3:5555"), ip("198.51.100.3"));
        assert_eq!(walk("198.51.100.3:5555, 127.0.0.1:80"), ip("198.51.100.3"));
        assert_eq!(walk("[2001:db8::1]:443"), ip("2001:db8::1"));
        assert_eq!(walk("[2001:db8::1]"), ip("2001:db8::1"));
        assert_ne!(walk("[2001:db8::1]:443"), walk("[2001:db8:1::1]:443"));
        assert_eq!(walk("198.51.100.3:port"), ip("127.0.0.1"), "garbage still ends the walk");
        assert_eq!(walk("1.2.3.4:99999"), ip("127.0.0.1"), "so does a port out of range");
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64_and_mapped_v4_is_v4() {
        assert_eq!(client_prefix(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_ip(ip("::ffff:203.0.113.9"), None, &loopback()), ip("203.0.113.9"));
        let key = [3u8; 32];
        assert_eq!(
            device_voter_key(&key, ip("2001:db8:1:2::1"), "ua"),
            device_voter_key(&key, ip("2001:db8:1:2::ffff"), "ua")
        );
        assert_ne!(device_voter_key(&key, ip("10.0.0.1"), "ua"), device_voter_key(&key, ip("10.0.0.2"), "ua"));
    }

    /// The device key of a stored vote must not change across versions, or
    /// a voter could vote again: it hashes the address prefix's text, a NUL
    /// and the User-Agent.
    #[test]
    fn device_keys_hash_the_prefix_text_as_stored_votes_did() {
        let key = [7u8; 32];
        for (client, user_agent) in [("203.0.113.9", "Mozilla/5.0"), ("2001:db8:1:2:aaaa::1", ""), ("::1", "curl/8")] {
            let mut hasher = blake3::Hasher::new_keyed(&key);
            hasher.update(client_prefix(ip(client)).to_string().as_bytes());
            hasher.update(b"\0");
            hasher.update(user_agent.as_bytes());
            let mut fingerprint = [0u8; 16];
            fingerprint.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
            assert_eq!(device_voter_key(&key, ip(client), user_agent), VoterKey::device(fingerprint), "{client}");
        }
    }
}
