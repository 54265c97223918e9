//! Feature flags: which exist, what they do, and their defaults.

use std::collections::HashMap;

use super::vote::VotingFlags;

/// A known feature flag.
#[derive(Debug, Clone, Copy)]
pub struct FlagSpec {
    /// Its key.
    pub key: &'static str,
    /// What it changes.
    pub description: &'static str,
    /// Its value until an admin sets it.
    pub default: bool,
}

/// Every flag the server knows.
pub const FLAGS: [FlagSpec; 4] = [
    FlagSpec {
        key: "multi_vote_mode",
        description: "Allow more than one standard vote per clip per voter (each still spends budget).",
        default: false,
    },
    FlagSpec {
        key: "special_votes",
        description: "Allow one super (x3) and one mega (x10) vote per slot.",
        default: true,
    },
    FlagSpec {
        key: "require_auth_voting",
        description: "Refuse votes from voters who are not signed in.",
        default: false,
    },
    FlagSpec {
        key: "require_captcha_voting",
        description: "Ask voters to solve a proof-of-work challenge before voting.",
        default: false,
    },
];

/// The value of every known flag, from stored values over defaults.
pub fn effective_flags(stored: &HashMap<String, bool>) -> Vec<(&'static str, bool)> {
    FLAGS.iter().map(|spec| (spec.key, stored.get(spec.key).copied().unwrap_or(spec.default))).collect()
}

/// The flags the vote rules read.
pub fn voting_flags(stored: &HashMap<String, bool>) -> VotingFlags {
    let get = |key: &str| effective_flags(stored).into_iter().find(|(k, _)| *k == key).is_some_and(|(_, v)| v);
    VotingFlags {
        multi_vote_mode: get("multi_vote_mode"),
        special_votes: get("special_votes"),
        require_auth_voting: get("require_auth_voting"),
    }
}

/// Whether a key names a known flag.
pub fn is_known(key: &str) -> bool {
    FlagKey::parse(key).is_some()
}

/// The key of a known flag, parsed once from text: holding one proves the
/// flag exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlagKey(&'static str);

impl FlagKey {
    /// The known flag named `raw`, if any.
    pub fn parse(raw: &str) -> Option<FlagKey> {
        FLAGS.iter().find(|spec| spec.key == raw).map(|spec| FlagKey(spec.key))
    }

    /// The key as stored.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for FlagKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
