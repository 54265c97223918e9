//! The vote controls the arena and the clip page share: standard, super
//! (×3) and mega (×10) votes and an undo, as one form that works without
//! JavaScript (each button posts its `vote_type`; undo posts to
//! `/vote/undo`). A control that cannot be used is disabled and says why.
//!
//! Controls are either personal (the arena, a signed-in clip page: built
//! from this voter's standing) or neutral (a clip page for anonymous
//! visitors, which a shared cache may keep: nothing about the visitor in
//! it; `static/app.js` fills in their standing from `GET /api/vote`).

use crate::domain::vote::{RemainingVotes, VoteType, VotingFlags};

/// One vote button.
pub struct VoteButton {
    /// `standard`, `super` or `mega`.
    pub kind: &'static str,
    /// "Vote", "Super ×3", "Mega ×10".
    pub label: &'static str,
    /// What is left, or why it cannot be used.
    pub note: String,
    /// Whether it can be pressed.
    pub enabled: bool,
    /// Whether this voter already voted on the clip this way (shown as ✓).
    pub done: bool,
}

/// The whole set of controls for one clip.
pub struct VoteControls {
    /// The clip voted on.
    pub clip_id: u64,
    /// Where the no-JavaScript form comes back to: `arena` or `clip`.
    pub back: &'static str,
    /// Standard, super, mega.
    pub buttons: Vec<VoteButton>,
    /// Whether undo can be pressed.
    pub undo_enabled: bool,
    /// What undo would do, or why not.
    pub undo_note: &'static str,
    /// Whether the controls describe this voter (false: neutral).
    pub personal: bool,
    /// Whether special votes are switched on (for the script's reasons).
    pub specials_on: bool,
    /// Whether only signed-in people may vote, and this visitor is not.
    pub sign_in_needed: bool,
    /// Why no control can be used ("" when they can): the script leaves
    /// the controls alone then.
    pub locked: &'static str,
}

/// A voter's standing on one clip.
pub struct Standing {
    /// What is left today and in this slot.
    pub remaining: RemainingVotes,
    /// Whether they hold a counted vote on the clip.
    pub voted: bool,
    /// The flags in force.
    pub flags: VotingFlags,
    /// Whether they are signed in.
    pub signed_in: bool,
    /// Whether the clip is open for voting now.
    pub open: bool,
}

impl VoteControls {
    /// Controls showing this voter's standing.
    pub fn personal(clip_id: u64, back: &'static str, standing: &Standing) -> VoteControls {
        let Standing { remaining, voted, flags, signed_in, open } = *standing;
        let sign_in_needed = flags.require_auth_voting && !signed_in;
        let blocked =
            |note: &str| (!open).then(|| "voting closed".to_owned()).or(sign_in_needed.then(|| note.to_owned()));
        let standard = match blocked("sign in first") {
            Some(note) => VoteButton::off("standard", "Vote", note),
            None if voted && !flags.multi_vote_mode => VoteButton::done("standard", "Voted", "✓ counted"),
            None if remaining.standard == 0 => VoteButton::off("standard", "Vote", "none left today".into()),
            None => VoteButton::on("standard", "Vote", format!("{} left today", remaining.standard)),
        };
        let special = |kind: VoteType, label: &'static str, left: u32| {
            let weight = kind.weight();
            match blocked("sign in first") {
                Some(note) => VoteButton::off(kind.as_str(), label, note),
                None if !flags.special_votes => VoteButton::off(kind.as_str(), label, "switched off".into()),
                None if left > 0 => VoteButton::on(kind.as_str(), label, "1 this slot".into()),
                None if remaining.standard < weight => {
                    VoteButton::off(kind.as_str(), label, format!("needs {weight} votes"))
                }
                None => VoteButton::off(kind.as_str(), label, "used this slot".into()),
            }
        };
        let undo_enabled = open && voted;
        VoteControls {
            clip_id,
            back,
            buttons: vec![
                standard,
                special(VoteType::Super, "Super ×3", remaining.super_votes),
                special(VoteType::Mega, "Mega ×10", remaining.mega_votes),
            ],
            undo_enabled,
            undo_note: if undo_enabled { "take back" } else { "no vote yet" },
            personal: true,
            specials_on: flags.special_votes,
            sign_in_needed,
            locked: if !open {
                "voting closed"
            } else if sign_in_needed {
                "sign in first"
            } else {
                ""
            },
        }
    }

    /// Controls that say nothing about the visitor (for pages a shared cache
    /// may keep): every control that the flags allow is enabled.
    pub fn neutral(clip_id: u64, back: &'static str, flags: VotingFlags, open: bool) -> VoteControls {
        let note = |text: &str| if open { text.to_owned() } else { "voting closed".to_owned() };
        let specials = open && flags.special_votes;
        let special = |kind: &'static str, label: &'static str, weight: &str| VoteButton {
            kind,
            label,
            note: if flags.special_votes { note(weight) } else { "switched off".into() },
            enabled: specials,
            done: false,
        };
        VoteControls {
            clip_id,
            back,
            buttons: vec![
                VoteButton { kind: "standard", label: "Vote", note: note("1 point"), enabled: open, done: false },
                special("super", "Super ×3", "3 points"),
                special("mega", "Mega ×10", "10 points"),
            ],
            undo_enabled: open,
            undo_note: "take back",
            personal: false,
            specials_on: flags.special_votes,
            sign_in_needed: false,
            locked: if open { "" } else { "voting closed" },
        }
    }
}

impl VoteButton {
    fn on(kind: &'static str, label: &'static str, note: String) -> VoteButton {
        VoteButton { kind, label, note, enabled: true, done: false }
    }

    fn off(kind: &'static str, label: &'static str, note: String) -> VoteButton {
        VoteButton { kind, label, note, enabled: false, done: false }
    }

    fn done(kind: &'static str, label: &'static str, note: &str) -> VoteButton {
        VoteButton { kind, label, note: note.to_owned(), enabled: false, done: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(remaining: (u32, u32, u32), voted: bool) -> Standing {
        Standing {
            remaining: RemainingVotes { standard: remaining.0, super_votes: remaining.1, mega_votes: remaining.2 },
            voted,
            flags: VotingFlags::default(),
            signed_in: false,
            open: true,
        }
    }

    fn notes(controls: &VoteControls) -> Vec<(bool, String)> {
        controls.buttons.iter().map(|b| (b.enabled, b.note.clone())).collect()
    }

    #[test]
    fn a_fresh_voter_may_use_everything() {
        let controls = VoteControls::personal(1, "arena", &standing((200, 1, 1), false));
        assert_eq!(
            notes(&controls),
            [(true, "200 left today".into()), (true, "1 this slot".into()), (true, "1 this slot".into())]
        );
        assert!(!controls.undo_enabled);
    }

    #[test]
    fn spent_and_used_controls_say_why() {
        let controls = VoteControls::personal(1, "arena", &standing((5, 0, 0), true));
        assert_eq!(
            notes(&controls),
            [(false, "✓ counted".into()), (false, "used this slot".into()), (false, "needs 10 votes".into())]
        );
        assert!(controls.undo_enabled);
        let spent = VoteControls::personal(1, "arena", &standing((0, 0, 0), false));
        assert_eq!(spent.buttons[0].note, "none left today");
        let mut off = standing((200, 0, 0), false);
        off.flags.special_votes = false;
        assert_eq!(VoteControls::personal(1, "arena", &off).buttons[2].note, "switched off");
        let mut members_only = standing((200, 1, 1), false);
        members_only.flags.require_auth_voting = true;
        let controls = VoteControls::personal(1, "arena", &members_only);
        assert!(controls.sign_in_needed && controls.buttons.iter().all(|b| !b.enabled));
    }
}
