//! Pure rules of the gateway: the circuit breaker's state machine, deadline arithmetic, and
//! how screens are put together from backend answers. No I/O here.

pub mod breaker;
pub mod deadline;
pub mod screens;
