//! The captcha gate in front of voting: challenges, solutions that grant a
//! voter a pass, and whether a voter needs one (only while the
//! `require_captcha_voting` flag is on).

use crate::captcha::{CaptchaError, Challenge};
use crate::domain::clock::Timestamp;
use crate::domain::flags;
use crate::domain::ids::VoterKey;
use crate::service::{ServiceError, Services};

/// A fresh signed challenge.
pub fn challenge(services: &Services) -> Challenge {
    services.captcha.issue(Timestamp::now().millis())
}

/// Checks a solution; a correct, fresh, unused one grants `voter` a pass.
/// Returns until when the pass holds.
pub fn verify(services: &Services, voter: &VoterKey, token: &str, solution: u64) -> Result<Timestamp, ServiceError> {
    let now = Timestamp::now().millis();
    match services.captcha.verify(token, solution, now) {
        Ok(()) => Ok(Timestamp::from_millis(services.captcha.grant_pass(voter.as_str(), now))),
        Err(CaptchaError::Malformed | CaptchaError::BadSignature) => {
            Err(ServiceError::invalid("not a valid challenge"))
        }
        Err(error) => Err(ServiceError::captcha_required_because(&error.to_string())),
    }
}

/// Whether `voter` must solve a challenge before voting: the flag is on and
/// they hold no live pass.
pub fn pass_required(services: &Services, voter: &VoterKey) -> bool {
    let required = services.read_model.read(|model| flags::flag_value(&model.stored_flags, "require_captcha_voting"));
    required && !services.captcha.has_pass(voter.as_str(), Timestamp::now().millis())
}
