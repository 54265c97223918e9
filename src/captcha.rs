//! Built-in proof-of-work captcha: no third party, no tracking, no images.
//!
//! Why proof of work: when `require_captcha_voting` is on, a voter must show
//! that their device spent a little CPU (about 2^`difficulty_bits` SHA-256
//! hashes, well under a second in a browser at the default 18 bits) before it
//! may vote. A person pays that once per pass; a bot farm minting many voter
//! identities pays it for every identity, which is the cost we want to raise.
//! It needs no external service (the appliance stays self-contained and
//! private) and no state per challenge on the server.
//!
//! How a challenge is signed: the token is base64url (no padding) of
//! `nonce (16 random bytes) | expiry (i64 millis, big-endian) | difficulty (u8)
//! | MAC (16 bytes)`, where the MAC is the first 16 bytes of a blake3 keyed
//! hash, under a key derived from the server secret, over everything before
//! it. Issuing therefore stores nothing; a client can neither forge a token,
//! extend its expiry nor lower its difficulty. A solution is a number `n`
//! such that `SHA-256(token ASCII || ":" || n as decimal ASCII)` starts with
//! at least `difficulty` zero bits, counted from the most significant bit of
//! byte 0 (`static/captcha.js` does exactly the same).
//!
//! Why replay protection is bounded: a solved token may be used once. The
//! nonces of accepted tokens are remembered, but only until their token
//! expires: after that the expiry check alone refuses the token. Every token
//! expires at most `challenge_ttl_secs` after it was issued, so the set only
//! ever holds the nonces accepted in the last TTL window — and each one cost a
//! solved challenge. Expired entries are dropped by [`Captcha::prune`] and,
//! amortised, whenever the set has doubled since the last sweep, so memory
//! stays bounded even if nobody calls `prune`. The set lives in memory: after
//! a restart a token solved before it could be used once more until it
//! expires (at most one TTL), which is an accepted, bounded weakness.
//!
//! A successful verify lets the caller [`Captcha::grant_pass`] to the voter:
//! for `pass_ttl_secs` that voter votes without solving again. Passes are in
//! memory too and bounded the same way (each one cost a solution, each one
//! expires).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Captcha settings (config section); every field has a safe default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptchaConfig {
    /// Leading zero bits a solution's hash must have (work ≈ 2^bits hashes).
    pub difficulty_bits: u8,
    /// How long an issued challenge may be solved and redeemed.
    pub challenge_ttl_secs: u64,
    /// How long a voter may vote without solving again after a solution.
    pub pass_ttl_secs: u64,
}

impl Default for CaptchaConfig {
    fn default() -> Self {
        Self { difficulty_bits: 18, challenge_ttl_secs: 120, pass_ttl_secs: 3600 }
    }
}

/// A challenge as handed to the client. Serialises to the JSON the browser
/// script expects: `{"token", "difficultyBits", "expiresAt"}` (millis).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// Opaque signed token; the client hashes its ASCII bytes.
    pub token: String,
    /// Leading zero bits the solution's hash needs.
    pub difficulty_bits: u8,
    /// Unix millis after which the token is refused.
    #[serde(rename = "expiresAt")]
    pub expires_at_millis: i64,
}

/// Why a solution was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaError {
    /// The token is not one of ours in shape (length, encoding).
    #[error("malformed captcha token")]
    Malformed,
    /// The token was not issued with our key, or was altered.
    #[error("captcha token signature does not match")]
    BadSignature,
    /// The token has expired (or was issued under an easier difficulty than
    /// the current one): fetch a new challenge.
    #[error("captcha challenge expired")]
    Expired,
    /// The token was already redeemed.
    #[error("captcha challenge already used")]
    Replayed,
    /// The solution does not have enough leading zero bits.
    #[error("captcha solution is wrong")]
    WrongSolution,
}

const NONCE_LEN: usize = 16;
const MAC_LEN: usize = 16;
/// nonce | expiry | difficulty
const SIGNED_LEN: usize = NONCE_LEN + 8 + 1;
const TOKEN_BYTES: usize = SIGNED_LEN + MAC_LEN;
/// base64url without padding of `TOKEN_BYTES` bytes.
const TOKEN_CHARS: usize = (TOKEN_BYTES * 8).div_ceil(6);
/// Below this many entries a map is never swept on the hot path.
const MIN_SWEEP_LEN: usize = 1024;

/// Entries with an expiry, swept when they have doubled since the last sweep.
#[derive(Debug)]
struct Expiring<K> {
    entries: HashMap<K, i64>,
    sweep_at_len: usize,
}

impl<K: std::hash::Hash + Eq> Expiring<K> {
    fn new() -> Self {
        Self { entries: HashMap::new(), sweep_at_len: MIN_SWEEP_LEN }
    }

    /// Drops every entry whose expiry is at or before `now_millis`.
    fn prune(&mut self, now_millis: i64) {
        self.entries.retain(|_, expires| *expires > now_millis);
        self.sweep_at_len = MIN_SWEEP_LEN.max(self.entries.len().saturating_mul(2));
    }

    /// Amortised O(1) sweep so the map stays bounded without outside help.
    fn maybe_prune(&mut self, now_millis: i64) {
        if self.entries.len() >= self.sweep_at_len {
            self.prune(now_millis);
        }
    }
}

/// Issues and verifies proof-of-work challenges, and remembers who passed.
/// Cheap to share (`Arc<Captcha>`); all methods take `&self`.
pub struct Captcha {
    key: [u8; 32],
    config: CaptchaConfig,
    used_nonces: Mutex<Expiring<[u8; NONCE_LEN]>>,
    passes: Mutex<Expiring<String>>,
}

impl std::fmt::Debug for Captcha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captcha")
            .field("key", &"..")
            .field("config", &self.config)
            .field("used_nonces", &self.used_nonce_count())
            .field("passes", &self.pass_count())
            .finish()
    }
}

impl Captcha {
    /// `key` is a server-derived secret for this purpose only
    /// (e.g. `ServerSecret::derive("aimoviez captcha v1")`).
    pub fn new(key: [u8; 32], config: CaptchaConfig) -> Self {
        Self { key, config, used_nonces: Mutex::new(Expiring::new()), passes: Mutex::new(Expiring::new()) }
    }

    /// The settings in force.
    pub fn config(&self) -> &CaptchaConfig {
        &self.config
    }

    /// A fresh signed challenge, valid for `challenge_ttl_secs` from `now_millis`.
    pub fn issue(&self, now_millis: i64) -> Challenge {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let expires_at_millis = now_millis.saturating_add(secs_to_millis(self.config.challenge_ttl_secs));
        let difficulty_bits = self.config.difficulty_bits;
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..NONCE_LEN].copy_from_slice(&nonce);
        bytes[NONCE_LEN..NONCE_LEN + 8].copy_from_slice(&expires_at_millis.to_be_bytes());
        bytes[NONCE_LEN + 8] = difficulty_bits;
        let mac = self.mac(&bytes[..SIGNED_LEN]);
        bytes[SIGNED_LEN..].copy_from_slice(&mac);
        Challenge { token: URL_SAFE_NO_PAD.encode(bytes), difficulty_bits, expires_at_millis }
    }

    /// Checks the MAC, expiry, difficulty, then that
    /// SHA-256(token_ascii_bytes || ":" || solution_decimal_ascii) has at
    /// least the token's `difficulty_bits` leading zero bits, then that the
    /// nonce was not used before. On success the nonce is remembered until
    /// the token expires, so the same token is refused from then on.
    pub fn verify(&self, token: &str, solution: u64, now_millis: i64) -> Result<(), CaptchaError> {
        if token.len() != TOKEN_CHARS {
            return Err(CaptchaError::Malformed);
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(token.as_bytes(), &mut bytes) {
            Ok(TOKEN_BYTES) => {}
            _ => return Err(CaptchaError::Malformed),
        }
        let expected = self.mac(&bytes[..SIGNED_LEN]);
        if !constant_time_eq(&expected, &bytes[SIGNED_LEN..]) {
            return Err(CaptchaError::BadSignature);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&bytes[NONCE_LEN..NONCE_LEN + 8]);
        let expires_at_millis = i64::from_be_bytes(expiry);
        let difficulty_bits = bytes[NONCE_LEN + 8];
        if now_millis >= expires_at_millis {
            return Err(CaptchaError::Expired);
        }
        if difficulty_bits < self.config.difficulty_bits {
            // Signed by us under an easier setting: stale, like an expired one.
            return Err(CaptchaError::Expired);
        }
        if leading_zero_bits(&pow_hash(token, solution)) < u32::from(difficulty_bits) {
            return Err(CaptchaError::WrongSolution);
        }
        let mut used = self.used_nonces.lock();
        used.maybe_prune(now_millis);
        if used.entries.contains_key(&nonce) {
            return Err(CaptchaError::Replayed);
        }
        used.entries.insert(nonce, expires_at_millis);
        Ok(())
    }

    /// After a successful verify the caller grants the voter a pass.
    /// Returns the pass expiry (Unix millis).
    pub fn grant_pass(&self, voter: &str, now_millis: i64) -> i64 {
        let expires = now_millis.saturating_add(secs_to_millis(self.config.pass_ttl_secs));
        let mut passes = self.passes.lock();
        passes.maybe_prune(now_millis);
        passes.entries.insert(voter.to_owned(), expires);
        expires
    }

    /// Whether the voter holds a pass that has not expired.
    pub fn has_pass(&self, voter: &str, now_millis: i64) -> bool {
        self.passes.lock().entries.get(voter).is_some_and(|expires| *expires > now_millis)
    }

    /// Drops expired nonces and passes. Call it now and then (e.g. every
    /// minute); verify and grant also sweep, amortised, on their own.
    pub fn prune(&self, now_millis: i64) {
        self.used_nonces.lock().prune(now_millis);
        self.passes.lock().prune(now_millis);
    }

    /// How many redeemed nonces are remembered (for metrics and tests).
    pub fn used_nonce_count(&self) -> usize {
        self.used_nonces.lock().entries.len()
    }

    /// How many passes are held (for metrics and tests).
    pub fn pass_count(&self) -> usize {
        self.passes.lock().entries.len()
    }

    fn mac(&self, signed: &[u8]) -> [u8; MAC_LEN] {
        let hash = blake3::keyed_hash(&self.key, signed);
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&hash.as_bytes()[..MAC_LEN]);
        mac
    }
}

/// Finds a solution (for tests and benchmarks; the browser does the same in
/// JS): the smallest `n` whose hash has `difficulty_bits` leading zero bits.
/// Takes about 2^`difficulty_bits` hashes; do not call it with absurd
/// difficulties (above ~40 it effectively never returns).
pub fn solve(token: &str, difficulty_bits: u8) -> u64 {
    let needed = u32::from(difficulty_bits);
    let mut n: u64 = 0;
    while leading_zero_bits(&pow_hash(token, n)) < needed {
        n = n.wrapping_add(1);
    }
    n
}

/// SHA-256(token ASCII || ":" || solution as decimal ASCII).
fn pow_hash(token: &str, solution: u64) -> [u8; 32] {
    let mut digits = [0u8; 20];
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(b":");
    hasher.update(decimal(solution, &mut digits));
    hasher.finalize().into()
}

/// `n` as decimal ASCII, written into `buf` (20 digits fit any u64).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        // n % 10 < 10, so the cast cannot truncate.
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[start..]
}

/// Leading zero bits of a hash, from the most significant bit of byte 0.
fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for &byte in hash {
        if byte != 0 {
            return bits + byte.leading_zeros();
        }
        bits += 8;
    }
    bits
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn secs_to_millis(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const KEY: [u8; 32] = [7; 32];

    fn easy() -> CaptchaConfig {
        CaptchaConfig { difficulty_bits: 8, ..CaptchaConfig::default() }
    }

    fn captcha() -> Captcha {
        Captcha::new(KEY, easy())
    }

    #[test]
    fn defaults_and_config_parsing() {
        let config = CaptchaConfig::default();
        assert_eq!((config.difficulty_bits, config.challenge_ttl_secs, config.pass_ttl_secs), (18, 120, 3600));
        let parsed: CaptchaConfig = toml::from_str("difficulty_bits = 12").expect("parse");
        assert_eq!(parsed, CaptchaConfig { difficulty_bits: 12, ..CaptchaConfig::default() });
        assert!(toml::from_str::<CaptchaConfig>("difficulty = 12").is_err(), "unknown keys are refused");
    }

    #[test]
    fn issue_solve_verify_ok() {
        let captcha = captcha();
        let challenge = captcha.issue(NOW);
        assert_eq!(challenge.token.len(), TOKEN_CHARS);
        assert_eq!(challenge.difficulty_bits, 8);
        assert_eq!(challenge.expires_at_millis, NOW + 120_000);
        let solution = solve(&challenge.token, challenge.difficulty_bits);
        assert_eq!(captcha.verify(&challenge.token, solution, NOW + 1_000), Ok(()));
    }

    #[test]
    fn challenge_json_matches_the_browser_script() {
        let challenge = Challenge { token: "t".into(), difficulty_bits: 18, expires_at_millis: 5 };
        let json = serde_json::to_value(&challenge).expect("json");
        assert_eq!(json, serde_json::json!({"token": "t", "difficultyBits": 18, "expiresAt": 5}));
    }

    #[test]
    fn a_replayed_solution_is_refused() {
        let captcha = captcha();
        let challenge = captcha.issue(NOW);
        let solution = solve(&challenge.token, 8);
        assert_eq!(captcha.verify(&challenge.token, solution, NOW), Ok(()));
        assert_eq!(captcha.verify(&challenge.token, solution, NOW + 1), Err(CaptchaError::Replayed));
    }

    #[test]
    fn a_wrong_solution_is_refused_and_does_not_burn_the_token() {
        let captcha = captcha();
        let challenge = captcha.issue(NOW);
        let solution = solve(&challenge.token, 8);
        // solution + 1 fails with probability 255/256; take the first that
        // is checked to fail rather than trusting luck.
        let wrong = (solution + 1..).find(|n| leading_zero_bits(&pow_hash(&challenge.token, *n)) < 8).expect("a miss");
        assert_eq!(captcha.verify(&challenge.token, wrong, NOW), Err(CaptchaError::WrongSolution));
        assert_eq!(captcha.verify(&challenge.token, solution, NOW), Ok(()));
    }

    #[test]
    fn an_expired_challenge_is_refused() {
        let captcha = captcha();
        let challenge = captcha.issue(NOW);
        let solution = solve(&challenge.token, 8);
        assert_eq!(
            captcha.verify(&challenge.token, solution, challenge.expires_at_millis + 1),
            Err(CaptchaError::Expired)
        );
        assert_eq!(captcha.verify(&challenge.token, solution, challenge.expires_at_millis), Err(CaptchaError::Expired));
    }

    #[test]
    fn a_token_issued_under_an_easier_difficulty_is_stale() {
        let easy = captcha();
        let hard = Captcha::new(KEY, CaptchaConfig { difficulty_bits: 9, ..easy.config().clone() });
        let challenge = easy.issue(NOW);
        let solution = solve(&challenge.token, 8);
        assert_eq!(hard.verify(&challenge.token, solution, NOW), Err(CaptchaError::Expired));
    }

    #[test]
    fn any_flipped_character_is_refused() {
        let captcha = captcha();
        let challenge = captcha.issue(NOW);
        let solution = solve(&challenge.token, 8);
        for i in 0..challenge.token.len() {
            let mut bytes = challenge.token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            let result = captcha.verify(&tampered, solution, NOW);
            assert!(
                matches!(result, Err(CaptchaError::BadSignature | CaptchaError::Malformed)),
                "position {i}: {result:?}"
            );
        }
        assert_eq!(captcha.verify("", 0, NOW), Err(CaptchaError::Malformed));
        assert_eq!(captcha.verify(&"!".repeat(TOKEN_CHARS), 0, NOW), Err(CaptchaError::Malformed));
        assert_eq!(captcha.verify(&format!("{}A", challenge.token), solution, NOW), Err(CaptchaError::Malformed));
        // The untouched token still works: failures consumed nothing.
        assert_eq!(captcha.verify(&challenge.token, solution, NOW), Ok(()));
    }

    #[test]
    fn a_token_from_another_key_is_refused() {
        let other = Captcha::new([8; 32], easy());
        let challenge = other.issue(NOW);
        let solution = solve(&challenge.token, 8);
        assert_eq!(other.verify(&challenge.token, solution, NOW), Ok(()));
        assert_eq!(captcha().verify(&challenge.token, solution, NOW), Err(CaptchaError::BadSignature));
    }

    #[test]
    fn a_pass_lasts_pass_ttl() {
        let captcha = captcha();
        assert!(!captcha.has_pass("dev:abc", NOW));
        let until = captcha.grant_pass("dev:abc", NOW);
        assert_eq!(until, NOW + 3_600_000);
        assert!(captcha.has_pass("dev:abc", NOW + 1));
        assert!(captcha.has_pass("dev:abc", until - 1));
        assert!(!captcha.has_pass("dev:other", NOW + 1));
        assert!(!captcha.has_pass("dev:abc", until));
        assert!(!captcha.has_pass("dev:abc", until + 1));
        captcha.prune(until);
        assert_eq!(captcha.pass_count(), 0);
    }

    #[test]
    fn prune_keeps_memory_bounded() {
        let captcha = captcha();
        for i in 0..300 {
            let challenge = captcha.issue(NOW + i);
            let solution = solve(&challenge.token, 8);
            assert_eq!(captcha.verify(&challenge.token, solution, NOW + i), Ok(()));
            captcha.grant_pass(&format!("dev:{i}"), NOW + i);
        }
        assert_eq!(captcha.used_nonce_count(), 300);
        captcha.prune(NOW + 60_000);
        assert_eq!(captcha.used_nonce_count(), 300, "nothing has expired yet");
        captcha.prune(NOW + 300 + 120_000);
        assert_eq!(captcha.used_nonce_count(), 0);
        assert_eq!(captcha.pass_count(), 300, "passes outlive challenges");
        captcha.prune(NOW + 300 + 3_600_000);
        assert_eq!(captcha.pass_count(), 0);
    }

    #[test]
    fn the_nonce_set_sweeps_itself_without_prune() {
        // Difficulty 0 (any solution) keeps thousands of redemptions fast.
        let captcha = Captcha::new(KEY, CaptchaConfig { difficulty_bits: 0, ..CaptchaConfig::default() });
        let mut now = NOW;
        for _ in 0..3 * MIN_SWEEP_LEN {
            let challenge = captcha.issue(now);
            let solution = solve(&challenge.token, 0);
            assert_eq!(captcha.verify(&challenge.token, solution, now), Ok(()));
            now += 1_000; // a TTL (120 s) holds 120 entries
        }
        assert!(captcha.used_nonce_count() <= MIN_SWEEP_LEN, "{}", captcha.used_nonce_count());
    }

    #[test]
    fn leading_zero_bits_count_from_the_top_of_byte_zero() {
        assert_eq!(leading_zero_bits(&[0x80, 0]), 0);
        assert_eq!(leading_zero_bits(&[0x01, 0xff]), 7);
        assert_eq!(leading_zero_bits(&[0x00, 0x40]), 9);
        assert_eq!(leading_zero_bits(&[0x00, 0x00, 0x0f]), 20);
        assert_eq!(leading_zero_bits(&[0; 32]), 256);
    }

    #[test]
    fn decimal_is_plain_ascii() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(1234567, &mut buf), b"1234567");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }

    /// The vectors quoted next to `selfCheck` in static/captcha.js; the JS
    /// SHA-256 was checked against them with node.
    #[test]
    fn hash_convention_matches_the_browser_script() {
        assert_eq!(
            hex::encode(Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = "AAECAwQFBgcICQoLDA0ODwAAAYvM6FwAEgABAgMEBQYHCAkKCwwNDg8";
        assert_eq!(token.len(), TOKEN_CHARS);
        assert_eq!(
            hex::encode(pow_hash(token, 12345)),
            hex::encode(Sha256::digest(format!("{token}:12345").as_bytes()))
        );
        assert_eq!(
            hex::encode(pow_hash(token, 12345)),
            "fdcf90491bd60baff83854c9625e35571c1b5903bcf7e66965517f3fcd4b8e66"
        );
        // The first solutions, found independently by the JS solver in node:
        // both sides agree on the input and on counting leading zero bits.
        assert_eq!(solve(token, 8), 1044);
        assert_eq!(solve(token, 12), 5269);
    }
}
