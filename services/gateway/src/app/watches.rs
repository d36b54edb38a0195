//! `Watch*` streams a user holds open: at most a few at a time, each for at most a while.
//!
//! A phone watches the one or two campaigns and teams on screen. Without a cap one account can
//! open thousands of streams, each holding a task, a backend stream and its buffers in the
//! gateway and in group buying. Past the cap a new watch is RESOURCE_EXHAUSTED and the open ones
//! keep going; a stream ends (cleanly, as if the backend closed it) after its lifetime, so a
//! forgotten one gives its slot back and a client reconnects where it still cares.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{Stream, StreamExt as _};
use tonic::Status;
use tuan_runtime::{ApiError, ErrorKind};
use uuid::Uuid;

/// The open watches of every user.
#[derive(Clone)]
pub struct WatchSlots {
    open: Arc<Mutex<HashMap<Uuid, u32>>>,
    per_user: u32,
    lifetime: Duration,
}

/// One open watch; dropping it (the stream ended or the client left) frees the slot.
pub struct Slot {
    open: Arc<Mutex<HashMap<Uuid, u32>>>,
    user: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

impl WatchSlots {
    pub fn new(per_user: u32, lifetime: Duration) -> Self {
        Self { open: Arc::default(), per_user, lifetime }
    }

    /// A slot for `user`, or RESOURCE_EXHAUSTED when they hold the most already.
    pub fn take(&self, user: Uuid) -> Result<Slot, Status> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user).or_default();
        if *n >= self.per_user {
            let message = format!("{} watches are open already: close one first", self.per_user);
            return Err(ApiError::new(ErrorKind::LimitExceeded, message).into());
        }
        *n += 1;
        Ok(Slot { open: self.open.clone(), user })
    }

    /// `stream`, holding `slot` while it lasts, and ending after the lifetime.
    pub fn bound<S>(&self, slot: Slot, stream: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
    {
        stream.take_until(tokio::time::sleep(self.lifetime)).map(move |item| {
            let _held = &slot;
            item
        })
    }

    /// Watches open now, for `user`.
    pub fn open(&self, user: Uuid) -> u32 {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).get(&user).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[tokio::test]
    async fn a_user_holds_at_most_the_cap_and_a_closed_watch_gives_its_slot_back() {
        let slots = WatchSlots::new(3, Duration::from_secs(60));
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let held: Vec<Slot> = (0..3).map(|_| slots.take(a).expect("within the cap")).collect();
        assert_eq!(slots.take(a).err().map(|s| s.code()), Some(Code::ResourceExhausted));
        assert!(slots.take(b).is_ok(), "another user has their own slots");
        drop(held);
        assert_eq!(slots.open(a), 0);
        let stream = slots.bound(slots.take(a).unwrap(), futures::stream::iter([1, 2]));
        assert_eq!(slots.open(a), 1, "the stream holds its slot");
        assert_eq!(stream.collect::<Vec<_>>().await, [1, 2]);
        assert_eq!(slots.open(a), 0, "and gives it back when it ends");
    }

    #[tokio::test]
    async fn a_watch_ends_after_its_lifetime() {
        let slots = WatchSlots::new(1, Duration::from_millis(50));
        let user = Uuid::now_v7();
        let forever = slots.bound(slots.take(user).unwrap(), futures::stream::pending::<u8>());
        assert_eq!(forever.collect::<Vec<_>>().await, Vec::<u8>::new(), "ended by the clock");
        assert_eq!(slots.open(user), 0);
    }
}
