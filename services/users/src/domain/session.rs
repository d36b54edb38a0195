//! A login session (stream type `session`, id = session id): holds the hash of the current
//! refresh token, rotated on every refresh.

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{error::UserError, events as pb};

event_enum! {
    pub enum SessionEvent {
        Started(pb::SessionStarted),
        Refreshed(pb::SessionRefreshed),
        Ended(pb::SessionEnded),
    }
}

#[derive(Clone, Debug)]
pub enum SessionCommand {
    Start {
        session_id: Uuid,
        user_id: Uuid,
        refresh_token_hash: String,
        expires_at_micros: i64,
    },
    /// Trade the presented refresh token for a new one.
    Refresh {
        presented_hash: String,
        new_hash: String,
        new_expires_at_micros: i64,
        now_micros: i64,
    },
    /// Log out with the presented refresh token. Ending an ended session changes nothing.
    End {
        presented_hash: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    pub id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    refresh_token_hash: String,
    expires_at_micros: i64,
    pub ended: bool,
}

impl Aggregate for Session {
    const STREAM_TYPE: &'static str = "session";
    type Event = SessionEvent;
    type Command = SessionCommand;
    type Error = UserError;

    fn handle(&self, command: SessionCommand) -> Result<Vec<SessionEvent>, UserError> {
        match command {
            SessionCommand::Start { session_id, user_id, refresh_token_hash, expires_at_micros } => {
                if self.id.is_some() {
                    return Err(UserError::InvalidInput("session already started".into()));
                }
                Ok(vec![SessionEvent::Started(pb::SessionStarted {
                    session_id: session_id.to_string(),
                    user_id: user_id.to_string(),
                    refresh_token_hash,
                    expires_at_micros,
                })])
            }
            SessionCommand::Refresh { presented_hash, new_hash, new_expires_at_micros, now_micros } => {
                let (session_id, user_id) = self.live(&presented_hash)?;
                if now_micros >= self.expires_at_micros {
                    return Err(UserError::SessionInvalid);
                }
                Ok(vec![SessionEvent::Refreshed(pb::SessionRefreshed {
                    session_id: session_id.to_string(),
                    user_id: user_id.to_string(),
                    refresh_token_hash: new_hash,
                    expires_at_micros: new_expires_at_micros,
                })])
            }
            SessionCommand::End { presented_hash } => {
                // Logging out again with the same token changes nothing; any other token is
                // refused even then, so the answer never tells a stranger that a session ended.
                if self.ended && constant_time_eq(&presented_hash, &self.refresh_token_hash) {
                    return Ok(vec![]);
                }
                let (session_id, user_id) = self.live(&presented_hash)?;
                Ok(vec![SessionEvent::Ended(pb::SessionEnded {
                    session_id: session_id.to_string(),
                    user_id: user_id.to_string(),
                    reason: "logout".into(),
                })])
            }
        }
    }

    fn apply(&mut self, event: &SessionEvent) {
        match event {
            SessionEvent::Started(e) => {
                self.id = Uuid::parse_str(&e.session_id).ok();
                self.user_id = Uuid::parse_str(&e.user_id).ok();
                self.refresh_token_hash = e.refresh_token_hash.clone();
                self.expires_at_micros = e.expires_at_micros;
            }
            SessionEvent::Refreshed(e) => {
                self.refresh_token_hash = e.refresh_token_hash.clone();
                self.expires_at_micros = e.expires_at_micros;
            }
            SessionEvent::Ended(_) => self.ended = true,
        }
    }
}

impl Session {
    /// The session's ids if it is live and `presented` is its current refresh token.
    fn live(&self, presented: &str) -> Result<(Uuid, Uuid), UserError> {
        match (self.id, self.user_id) {
            (Some(s), Some(u)) if !self.ended && constant_time_eq(presented, &self.refresh_token_hash) => Ok((s, u)),
            _ => Err(UserError::SessionInvalid),
        }
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> Session {
        let cmd = SessionCommand::Start {
            session_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            refresh_token_hash: "h1".into(),
            expires_at_micros: 1_000,
        };
        Session::from_history(&Session::default().handle(cmd).unwrap())
    }

    #[test]
    fn refresh_rotates_and_the_old_token_stops_working() {
        let s = started();
        let refresh = |s: &Session, presented: &str| {
            s.handle(SessionCommand::Refresh {
                presented_hash: presented.into(),
                new_hash: "h2".into(),
                new_expires_at_micros: 2_000,
                now_micros: 500,
            })
        };
        let mut rotated = s.clone();
        refresh(&s, "h1").unwrap().iter().for_each(|e| rotated.apply(e));
        assert_eq!(refresh(&rotated, "h1"), Err(UserError::SessionInvalid));
        assert!(refresh(&rotated, "h2").is_ok());
    }

    #[test]
    fn expired_or_ended_sessions_cannot_refresh() {
        let s = started();
        let late = SessionCommand::Refresh {
            presented_hash: "h1".into(),
            new_hash: "h2".into(),
            new_expires_at_micros: 3_000,
            now_micros: 1_000,
        };
        assert_eq!(s.handle(late), Err(UserError::SessionInvalid));
        let mut ended = s.clone();
        s.handle(SessionCommand::End { presented_hash: "h1".into() }).unwrap().iter().for_each(|e| ended.apply(e));
        assert!(ended.handle(SessionCommand::End { presented_hash: "h1".into() }).unwrap().is_empty());
        assert_eq!(ended.handle(SessionCommand::End { presented_hash: "h9".into() }), Err(UserError::SessionInvalid));
    }
}
