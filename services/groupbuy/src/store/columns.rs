//! The domain's states as the read models store them: text columns holding each state's
//! name (see `domain::names`), decoded into the domain's enums here, once, so that nothing
//! past the store compares the text.

use sqlx::{
    Decode, Postgres, Type,
    error::BoxDynError,
    postgres::{PgTypeInfo, PgValueRef},
};

use crate::domain::{
    campaign::{CampaignStatus, ModeKind, Tipping},
    join::JoinStatus,
    team::{MemberStatus, TeamStatus},
};

/// Reads `$ty` from a text column by its name; an unknown name is a decode error.
macro_rules! text_columns {
    ($($ty:ty),+ $(,)?) => {$(
        impl Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Postgres> for $ty {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<$ty>::try_from(<&str as Decode<Postgres>>::decode(value)?)?)
            }
        }
    )+};
}

text_columns!(CampaignStatus, Tipping, ModeKind, TeamStatus, MemberStatus, JoinStatus);
