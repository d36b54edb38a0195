//! Given / when / then for aggregates, the way their unit tests read: a state reached by
//! accepted commands, one more command, and what it decided (the events, or why not) and the
//! state after. Pure: no store, no database.
//!
//! ```
//! # use tuan_eventstore::{Aggregate, testing};
//! # fn example<A: Aggregate + Clone>(history: Vec<A::Command>, next: A::Command) {
//! let state: testing::Given<A> = testing::given(history);
//! let after = state.when(next); // Ok(state after) or Err(refusal); `state` is unchanged
//! # }
//! ```

use crate::Aggregate;

/// Handles `command` on `state` and applies what it decided: the events, or the refusal (and
/// `state` unchanged).
pub fn run<A: Aggregate>(state: &mut A, command: A::Command) -> Result<Vec<A::Event>, A::Error> {
    let events = state.handle(command)?;
    events.iter().for_each(|e| state.apply(e));
    Ok(events)
}

/// [`run`] for a command the test expects accepted: its events (a refusal panics, naming it).
pub fn run_ok<A: Aggregate>(state: &mut A, command: A::Command) -> Vec<A::Event> {
    run(state, command).unwrap_or_else(|e| panic!("the command was refused: {e}"))
}

/// A state reached by accepted commands.
#[derive(Clone, Debug)]
pub struct Given<A>(pub A);

/// The state after `history`, every command of which must be accepted.
pub fn given<A: Aggregate>(history: impl IntoIterator<Item = A::Command>) -> Given<A> {
    let mut state = A::default();
    for command in history {
        run_ok(&mut state, command);
    }
    Given(state)
}

impl<A: Aggregate + Clone> Given<A> {
    /// The state after `command`, or why it was refused; the given state stays as it was.
    pub fn when(&self, command: A::Command) -> Result<A, A::Error> {
        when(&self.0, command)
    }
}

/// The state after `command` on a copy of `state`, or why it was refused.
pub fn when<A: Aggregate + Clone>(state: &A, command: A::Command) -> Result<A, A::Error> {
    let mut next = state.clone();
    run(&mut next, command)?;
    Ok(next)
}
