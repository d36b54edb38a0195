use super::error::{UserError, invalid};

/// Passwords everyone tries first; refused whatever their length.
const COMMON: &[&str] = &[
    "password123",
    "1234567890",
    "qwertyuiop",
    "password1234",
    "iloveyou123",
    "abc1234567",
    "qwerty12345",
    "1q2w3e4r5t",
    "a1234567890",
    "woaini1314",
    "password12",
    "1qaz2wsx3edc",
];

/// A password good enough to keep: 10 to 128 characters, with letters and digits, not common.
/// Never stored or logged; only its argon2id hash is.
pub struct Password(String);

impl Password {
    pub fn parse(input: String) -> Result<Self, UserError> {
        let len = input.chars().count();
        if len < 10 {
            return Err(invalid("password must have at least 10 characters"));
        }
        if len > 128 {
            return Err(invalid("password must have at most 128 characters"));
        }
        if !input.chars().any(char::is_alphabetic) || !input.chars().any(|c| c.is_ascii_digit()) {
            return Err(invalid("password must contain letters and digits"));
        }
        if COMMON.contains(&input.to_lowercase().as_str()) {
            return Err(invalid("password is too common"));
        }
        Ok(Self(input))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        for weak in ["short1", "onlyletterslong", "12345678901", "Password123"] {
            assert!(Password::parse(weak.into()).is_err(), "{weak}");
        }
        assert!(Password::parse("tuan-is-2-good".into()).is_ok());
    }
}
