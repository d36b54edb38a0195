use super::error::{UserError, invalid};

/// A phone number in E.164 form (`+` and 8 to 15 digits, no leading zero), normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts what people type: spaces, dashes, dots and brackets are dropped, and a
    /// leading `00` international prefix becomes `+`.
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let digits = compact
            .strip_prefix('+')
            .or_else(|| compact.strip_prefix("00"))
            .ok_or_else(|| invalid("phone must be in international form, e.g. +8613800138000"))?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("phone must have 8 to 15 digits after the +"));
        }
        if digits.starts_with('0') {
            return Err(invalid("phone country code cannot start with 0"));
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_what_people_type() {
        assert_eq!(PhoneNumber::parse("+86 138-0013-8000").unwrap().as_str(), "+8613800138000");
        assert_eq!(PhoneNumber::parse("0086 (138) 0013 8000").unwrap().as_str(), "+8613800138000");
    }

    #[test]
    fn refuses_what_is_not_e164() {
        for bad in ["13800138000", "+86abc", "+123", "+1234567890123456", "+0123456789", ""] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
