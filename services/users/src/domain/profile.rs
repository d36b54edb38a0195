//! Profile fields, each parsed once at the edge.

use super::error::{UserError, invalid};

/// 1 to 40 characters after trimming, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let name = input.trim();
        let len = name.chars().count();
        if len == 0 || len > 40 {
            return Err(invalid("display name must have 1 to 40 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid("display name cannot contain control characters"));
        }
        Ok(Self(name.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text region (city or province), up to 64 characters; may be empty.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Region(String);

impl Region {
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let region = input.trim();
        if region.chars().count() > 64 || region.chars().any(char::is_control) {
            return Err(invalid("region must have at most 64 printable characters"));
        }
        Ok(Self(region.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An http(s) URL of at most 512 characters, or empty to clear the avatar.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AvatarUrl(String);

impl AvatarUrl {
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let url = input.trim();
        let scheme_ok = url.is_empty() || url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.len() > 512 || url.chars().any(char::is_whitespace) {
            return Err(invalid("avatar_url must be an http(s) URL of at most 512 characters"));
        }
        Ok(Self(url.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An external marketplace account id: up to 64 of `A-Z a-z 0-9 _ - .`, or empty to unlink.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MarketplaceAccountId(String);

impl MarketplaceAccountId {
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let id = input.trim();
        if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
            return Err(invalid("marketplace_account_id must be up to 64 letters, digits, '_', '-' or '.'"));
        }
        Ok(Self(id.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Fields to change; `None` keeps the current value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    pub display_name: Option<DisplayName>,
    pub avatar_url: Option<AvatarUrl>,
    pub region: Option<Region>,
    pub marketplace_account_id: Option<MarketplaceAccountId>,
}
