//! One-time codes that prove a phone number is the caller's: sent by SMS, typed back to sign up
//! or to reset a forgotten password.
//!
//! A code is 6 digits, good for a few minutes and a few wrong tries, and used once; only its
//! keyed hash is kept, so a copy of the table is no list of live codes. Whether a number is
//! registered never shows in an answer: a sign-up code asked for a registered number (or a
//! reset code for an unknown one) is no code at all, and the SMS says why.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{
    error::{UserError, invalid},
    phone::PhoneNumber,
};

/// What a code is for: a code for one never works for the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodePurpose {
    SignUp,
    ResetPassword,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::SignUp => "sign_up",
            CodePurpose::ResetPassword => "reset_password",
        }
    }
}

/// Six digits, as read from the SMS. `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneCode(String);

impl std::fmt::Debug for PhoneCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneCode(******)")
    }
}

pub const CODE_DIGITS: usize = 6;

impl PhoneCode {
    /// The code numbered `n` (taken modulo a million): the caller draws `n` from a CSPRNG.
    pub fn from_number(n: u32) -> Self {
        Self(format!("{:06}", n % 1_000_000))
    }

    /// Spaces people type between the digits are dropped; anything else but six digits is refused.
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let digits: String = input.chars().filter(|c| *c != ' ').collect();
        if digits.is_empty() {
            return Err(invalid("code is required: ask for one with RequestPhoneCode"));
        }
        if digits.len() != CODE_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("code must be the 6 digits from the SMS"));
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hashes codes with a deployment secret (HMAC-SHA256 over purpose, number and code): a
/// million codes are quick to try against a plain hash, not against a keyed one.
#[derive(Clone)]
pub struct CodeHasher {
    key: Vec<u8>,
}

impl CodeHasher {
    pub fn new(secret: &[u8]) -> Self {
        Self { key: secret.to_vec() }
    }

    fn mac(&self, purpose: CodePurpose, phone: &PhoneNumber, code: &PhoneCode) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        for part in [purpose.as_str(), phone.as_str(), code.as_str()] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac
    }

    pub fn hash(&self, purpose: CodePurpose, phone: &PhoneNumber, code: &PhoneCode) -> Vec<u8> {
        self.mac(purpose, phone, code).finalize().into_bytes().to_vec()
    }

    /// Whether `code` is the one `stored` is the hash of, compared in constant time.
    pub fn matches(&self, purpose: CodePurpose, phone: &PhoneNumber, code: &PhoneCode, stored: &[u8]) -> bool {
        self.mac(purpose, phone, code).verify_slice(stored).is_ok()
    }
}

/// How codes are handed out and how long they last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodePolicy {
    /// A code works this long after it is sent...
    pub ttl: Duration,
    /// ...for this many tries, right or wrong.
    pub attempts: u32,
    /// A new code for the same number and purpose no sooner than this after the last.
    pub resend_after: Duration,
    /// At most this many SMS to one number per hour, whatever for...
    pub per_phone_per_hour: u32,
    /// ...and from one client (its address) per hour.
    pub per_client_per_hour: u32,
}

const HOUR: Duration = Duration::from_secs(3600);

/// The SMS sent in the last hour that bear on a new one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendHistory {
    /// The last one to this number for this purpose.
    pub last_for_purpose: Option<DateTime<Utc>>,
    /// To this number in the last hour: how many, and the oldest.
    pub to_phone: (u32, Option<DateTime<Utc>>),
    /// From this client in the last hour: how many, and the oldest.
    pub from_client: (u32, Option<DateTime<Utc>>),
}

impl CodePolicy {
    /// Whether one more SMS may go out at `now`; if not, how long until it may.
    pub fn may_send(&self, history: &SendHistory, now: DateTime<Utc>) -> Result<(), Duration> {
        let until = |at: DateTime<Utc>, after: Duration| (at + after - now).to_std().unwrap_or_default();
        let mut wait = Duration::ZERO;
        if let Some(last) = history.last_for_purpose {
            wait = wait.max(until(last, self.resend_after));
        }
        for ((count, oldest), cap) in
            [(history.to_phone, self.per_phone_per_hour), (history.from_client, self.per_client_per_hour)]
        {
            if count >= cap {
                // The count falls below the cap when the oldest send leaves the hour.
                wait = wait.max(oldest.map_or(HOUR, |at| until(at, HOUR)).max(Duration::from_secs(1)));
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }
}

/// What the SMS says. The answer to the request is the same for all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsText {
    Code {
        purpose: CodePurpose,
        code: PhoneCode,
    },
    /// A sign-up code was asked for a number that already has an account.
    AlreadyRegistered,
    /// A reset code was asked for a number that has no account.
    NotRegistered,
}

/// What to send when a code for `purpose` is asked for a number that is (or is not) registered.
/// `draw` makes a fresh code, called only when one is sent.
pub fn text_for(purpose: CodePurpose, registered: bool, draw: impl FnOnce() -> PhoneCode) -> SmsText {
    match (purpose, registered) {
        (CodePurpose::SignUp, false) | (CodePurpose::ResetPassword, true) => SmsText::Code { purpose, code: draw() },
        (CodePurpose::SignUp, true) => SmsText::AlreadyRegistered,
        (CodePurpose::ResetPassword, false) => SmsText::NotRegistered,
    }
}

/// A code as it is kept: its hash, until when it works and how many tries it has left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCode {
    pub hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub attempts_left: u32,
}

impl StoredCode {
    pub fn issue(hash: Vec<u8>, policy: &CodePolicy, now: DateTime<Utc>) -> Self {
        let ttl = chrono::Duration::from_std(policy.ttl).unwrap_or(chrono::Duration::MAX);
        Self { hash, expires_at: now + ttl, attempts_left: policy.attempts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CodePolicy {
        CodePolicy {
            ttl: Duration::from_secs(300),
            attempts: 5,
            resend_after: Duration::from_secs(60),
            per_phone_per_hour: 5,
            per_client_per_hour: 20,
        }
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+8613800138000").unwrap()
    }

    #[test]
    fn codes_are_six_digits_and_spaces_are_dropped() {
        assert_eq!(PhoneCode::from_number(42).as_str(), "000042");
        assert_eq!(PhoneCode::from_number(1_234_567).as_str(), "234567");
        assert_eq!(PhoneCode::parse(" 123 456 ").unwrap().as_str(), "123456");
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６", "12345\n"] {
            assert!(PhoneCode::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(!format!("{:?}", PhoneCode::from_number(123456)).contains("123456"));
    }

    #[test]
    fn a_hash_matches_only_its_code_number_and_purpose() {
        let hasher = CodeHasher::new(b"secret");
        let code = PhoneCode::from_number(123456);
        let stored = hasher.hash(CodePurpose::SignUp, &phone(), &code);
        assert!(hasher.matches(CodePurpose::SignUp, &phone(), &code, &stored));
        assert!(!hasher.matches(CodePurpose::SignUp, &phone(), &PhoneCode::from_number(123457), &stored));
        assert!(!hasher.matches(CodePurpose::ResetPassword, &phone(), &code, &stored));
        let other = PhoneNumber::parse("+8613800138001").unwrap();
        assert!(!hasher.matches(CodePurpose::SignUp, &other, &code, &stored));
        assert!(!CodeHasher::new(b"another").matches(CodePurpose::SignUp, &phone(), &code, &stored));
    }

    #[test]
    fn a_resend_waits_for_the_spacing_and_the_hourly_caps() {
        let now = Utc::now();
        let p = policy();
        assert_eq!(p.may_send(&SendHistory::default(), now), Ok(()));
        let recent = SendHistory { last_for_purpose: Some(now - chrono::Duration::seconds(20)), ..Default::default() };
        assert_eq!(p.may_send(&recent, now), Err(Duration::from_secs(40)));
        let spaced = SendHistory { last_for_purpose: Some(now - chrono::Duration::seconds(61)), ..Default::default() };
        assert_eq!(p.may_send(&spaced, now), Ok(()));
        let oldest = now - chrono::Duration::minutes(50);
        let phone_full = SendHistory { to_phone: (5, Some(oldest)), ..Default::default() };
        assert_eq!(p.may_send(&phone_full, now), Err(Duration::from_secs(600)));
        let client_full = SendHistory { from_client: (20, Some(oldest)), to_phone: (4, None), ..Default::default() };
        assert_eq!(p.may_send(&client_full, now), Err(Duration::from_secs(600)));
        let below = SendHistory { from_client: (19, Some(oldest)), to_phone: (4, Some(oldest)), ..Default::default() };
        assert_eq!(p.may_send(&below, now), Ok(()));
    }

    #[test]
    fn the_text_never_carries_a_code_that_would_tell_on_the_number() {
        let draw = || PhoneCode::from_number(1);
        assert!(matches!(text_for(CodePurpose::SignUp, false, draw), SmsText::Code { .. }));
        assert!(matches!(text_for(CodePurpose::ResetPassword, true, draw), SmsText::Code { .. }));
        assert_eq!(text_for(CodePurpose::SignUp, true, || unreachable!()), SmsText::AlreadyRegistered);
        assert_eq!(text_for(CodePurpose::ResetPassword, false, || unreachable!()), SmsText::NotRegistered);
    }
}
