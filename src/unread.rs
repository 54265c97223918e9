//! The unread-notifications badge in every page's navigation, from memory.
//!
//! Pages are rendered for signed-in users all the time, and an authenticated
//! request reads no storage; so the badge number is kept here: per user the
//! unread personal count and the broadcast read marker (as the writer last
//! committed them), plus the ids of the latest broadcasts. The badge is the
//! personal count plus the broadcasts above the user's marker. It is loaded
//! once at start (one pass over the stats table) and then changes only
//! through committed events, like the read model.

use std::collections::{HashMap, VecDeque};

use parking_lot::RwLock;

use crate::domain::ids::UserId;
use crate::store::social::MAX_COUNTED_BROADCASTS;
use crate::store::writer::CommittedEvent;
use crate::store::{Store, StoreError};

/// Unread counts for the navigation badge.
#[derive(Debug, Default)]
pub struct UnreadBadges {
    /// User → (unread personal notifications, broadcast read marker).
    users: RwLock<HashMap<UserId, (u64, u64)>>,
    /// Ids of the latest broadcasts, ascending, at most `MAX_COUNTED_BROADCASTS`.
    broadcasts: RwLock<VecDeque<u64>>,
}

impl UnreadBadges {
    /// Loads every user's unread state.
    pub fn load(store: &Store) -> Result<UnreadBadges, StoreError> {
        let (states, recent) = store.unread_states()?;
        let users = states.into_iter().map(|s| (s.user, (s.unread, s.broadcast_marker))).collect();
        Ok(UnreadBadges { users: RwLock::new(users), broadcasts: RwLock::new(recent.into()) })
    }

    /// The badge number for a user.
    pub fn count(&self, user: UserId) -> u64 {
        let (unread, marker) = self.users.read().get(&user).copied().unwrap_or((0, 0));
        let broadcasts = self.broadcasts.read().iter().filter(|id| **id > marker).count();
        unread + broadcasts as u64
    }

    /// Applies committed changes (called by the commit listener).
    pub fn apply(&self, events: &[CommittedEvent]) {
        for event in events {
            match event {
                CommittedEvent::NotificationsChanged { user, unread, broadcast_marker } => {
                    self.users.write().insert(*user, (*unread, *broadcast_marker));
                }
                CommittedEvent::Broadcast { id } => {
                    let mut broadcasts = self.broadcasts.write();
                    broadcasts.push_back(*id);
                    while broadcasts.len() > MAX_COUNTED_BROADCASTS {
                        broadcasts.pop_front();
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_adds_unread_personal_and_broadcasts_above_the_marker() {
        let badges = UnreadBadges::default();
        let user = UserId::new(7).expect("id");
        assert_eq!(badges.count(user), 0);
        badges.apply(&[
            CommittedEvent::Broadcast { id: 3 },
            CommittedEvent::NotificationsChanged { user, unread: 2, broadcast_marker: 4 },
            CommittedEvent::Broadcast { id: 5 },
        ]);
        assert_eq!(badges.count(user), 3);
        badges.apply(&[CommittedEvent::NotificationsChanged { user, unread: 0, broadcast_marker: 5 }]);
        assert_eq!(badges.count(user), 0);
        for id in 10..300 {
            badges.apply(&[CommittedEvent::Broadcast { id }]);
        }
        assert_eq!(badges.count(user), MAX_COUNTED_BROADCASTS as u64, "bounded");
    }
}
