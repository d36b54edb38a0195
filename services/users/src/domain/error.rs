use thiserror::Error;
use tuan_runtime::error::{Classify, ErrorKind};

/// Every way a users command can be refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UserError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("phone number is already registered")]
    PhoneTaken,
    #[error("user already exists")]
    UserExists,
    #[error("user not found")]
    UserNotFound,
    #[error("phone number or password is wrong")]
    BadCredentials,
    #[error("session expired or signed out; log in again")]
    SessionInvalid,
    #[error("you cannot befriend yourself")]
    SelfFriendship,
    #[error("you are already friends")]
    AlreadyFriends,
    #[error("a friend request to this user is already pending")]
    RequestAlreadySent,
    #[error("no pending friend request from this user")]
    NoSuchRequest,
    #[error("you are not friends with this user")]
    NotFriends,
    #[error("this user does not accept friend requests from you")]
    BlockedByOther,
    #[error("you have blocked this user; unblock them first")]
    BlockedByYou,
    #[error("a merchant application is already {0}")]
    ApplicationExists(&'static str),
    #[error("no merchant application is pending for this user")]
    NoPendingApplication,
    #[error("only an operator may do this")]
    NotOperator,
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("an operator cannot decide its own merchant application")]
    OwnApplication,
    #[error("an operator cannot revoke its own role; ask another operator")]
    OwnRole,
    #[error("too many failed logins for this number; try again later")]
    LoginLocked(std::time::Duration),
    #[error("too many logins at once; try again shortly")]
    HashingBusy(std::time::Duration),
    #[error("the code is wrong or has expired; ask for a new one")]
    WrongCode,
    #[error("too many codes asked for this number or from this client; try again later")]
    CodeLimited(std::time::Duration),
    #[error("too many SMS waiting to be sent; try again shortly")]
    SmsBusy,
}

impl Classify for UserError {
    fn kind(&self) -> ErrorKind {
        use UserError::*;
        match self {
            InvalidInput(_) | SelfFriendship => ErrorKind::InvalidArgument,
            PhoneTaken | UserExists | AlreadyFriends | RequestAlreadySent | ApplicationExists(_) => {
                ErrorKind::AlreadyExists
            }
            UserNotFound | NoSuchRequest | NotFriends => ErrorKind::NotFound,
            BadCredentials | SessionInvalid | WrongCode => ErrorKind::Unauthenticated,
            BlockedByOther | NotOperator | WrongPassword | OwnApplication => ErrorKind::PermissionDenied,
            BlockedByYou | NoPendingApplication | OwnRole => ErrorKind::FailedPrecondition,
            LoginLocked(_) | HashingBusy(_) | CodeLimited(_) | SmsBusy => ErrorKind::LimitExceeded,
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            UserError::LoginLocked(wait) | UserError::HashingBusy(wait) | UserError::CodeLimited(wait) => Some(*wait),
            UserError::SmsBusy => Some(std::time::Duration::from_secs(1)),
            _ => None,
        }
    }
}

/// Out-of-bounds text is bad input, said in the kernel's words.
impl From<tuan_kernel::TextError> for UserError {
    fn from(e: tuan_kernel::TextError) -> Self {
        invalid(e.to_string())
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> UserError {
    UserError::InvalidInput(message.into())
}
