//! [`FanoutConfig`] and [`SupersededEvent`].

use std::time::Duration;

use resse_codec::Text;
use resse_heartbeat::KeepAliveConfig;

use crate::replay::ReplayConfig;

#[allow(unused_imports)] // doc links
use super::{EndReason, Fanout, PublishError, SendError, Transmit};
#[allow(unused_imports)] // doc links
use crate::replay::ReplayLog;

/// The final event a superseded stream gets (see
/// [`FanoutConfig::superseded_event`]): `event: superseded` by default, no
/// id, and a readable reason as its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupersededEvent {
    pub(super) event_type: Text,
    pub(super) data: Text,
}

impl SupersededEvent {
    /// The default event type: `superseded`. resse's clients stop on it
    /// (see `SessionConfig::stop_on_event`).
    pub const DEFAULT_EVENT_TYPE: &'static str = "superseded";
    /// The default data: a sentence saying what happened.
    pub const DEFAULT_DATA: &'static str =
        "a newer connection with the same identity replaced this one";

    /// An event of this type and data. The type must not contain CR or LF
    /// (checked by [`FanoutConfig::superseded_event`]).
    pub fn new(event_type: impl Into<Text>, data: impl Into<Text>) -> Self {
        Self {
            event_type: event_type.into(),
            data: data.into(),
        }
    }

    /// The event type.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The data.
    pub fn data(&self) -> &str {
        &self.data
    }
}

impl Default for SupersededEvent {
    fn default() -> Self {
        Self::new(Self::DEFAULT_EVENT_TYPE, Self::DEFAULT_DATA)
    }
}

/// Configuration of a [`Fanout`].
///
/// # One ring, two limits that cannot contradict
///
/// Published events live in **one** ring of encoded bytes, the
/// [`ReplayLog`] sized by [`replay`](Self::replay): it answers
/// `Last-Event-ID` and feeds live subscribers alike. A subscriber that
/// falls behind the live feed by more than [`max_lag_events`](Self::max_lag_events)
/// events or [`max_lag_len`](Self::max_lag_len) bytes is cut off
/// ([`EndReason::Lagged`]). Both lag limits are clamped to what the ring
/// holds (events: at most `replay.max_events`; bytes: at most half of
/// `replay.max_len`, as the log counts each event's id a second time), so a
/// subscriber cut for lag finds every event it missed in the ring when its
/// client reconnects, as long as it comes back before the ring turns over.
///
/// ```
/// use resse_session::{FanoutConfig, ReplayConfig};
///
/// let config = FanoutConfig::default()
///     .replay(ReplayConfig::default().max_events(100))
///     .max_lag_events(500);
/// assert_eq!(config.get_max_lag_events(), 100, "clamped to the ring");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FanoutConfig {
    pub(super) replay: ReplayConfig,
    pub(super) max_lag_events: usize,
    pub(super) max_lag_len: usize,
    pub(super) max_batch_len: usize,
    pub(super) max_targeted_len: usize,
    pub(super) id_prefix: Text,
    pub(super) retry: Option<Duration>,
    pub(super) superseded: Option<SupersededEvent>,
    pub(super) keep_alive: Option<KeepAliveConfig>,
    pub(super) lag_report_interval: Duration,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self {
            replay: ReplayConfig::default(),
            max_lag_events: Self::DEFAULT_MAX_LAG_EVENTS,
            max_lag_len: Self::DEFAULT_MAX_LAG_LEN,
            max_batch_len: Self::DEFAULT_MAX_BATCH_LEN,
            max_targeted_len: Self::DEFAULT_MAX_TARGETED_LEN,
            id_prefix: Text::from(""),
            retry: None,
            superseded: Some(SupersededEvent::default()),
            keep_alive: Some(KeepAliveConfig::default()),
            lag_report_interval: Self::DEFAULT_LAG_REPORT_INTERVAL,
        }
    }
}

impl FanoutConfig {
    /// Default [`max_lag_events`](Self::max_lag_events): 512.
    pub const DEFAULT_MAX_LAG_EVENTS: usize = 512;
    /// Default [`max_lag_len`](Self::max_lag_len): 2 MiB.
    pub const DEFAULT_MAX_LAG_LEN: usize = 2 * 1024 * 1024;
    /// Default [`max_batch_len`](Self::max_batch_len): 64 KiB.
    pub const DEFAULT_MAX_BATCH_LEN: usize = 64 * 1024;
    /// Default [`max_targeted_len`](Self::max_targeted_len): 64 KiB.
    pub const DEFAULT_MAX_TARGETED_LEN: usize = 64 * 1024;
    /// Default [`lag_report_interval`](Self::lag_report_interval): 10 s.
    pub const DEFAULT_LAG_REPORT_INTERVAL: Duration = Duration::from_secs(10);

    /// The ring of published events, which serves replay and live delivery
    /// (default [`ReplayConfig::default`]: 1024 events, 4 MiB). The ring
    /// keeps at least one event whatever `max_events` says; an event larger
    /// than `max_len` is refused ([`PublishError::TooLarge`]).
    pub fn replay(mut self, replay: ReplayConfig) -> Self {
        self.replay = replay.max_events(replay.get_max_events().max(1));
        self
    }

    resse_builder::field_methods! {
        /// How many live events a subscriber may leave unwritten before it is
        /// cut off (default [`DEFAULT_MAX_LAG_EVENTS`](Self::DEFAULT_MAX_LAG_EVENTS);
        /// at least 1, at most the ring's `max_events`). Replayed events do not
        /// count: a reconnecting client may be replayed the whole ring.
        pub fn max_lag_events(mut self, events: usize) -> Self;

        /// How many bytes of live events a subscriber may leave unwritten before
        /// it is cut off (default [`DEFAULT_MAX_LAG_LEN`](Self::DEFAULT_MAX_LAG_LEN);
        /// at most half the ring's `max_len`). The newest event always counts
        /// as deliverable, however large.
        pub fn max_lag_len(mut self, len: usize) -> Self;

        /// The most bytes one [`Transmit::Send`] collects when several events
        /// are waiting (default [`DEFAULT_MAX_BATCH_LEN`](Self::DEFAULT_MAX_BATCH_LEN);
        /// one event is always taken, however large).
        pub fn max_batch_len(mut self, len: usize) -> Self;

        /// The most bytes of targeted events ([`Fanout::send_to`]) queued for
        /// one subscriber (default [`DEFAULT_MAX_TARGETED_LEN`](Self::DEFAULT_MAX_TARGETED_LEN));
        /// past it, sending fails with [`SendError::Full`].
        pub fn max_targeted_len(mut self, len: usize) -> Self;
    }

    /// The prefix of assigned ids: `<prefix>1`, `<prefix>2`, … (default
    /// empty). The core reads no clock; an adapter that wants ids from
    /// before a restart to read as unknown sets a per-run prefix (resse-tokio
    /// uses the start time). CR, LF and NUL are refused when publishing
    /// ([`PublishError::Encode`]).
    pub fn id_prefix(mut self, prefix: impl Into<Text>) -> Self {
        self.id_prefix = prefix.into();
        self
    }

    resse_builder::field_methods! {
        /// Announce this reconnection delay (`retry:` in milliseconds) at the
        /// start of every stream (default: none).
        pub fn retry(mut self, retry: Option<Duration>) -> Self;
    }

    /// The final event of a stream superseded by a newer connection with
    /// the same identity (default [`SupersededEvent::default`]:
    /// `event: superseded`); `None` ends such streams without one. An event
    /// type with CR or LF is replaced by the default rather than break the
    /// framing.
    pub fn superseded_event(mut self, event: Option<SupersededEvent>) -> Self {
        self.superseded = event.map(|e| {
            if e.event_type.contains(['\r', '\n']) {
                SupersededEvent::default()
            } else {
                e
            }
        });
        self
    }

    resse_builder::field_methods! {
        /// Keep-alives while a subscriber is idle (default
        /// [`KeepAliveConfig::default`]: `: keep-alive` after 15 s of quiet);
        /// `None` for none (e.g. when the adapter's body sends its own).
        pub fn keep_alive(mut self, config: Option<KeepAliveConfig>) -> Self;

        /// How often at most [`Fanout::poll_lag_report`] reports lag drops (one
        /// aggregated line instead of one per subscriber; default
        /// [`DEFAULT_LAG_REPORT_INTERVAL`](Self::DEFAULT_LAG_REPORT_INTERVAL)).
        pub fn lag_report_interval(mut self, interval: Duration) -> Self;
    }

    /// The ring limits.
    pub fn get_replay(&self) -> &ReplayConfig {
        &self.replay
    }

    /// The effective lag limit in events (clamped to the ring).
    pub fn get_max_lag_events(&self) -> usize {
        self.max_lag_events
            .clamp(1, self.replay.get_max_events().max(1))
    }

    /// The effective lag limit in bytes (clamped to half the ring).
    pub fn get_max_lag_len(&self) -> usize {
        self.max_lag_len.min(self.replay.get_max_len() / 2)
    }

    /// The batch limit.
    pub fn get_max_batch_len(&self) -> usize {
        self.max_batch_len
    }

    /// The targeted queue limit per subscriber.
    pub fn get_max_targeted_len(&self) -> usize {
        self.max_targeted_len
    }

    /// The id prefix.
    pub fn get_id_prefix(&self) -> &str {
        &self.id_prefix
    }

    /// The `retry:` announced at stream start.
    pub fn get_retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The final event of superseded streams.
    pub fn get_superseded_event(&self) -> Option<&SupersededEvent> {
        self.superseded.as_ref()
    }

    /// The keep-alive configuration.
    pub fn get_keep_alive(&self) -> Option<&KeepAliveConfig> {
        self.keep_alive.as_ref()
    }

    /// The lag report interval.
    pub fn get_lag_report_interval(&self) -> Duration {
        self.lag_report_interval
    }
}
