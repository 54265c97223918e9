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

/// The value of one known flag, from its stored value over its default;
/// `false` for a key no flag has. Read on every vote, so it builds nothing.
pub fn flag_value(stored: &HashMap<String, bool>, key: &str) -> bool {
    FLAGS.iter().find(|spec| spec.key == key).is_some_and(|spec| stored.get(spec.key).copied().unwrap_or(spec.default))
}

/// The flags the vote rules read.
pub fn voting_flags(stored: &HashMap<String, bool>) -> VotingFlags {
    VotingFlags {
        multi_vote_mode: flag_value(stored, "multi_vote_mode"),
        special_votes: flag_value(stored, "special_votes"),
        require_auth_voting: flag_value(stored, "require_auth_voting"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of stored values (unset, on, off) for every flag,
    /// plus a stored key no flag has.
    fn every_stored_map() -> Vec<HashMap<String, bool>> {
        let mut maps = vec![HashMap::from([("retired_flag".to_owned(), true)])];
        for spec in FLAGS {
            maps = maps
                .into_iter()
                .flat_map(|map| {
                    let with = |value: bool| {
                        let mut map = map.clone();
                        map.insert(spec.key.to_owned(), value);
                        map
                    };
                    [with(true), with(false), map.clone()]
                })
                .collect();
        }
        maps
    }

    #[test]
    fn one_flag_reads_as_the_whole_list_does() {
        for stored in every_stored_map() {
            for (key, value) in effective_flags(&stored) {
                assert_eq!(flag_value(&stored, key), value, "{key} in {stored:?}");
            }
            assert!(!flag_value(&stored, "retired_flag"), "a key no flag has reads as off");
        }
    }

    #[test]
    fn voting_flags_take_stored_values_over_defaults() {
        assert_eq!(
            voting_flags(&HashMap::new()),
            VotingFlags { multi_vote_mode: false, special_votes: true, require_auth_voting: false }
        );
        let stored = HashMap::from([("special_votes".to_owned(), false), ("multi_vote_mode".to_owned(), true)]);
        assert_eq!(
            voting_flags(&stored),
            VotingFlags { multi_vote_mode: true, special_votes: false, require_auth_voting: false }
        );
    }
}
