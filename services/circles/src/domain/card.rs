//! The states a live deal card shows, as kept in the card read models (from the group-buy and
//! payments events) and shown in the API.

macro_rules! card_status {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// As stored in the card tables.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

card_status!(
    /// Launched (active), paused by the merchant, ended, or (tipping mode) tipped or not.
    CampaignStatus { Active = "active", Paused = "paused", Ended = "ended", Tipped = "tipped", TippingFailed = "tipping_failed" }
);

card_status!(
    /// Opened (pending until the leader's hold is placed, then open), then completed, expired
    /// or failed.
    TeamStatus { Pending = "pending", Open = "open", Completed = "completed", Expired = "expired", Failed = "failed" }
);

card_status!(
    /// A collection of a bill's parts: open until its organiser closes it.
    CollectionStatus { Open = "open", Closed = "closed" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_stored_text() {
        for s in [
            CampaignStatus::Active,
            CampaignStatus::Paused,
            CampaignStatus::Ended,
            CampaignStatus::Tipped,
            CampaignStatus::TippingFailed,
        ] {
            assert_eq!(CampaignStatus::parse(s.as_str()), Some(s));
        }
        for s in [TeamStatus::Pending, TeamStatus::Open, TeamStatus::Completed, TeamStatus::Expired, TeamStatus::Failed]
        {
            assert_eq!(TeamStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(CollectionStatus::parse("closed"), Some(CollectionStatus::Closed));
        assert_eq!(CollectionStatus::parse("nope"), None);
    }
}
