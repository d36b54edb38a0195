use thiserror::Error;
use tuan_runtime::error::{Classify, ErrorKind};

/// Every way a group-buy command can be refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum GroupBuyError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("only a verified merchant may launch a campaign")]
    NotVerifiedMerchant,
    #[error("only the merchant who launched this campaign may do this")]
    NotOwner,
    #[error("campaign not found")]
    CampaignNotFound,
    #[error("campaign already exists")]
    CampaignExists,
    #[error("campaign is {0}")]
    CampaignNotActive(&'static str),
    #[error("campaign is not paused")]
    NotPaused,
    #[error("campaign has not started yet")]
    CampaignNotStarted,
    #[error("campaign has ended")]
    CampaignEnded,
    #[error("this is a {0} campaign; use {1}")]
    WrongMode(&'static str, &'static str),
    #[error("sold out")]
    SoldOut,
    #[error("per-user limit of {0} unit(s) reached for this campaign")]
    PerUserLimit(u32),
    #[error("team not found")]
    TeamNotFound,
    #[error("team already exists")]
    TeamExists,
    #[error("team is not open yet: the leader's payment is pending")]
    TeamNotOpen,
    #[error("team is full")]
    TeamFull,
    #[error("team has expired")]
    TeamExpired,
    #[error("team has failed")]
    TeamFailed,
    #[error("team is already complete")]
    TeamCompleted,
    #[error("you are already a member of this team")]
    AlreadyMember,
    #[error("you are not a member of this team")]
    NotMember,
    #[error("the team's leader has blocked you; you cannot join this team")]
    BlockedByLeader,
    #[error("join not found")]
    JoinNotFound,
    #[error("join already exists")]
    JoinExists,
}

impl Classify for GroupBuyError {
    fn kind(&self) -> ErrorKind {
        use GroupBuyError::*;
        match self {
            InvalidInput(_) | WrongMode(..) => ErrorKind::InvalidArgument,
            NotVerifiedMerchant | NotOwner | BlockedByLeader => ErrorKind::PermissionDenied,
            CampaignNotFound | TeamNotFound | JoinNotFound | NotMember => ErrorKind::NotFound,
            CampaignExists | TeamExists | JoinExists | AlreadyMember => ErrorKind::AlreadyExists,
            CampaignNotActive(_) | NotPaused | CampaignNotStarted | CampaignEnded | SoldOut | TeamNotOpen
            | TeamFull | TeamExpired | TeamFailed | TeamCompleted => ErrorKind::FailedPrecondition,
            PerUserLimit(_) => ErrorKind::LimitExceeded,
        }
    }
}

/// Out-of-bounds text and refused currencies are bad input, said in the kernel's words.
impl From<tuan_kernel::TextError> for GroupBuyError {
    fn from(e: tuan_kernel::TextError) -> Self {
        invalid(e.to_string())
    }
}

impl From<tuan_kernel::MoneyError> for GroupBuyError {
    fn from(e: tuan_kernel::MoneyError) -> Self {
        invalid(e.to_string())
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> GroupBuyError {
    GroupBuyError::InvalidInput(message.into())
}
