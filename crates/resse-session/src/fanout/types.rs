//! What a [`Fanout`](super::Fanout) takes and answers: errors, replay
//! outcomes, end reasons, counters, keys, options.

use std::fmt;

use bytes::Bytes;
use resse_codec::EncodeError;

use crate::replay::PushError;

#[allow(unused_imports)] // doc links
use super::{Fanout, FanoutConfig, last_event_id};
#[allow(unused_imports)] // doc links
use crate::replay::ReplayConfig;

/// Why [`Fanout::publish`] refused an event. Nothing was sent and nothing
/// was logged for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// The event cannot be encoded without breaking the stream's framing
    /// (CR or LF in its event type or id, NUL in its id). Fix the event; it
    /// is never altered to fit.
    Encode(EncodeError),
    /// The replay log refused the event's id: it is empty (an event without
    /// an id cannot be resumed from) or still in the log (ids must be unique
    /// for `Last-Event-ID` to mean anything). Leave the id unset to have one
    /// assigned.
    Replay(PushError),
    /// The encoded event (with its id) is larger than the ring's
    /// [`max_len`](ReplayConfig::max_len): it could be neither delivered
    /// from the ring nor replayed.
    TooLarge {
        /// The event's size in the ring.
        len: usize,
        /// The ring's byte limit.
        max_len: usize,
    },
    /// The fan-out was closed.
    Closed,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => write!(f, "cannot publish the event: {e}"),
            Self::Replay(e) => write!(f, "cannot publish the event: {e}"),
            Self::TooLarge { len, max_len } => write!(
                f,
                "cannot publish the event: it takes {len} bytes, more than the replay ring's \
                 max_len of {max_len}"
            ),
            Self::Closed => f.write_str("cannot publish the event: the broadcaster is closed"),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Encode(e) => Some(e),
            Self::Replay(e) => Some(e),
            Self::TooLarge { .. } | Self::Closed => None,
        }
    }
}

/// Why [`Fanout::send_to`] refused a targeted event. Nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The event cannot be encoded (see [`PublishError::Encode`]).
    Encode(EncodeError),
    /// The event has an id. Targeted events are not in the replay ring, so
    /// an id on one would make its client's `Last-Event-ID` unknown on
    /// reconnection; send it without an id.
    HasId,
    /// No live subscriber has this key or identity.
    NoSubscriber,
    /// The subscriber's targeted queue is full
    /// ([`FanoutConfig::max_targeted_len`]).
    Full,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => write!(f, "cannot send the event: {e}"),
            Self::HasId => f.write_str(
                "cannot send the event: a targeted event must have no id (it is not replayable)",
            ),
            Self::NoSubscriber => f.write_str("cannot send the event: no such live subscriber"),
            Self::Full => f.write_str("cannot send the event: the subscriber's queue is full"),
        }
    }
}

impl std::error::Error for SendError {}

/// What a new subscriber was replayed, from its `Last-Event-ID`. A server
/// can act on it, e.g. tell a client whose id is [`TooOld`](Self::TooOld)
/// to reload its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplayOutcome {
    /// No `Last-Event-ID` (or an empty one): a new subscriber, which gets
    /// the events published from now on.
    New,
    /// The id was found: the `replayed` events published after it come
    /// first (0 if it was the newest), then the live ones, with no gap and
    /// no duplicate.
    Exact {
        /// How many events were replayed.
        replayed: usize,
    },
    /// The id was published but has been evicted from the ring since: some
    /// events after it are gone. The subscriber gets the live events,
    /// preceded by the `replayed` events the ring still kept if
    /// [`Subscribe::replay_kept_on_miss`] was set (0 otherwise).
    TooOld {
        /// How many kept events were replayed.
        replayed: usize,
    },
    /// The id was never published here (e.g. it is from before a restart),
    /// or was evicted so long ago that the ring forgot it. Handled as
    /// [`TooOld`](Self::TooOld).
    Unknown {
        /// How many kept events were replayed.
        replayed: usize,
    },
}

impl ReplayOutcome {
    /// Whether the subscriber misses nothing it should have:
    /// [`New`](Self::New) or [`Exact`](Self::Exact).
    pub fn is_exact(&self) -> bool {
        matches!(self, Self::New | Self::Exact { .. })
    }

    /// How many events were replayed.
    pub fn replayed(&self) -> usize {
        match *self {
            Self::New => 0,
            Self::Exact { replayed } | Self::TooOld { replayed } | Self::Unknown { replayed } => {
                replayed
            }
        }
    }
}

/// Why a subscriber's stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// It fell further behind than the lag limits, or an event it had yet
    /// to write left the ring (its client reads too slowly, or not at all).
    /// Its client will reconnect with `Last-Event-ID` and be replayed. The
    /// stream ends at once.
    Lagged,
    /// A newer subscriber with the same identity superseded it. The stream
    /// ends at once, after the [superseded event](FanoutConfig::superseded_event).
    Replaced,
    /// The fan-out was closed. The stream gets the events published before,
    /// then ends.
    Closed,
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lagged => "the subscriber fell too far behind",
            Self::Replaced => "a newer connection with the same identity replaced it",
            Self::Closed => "the broadcaster was closed",
        })
    }
}

/// Counters and sizes of a [`Fanout`] ([`Fanout::stats`]), kept as it goes:
/// reading them walks no subscriber.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FanoutStats {
    /// Live subscribers.
    pub subscribers: usize,
    /// Events in the ring (replay and live delivery share it).
    pub queued_events: usize,
    /// Encoded bytes of those events: the memory of the queues of *all*
    /// subscribers.
    pub queued_len: usize,
    /// The most live events any live subscriber had yet to write, as of the
    /// last lag sweep (sweeps run every quarter of the lag limit of
    /// published events).
    pub longest_queue: usize,
    /// Events in the replay ring (the same as `queued_events`).
    pub replay_events: usize,
    /// Bytes the replay ring counts (encoded bytes plus ids).
    pub replay_len: usize,
    /// Events published so far.
    pub published: u64,
    /// Subscribers cut off for lag, so far.
    pub lagged: u64,
    /// Subscribers superseded by a newer one with the same identity, so far.
    pub replaced: u64,
    /// Subscriptions with a `Last-Event-ID` replayed exactly, so far.
    pub replays_exact: u64,
    /// Subscriptions whose `Last-Event-ID` was too old, so far.
    pub replays_too_old: u64,
    /// Subscriptions whose `Last-Event-ID` was unknown, so far.
    pub replays_unknown: u64,
    /// Targeted events queued, so far.
    pub targeted: u64,
}

/// Subscribers cut off for lag since the previous report
/// ([`Fanout::poll_lag_report`]): log it as one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LagReport {
    /// How many.
    pub dropped: u64,
    /// The lag limit in events.
    pub max_lag_events: usize,
    /// The lag limit in bytes.
    pub max_lag_len: usize,
}

/// A subscriber of a [`Fanout`]. Keys are not reused while the fan-out
/// lives (a generation tells a slot's successive subscribers apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriberKey {
    pub(super) index: u32,
    pub(super) generation: u32,
}

impl SubscriberKey {
    /// A small dense number (the slot), for an adapter's side table; reused
    /// by later subscribers once this one is removed.
    pub fn index(&self) -> usize {
        self.index as usize
    }
}

/// The options of [`Fanout::subscribe`].
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct Subscribe<'a> {
    pub(super) last_event_id: Option<&'a str>,
    pub(super) identity: Option<&'a str>,
    pub(super) replay_kept_on_miss: bool,
}

impl<'a> Subscribe<'a> {
    /// A subscriber with no `Last-Event-ID` and no identity.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replays the events published after this id first (the client's
    /// `Last-Event-ID`; see [`last_event_id`]). `None` or `""`: live events
    /// only.
    pub fn last_event_id(mut self, id: Option<&'a str>) -> Self {
        self.last_event_id = id;
        self
    }

    /// The client's identity: a live subscriber with the same identity is
    /// superseded ([`EndReason::Replaced`]).
    pub fn identity(mut self, identity: Option<&'a str>) -> Self {
        self.identity = identity;
        self
    }

    /// When the `Last-Event-ID` is too old or unknown, replay every event
    /// the ring keeps (the client sorts out duplicates) instead of only live
    /// events (the default).
    pub fn replay_kept_on_miss(mut self, yes: bool) -> Self {
        self.replay_kept_on_miss = yes;
        self
    }
}

/// The answer of [`Fanout::subscribe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscribed {
    /// The new subscriber.
    pub key: SubscriberKey,
    /// What it is replayed.
    pub outcome: ReplayOutcome,
    /// The subscriber it superseded (same identity), to wake: it has a
    /// final event to write, then ends.
    pub superseded: Option<SubscriberKey>,
}

/// What a subscriber writes next: [`Fanout::poll_transmit`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Transmit {
    /// Write these bytes (whole events, comments or `retry:` lines), then
    /// call [`Fanout::acknowledge`].
    Send(Bytes),
    /// Nothing to write now: wait to be woken ([`Fanout::drain_wakeups`])
    /// or until [`Fanout::poll_timeout`].
    Wait,
    /// The stream is over: end the response (cleanly).
    End(EndReason),
    /// No such subscriber (it was removed).
    Gone,
}
