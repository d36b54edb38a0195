//! An in-process queue per circle in front of the circle's row lock.
//!
//! Commands on one circle serialise on its row lock in Postgres (correct across replicas).
//! Without this gate, a burst of 600 joins would have 20 of them holding pool connections
//! while they wait on that row lock and the rest waiting for a connection, where they time
//! out after 5 s. With it, they wait here in FIFO order holding nothing, and the pool stays
//! free for everyone else; each replica sends one command per circle at a time to Postgres.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use uuid::Uuid;

#[derive(Clone, Default)]
pub struct CircleGate {
    queues: Arc<Mutex<HashMap<Uuid, Weak<AsyncMutex<()>>>>>,
}

impl CircleGate {
    /// Waits for this replica's turn on `circle`; the turn lasts as long as the guard.
    pub async fn enter(&self, circle: Uuid) -> OwnedMutexGuard<()> {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            match queues.get(&circle).and_then(Weak::upgrade) {
                Some(queue) => queue,
                None => {
                    if queues.len() >= 1024 {
                        queues.retain(|_, q| q.strong_count() > 0);
                    }
                    let queue = Arc::new(AsyncMutex::new(()));
                    queues.insert(circle, Arc::downgrade(&queue));
                    queue
                }
            }
        };
        queue.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_turn_at_a_time_per_circle_and_circles_are_independent() {
        let gate = CircleGate::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let held = gate.enter(a).await;
        let _other = gate.enter(b).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), gate.enter(a)).await;
        assert!(waiting.is_err(), "a second turn on the same circle waits");
        drop(held);
        let _next = gate.enter(a).await;
    }
}
