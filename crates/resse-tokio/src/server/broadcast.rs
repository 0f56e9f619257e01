//! [`Broadcaster`]: publish once, deliver to every subscriber, replay on
//! reconnect.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_core::{FusedStream, Stream};
use resse_codec::{EncodeError, Encoder, Event, Text};
use resse_session::{PushError, Replay, ReplayConfig, ReplayLog};

/// Configuration of a [`Broadcaster`].
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
    capacity: usize,
    max_queued_len: usize,
    max_batch_len: usize,
    replay: ReplayConfig,
    id_prefix: Option<String>,
}

impl BroadcastConfig {
    /// Default [`capacity`](Self::capacity): 512 events.
    pub const DEFAULT_CAPACITY: usize = 512;
    /// Default [`max_queued_len`](Self::max_queued_len): 4 MiB.
    pub const DEFAULT_MAX_QUEUED_LEN: usize = 4 * 1024 * 1024;
    /// Default [`max_batch_len`](Self::max_batch_len): 64 KiB.
    pub const DEFAULT_MAX_BATCH_LEN: usize = 64 * 1024;

    /// How many events a subscriber may fall behind before it is
    /// disconnected (default [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY);
    /// at least 1). Keep it below the replay log's
    /// [`max_events`](ReplayConfig::max_events), so that a disconnected
    /// subscriber can still be replayed exactly when it comes back.
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(1);
        self
    }

    /// How many bytes of events a subscriber may fall behind before it is
    /// disconnected (default [`DEFAULT_MAX_QUEUED_LEN`](Self::DEFAULT_MAX_QUEUED_LEN)).
    /// The newest event always counts as deliverable, however large.
    pub fn max_queued_len(mut self, len: usize) -> Self {
        self.max_queued_len = len;
        self
    }

    /// How many bytes one item of a [`Subscription`] collects when several
    /// events are waiting (default [`DEFAULT_MAX_BATCH_LEN`](Self::DEFAULT_MAX_BATCH_LEN);
    /// an item always holds at least one event).
    pub fn max_batch_len(mut self, len: usize) -> Self {
        self.max_batch_len = len;
        self
    }

    /// Limits of the replay log that answers `Last-Event-ID` (default
    /// [`ReplayConfig::default`]: 1024 events, 4 MiB).
    pub fn replay(mut self, replay: ReplayConfig) -> Self {
        self.replay = replay;
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

    /// The subscriber lag limit in events.
    pub fn get_capacity(&self) -> usize {
        self.capacity
    }

    /// The subscriber lag limit in bytes.
    pub fn get_max_queued_len(&self) -> usize {
        self.max_queued_len
    }

    /// The batch limit of a subscription item.
    pub fn get_max_batch_len(&self) -> usize {
        self.max_batch_len
    }

    /// The replay log limits.
    pub fn get_replay(&self) -> &ReplayConfig {
        &self.replay
    }

    /// The configured id prefix, if one was set.
    pub fn get_id_prefix(&self) -> Option<&str> {
        self.id_prefix.as_deref()
    }
}

impl Default for BroadcastConfig {
    fn default() -> Self {
        Self {
            capacity: Self::DEFAULT_CAPACITY,
            max_queued_len: Self::DEFAULT_MAX_QUEUED_LEN,
            max_batch_len: Self::DEFAULT_MAX_BATCH_LEN,
            replay: ReplayConfig::default(),
            id_prefix: None,
        }
    }
}

/// Why [`Broadcaster::publish`] refused an event. Nothing was sent and
/// nothing was logged for replay.
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
    /// [`Broadcaster::close`] was called.
    Closed,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => write!(f, "cannot publish the event: {e}"),
            Self::Replay(e) => write!(f, "cannot publish the event: {e}"),
            Self::Closed => f.write_str("cannot publish the event: the broadcaster is closed"),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Encode(e) => Some(e),
            Self::Replay(e) => Some(e),
            Self::Closed => None,
        }
    }
}

/// What a new [`Subscription`] was replayed, from its `Last-Event-ID`
/// ([`Subscription::replay`]). A server can act on it, e.g. tell a client
/// whose id is [`TooOld`](Self::TooOld) to reload its state.
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
    /// The id was published but has been evicted from the replay log since:
    /// some events after it are gone. The subscriber gets the live events,
    /// preceded by the `replayed` events the log still kept if
    /// [`SubscribeOptions::replay_kept_on_miss`] was set (0 otherwise).
    TooOld {
        /// How many kept events were replayed.
        replayed: usize,
    },
    /// The id was never published by this broadcaster (e.g. it is from
    /// before a restart), or was evicted so long ago that the log forgot
    /// it. Handled as [`TooOld`](Self::TooOld).
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

/// Why a [`Subscription`] ended ([`Subscription::end_reason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// It fell further behind than [`BroadcastConfig::capacity`] events or
    /// [`BroadcastConfig::max_queued_len`] bytes (its client reads too
    /// slowly, or not at all). Its client will reconnect with
    /// `Last-Event-ID` and be replayed. The stream ends at once.
    Lagged,
    /// A newer subscription with the same identity replaced it. The stream
    /// ends at once (the client has the newer connection).
    Replaced,
    /// [`Broadcaster::close`] was called. The stream yields the events it
    /// had queued, then ends.
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

/// A snapshot of a [`Broadcaster`]'s state, from [`Broadcaster::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastStats {
    /// Live subscriptions.
    pub subscribers: usize,
    /// Events held for subscribers to read (at most
    /// [`BroadcastConfig::capacity`]).
    pub queued_events: usize,
    /// Bytes those events hold (at most
    /// [`BroadcastConfig::max_queued_len`] plus one event). The memory of
    /// the queues of *all* subscribers: they share these bytes.
    pub queued_len: usize,
    /// The most events any live subscriber has yet to read.
    pub longest_queue: usize,
    /// Events in the replay log.
    pub replay_events: usize,
    /// Bytes in the replay log (shared with the queue where both hold an
    /// event).
    pub replay_len: usize,
    /// Events published so far.
    pub published: u64,
    /// Subscriptions ended because they fell behind, so far.
    pub lagged: u64,
    /// Subscriptions ended because a newer one had the same identity, so far.
    pub replaced: u64,
}

/// Publishes events to many subscribers: encoded once, shared by all,
/// logged for replay.
///
/// * [`publish`](Self::publish) assigns the next id if the event has none
///   (see [`BroadcastConfig::id_prefix`]: `<prefix>1`, `<prefix>2`, …,
///   increasing by one per assigned id; an event with its own id keeps it),
///   encodes the event **once** with [`resse_codec::Encoder`], appends it to
///   the [`ReplayLog`] and makes the same [`Bytes`] available to every
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
/// Each subscriber has a bounded queue: a window of at most
/// [`capacity`](BroadcastConfig::capacity) events and
/// [`max_queued_len`](BroadcastConfig::max_queued_len) bytes onto one
/// ring of published events that all subscribers share. A subscriber's own
/// state is a cursor and a waker (tens of bytes), whatever its backlog. A
/// subscriber that falls further behind than the limits is disconnected
/// rather than buffered without bound: its stream ends (logged with
/// `tracing::warn!`, counted in [`BroadcastStats::lagged`]), its client
/// reconnects with `Last-Event-ID` and is replayed from the log, so nothing
/// is lost as long as the log still holds its id (keep the log larger than
/// the queue). The lag is noticed when the subscription is next polled, or
/// by the publisher within a quarter of the capacity of further events for a
/// subscriber that is never polled (its connection is stuck writing).
///
/// Memory: the shared ring holds at most `capacity` events and
/// `max_queued_len` bytes (plus one event), i.e. at most
/// `capacity × largest event` whatever the number of subscribers; the replay
/// log holds at most [`ReplayConfig`]'s limits and shares its bytes with the
/// ring; each subscription in flight holds one batch of at most
/// [`max_batch_len`](BroadcastConfig::max_batch_len) bytes. What the HTTP
/// server buffers for a connection that does not read is bounded by the
/// server (hyper: `max_buf_size`, about 400 KiB by default) and the kernel's
/// socket buffers; see the [module docs](super) for cutting such
/// connections.
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
    max_batch_len: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing in a critical section panics on input; should a bug do
        // so, the state is still consistent enough to keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Sub {
    /// Sequence number of the next event this subscriber reads.
    cursor: u64,
    waker: Option<Waker>,
    /// Whether the key is in `State::waiters` with the waker to wake.
    waiting: bool,
    identity: Option<Box<str>>,
    end: Option<EndReason>,
}

struct State {
    log: ReplayLog,
    /// Published events still deliverable; `ring[i]` has sequence
    /// `first_seq + i`.
    ring: VecDeque<Bytes>,
    ring_len: usize,
    first_seq: u64,
    capacity: usize,
    max_queued_len: usize,
    id_prefix: String,
    next_id: u64,
    subs: Vec<Option<Sub>>,
    free: Vec<usize>,
    identities: HashMap<Box<str>, usize>,
    /// Keys of subscribers waiting for the next event.
    waiters: Vec<usize>,
    /// An empty vector kept for its capacity, swapped with `waiters`.
    spare: Vec<usize>,
    live: usize,
    closed: bool,
    evicted_since_sweep: usize,
    published: u64,
    lagged: u64,
    replaced: u64,
}

impl State {
    fn head(&self) -> u64 {
        self.first_seq + self.ring.len() as u64
    }

    fn sub_mut(&mut self, key: usize) -> Option<&mut Sub> {
        self.subs.get_mut(key).and_then(Option::as_mut)
    }

    /// Appends a published event to the ring, evicting the oldest past the
    /// limits, and disconnects subscribers left behind now and then.
    fn push_ring(&mut self, bytes: Bytes) {
        self.ring_len += bytes.len();
        self.ring.push_back(bytes);
        let mut evicted = 0;
        while self.ring.len() > self.capacity
            || (self.ring_len > self.max_queued_len && self.ring.len() > 1)
        {
            let Some(old) = self.ring.pop_front() else {
                break;
            };
            self.ring_len -= old.len();
            self.first_seq += 1;
            evicted += 1;
        }
        if evicted > 0 {
            self.evicted_since_sweep += evicted;
            if self.evicted_since_sweep >= (self.capacity / 4).max(1) {
                self.evicted_since_sweep = 0;
                self.sweep_lagged();
            }
        }
    }

    /// Ends every live subscriber that missed an evicted event.
    fn sweep_lagged(&mut self) {
        let first_seq = self.first_seq;
        for key in 0..self.subs.len() {
            let behind = matches!(
                &self.subs[key],
                Some(sub) if sub.end.is_none() && sub.cursor < first_seq
            );
            if behind {
                if let Some(waker) = self.end_sub(key, EndReason::Lagged) {
                    waker.wake();
                }
            }
        }
    }

    /// Marks a live subscriber ended, logs why, and returns its waker.
    fn end_sub(&mut self, key: usize, reason: EndReason) -> Option<Waker> {
        let head = self.head();
        let (capacity, max_queued_len) = (self.capacity, self.max_queued_len);
        let sub = self.subs.get_mut(key).and_then(Option::as_mut)?;
        if sub.end.is_some() {
            return None;
        }
        sub.end = Some(reason);
        sub.waiting = false;
        let waker = sub.waker.take();
        let identity = sub.identity.take();
        let behind = head.saturating_sub(sub.cursor);
        self.live -= 1;
        if let Some(identity) = &identity {
            if self.identities.get(identity) == Some(&key) {
                self.identities.remove(identity);
            }
        }
        let identity = identity.as_deref().unwrap_or("");
        match reason {
            EndReason::Lagged => {
                self.lagged += 1;
                tracing::warn!(
                    subscriber = key,
                    identity,
                    behind,
                    capacity,
                    max_queued_len,
                    "disconnecting an SSE subscriber that fell behind (more than `capacity` \
                     events or `max_queued_len` bytes unread); its client will reconnect with \
                     Last-Event-ID and be replayed"
                );
            }
            EndReason::Replaced => {
                self.replaced += 1;
                tracing::info!(
                    subscriber = key,
                    identity,
                    "ending an SSE subscription: a newer connection with the same identity \
                     replaced it"
                );
            }
            EndReason::Closed => {
                tracing::debug!(
                    subscriber = key,
                    identity,
                    "ending an SSE subscription: closed"
                );
            }
        }
        waker
    }

    fn insert(&mut self, sub: Sub) -> usize {
        if let Some(key) = self.free.pop() {
            self.subs[key] = Some(sub);
            key
        } else {
            self.subs.push(Some(sub));
            self.subs.len() - 1
        }
    }
}

/// How many wakers are collected before the lock is released to wake them.
const WAKE_BATCH: usize = 32;

/// Wakers collected under the lock and woken after releasing it.
struct WakeList {
    wakers: [Option<Waker>; WAKE_BATCH],
    len: usize,
}

impl WakeList {
    fn new() -> Self {
        Self {
            wakers: [const { None }; WAKE_BATCH],
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == WAKE_BATCH
    }

    fn push(&mut self, waker: Waker) {
        debug_assert!(!self.is_full());
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    fn wake_all(&mut self) {
        for waker in &mut self.wakers[..self.len] {
            if let Some(waker) = waker.take() {
                waker.wake();
            }
        }
        self.len = 0;
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
        let state = State {
            log: ReplayLog::new(config.replay),
            ring: VecDeque::new(),
            ring_len: 0,
            first_seq: 0,
            capacity: config.capacity,
            max_queued_len: config.max_queued_len,
            id_prefix,
            next_id: 1,
            subs: Vec::new(),
            free: Vec::new(),
            identities: HashMap::new(),
            waiters: Vec::new(),
            spare: Vec::new(),
            live: 0,
            closed: false,
            evicted_since_sweep: 0,
            published: 0,
            lagged: 0,
            replaced: 0,
        };
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                max_batch_len: config.max_batch_len,
            }),
        }
    }

    /// Publishes `event` to every subscriber and to the replay log, and
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
    /// [`PublishError`] if the event cannot be encoded, its id is empty or
    /// already in the replay log, or the broadcaster is closed; nothing is
    /// sent then (an assigned id is used up).
    pub fn publish(&self, event: Event) -> Result<Text, PublishError> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(PublishError::Closed);
        }
        let (event, id) = match event.id_text() {
            Some(id) => {
                let id = id.clone();
                (event, id)
            }
            None => {
                let id = Text::from(format!("{}{}", state.id_prefix, state.next_id));
                state.next_id += 1;
                (event.with_id(id.clone()), id)
            }
        };
        let mut buf = BytesMut::with_capacity(
            24 + id.len() + event.data().len() + event.event_type_text().map_or(0, |t| t.len() + 8),
        );
        Encoder::new()
            .encode(&event, &mut buf)
            .map_err(PublishError::Encode)?;
        let bytes = buf.freeze();
        state
            .log
            .push(id.clone(), bytes.clone())
            .map_err(PublishError::Replay)?;
        state.push_ring(bytes);
        state.published += 1;
        self.wake_waiters(state);
        Ok(id)
    }

    /// Wakes the subscribers waiting for an event, a few at a time outside
    /// the lock.
    fn wake_waiters<'a>(&'a self, mut state: MutexGuard<'a, State>) {
        if state.waiters.is_empty() {
            return;
        }
        let spare = std::mem::take(&mut state.spare);
        let mut keys = std::mem::replace(&mut state.waiters, spare);
        let mut list = WakeList::new();
        let mut i = 0;
        loop {
            while i < keys.len() && !list.is_full() {
                if let Some(sub) = state.sub_mut(keys[i]) {
                    if sub.waiting {
                        sub.waiting = false;
                        if let Some(waker) = sub.waker.take() {
                            list.push(waker);
                        }
                    }
                }
                i += 1;
            }
            if i == keys.len() {
                keys.clear();
                if state.spare.capacity() < keys.capacity() {
                    state.spare = keys;
                }
                drop(state);
                list.wake_all();
                return;
            }
            drop(state);
            list.wake_all();
            state = self.shared.lock();
        }
    }

    /// A new subscription, replayed from `last_event_id` (the client's
    /// `Last-Event-ID` header, see [`last_event_id`](super::last_event_id))
    /// when given. See [`subscriber`](Self::subscriber) for more options.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        self.subscriber().last_event_id(last_event_id).subscribe()
    }

    /// A new subscription for the client `identity` (a user or session id),
    /// ending the client's previous subscription if it has one, so that a
    /// client has one connection at a time.
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
        self.shared.lock().live
    }

    /// Counters and queue sizes; see [`BroadcastStats`].
    pub fn stats(&self) -> BroadcastStats {
        let state = self.shared.lock();
        let head = state.head();
        let longest_queue = state
            .subs
            .iter()
            .flatten()
            .filter(|sub| sub.end.is_none())
            .map(|sub| head.saturating_sub(sub.cursor))
            .max()
            .unwrap_or(0);
        BroadcastStats {
            subscribers: state.live,
            queued_events: state.ring.len(),
            queued_len: state.ring_len,
            longest_queue: usize::try_from(longest_queue).unwrap_or(usize::MAX),
            replay_events: state.log.len(),
            replay_len: state.log.byte_len(),
            published: state.published,
            lagged: state.lagged,
            replaced: state.replaced,
        }
    }

    /// Ends every subscription (each reads what it has queued first, then
    /// ends) and refuses further events and subscriptions. Call it on
    /// graceful shutdown: servers that wait for responses to finish (hyper's
    /// and axum's graceful shutdown) would otherwise wait for event streams
    /// forever.
    pub fn close(&self) {
        let mut state = self.shared.lock();
        state.closed = true;
        let mut list = WakeList::new();
        for key in 0..state.subs.len() {
            if let Some(waker) = state.end_sub(key, EndReason::Closed) {
                if list.is_full() {
                    list.wake_all();
                }
                list.push(waker);
            }
        }
        drop(state);
        list.wake_all();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
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
    /// ended ([`EndReason::Replaced`]) when this one starts.
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into().into_boxed_str());
        self
    }

    /// When the `Last-Event-ID` is too old or unknown, replay every event the
    /// log still keeps (and let the client sort out duplicates), instead of
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
        let kept = |log: &ReplayLog, yes: bool| -> VecDeque<Bytes> {
            if yes {
                log.iter().map(|entry| entry.bytes().clone()).collect()
            } else {
                VecDeque::new()
            }
        };
        let (outcome, replay) = match self.last_event_id.filter(|id| !id.is_empty()) {
            _ if state.closed => (ReplayOutcome::New, VecDeque::new()),
            None => (ReplayOutcome::New, VecDeque::new()),
            Some(id) => match state.log.events_after(id) {
                Replay::Events(events) => {
                    let replay: VecDeque<Bytes> =
                        events.map(|entry| entry.bytes().clone()).collect();
                    let replayed = replay.len();
                    (ReplayOutcome::Exact { replayed }, replay)
                }
                Replay::TooOld => {
                    let replay = kept(&state.log, self.replay_kept_on_miss);
                    let replayed = replay.len();
                    (ReplayOutcome::TooOld { replayed }, replay)
                }
                Replay::Unknown => {
                    let replay = kept(&state.log, self.replay_kept_on_miss);
                    let replayed = replay.len();
                    (ReplayOutcome::Unknown { replayed }, replay)
                }
            },
        };
        let closed = state.closed;
        let mut replaced = None;
        if let (false, Some(identity)) = (closed, &self.identity) {
            if let Some(&old) = state.identities.get(identity) {
                replaced = state.end_sub(old, EndReason::Replaced);
            }
        }
        let identity = if closed { None } else { self.identity };
        let sub = Sub {
            cursor: state.head(),
            waker: None,
            waiting: false,
            identity: identity.clone(),
            end: closed.then_some(EndReason::Closed),
        };
        let key = state.insert(sub);
        if !closed {
            state.live += 1;
            if let Some(identity) = identity {
                state.identities.insert(identity, key);
            }
        }
        drop(state);
        if let Some(waker) = replaced {
            waker.wake();
        }
        Subscription {
            shared,
            key,
            replay,
            outcome,
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
    key: usize,
    replay: VecDeque<Bytes>,
    outcome: ReplayOutcome,
    done: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("key", &self.key)
            .field("replay", &self.outcome)
            .field("replay_pending", &self.replay.len())
            .field("done", &self.done)
            .finish()
    }
}

impl Subscription {
    /// What was replayed from the `Last-Event-ID` at subscription.
    pub fn replay(&self) -> ReplayOutcome {
        self.outcome
    }

    /// Why the subscription ended, if it has (it may still have queued
    /// events to yield).
    pub fn end_reason(&self) -> Option<EndReason> {
        let state = self.shared.lock();
        state.subs.get(self.key)?.as_ref()?.end
    }

    /// The next replayed batch, if any replayed events are left.
    fn next_replayed(&mut self) -> Option<Bytes> {
        let first = self.replay.pop_front()?;
        let mut total = first.len();
        let n = self
            .replay
            .iter()
            .take_while(|b| {
                total += b.len();
                total <= self.shared.max_batch_len
            })
            .count();
        let bytes = if n == 0 {
            first
        } else {
            let total = first.len() + self.replay.iter().take(n).map(Bytes::len).sum::<usize>();
            let mut buf = BytesMut::with_capacity(total);
            buf.extend_from_slice(&first);
            for b in self.replay.drain(..n) {
                buf.extend_from_slice(&b);
            }
            buf.freeze()
        };
        if self.replay.is_empty() {
            // Free the replay buffer: an idle subscription holds none.
            self.replay = VecDeque::new();
        }
        Some(bytes)
    }
}

impl Stream for Subscription {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(bytes) = this.next_replayed() {
            return Poll::Ready(Some(bytes));
        }
        let key = this.key;
        let max_batch_len = this.shared.max_batch_len;
        let mut state = this.shared.lock();
        let first_seq = state.first_seq;
        let head = state.head();
        let Some(sub) = state.sub_mut(key) else {
            this.done = true;
            return Poll::Ready(None);
        };
        let cursor = sub.cursor;
        if cursor < first_seq {
            // It missed an evicted event: it fell behind.
            if sub.end.is_none() {
                let waker = state.end_sub(key, EndReason::Lagged);
                drop(state);
                drop(waker);
            }
            this.done = true;
            return Poll::Ready(None);
        }
        if sub.end == Some(EndReason::Replaced) {
            // Its client has a newer connection: stop at once.
            this.done = true;
            return Poll::Ready(None);
        }
        if cursor < head {
            // `cursor` is within the ring: first_seq <= cursor < head.
            let start = usize::try_from(cursor - first_seq).unwrap_or(usize::MAX);
            let first = &state.ring[start];
            let mut total = first.len();
            let mut end = start + 1;
            while let Some(next) = state.ring.get(end) {
                if total + next.len() > max_batch_len {
                    break;
                }
                total += next.len();
                end += 1;
            }
            let bytes = if end == start + 1 {
                first.clone()
            } else {
                let mut buf = BytesMut::with_capacity(total);
                for b in state.ring.range(start..end) {
                    buf.extend_from_slice(b);
                }
                buf.freeze()
            };
            if let Some(sub) = state.sub_mut(key) {
                sub.cursor = first_seq + end as u64;
            }
            return Poll::Ready(Some(bytes));
        }
        if sub.end.is_some() {
            this.done = true;
            return Poll::Ready(None);
        }
        // Caught up: wait for the next publish.
        if !sub.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            sub.waker = Some(cx.waker().clone());
        }
        if !sub.waiting {
            sub.waiting = true;
            state.waiters.push(key);
        }
        Poll::Pending
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
        let Some(sub) = state.subs.get_mut(self.key).and_then(Option::take) else {
            return;
        };
        state.free.push(self.key);
        if sub.end.is_none() {
            state.live -= 1;
            if let Some(identity) = &sub.identity {
                if state.identities.get(identity) == Some(&self.key) {
                    state.identities.remove(identity);
                }
            }
        }
    }
}
