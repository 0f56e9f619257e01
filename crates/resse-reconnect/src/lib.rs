//! The reconnection policy of a [Server-Sent Events] client, sans-IO: what a
//! response means (stream, follow, retry, stop), how long to wait before
//! reconnecting (capped backoff with seeded decorrelated jitter, the server's
//! `retry:`, `Retry-After`), and when to give up.
//!
//! It reads no clock, does no I/O, spawns nothing and draws no global
//! randomness: time is an [`Instant`](std::time::Instant) argument, jitter
//! comes from a seed in the [`ReconnectConfig`] (an in-crate SplitMix64, so
//! no random-number dependency), and every decision is a returned value. The
//! only thing that can fail is configuration validation ([`ConfigError`]).
//!
//! # Sans-IO: the drive loop
//!
//! 1. Create the policy: `ReconnectPolicy::new(ReconnectConfig::default().seed(s))?`
//!    with a per-client seed `s`.
//! 2. Connect. If the attempt fails before a response, call
//!    [`on_error(now, Cause::ConnectFailed)`](ReconnectPolicy::on_error) and
//!    go to step 5.
//! 3. When the response head arrives, call
//!    [`on_response(now, status, &headers)`](ReconnectPolicy::on_response):
//!    * [`Verdict::Stream`]: read the body (step 4);
//!    * [`Verdict::Follow(location)`](Verdict::Follow): request that location
//!      now (step 2);
//!    * [`Verdict::ReconnectAt`]: step 5;
//!    * [`Verdict::Stop`]: done ([`StopReason::is_error`] tells a requested
//!      stop from a failure).
//! 4. While streaming, pass each `retry:` field the decoder yields to
//!    [`on_retry(d)`](ReconnectPolicy::on_retry). When the stream ends, call
//!    [`on_error(now, cause)`](ReconnectPolicy::on_error) with the matching
//!    [`Cause`] (clean end, end mid-event, I/O error, idle timeout). It
//!    returns a [`Decision`]: `ReconnectAt` (step 5) or `Stop` (done).
//! 5. Wait until [`poll_timeout()`](ReconnectPolicy::poll_timeout) (arm
//!    one timer for it, along with your other deadlines); when
//!    [`handle_timeout(now)`](ReconnectPolicy::handle_timeout) returns
//!    `true`, go to step 2.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use http::{HeaderMap, StatusCode};
//! use resse_reconnect::{Cause, Decision, ReconnectConfig, ReconnectPolicy, StopReason, Verdict};
//!
//! let t0 = Instant::now(); // fake time: one start instant plus durations
//! let mut policy = ReconnectPolicy::new(ReconnectConfig::default().seed(42))?;
//!
//! // A 503 with `Retry-After: 30`: come back no sooner than 30 s (and a bit later,
//! // by a seeded random amount below 3 s, so that clients do not all come back
//! // at once).
//! let mut headers = HeaderMap::new();
//! headers.insert("retry-after", "30".parse()?);
//! let Verdict::ReconnectAt(r) = policy.on_response(t0, StatusCode::SERVICE_UNAVAILABLE, &headers)
//! else { panic!("503 retries") };
//! assert!(r.delay >= Duration::from_secs(30) && r.delay < Duration::from_secs(33));
//! assert_eq!(r.cause, Cause::Status(StatusCode::SERVICE_UNAVAILABLE));
//! assert_eq!(policy.poll_timeout(), Some(r.at));
//! assert!(!policy.handle_timeout(t0 + Duration::from_secs(29))); // not yet
//! assert!(policy.handle_timeout(r.at)); // connect now
//!
//! // 204 No Content: the server wants the client to stop.
//! let verdict = policy.on_response(r.at, StatusCode::NO_CONTENT, &HeaderMap::new());
//! assert_eq!(verdict, Verdict::Stop(StopReason::ServerStop(StatusCode::NO_CONTENT)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Response verdicts, and where they go beyond the spec
//!
//! The [`VerdictTable`] maps statuses to actions; [`VerdictTable::strict()`]
//! is exactly the WHATWG `EventSource` behaviour (200 with
//! `text/event-stream` streams, fetch's redirects are followed, anything else
//! fails). The default differs where real servers mean something else: 204
//! stops without an error, and 408, 429 and 5xx retry with backoff,
//! honouring `Retry-After` (see [`VerdictTable`] for the full table and the
//! reasons). Both check the content type the way fetch does: parameters and
//! case do not matter (`Text/Event-Stream; charset=utf-8` is fine), a
//! missing or different type fails. A redirect without a usable `Location`
//! fails in both (fetch hands such a response to `EventSource`, which fails
//! on its status); too many redirects fail (a fetch network error, which the
//! spec lets a client treat as fatal when retrying is futile).
//!
//! Network errors and the end of a stream always reconnect, as the spec
//! says; the policy adds the backoff the spec allows ("if the previous
//! attempt failed, user agents might introduce an exponential backoff
//! delay"), the healthy-period rule, limits, and optionally
//! [`stop_on_clean_end`](ReconnectConfig::stop_on_clean_end).
//!
//! # Delays
//!
//! The exact formula, its bounds and the outage rules are on
//! [`ReconnectPolicy`]. In short, with the defaults
//! ([`Jitter::Decorrelated(2.5)`](Jitter::Decorrelated)): a base of 2 s, or
//! the server's `retry:` in its place; the first delay of an outage drawn in
//! `[base, 2.5·base)`, each later one in `[base, 2.5·previous)`, capped at
//! 30 s; so never sooner than the server asked, and a herd of clients
//! dropped together stays spread out instead of coming back in waves (see
//! [`Jitter`]); at least 100 ms (`retry: 0` cannot spin);
//! `retry:` and `Retry-After` above one hour are clamped to it; counters
//! reset only after a stream stayed up for 10 s.
//!
//! # Limits and untrusted input
//!
//! Every value a server controls is bounded: `retry:` and `Retry-After` by
//! the ceiling and floor, redirects by
//! [`max_redirects`](ReconnectConfig::max_redirects); header values are
//! parsed in place (only a followed `Location` and error messages are
//! copied). Arithmetic saturates
//! and the backoff exponent is capped ([`MAX_EXPONENT`]); no input panics.
//!
//! # Crate features
//!
//! None. The dependencies are `http`, for [`StatusCode`](http::StatusCode)
//! and [`HeaderMap`](http::HeaderMap), `httpdate` (which hyper uses too)
//! for the HTTP dates of `Retry-After` and `Date`, and `resse-builder`, the
//! macro that writes the plain setters and getters of [`ReconnectConfig`]
//! (no runtime code).
//!
//! [Server-Sent Events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
#![forbid(unsafe_code)]

mod config;
mod policy;
mod retry_after;
mod rng;
mod verdict;

pub use config::{ConfigError, Jitter, ReconnectConfig};
pub use policy::{
    Cause, Decision, DelayReason, MAX_EXPONENT, Reconnect, ReconnectPolicy, StopReason, Verdict,
};
pub use retry_after::{RetryAfter, parse_http_date};
pub use verdict::{StatusAction, StatusClass, VerdictTable};

/// The README's examples, compiled and run as doctests (not part of the API).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
