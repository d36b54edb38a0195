//! Untrusted bytes through the decoders every consumer applies: anything may arrive on a topic
//! (a bug elsewhere, an old producer, a stray tool), and a panic would stop the consumer with
//! its partition. Random bytes give an error, never a panic; well-formed events decode.
//! 256 cases each; `PROPTEST_CASES` raises it.

use proptest::{collection::vec, prelude::*, test_runner::Config};
use prost::{Message, Name};
use tuan_messaging::envelope;
use tuan_proto::events::v1::EventEnvelope;
use tuan_testkit::{
    fuzz::{Generator, Hints, cases},
    rpc::Schema,
};
use uuid::Uuid;

/// Calls `$apply!(Type, ...)` with every event type the services publish (the top-level
/// messages of proto/tuan/*/v1/events.proto; `the_list_covers_every_event` keeps it whole).
macro_rules! every_event_type {
    ($apply:ident, $($arg:tt)*) => {
        $apply!(
            $($arg)*;
            tuan_proto::users::v1::UserSignedUp,
            tuan_proto::users::v1::ProfileUpdated,
            tuan_proto::users::v1::PasswordChanged,
            tuan_proto::users::v1::RoleGranted,
            tuan_proto::users::v1::RoleRevoked,
            tuan_proto::users::v1::SessionStarted,
            tuan_proto::users::v1::SessionRefreshed,
            tuan_proto::users::v1::SessionEnded,
            tuan_proto::users::v1::FriendRequested,
            tuan_proto::users::v1::FriendRequestAccepted,
            tuan_proto::users::v1::FriendRequestDeclined,
            tuan_proto::users::v1::FriendRequestCancelled,
            tuan_proto::users::v1::FriendRemoved,
            tuan_proto::users::v1::UserBlocked,
            tuan_proto::users::v1::UserUnblocked,
            tuan_proto::users::v1::MerchantApplied,
            tuan_proto::users::v1::MerchantVerified,
            tuan_proto::users::v1::MerchantRejected,
            tuan_proto::circles::v1::DealCard,
            tuan_proto::circles::v1::CircleCreated,
            tuan_proto::circles::v1::CircleRenamed,
            tuan_proto::circles::v1::CircleTopicSet,
            tuan_proto::circles::v1::CircleApprovalSet,
            tuan_proto::circles::v1::MemberCapSet,
            tuan_proto::circles::v1::OwnershipTransferred,
            tuan_proto::circles::v1::CircleDissolved,
            tuan_proto::circles::v1::MemberInvited,
            tuan_proto::circles::v1::InvitationApproved,
            tuan_proto::circles::v1::InvitationDeclined,
            tuan_proto::circles::v1::MemberJoined,
            tuan_proto::circles::v1::MemberLeft,
            tuan_proto::circles::v1::MemberKicked,
            tuan_proto::circles::v1::MemberRoleChanged,
            tuan_proto::circles::v1::CircleMuted,
            tuan_proto::circles::v1::PostPublished,
            tuan_proto::circles::v1::MomentPosted,
            tuan_proto::circles::v1::PremiumGranted,
            tuan_proto::circles::v1::PremiumRevoked,
            tuan_proto::circles::v1::PublicAccountOpened,
            tuan_proto::circles::v1::BroadcastSent,
            tuan_proto::circles::v1::AccountFollowed,
            tuan_proto::circles::v1::AccountUnfollowed,
            tuan_proto::circles::v1::AccountMuted,
            tuan_proto::groupbuy::v1::HoldRequested,
            tuan_proto::groupbuy::v1::HoldCaptureRequested,
            tuan_proto::groupbuy::v1::HoldReleaseRequested,
            tuan_proto::groupbuy::v1::CampaignLaunched,
            tuan_proto::groupbuy::v1::CampaignPaused,
            tuan_proto::groupbuy::v1::CampaignResumed,
            tuan_proto::groupbuy::v1::CampaignEnded,
            tuan_proto::groupbuy::v1::CampaignTipped,
            tuan_proto::groupbuy::v1::CampaignTippingFailed,
            tuan_proto::groupbuy::v1::TeamOpened,
            tuan_proto::groupbuy::v1::TeamMemberJoined,
            tuan_proto::groupbuy::v1::TeamMemberConfirmed,
            tuan_proto::groupbuy::v1::TeamMemberLeft,
            tuan_proto::groupbuy::v1::TeamMemberDropped,
            tuan_proto::groupbuy::v1::TeamLeaderChanged,
            tuan_proto::groupbuy::v1::TeamCompleted,
            tuan_proto::groupbuy::v1::TeamExpired,
            tuan_proto::groupbuy::v1::TeamFailed,
            tuan_proto::groupbuy::v1::JoinRequested,
            tuan_proto::groupbuy::v1::JoinConfirmed,
            tuan_proto::groupbuy::v1::JoinStockReturned,
            tuan_proto::groupbuy::v1::JoinCaptured,
            tuan_proto::groupbuy::v1::JoinReleased,
            tuan_proto::groupbuy::v1::JoinFailed,
            tuan_proto::payments::v1::Posting,
            tuan_proto::payments::v1::JournalEntryPosted,
            tuan_proto::payments::v1::HoldPlaced,
            tuan_proto::payments::v1::HoldRejected,
            tuan_proto::payments::v1::HoldCaptured,
            tuan_proto::payments::v1::HoldReleased,
            tuan_proto::payments::v1::TopUpRequested,
            tuan_proto::payments::v1::TopUpCompleted,
            tuan_proto::payments::v1::TopUpFailed,
            tuan_proto::payments::v1::WithdrawalRequested,
            tuan_proto::payments::v1::WithdrawalCompleted,
            tuan_proto::payments::v1::WithdrawalFailed,
            tuan_proto::payments::v1::BillShare,
            tuan_proto::payments::v1::BillRecorded,
            tuan_proto::payments::v1::CollectionOpened,
            tuan_proto::payments::v1::CollectionPaid,
            tuan_proto::payments::v1::CollectionReminded,
            tuan_proto::payments::v1::CollectionClosed,
            tuan_proto::payments::v1::CharityCampaignCreated,
        )
    };
}

macro_rules! names {
    (; $($t:ty,)*) => {
        vec![$(<$t>::full_name()),*]
    };
}

macro_rules! decode_each {
    ($envelope:expr; $($t:ty,)*) => {
        $( let _ = envelope::decode::<$t>($envelope); )*
    };
}

fn config() -> Config {
    Config { cases: cases(256), failure_persistence: None, ..Config::default() }
}

fn generated(message: &str) -> BoxedStrategy<Vec<u8>> {
    Generator::new(Schema::tuan(), Hints::default()).message(message).prop_map(|m| m.encode()).boxed()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_are_refused_as_an_envelope_without_panicking(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(envelope) = envelope::accept(&bytes) {
            prop_assert!(Uuid::parse_str(&envelope.event_id).is_ok());
        }
    }

    #[test]
    fn an_envelope_is_accepted_exactly_when_it_decodes_with_a_uuid_event_id(
        bytes in generated(&EventEnvelope::full_name()),
    ) {
        let decoded = EventEnvelope::decode(bytes.as_slice()).expect("a well-formed envelope decodes");
        let valid_id = Uuid::parse_str(&decoded.event_id).is_ok();
        match envelope::accept(&bytes) {
            Ok(accepted) => prop_assert!(valid_id && accepted == decoded),
            Err(reason) => prop_assert!(!valid_id, "refused: {reason}"),
        }
        // What handlers read off every envelope.
        let _ = envelope::occurred_at(&decoded);
        let _ = envelope::uuid_field("stream_id", &decoded.stream_id);
        let _ = envelope::caused_by(&decoded);
        every_event_type!(decode_each, &decoded);
    }

    #[test]
    fn random_payloads_of_every_event_type_are_an_error_or_an_event(payload in vec(any::<u8>(), 0..256)) {
        let envelope = EventEnvelope { payload, ..Default::default() };
        every_event_type!(decode_each, &envelope);
    }

    #[test]
    fn times_and_ids_of_any_value_are_an_error_or_a_value(micros in any::<i64>(), id in "\\PC{0,40}") {
        let envelope = EventEnvelope { occurred_at_micros: micros, ..Default::default() };
        if let Ok(at) = envelope::occurred_at(&envelope) {
            prop_assert_eq!(at.timestamp_micros(), micros);
        }
        if let Ok(uuid) = envelope::uuid_field("id", &id) {
            prop_assert_eq!(uuid, Uuid::parse_str(&id).unwrap());
        }
    }
}

macro_rules! decode_generated {
    (; $($t:ty,)*) => {
        $(
            let mut runner = proptest::test_runner::TestRunner::new(Config { cases: 16, ..config() });
            runner
                .run(&generated(&<$t>::full_name()), |payload| {
                    let envelope = EventEnvelope { payload, ..Default::default() };
                    prop_assert!(envelope::decode::<$t>(&envelope).is_ok());
                    Ok(())
                })
                .unwrap();
        )*
    };
}

#[test]
fn well_formed_events_of_every_type_decode() {
    every_event_type!(decode_generated,);
}

#[test]
fn the_list_covers_every_event() {
    let mut listed: Vec<String> = every_event_type!(names,);
    let mut published: Vec<String> = Schema::tuan()
        .files
        .iter()
        .filter(|(file, _)| file.ends_with("/events.proto"))
        .flat_map(|(_, messages)| messages.clone())
        .collect();
    listed.sort();
    published.sort();
    assert_eq!(listed, published, "add new event types to every_event_type!");
}
