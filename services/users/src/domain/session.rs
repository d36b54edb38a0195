//! A login session (stream type `session`, id = session id): holds the hash of the current
//! refresh token, rotated on every refresh. A superseded token presented again means two
//! parties hold the session (a thief and its owner): the whole session ends, so neither can
//! refresh again. Each refresh slides the expiry, never past the session's absolute end.

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
        absolute_expires_at_micros: i64,
    },
    /// Trade the presented refresh token for a new one. A superseded token ends the session
    /// (the command then succeeds with a [`SessionEvent::Ended`]: the end must be stored; the
    /// caller refuses the refresh).
    Refresh { presented_hash: String, new_hash: String, new_expires_at_micros: i64, now_micros: i64 },
    /// Log out with the presented refresh token. Ending an ended session changes nothing.
    End { presented_hash: String },
    /// End the session without its token: the user (log out everywhere, a password change)
    /// or an operator (a revoked role) decided. Ending an ended session changes nothing.
    Revoke { reason: &'static str },
}

/// Why a session ended, as `SessionEnded.reason` says.
pub const REUSED: &str = "refresh_token_reused";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    pub id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    refresh_token_hash: String,
    /// Every refresh token this session had before the current one.
    superseded: Vec<String>,
    expires_at_micros: i64,
    absolute_expires_at_micros: i64,
    pub ended: bool,
}

impl Aggregate for Session {
    const STREAM_TYPE: &'static str = "session";
    type Event = SessionEvent;
    type Command = SessionCommand;
    type Error = UserError;

    fn handle(&self, command: SessionCommand) -> Result<Vec<SessionEvent>, UserError> {
        match command {
            SessionCommand::Start {
                session_id,
                user_id,
                refresh_token_hash,
                expires_at_micros,
                absolute_expires_at_micros,
            } => {
                if self.id.is_some() {
                    return Err(UserError::InvalidInput("session already started".into()));
                }
                Ok(vec![SessionEvent::Started(pb::SessionStarted {
                    session_id: session_id.to_string(),
                    user_id: user_id.to_string(),
                    refresh_token_hash,
                    expires_at_micros: expires_at_micros.min(absolute_expires_at_micros),
                    absolute_expires_at_micros,
                })])
            }
            SessionCommand::Refresh { presented_hash, new_hash, new_expires_at_micros, now_micros } => {
                if let (Some(session_id), Some(user_id)) = (self.id, self.user_id)
                    && !self.ended
                    && self.superseded.iter().any(|old| constant_time_eq(&presented_hash, old))
                {
                    return Ok(vec![ended(session_id, user_id, REUSED)]);
                }
                let (session_id, user_id) = self.live(&presented_hash)?;
                if now_micros >= self.expires_at_micros || now_micros >= self.absolute_expires_at_micros {
                    return Err(UserError::SessionInvalid);
                }
                Ok(vec![SessionEvent::Refreshed(pb::SessionRefreshed {
                    session_id: session_id.to_string(),
                    user_id: user_id.to_string(),
                    refresh_token_hash: new_hash,
                    expires_at_micros: new_expires_at_micros.min(self.absolute_expires_at_micros),
                })])
            }
            SessionCommand::Revoke { reason } => match (self.id, self.user_id) {
                (Some(session_id), Some(user_id)) if !self.ended => Ok(vec![ended(session_id, user_id, reason)]),
                (Some(_), Some(_)) => Ok(vec![]),
                _ => Err(UserError::SessionInvalid),
            },
            SessionCommand::End { presented_hash } => {
                // Logging out again with the same token changes nothing; any other token is
                // refused even then, so the answer never tells a stranger that a session ended.
                if self.ended && constant_time_eq(&presented_hash, &self.refresh_token_hash) {
                    return Ok(vec![]);
                }
                let (session_id, user_id) = self.live(&presented_hash)?;
                Ok(vec![ended(session_id, user_id, "logout")])
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
                // Sessions from before the absolute end: the first expiry is their end.
                self.absolute_expires_at_micros =
                    if e.absolute_expires_at_micros == 0 { e.expires_at_micros } else { e.absolute_expires_at_micros };
            }
            SessionEvent::Refreshed(e) => {
                let old = std::mem::replace(&mut self.refresh_token_hash, e.refresh_token_hash.clone());
                self.superseded.push(old);
                self.expires_at_micros = e.expires_at_micros;
            }
            SessionEvent::Ended(_) => self.ended = true,
        }
    }
}

impl Session {
    /// When the current refresh token expires.
    pub fn expires_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp_micros(self.expires_at_micros)
    }

    /// The session's ids if it is live and `presented` is its current refresh token.
    fn live(&self, presented: &str) -> Result<(Uuid, Uuid), UserError> {
        match (self.id, self.user_id) {
            (Some(s), Some(u)) if !self.ended && constant_time_eq(presented, &self.refresh_token_hash) => Ok((s, u)),
            _ => Err(UserError::SessionInvalid),
        }
    }
}

fn ended(session_id: Uuid, user_id: Uuid, reason: &str) -> SessionEvent {
    SessionEvent::Ended(pb::SessionEnded {
        session_id: session_id.to_string(),
        user_id: user_id.to_string(),
        reason: reason.to_string(),
    })
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
            absolute_expires_at_micros: 10_000,
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
        assert!(matches!(&refresh(&rotated, "h2").unwrap()[..], [SessionEvent::Refreshed(_)]));
        // The old token no longer rotates: it ends the session (see the reuse test below).
        assert!(matches!(&refresh(&rotated, "h1").unwrap()[..], [SessionEvent::Ended(_)]));
        assert_eq!(refresh(&rotated, "h9"), Err(UserError::SessionInvalid));
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

    fn refresh(presented: &str, new: &str, now_micros: i64) -> SessionCommand {
        SessionCommand::Refresh {
            presented_hash: presented.into(),
            new_hash: new.into(),
            new_expires_at_micros: now_micros + 1_000,
            now_micros,
        }
    }

    fn after(s: &Session, command: SessionCommand) -> Session {
        let mut next = s.clone();
        next.handle(command).unwrap().iter().for_each(|e| next.apply(e));
        next
    }

    #[test]
    fn a_superseded_token_ends_the_session_for_the_thief_and_the_owner() {
        let rotated = after(&started(), refresh("h1", "h2", 500));
        // The thief replays the old token: the session ends, and the end is an event.
        let events = rotated.handle(refresh("h1", "h9", 600)).unwrap();
        assert!(matches!(&events[..], [SessionEvent::Ended(e)] if e.reason == REUSED));
        let ended = after(&rotated, refresh("h1", "h9", 600));
        assert!(ended.ended);
        // Now the owner's current token is refused too, and so is the thief's again.
        assert_eq!(ended.handle(refresh("h2", "h3", 700)), Err(UserError::SessionInvalid));
        assert_eq!(ended.handle(refresh("h1", "h3", 700)), Err(UserError::SessionInvalid));
    }

    #[test]
    fn refreshing_never_passes_the_absolute_end() {
        let mut s = started();
        let mut now = 500;
        let mut token = "h1".to_string();
        // Refresh every 500 µs: the sliding expiry alone would last forever.
        loop {
            let next = format!("t{now}");
            match s.handle(refresh(&token, &next, now)) {
                Ok(events) => {
                    let SessionEvent::Refreshed(e) = &events[0] else { panic!("{events:?}") };
                    assert!(e.expires_at_micros <= 10_000);
                    events.iter().for_each(|e| s.apply(e));
                    token = next;
                }
                Err(e) => {
                    assert_eq!(e, UserError::SessionInvalid);
                    break;
                }
            }
            now += 500;
        }
        assert_eq!(now, 10_000, "the session ends at its absolute end");
    }

    #[test]
    fn revoking_ends_a_session_once() {
        let revoked = after(&started(), SessionCommand::Revoke { reason: "logout_everywhere" });
        assert!(revoked.ended);
        assert!(revoked.handle(SessionCommand::Revoke { reason: "logout_everywhere" }).unwrap().is_empty());
        assert_eq!(revoked.handle(refresh("h1", "h2", 10)), Err(UserError::SessionInvalid));
        assert_eq!(Session::default().handle(SessionCommand::Revoke { reason: "x" }), Err(UserError::SessionInvalid));
    }
}
