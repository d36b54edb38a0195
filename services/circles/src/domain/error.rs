use thiserror::Error;
use tuan_runtime::error::{Classify, ErrorKind};

/// Every way a circles command can be refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CircleError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("circle not found")]
    CircleNotFound,
    #[error("circle already exists")]
    CircleExists,
    #[error("this circle was dissolved")]
    Dissolved,
    #[error("you are not a member of this circle")]
    NotAMember,
    #[error("only the owner or an admin may do this")]
    NotAdmin,
    #[error("only the owner may do this")]
    NotOwner,
    #[error("you cannot do this to yourself")]
    SelfTarget,
    #[error("you may not act on a member who ranks at or above you")]
    Outranked,
    #[error("the circle is full: it has reached its cap of {0} members")]
    MemberCapReached(u32),
    #[error("the member cap may not be below the current {0} members")]
    CapBelowMembers(u32),
    #[error("a member cap above {0} needs an owner with a premium plan")]
    PremiumRequired(u32),
    #[error("already a member of this circle")]
    AlreadyMember,
    #[error("already invited to this circle")]
    AlreadyInvited,
    #[error("joining a group needs an invitation")]
    NotInvited,
    #[error("your invitation is waiting for an admin's approval")]
    AwaitingApproval,
    #[error("no pending invitation for this user")]
    NoPendingInvitation,
    #[error("this user is not a member of the circle")]
    SubjectNotMember,
    #[error("you can only invite your friends")]
    NotFriends,
    #[error("this user does not accept invitations from you")]
    BlockedByOther,
    #[error("you have blocked this user; unblock them first")]
    BlockedByYou,
    #[error("the owner cannot leave; transfer ownership or dissolve the circle")]
    OwnerCannotLeave,
    #[error("the owner of this circle has blocked you")]
    BlockedByOwner,
    #[error("only verified merchants may open a public account")]
    NotMerchant,
    #[error("public account not found")]
    AccountNotFound,
    #[error("you already run a public account")]
    AccountExists,
    #[error("only the account's owner may broadcast")]
    NotAccountOwner,
    #[error("broadcast quota of {0} per calendar month is used up")]
    QuotaExhausted(u32),
    #[error("you do not follow this account")]
    NotFollowing,
    #[error("post already exists")]
    PostExists,
}

impl Classify for CircleError {
    fn kind(&self) -> ErrorKind {
        use CircleError::*;
        match self {
            InvalidInput(_) | SelfTarget => ErrorKind::InvalidArgument,
            CircleNotFound | NoPendingInvitation | SubjectNotMember | AccountNotFound => ErrorKind::NotFound,
            CircleExists | AlreadyMember | AlreadyInvited | AccountExists | PostExists => ErrorKind::AlreadyExists,
            NotAMember | NotAdmin | NotOwner | Outranked | PremiumRequired(_) | BlockedByOther | BlockedByOwner
            | NotMerchant | NotAccountOwner => ErrorKind::PermissionDenied,
            Dissolved | CapBelowMembers(_) | NotInvited | AwaitingApproval | NotFriends | BlockedByYou
            | OwnerCannotLeave | NotFollowing => ErrorKind::FailedPrecondition,
            // Limits, as the broadcast quota: the circle is full, not in the wrong state.
            MemberCapReached(_) | QuotaExhausted(_) => ErrorKind::LimitExceeded,
        }
    }
}

/// Out-of-bounds text is bad input, said in the kernel's words.
impl From<tuan_kernel::TextError> for CircleError {
    fn from(e: tuan_kernel::TextError) -> Self {
        invalid(e.to_string())
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> CircleError {
    CircleError::InvalidInput(message.into())
}
