//! Profile fields, each parsed once at the edge.

use tuan_kernel::text::Bounds;

use super::error::{UserError, invalid};

tuan_kernel::text_type!(
    /// 1 to 40 characters after trimming, one line.
    pub DisplayName, "display name", Bounds::line(1, 40));

tuan_kernel::text_type!(
    /// A free-text region (city or province), up to 64 characters; may be empty.
    pub Region, "region", Bounds::line(0, 64));

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
