//! The names the states of campaigns, teams and joins are stored and published under: one
//! list per enum, read both ways, so a read model's text and the enum cannot drift apart.

use thiserror::Error;

/// Text that names no state of `kind` (a read model written by another version, or a bug).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

/// `name()` and `TryFrom<&str>` for a field-less enum, from one list of variant names.
macro_rules! named {
    ($ty:ident, $kind:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The name the read models store (and events carry).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $crate::domain::names::UnknownName;

            fn try_from(name: &str) -> Result<Self, Self::Error> {
                match name {
                    $($name => Ok(Self::$variant),)+
                    _ => Err($crate::domain::names::UnknownName { kind: $kind, name: name.to_string() }),
                }
            }
        }
    };
}

pub(crate) use named;

#[cfg(test)]
mod tests {
    use crate::domain::{
        campaign::{CampaignStatus, ModeKind, Tipping},
        join::JoinStatus,
        team::{MemberStatus, TeamStatus},
    };

    fn round_trips<T: Copy + PartialEq + std::fmt::Debug + for<'a> TryFrom<&'a str>>(
        all: &[T],
        name: fn(T) -> &'static str,
    ) {
        for &value in all {
            assert_eq!(T::try_from(name(value)).ok(), Some(value), "{value:?}");
        }
    }

    #[test]
    fn every_state_reads_back_from_its_name() {
        use CampaignStatus as C;
        round_trips(&[C::None, C::Active, C::Paused, C::Ended], C::name);
        round_trips(&[Tipping::NotTipping, Tipping::Pending, Tipping::Tipped, Tipping::Failed], Tipping::name);
        round_trips(&[ModeKind::Team, ModeKind::Tipping], ModeKind::name);
        use TeamStatus as T;
        round_trips(&[T::None, T::Pending, T::Open, T::Completed, T::Expired, T::Failed], T::name);
        use MemberStatus as M;
        round_trips(&[M::Pending, M::Confirmed, M::Left, M::Dropped], M::name);
        use JoinStatus as J;
        let joins =
            [J::None, J::Pending, J::Confirmed, J::Capturing, J::Captured, J::Releasing, J::Released, J::Failed];
        round_trips(&joins, J::name);
    }

    #[test]
    fn the_stored_names_are_those_of_the_read_models() {
        assert_eq!(Tipping::NotTipping.name(), "none");
        assert_eq!(CampaignStatus::Active.name(), "active");
        assert_eq!(ModeKind::Tipping.name(), "tipping");
        assert_eq!(MemberStatus::Dropped.name(), "dropped");
    }

    #[test]
    fn an_unknown_name_is_refused_with_its_kind() {
        let err = CampaignStatus::try_from("closed").unwrap_err();
        assert_eq!(err.to_string(), "unknown campaign status \"closed\"");
        assert!(Tipping::try_from("Tipped").is_err(), "names are exact");
    }
}
