//! [`Broadcaster`]: publish once, deliver to every subscriber, replay on
//! reconnect. The driver of [`resse_session::Fanout`] for tokio.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use resse_codec::{Event, Text};
use resse_session::{
    Fanout, FanoutConfig, ProbeAnswer, ProbeError, ReplayConfig, SendError, Subscribe,
    SubscriberKey, SupersededEvent, Transmit,
};

pub use resse_session::{EndReason, FanoutStats as BroadcastStats, PublishError, ReplayOutcome};

/// Configuration of a [`Broadcaster`]: the settings of the
/// [`FanoutConfig`] it drives, with the names this crate has always used.
///
/// ```
/// use resse_session::ReplayConfig;
/// use resse_tokio::server::BroadcastConfig;
///
/// let config = BroadcastConfig::default()
///     .capacity(256)
///     .max_queued_len(1 << 20)
///     .replay(ReplayConfig::default().max_events(4096))
///     .id_prefix("");
/// assert_eq!(config.get_capacity(), 256);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BroadcastConfig {
    fanout: FanoutConfig,
    id_prefix: Option<String>,
}

impl BroadcastConfig {
    /// Default [`capacity`](Self::capacity): 512 events.
    pub const DEFAULT_CAPACITY: usize = FanoutConfig::DEFAULT_MAX_LAG_EVENTS;
    /// Default [`max_queued_len`](Self::max_queued_len): 2 MiB (half the
    /// default ring).
    pub const DEFAULT_MAX_QUEUED_LEN: usize = FanoutConfig::DEFAULT_MAX_LAG_LEN;
    /// Default [`max_batch_len`](Self::max_batch_len): 64 KiB.
    pub const DEFAULT_MAX_BATCH_LEN: usize = FanoutConfig::DEFAULT_MAX_BATCH_LEN;

    /// How many live events a subscriber may fall behind before it is
    /// disconnected (default [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY);
    /// at least 1, at most the ring's [`max_events`](ReplayConfig::max_events):
    /// see [`FanoutConfig::max_lag_events`]).
    pub fn capacity(mut self, events: usize) -> Self {
        self.fanout = self.fanout.max_lag_events(events);
        self
    }

    /// How many bytes of live events a subscriber may fall behind before it
    /// is disconnected (default [`DEFAULT_MAX_QUEUED_LEN`](Self::DEFAULT_MAX_QUEUED_LEN);
    /// at most half the ring's [`max_len`](ReplayConfig::max_len)). The
    /// newest event always counts as deliverable, however large.
    pub fn max_queued_len(mut self, len: usize) -> Self {
        self.fanout = self.fanout.max_lag_len(len);
        self
    }

    /// How many bytes one item of a [`Subscription`] collects when several
    /// events are waiting (default [`DEFAULT_MAX_BATCH_LEN`](Self::DEFAULT_MAX_BATCH_LEN);
    /// an item always holds at least one event).
    pub fn max_batch_len(mut self, len: usize) -> Self {
        self.fanout = self.fanout.max_batch_len(len);
        self
    }

    /// The ring of published events, which answers `Last-Event-ID` and
    /// feeds live subscribers (default [`ReplayConfig::default`]: 1024
    /// events, 4 MiB).
    pub fn replay(mut self, replay: ReplayConfig) -> Self {
        self.fanout = self.fanout.replay(replay);
        self
    }

    /// The prefix of the ids [`Broadcaster::publish`] assigns: ids are the
    /// prefix followed by 1, 2, 3, … By default the prefix is the creation
    /// time of the broadcaster (milliseconds since the Unix epoch, in hex)
    /// and a dash, e.g. `18f3a2b4c1d-1`, so that an id from before a restart
    /// reads as unknown instead of as a different event of this run. Set
    /// `""` for plain numbers. It must not contain CR, LF or NUL.
    pub fn id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.id_prefix = Some(prefix.into());
        self
    }

    /// Announce this reconnection delay (`retry:`) at the start of every
    /// subscription's stream (default: none).
    pub fn retry(mut self, retry: Option<Duration>) -> Self {
        self.fanout = self.fanout.retry(retry);
        self
    }

    /// The final event of a subscription superseded by a newer one with the
    /// same identity (default `event: superseded`, see
    /// [`SupersededEvent`]); `None` ends it without one.
    pub fn superseded_event(mut self, event: Option<SupersededEvent>) -> Self {
        self.fanout = self.fanout.superseded_event(event);
        self
    }

    /// The most bytes of targeted events ([`Broadcaster::send_to_identity`])
    /// queued for one subscription (default 64 KiB).
    pub fn max_targeted_len(mut self, len: usize) -> Self {
        self.fanout = self.fanout.max_targeted_len(len);
        self
    }

    /// How often at most lag disconnections are logged, as one line with
    /// their count (default 10 s).
    pub fn lag_report_interval(mut self, interval: Duration) -> Self {
        self.fanout = self.fanout.lag_report_interval(interval);
        self
    }

    /// The subscriber lag limit in events (clamped to the ring).
    pub fn get_capacity(&self) -> usize {
        self.fanout.get_max_lag_events()
    }

    /// The subscriber lag limit in bytes (clamped to half the ring).
    pub fn get_max_queued_len(&self) -> usize {
        self.fanout.get_max_lag_len()
    }

    /// The batch limit of a subscription item.
    pub fn get_max_batch_len(&self) -> usize {
        self.fanout.get_max_batch_len()
    }

    /// The replay ring limits.
    pub fn get_replay(&self) -> &ReplayConfig {
        self.fanout.get_replay()
    }

    /// The configured id prefix, if one was set.
    pub fn get_id_prefix(&self) -> Option<&str> {
        self.id_prefix.as_deref()
    }

    /// The core configuration this maps to (without keep-alives: an
    /// [`SseBody`](super::SseBody) sends them).
    pub fn get_fanout(&self) -> &FanoutConfig {
        &self.fanout
    }
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        Self {
            fanout: FanoutConfig::default().keep_alive(None),
            id_prefix: None,
        }
    }
}

/// Publishes events to many subscribers: encoded once, shared by all,
/// logged for replay.
///
/// * [`publish`](Self::publish) assigns the next id if the event has none
///   (see [`BroadcastConfig::id_prefix`]: `<prefix>1`, `<prefix>2`, …,
///   increasing by one per assigned id; an event with its own id keeps it),
///   encodes the event **once** with [`resse_codec::Encoder`], appends it to
///   the replay ring ([`resse_session::ReplayLog`]) and makes the same [`Bytes`] available to every
///   subscriber: delivering it costs a reference-count increment per
///   subscriber, never a copy or an encoding.
/// * [`subscribe`](Self::subscribe) with a client's `Last-Event-ID` replays
///   the events after it from the log, then goes live: both happen under one
///   lock with publishing, so there is no gap and no duplicate at the seam,
///   however many threads publish. [`Subscription::replay`] tells what was
///   possible ([`ReplayOutcome`]).
/// * [`subscribe_as`](Self::subscribe_as) gives the subscription a client
///   identity; a new subscription with the same identity ends the old one
///   (one connection per client).
///
/// # Queues, slow subscribers and memory
///
/// The SSE rules (ids, replay, lag, identities, targeted events, the
/// `retry:` announcement, the superseded event) are those of the sans-IO
/// [`resse_session::Fanout`]; this type is its driver: a mutex, the
/// subscribers' wakers, and the [`Stream`] impl of [`Subscription`].
///
/// Published events live in **one** ring, the replay log sized by
/// [`BroadcastConfig::replay`]: it answers `Last-Event-ID` and feeds live
/// subscribers alike. A subscriber's own state is a cursor into it and a
/// waker (tens of bytes), whatever its backlog. A subscriber that falls
/// further behind than [`capacity`](BroadcastConfig::capacity) events or
/// [`max_queued_len`](BroadcastConfig::max_queued_len) bytes of live events
/// is disconnected rather than buffered for: its stream ends (counted in
/// [`BroadcastStats::lagged`] and logged as one aggregated `tracing::warn!`
/// line per [`BroadcastConfig::lag_report_interval`]), its client reconnects
/// with `Last-Event-ID` and is replayed from the ring. The lag limits are
/// clamped to the ring (events: its `max_events`; bytes: half its
/// `max_len`), so that what a cut subscriber missed is still in the ring
/// when it comes back. The lag is noticed when the subscription is next
/// polled, or by the publisher within a quarter of the limits of further
/// events for a subscriber that is never polled (its connection is stuck
/// writing).
///
/// Memory: the ring's limits ([`ReplayConfig`]) whatever the number of
/// subscribers; each subscription in flight holds one batch of at most
/// [`max_batch_len`](BroadcastConfig::max_batch_len) bytes, plus at most
/// [`max_targeted_len`](BroadcastConfig::max_targeted_len) bytes of
/// targeted events. What the HTTP server buffers for a connection that does
/// not read is bounded by the server and the kernel's socket buffers; see
/// the [module docs](super) for cutting such connections.
///
/// Subscriptions wake once per batch: publishing many events while a
/// subscriber's task is busy wakes it once, and it then reads all of them
/// (concatenated, up to [`max_batch_len`](BroadcastConfig::max_batch_len))
/// at once.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::StreamExt;
/// use resse_codec::Event;
/// use resse_tokio::server::{BroadcastConfig, Broadcaster, ReplayOutcome};
///
/// let broadcaster = Broadcaster::new(BroadcastConfig::default().id_prefix(""));
/// let mut alice = broadcaster.subscribe(None);
/// assert_eq!(broadcaster.publish(Event::new("one"))?, "1");
/// assert_eq!(broadcaster.publish(Event::new("two"))?, "2");
/// // Alice reads both events in one item (they were waiting together).
/// assert_eq!(alice.next().await.as_deref(), Some(&b"id: 1\ndata: one\n\nid: 2\ndata: two\n\n"[..]));
///
/// // Bob saw event 1 before his connection dropped: he gets exactly event 2.
/// let mut bob = broadcaster.subscribe(Some("1"));
/// assert_eq!(bob.replay(), ReplayOutcome::Exact { replayed: 1 });
/// assert_eq!(bob.next().await.as_deref(), Some(&b"id: 2\ndata: two\n\n"[..]));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Broadcaster {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// The time given to the core where it needs one: only its keep-alives
    /// use it, and they are off here (an `SseBody` sends them), so the hot
    /// paths read no clock.
    epoch: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing in a critical section panics on input; should a bug do
        // so, the state is still consistent enough to keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct State {
    core: Fanout,
    /// Wakers by subscriber slot, with the key they belong to.
    wakers: Vec<Option<(SubscriberKey, Waker)>>,
    /// Keys to wake, drained from the core (kept for its capacity).
    wakeups: Vec<SubscriberKey>,
}

impl State {
    /// Moves the wakers of the core's wake-ups into `list`.
    fn collect_wakers(&mut self, list: &mut Vec<Waker>) {
        self.core.drain_wakeups(&mut self.wakeups);
        list.reserve(self.wakeups.len());
        for key in self.wakeups.drain(..) {
            if let Some(slot) = self.wakers.get_mut(key.index()) {
                if slot.as_ref().is_some_and(|(k, _)| *k == key) {
                    if let Some((_, waker)) = slot.take() {
                        list.push(waker);
                    }
                }
            }
        }
    }

    fn report_lag(&mut self, now: Instant) {
        if let Some(report) = self.core.poll_lag_report(now) {
            tracing::warn!(
                dropped = report.dropped,
                capacity = report.max_lag_events,
                max_queued_len = report.max_lag_len,
                "disconnected SSE subscribers that fell behind (more than `capacity` events or \
                 `max_queued_len` bytes unread); their clients will reconnect with \
                 Last-Event-ID and be replayed"
            );
        }
    }
}

impl Default for Broadcaster {
    fn default() -> Self {
        Self::new(BroadcastConfig::default())
    }
}

impl fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcaster")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Broadcaster {
    /// A broadcaster with this configuration and no subscribers.
    pub fn new(config: BroadcastConfig) -> Self {
        let id_prefix = config.id_prefix.unwrap_or_else(|| {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            format!("{ms:x}-")
        });
        let core = Fanout::new(config.fanout.id_prefix(id_prefix));
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    core,
                    wakers: Vec::new(),
                    wakeups: Vec::new(),
                }),
                epoch: crate::now(),
            }),
        }
    }

    /// Publishes `event` to every subscriber and to the replay ring, and
    /// returns its id.
    ///
    /// An event without an id gets the next one (`<prefix>1`, `<prefix>2`,
    /// …; see [`BroadcastConfig::id_prefix`]); an event with an id keeps it.
    /// The event is encoded once and the bytes are shared. Subscribers
    /// waiting for an event are woken (each at most once until it reads
    /// again). Publishing never waits for subscribers: one that falls too
    /// far behind is disconnected instead (see the type docs).
    ///
    /// # Errors
    /// [`PublishError`] if the event cannot be encoded, is larger than the
    /// ring, its id is empty or already in the ring, or the broadcaster is
    /// closed; nothing is sent then (an assigned id is used up).
    pub fn publish(&self, event: Event) -> Result<Text, PublishError> {
        let mut state = self.shared.lock();
        let id = state.core.publish(self.shared.epoch, event)?;
        if state.core.stats().lagged > 0 {
            state.report_lag(crate::now());
        }
        self.wake(state);
        Ok(id)
    }

    /// Sends `event` to the live subscription with this identity only (see
    /// [`resse_session::Fanout::send_to`]): in order with the published
    /// events, not replayed, so without an id.
    ///
    /// # Errors
    /// [`SendError`] when the event has an id or cannot be encoded, no live
    /// subscription has the identity, or its targeted queue is full.
    pub fn send_to_identity(&self, identity: &str, event: &Event) -> Result<(), SendError> {
        let mut state = self.shared.lock();
        state.core.send_to_identity(identity, event)?;
        self.wake(state);
        Ok(())
    }

    /// Sends `event` to one subscription only (its [`Subscription::key`]);
    /// see [`send_to_identity`](Self::send_to_identity).
    ///
    /// # Errors
    /// As [`send_to_identity`](Self::send_to_identity).
    pub fn send_to(&self, key: SubscriberKey, event: &Event) -> Result<(), SendError> {
        let mut state = self.shared.lock();
        state.core.send_to(key, event)?;
        self.wake(state);
        Ok(())
    }

    /// Answers a liveness probe request (see [`resse_session::probe`]):
    /// parses its query (`nonce=N`, and `client=ID`, the identity the
    /// stream subscribed with) and sends the `pong` answer to that one
    /// subscription, in order with the published events. Route the probe
    /// URL to it (by default clients probe the stream path + `/probe`) and
    /// answer `204` on success, else the error's
    /// [`status`](ProbeError::status) with its message.
    ///
    /// # Errors
    /// [`ProbeError`]: a bad nonce or identity (400), no such subscription
    /// (404), a full queue (503).
    pub fn answer_probe(
        &self,
        answer: &ProbeAnswer,
        query: Option<&str>,
    ) -> Result<SubscriberKey, ProbeError> {
        let mut state = self.shared.lock();
        let key = resse_session::answer_probe(&mut state.core, answer, query)?;
        self.wake(state);
        Ok(key)
    }

    /// [`answer_probe`](Self::answer_probe) to the subscription `key`
    /// (its [`Subscription::key`], for a server that maps its own
    /// subscriber ids to keys).
    ///
    /// # Errors
    /// As [`answer_probe`](Self::answer_probe).
    pub fn answer_probe_to(
        &self,
        answer: &ProbeAnswer,
        key: SubscriberKey,
        query: Option<&str>,
    ) -> Result<(), ProbeError> {
        let mut state = self.shared.lock();
        resse_session::answer_probe_to(&mut state.core, answer, key, query)?;
        self.wake(state);
        Ok(())
    }

    /// Wakes the subscribers the core lists (the wake-ups of this call),
    /// outside the lock.
    fn wake<'a>(&'a self, mut state: MutexGuard<'a, State>) {
        let mut list = Vec::new();
        state.collect_wakers(&mut list);
        drop(state);
        for waker in list {
            waker.wake();
        }
    }

    /// A new subscription, replayed from `last_event_id` (the client's
    /// `Last-Event-ID` header, see [`last_event_id`](super::last_event_id))
    /// when given. See [`subscriber`](Self::subscriber) for more options.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        self.subscriber().last_event_id(last_event_id).subscribe()
    }

    /// A new subscription for the client `identity` (a user or session id),
    /// superseding the client's previous subscription if it has one, so that
    /// a client has one connection at a time.
    pub fn subscribe_as(
        &self,
        identity: impl Into<String>,
        last_event_id: Option<&str>,
    ) -> Subscription {
        self.subscriber()
            .identity(identity)
            .last_event_id(last_event_id)
            .subscribe()
    }

    /// Options for a new subscription.
    pub fn subscriber(&self) -> SubscribeOptions<'_> {
        SubscribeOptions {
            broadcaster: self,
            last_event_id: None,
            identity: None,
            replay_kept_on_miss: false,
        }
    }

    /// How many subscriptions are live (not ended, not dropped).
    pub fn subscriber_count(&self) -> usize {
        self.shared.lock().core.subscriber_count()
    }

    /// Counters and ring sizes; see [`BroadcastStats`]. Walks no subscriber.
    pub fn stats(&self) -> BroadcastStats {
        self.shared.lock().core.stats()
    }

    /// Ends every subscription (each reads what it has queued first, then
    /// ends) and refuses further events and subscriptions. Call it on
    /// graceful shutdown: servers that wait for responses to finish (hyper's
    /// and axum's graceful shutdown) would otherwise wait for event streams
    /// forever.
    pub fn close(&self) {
        let mut state = self.shared.lock();
        state.core.close();
        self.wake(state);
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().core.is_closed()
    }
}

/// Options for a new [`Subscription`], from [`Broadcaster::subscriber`].
///
/// ```
/// use resse_tokio::server::Broadcaster;
///
/// let broadcaster = Broadcaster::default();
/// let subscription = broadcaster
///     .subscriber()
///     .identity("user-42")
///     .last_event_id(Some("17"))
///     .replay_kept_on_miss(true)
///     .subscribe();
/// assert!(!subscription.replay().is_exact()); // "17" was never published here
/// ```
#[derive(Debug)]
#[must_use = "call `subscribe` to subscribe"]
pub struct SubscribeOptions<'a> {
    broadcaster: &'a Broadcaster,
    last_event_id: Option<&'a str>,
    identity: Option<Box<str>>,
    replay_kept_on_miss: bool,
}

impl<'a> SubscribeOptions<'a> {
    /// Replays the events published after this id first (a client's
    /// `Last-Event-ID`). `None` or `""`: live events only.
    pub fn last_event_id(mut self, id: Option<&'a str>) -> Self {
        self.last_event_id = id;
        self
    }

    /// The client's identity: a live subscription with the same identity is
    /// superseded ([`EndReason::Replaced`]: it gets the superseded event,
    /// then ends) when this one starts.
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into().into_boxed_str());
        self
    }

    /// When the `Last-Event-ID` is too old or unknown, replay every event the
    /// ring still keeps (and let the client sort out duplicates), instead of
    /// only live events (the default). [`Subscription::replay`] says which
    /// happened.
    pub fn replay_kept_on_miss(mut self, yes: bool) -> Self {
        self.replay_kept_on_miss = yes;
        self
    }

    /// Subscribes: replay (if asked) and the live feed start together,
    /// under the publishing lock, so that the seam has no gap and no
    /// duplicate.
    pub fn subscribe(self) -> Subscription {
        let shared = Arc::clone(&self.broadcaster.shared);
        let mut state = shared.lock();
        let subscribed = state.core.subscribe(
            shared.epoch,
            Subscribe::new()
                .last_event_id(self.last_event_id)
                .identity(self.identity.as_deref())
                .replay_kept_on_miss(self.replay_kept_on_miss),
        );
        let index = subscribed.key.index();
        if state.wakers.len() <= index {
            state.wakers.resize_with(index + 1, || None);
        }
        self.broadcaster.wake(state);
        Subscription {
            shared,
            key: subscribed.key,
            outcome: subscribed.outcome,
            done: false,
        }
    }
}

/// One subscriber's feed from a [`Broadcaster`]: a [`Stream`] of encoded
/// events, ready for an [`SseBody`](super::SseBody).
///
/// Each item is one or more whole encoded events, in publishing order:
/// first the replayed ones, then the live ones. When one event is waiting,
/// the item is the very [`Bytes`] the broadcaster encoded (shared with every
/// other subscriber); when several are waiting, they come concatenated in
/// one item (up to [`BroadcastConfig::max_batch_len`]), so that the
/// connection writes them at once.
///
/// The stream ends when the subscription is ended: it fell behind
/// ([`EndReason::Lagged`]), another subscription with its identity replaced
/// it, or the broadcaster was closed; [`end_reason`](Self::end_reason)
/// says which. Dropping it (e.g. hyper drops the response body when the
/// client goes away) removes it from the broadcaster at once.
pub struct Subscription {
    shared: Arc<Shared>,
    key: SubscriberKey,
    outcome: ReplayOutcome,
    done: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("key", &self.key)
            .field("replay", &self.outcome)
            .field("done", &self.done)
            .finish()
    }
}

impl Subscription {
    /// What was replayed from the `Last-Event-ID` at subscription.
    pub fn replay(&self) -> ReplayOutcome {
        self.outcome
    }

    /// Its key, for [`Broadcaster::send_to`].
    pub fn key(&self) -> SubscriberKey {
        self.key
    }

    /// Why the subscription ended, if it has (it may still have queued
    /// events to yield).
    pub fn end_reason(&self) -> Option<EndReason> {
        self.shared.lock().core.end_reason(self.key)
    }
}

impl Stream for Subscription {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let now = this.shared.epoch;
        let mut state = this.shared.lock();
        // Handed to the HTTP server, which bounds what it buffers (and stops
        // polling while its socket is full): acknowledged as it is taken.
        match state.core.poll_transmit_acknowledged(now, this.key) {
            Transmit::Send(bytes) => Poll::Ready(Some(bytes)),
            Transmit::Wait => {
                if let Some(slot) = state.wakers.get_mut(this.key.index()) {
                    match slot {
                        Some((key, waker)) if *key == this.key && waker.will_wake(cx.waker()) => {}
                        _ => *slot = Some((this.key, cx.waker().clone())),
                    }
                }
                Poll::Pending
            }
            Transmit::End(_) | Transmit::Gone => {
                this.done = true;
                let lagged = state.core.end_reason(this.key) == Some(EndReason::Lagged);
                if lagged {
                    state.report_lag(crate::now());
                }
                Poll::Ready(None)
            }
        }
    }
}

impl FusedStream for Subscription {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.core.unsubscribe(self.key);
        if let Some(slot) = state.wakers.get_mut(self.key.index()) {
            if slot.as_ref().is_some_and(|(k, _)| *k == self.key) {
                *slot = None;
            }
        }
    }
}
