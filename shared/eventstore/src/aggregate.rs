//! The pure side of event sourcing: no I/O here, so domains can be tested as
//! given(events).when(command).then(events).

use thiserror::Error;

/// An event type that can be stored: its name, schema version and bytes.
///
/// Implement it with [`event_enum!`](crate::event_enum) rather than by hand.
pub trait EventPayload: Sized + Send + Sync + Clone + std::fmt::Debug {
    /// Fully qualified name, e.g. `tuan.users.v1.UserSignedUp`.
    fn event_type(&self) -> &'static str;
    fn schema_version(&self) -> u32 {
        1
    }
    fn encode(&self) -> Vec<u8>;
    /// Decodes a stored event. Old schema versions are upcast here; unknown types are errors.
    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError>;
}

#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("unknown event type {0}")]
    UnknownType(String),
    #[error("cannot decode {event_type}: {reason}")]
    Malformed { event_type: String, reason: String },
}

/// A consistency boundary: `handle` decides (all business rules live there), `apply` only
/// folds an event into state and never fails.
pub trait Aggregate: Default + Send + Sync + Sized {
    /// The stream type, e.g. `"user"`. Stable forever: it is stored with every event.
    const STREAM_TYPE: &'static str;
    type Event: EventPayload;
    type Command: Send;
    type Error: std::error::Error + Send + Sync + 'static;

    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    fn apply(&mut self, event: &Self::Event);

    /// State after the given history; a convenience for tests and loading.
    fn from_history<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for e in events {
            state.apply(e);
        }
        state
    }
}

/// Declares an enum of protobuf event messages and implements [`EventPayload`] for it.
///
/// ```ignore
/// tuan_eventstore::event_enum! {
///     pub enum UserEvent {
///         SignedUp(pb::UserSignedUp),
///         ProfileUpdated(pb::ProfileUpdated),
///     }
/// }
/// ```
#[macro_export]
macro_rules! event_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident($msg:ty)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis enum $name {
            $($variant($msg)),+
        }

        impl $crate::EventPayload for $name {
            fn event_type(&self) -> &'static str {
                use ::std::sync::OnceLock;
                match self {
                    $(Self::$variant(_) => {
                        static NAME: OnceLock<String> = OnceLock::new();
                        NAME.get_or_init(|| <$msg as $crate::__private::prost::Name>::full_name())
                            .as_str()
                    })+
                }
            }

            fn encode(&self) -> Vec<u8> {
                use $crate::__private::prost::Message as _;
                match self {
                    $(Self::$variant(m) => m.encode_to_vec()),+
                }
            }

            fn decode(
                event_type: &str,
                _schema_version: u32,
                payload: &[u8],
            ) -> Result<Self, $crate::DecodeError> {
                use $crate::__private::prost::{Message as _, Name as _};
                $(
                    if event_type == <$msg>::full_name() {
                        return <$msg>::decode(payload).map(Self::$variant).map_err(|e| {
                            $crate::DecodeError::Malformed {
                                event_type: event_type.to_string(),
                                reason: e.to_string(),
                            }
                        });
                    }
                )+
                Err($crate::DecodeError::UnknownType(event_type.to_string()))
            }
        }

        $(
            impl From<$msg> for $name {
                fn from(m: $msg) -> Self {
                    Self::$variant(m)
                }
            }
        )+
    };
}
