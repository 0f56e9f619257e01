//! Sans-IO heartbeat timers for [Server-Sent Events]: an [`IdleWatchdog`]
//! that tells a client its connection has gone silent (half-open TCP, a NAT
//! that dropped the flow, a stalled proxy), and a [`KeepAlive`] scheduler
//! that tells a server when to send a keep-alive comment so that proxies and
//! clients see traffic.
//!
//! Both are plain state machines over [`Instant`]s: they read no clock, do no
//! I/O, spawn nothing and never sleep. They share one timer shape, the one
//! quinn-proto and str0m use:
//!
//! * `poll_timeout()` returns the next deadline (`Option<Instant>`); arm one
//!   timer for it.
//! * `handle_timeout(now)` is called when that timer fires (or at any other
//!   time: an early call does nothing) and says what happened.
//! * an `on_*` notification (`on_bytes_received` / `on_bytes_sent`) pushes
//!   the deadline back.
//!
//! # Sans-IO: the drive loop
//!
//! A client reading a stream:
//!
//! 1. Create the watchdog when the response head arrives:
//!    [`IdleWatchdog::new(now, config)`](IdleWatchdog::new).
//! 2. Whenever any bytes arrive (events, comments, a partial line, a single
//!    byte), call [`IdleWatchdog::on_bytes_received(now)`](IdleWatchdog::on_bytes_received).
//! 3. Before waiting for more bytes, arm your one timer at
//!    [`IdleWatchdog::poll_timeout()`](IdleWatchdog::poll_timeout) (together
//!    with whatever other deadlines you have; wait for the earliest).
//! 4. When the timer fires, call
//!    [`IdleWatchdog::handle_timeout(now)`](IdleWatchdog::handle_timeout). On
//!    [`Liveness::Dead`] drop the connection and reconnect; then
//!    [`IdleWatchdog::reset(now)`](IdleWatchdog::reset) re-arms it for the new
//!    connection. On [`Liveness::Alive`] go back to step 3 (the deadline moved).
//!
//! A server writing a stream does the same with [`KeepAlive`]: call
//! [`KeepAlive::on_bytes_sent(now)`](KeepAlive::on_bytes_sent) after every
//! real write, arm a timer at [`KeepAlive::poll_timeout()`](KeepAlive::poll_timeout),
//! and when [`KeepAlive::handle_timeout(now)`](KeepAlive::handle_timeout)
//! returns a [`KeepAliveMessage`], encode and send it.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use resse_heartbeat::{IdleConfig, IdleWatchdog, Liveness};
//!
//! let start = Instant::now(); // the adapter reads the clock; the watchdog never does
//! let mut idle = IdleWatchdog::new(start, IdleConfig::new(Duration::from_secs(30)));
//!
//! idle.on_bytes_received(start + Duration::from_secs(10)); // a ": ping" comment
//! assert_eq!(idle.poll_timeout(), Some(start + Duration::from_secs(40)));
//!
//! // A timer that fires early is harmless.
//! assert_eq!(idle.handle_timeout(start + Duration::from_secs(39)), Liveness::Alive);
//! // At the deadline the connection is declared dead, once.
//! assert_eq!(idle.handle_timeout(start + Duration::from_secs(40)), Liveness::Dead);
//! assert_eq!(idle.poll_timeout(), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Exactness
//!
//! A deadline is `last activity + period`; a timer fires when
//! `now >= deadline`, never before, to the nanosecond. Instants that go
//! backwards are ignored rather than moving a deadline earlier. Periods
//! shorter than [`MIN_PERIOD`] (1 ms) are raised to it, so that a timer is
//! never due at the very instant it was armed (which would let a driver spin
//! without time passing).
//!
//! # Crate features
//!
//! None. The crate has no dependencies.
//!
//! [Server-Sent Events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
#![forbid(unsafe_code)]

mod idle;
mod keepalive;

pub use idle::{IdleConfig, IdleWatchdog, Liveness};
pub use keepalive::{KeepAlive, KeepAliveConfig, KeepAliveMessage};

use std::time::{Duration, Instant};

/// The shortest period a timer accepts; shorter ones (including zero) are
/// raised to it.
///
/// A zero period would make a keep-alive due again the instant it was sent,
/// so a driver would loop without time passing.
pub const MIN_PERIOD: Duration = Duration::from_millis(1);

/// `period`, raised to [`MIN_PERIOD`].
fn clamp_period(period: Duration) -> Duration {
    period.max(MIN_PERIOD)
}

/// `at + d` without panicking: an unrepresentable deadline is pushed as far
/// as the platform allows (halving the step until it fits).
fn saturating_add(at: Instant, mut d: Duration) -> Instant {
    loop {
        if let Some(t) = at.checked_add(d) {
            return t;
        }
        d /= 2;
    }
}

/// The README's examples, compiled and run as doctests (not part of the API).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
