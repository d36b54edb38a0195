//! The one list a handler keeps of the events it acts on.
//!
//! [`events!`](crate::events) declares an enum with one variant per event type, holding the
//! decoded payload, and implements [`Events`] for it: [`Events::wants`] is what the handler's
//! [`EventHandler::wants`](crate::EventHandler::wants) answers, and [`Events::decode`] what its
//! `handle` matches on. The list is written once, so an event cannot be let in and then fall
//! through, or be handled and never let in; and the `match` over the variants is exhaustive.
//!
//! ```ignore
//! tuan_messaging::events! {
//!     /// The group-buy events payments acts on.
//!     enum HoldRequest {
//!         Place(groupbuy::HoldRequested),
//!         Capture(groupbuy::HoldCaptureRequested),
//!         Release(groupbuy::HoldReleaseRequested),
//!         // Every event of another list, as one variant (after the event types):
//!         ..Social(tuan_messaging::social::SocialEvent),
//!     }
//! }
//!
//! impl EventHandler for Holds {
//!     fn handle<'a>(&'a self, conn: &'a mut PgConnection, envelope: &'a EventEnvelope)
//!         -> BoxFuture<'a, Result<(), HandlerError>> {
//!         async move {
//!             match HoldRequest::decode(envelope)? {
//!                 Some(HoldRequest::Place(e)) => ...,
//!                 ...
//!                 None => Ok(()), // not in the list: `wants` kept it out
//!             }
//!         }
//!         .boxed()
//!     }
//!
//!     fn wants(&self, event_type: &str) -> bool {
//!         HoldRequest::wants(event_type)
//!     }
//! }
//! ```

use tuan_proto::events::v1::EventEnvelope;

use crate::HandlerError;

/// A handler's list of events (see [`events!`](crate::events)).
pub trait Events: Sized {
    /// Whether `event_type` is in the list.
    fn wants(event_type: &str) -> bool;

    /// The envelope's event, decoded into its variant; `None` for an event type not in the list.
    /// A payload that does not decode can never be applied: a permanent error.
    fn decode(envelope: &EventEnvelope) -> Result<Option<Self>, HandlerError>;
}

/// Declares a handler's list of events: an enum with a variant per event type (the protobuf
/// message it carries), and its [`Events`] implementation. Every entry ends with a comma;
/// entries `..Variant(OtherList),` after the event types take in every event of another list.
#[macro_export]
macro_rules! events {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident($message:ty), )*
            $( ..$nested:ident($list:ty), )*
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$variant_meta])* $variant($message), )*
            $( $nested($list), )*
        }

        impl $crate::Events for $name {
            fn wants(event_type: &str) -> bool {
                $( if $crate::envelope::is_type::<$message>(event_type) { return true; } )*
                $( if <$list as $crate::Events>::wants(event_type) { return true; } )*
                false
            }

            fn decode(
                envelope: &$crate::__private::EventEnvelope,
            ) -> ::core::result::Result<::core::option::Option<Self>, $crate::HandlerError> {
                let event_type = envelope.event_type.as_str();
                $(
                    if $crate::envelope::is_type::<$message>(event_type) {
                        return $crate::envelope::decode::<$message>(envelope).map(|e| Some(Self::$variant(e)));
                    }
                )*
                $(
                    if <$list as $crate::Events>::wants(event_type) {
                        return <$list as $crate::Events>::decode(envelope).map(|e| e.map(Self::$nested));
                    }
                )*
                Ok(None)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use prost::Name as _;
    use tuan_proto::{events::v1::EventEnvelope, payments::v1 as payments, users::v1 as users};

    use crate::{Events, HandlerError};

    crate::events! {
        #[derive(Debug, PartialEq)]
        enum Inner {
            Blocked(users::UserBlocked),
        }
    }

    crate::events! {
        #[derive(Debug, PartialEq)]
        enum Outer {
            /// A variant may have attributes.
            Placed(payments::HoldPlaced),
            Rejected(payments::HoldRejected),
            ..Users(Inner),
        }
    }

    crate::events! {
        #[derive(Debug, PartialEq)]
        enum OnlyNested {
            ..Users(Inner),
        }
    }

    fn envelope<M: prost::Name + prost::Message>(message: &M) -> EventEnvelope {
        EventEnvelope { event_type: M::full_name(), payload: message.encode_to_vec(), ..Default::default() }
    }

    #[test]
    fn the_list_says_what_is_wanted() {
        assert!(Outer::wants(&payments::HoldPlaced::full_name()));
        assert!(Outer::wants(&payments::HoldRejected::full_name()));
        assert!(Outer::wants(&users::UserBlocked::full_name()));
        assert!(!Outer::wants(&payments::HoldReleased::full_name()));
        assert!(!Outer::wants(&users::UserUnblocked::full_name()));
        assert!(OnlyNested::wants(&users::UserBlocked::full_name()));
        assert!(!OnlyNested::wants(&payments::HoldPlaced::full_name()));
    }

    #[test]
    fn the_list_decodes_what_it_wants_and_nothing_else() {
        let placed = payments::HoldPlaced { hold_id: "h".into(), ..Default::default() };
        assert_eq!(Outer::decode(&envelope(&placed)).unwrap(), Some(Outer::Placed(placed)));
        let blocked = users::UserBlocked { blocker_id: "a".into(), blocked_id: "b".into() };
        assert_eq!(Outer::decode(&envelope(&blocked)).unwrap(), Some(Outer::Users(Inner::Blocked(blocked.clone()))));
        assert_eq!(OnlyNested::decode(&envelope(&blocked)).unwrap(), Some(OnlyNested::Users(Inner::Blocked(blocked))));
        let released = payments::HoldReleased::default();
        assert_eq!(Outer::decode(&envelope(&released)).unwrap(), None);
    }

    #[test]
    fn a_payload_that_does_not_decode_is_permanent() {
        let mut bad = envelope(&payments::HoldPlaced::default());
        bad.payload = vec![0xff, 0xff, 0xff];
        match Outer::decode(&bad) {
            Err(HandlerError::Permanent(reason)) => {
                assert!(reason.starts_with("cannot decode tuan.payments.v1.HoldPlaced"))
            }
            other => panic!("expected a permanent error, got {other:?}"),
        }
    }
}
