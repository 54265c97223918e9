//! Account rules: what a username and a password may be.

use std::fmt;

use super::ids::InvalidValue;

/// Shortest password accepted (OWASP ASVS asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted; bounds the hashing cost an attacker can cause.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A username: 3–20 characters of lowercase letters, digits and `_`.
/// Input is lowercased first, so names are unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Checks and normalises a username.
    pub fn parse(raw: &str) -> Result<Username, InvalidValue> {
        let name = raw.trim().to_ascii_lowercase();
        if !(3..=20).contains(&name.chars().count()) {
            return Err(InvalidValue("username must be 3 to 20 characters".into()));
        }
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(InvalidValue("username may contain only letters, digits and _".into()));
        }
        Ok(Username(name))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a new password's length (in characters, not bytes).
pub fn check_password(password: &str) -> Result<(), InvalidValue> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(InvalidValue(format!("password must be at least {MIN_PASSWORD_CHARS} characters")));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(InvalidValue(format!("password must be at most {MAX_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(Username::parse(" Mira_Frames ").map(|u| u.0), Ok("mira_frames".to_owned()));
        for bad in ["ab", "a".repeat(21).as_str(), "with space", "dash-ed", "émile", "../x", ""] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(20)).is_ok());
    }

    #[test]
    fn passwords_have_bounded_length() {
        assert!(check_password("short").is_err());
        assert!(check_password("eight ch").is_ok());
        assert!(check_password(&"p".repeat(128)).is_ok());
        assert!(check_password(&"p".repeat(129)).is_err());
    }
}
