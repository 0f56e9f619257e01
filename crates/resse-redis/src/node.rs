//! A node: one server process's fan-out over a shared log.
//!
//! Publishing goes to the log; every node (the publishing one included)
//! feeds its local [`Broadcaster`] from its [`Tail`], so all nodes deliver
//! one order with the log's positions as SSE ids. A subscriber resumes from
//! the local ring when it covers its `Last-Event-ID`, else from the log in
//! bounded batches until the ring takes over.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use resse_codec::{Encoder, Event, Text};
use resse_tokio::server::{
    BroadcastConfig, BroadcastStats, Broadcaster, SubscriberKey, Subscription,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::identity::{ClaimToken, Identities, Notice, Targeted};
use crate::log::{LostReason, ReadAfter, resume_after_loss};
use crate::position::Position;
use crate::shared::SharedLog;
use crate::state::LinkState;
use crate::tail::{TailFrom, TailItem};

/// Settings of a [`Node`].
#[derive(Clone, Debug)]
pub struct NodeConfig {
    broadcast: BroadcastConfig,
    read_batch: usize,
    catch_up_wait: Duration,
    reset_event_type: String,
    max_pending_targeted: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            broadcast: BroadcastConfig::default(),
            read_batch: Self::DEFAULT_READ_BATCH,
            catch_up_wait: Self::DEFAULT_CATCH_UP_WAIT,
            reset_event_type: Self::DEFAULT_RESET_EVENT_TYPE.to_owned(),
            max_pending_targeted: Self::DEFAULT_MAX_PENDING_TARGETED,
        }
    }
}

impl NodeConfig {
    /// Default [`read_batch`](Self::read_batch).
    pub const DEFAULT_READ_BATCH: usize = 256;
    /// Default [`catch_up_wait`](Self::catch_up_wait).
    pub const DEFAULT_CATCH_UP_WAIT: Duration = Duration::from_secs(10);
    /// Default [`reset_event_type`](Self::reset_event_type).
    pub const DEFAULT_RESET_EVENT_TYPE: &'static str = "reset";
    /// Default [`max_pending_targeted`](Self::max_pending_targeted).
    pub const DEFAULT_MAX_PENDING_TARGETED: usize = 64;

    /// The local fan-out: its ring (how far back a resume is served from
    /// memory), lag limits, `retry:`, superseded event. Its id prefix is
    /// unused: every event carries its log position as id.
    pub fn broadcast(mut self, config: BroadcastConfig) -> Self {
        self.broadcast = config;
        self
    }

    /// Events read from the log per batch when a subscriber resumes from
    /// further back than the local ring (default 256, at least 1; the log
    /// also caps it). One batch is in memory per resuming subscriber.
    pub fn read_batch(mut self, events: usize) -> Self {
        self.read_batch = events.max(1);
        self
    }

    /// How long a resuming subscriber that is ahead of this node's tail (it
    /// came from a node that had read further) waits for the tail to catch
    /// up before its stream ends (its client then reconnects). Default 10 s.
    pub fn catch_up_wait(mut self, wait: Duration) -> Self {
        self.catch_up_wait = wait;
        self
    }

    /// The type of the event that tells a client its position is lost
    /// (default `reset`, see [`Node`]).
    pub fn reset_event_type(mut self, event_type: impl Into<String>) -> Self {
        self.reset_event_type = event_type.into();
        self
    }

    /// Targeted events held for a subscriber still resuming (not yet live);
    /// more are dropped and the send reports [`Targeted::NotHeld`] locally.
    /// Default 64.
    pub fn max_pending_targeted(mut self, events: usize) -> Self {
        self.max_pending_targeted = events;
        self
    }

    /// See [`broadcast`](Self::broadcast).
    pub fn get_broadcast(&self) -> &BroadcastConfig {
        &self.broadcast
    }

    /// See [`read_batch`](Self::read_batch).
    pub fn get_read_batch(&self) -> usize {
        self.read_batch
    }

    /// See [`catch_up_wait`](Self::catch_up_wait).
    pub fn get_catch_up_wait(&self) -> Duration {
        self.catch_up_wait
    }

    /// See [`reset_event_type`](Self::reset_event_type).
    pub fn get_reset_event_type(&self) -> &str {
        &self.reset_event_type
    }

    /// See [`max_pending_targeted`](Self::max_pending_targeted).
    pub fn get_max_pending_targeted(&self) -> usize {
        self.max_pending_targeted
    }
}

/// A node's health, for a `/health` endpoint: anything but
/// [`is_healthy`](Self::is_healthy) means delivery across nodes is stalled
/// or publishing fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeHealth {
    /// The log's shared connection (publishing, resuming).
    pub log: LinkState,
    /// The node's tail (live delivery from other nodes).
    pub tail: LinkState,
    /// The control channel (identities, targeted events), when the log has
    /// one.
    pub control: Option<LinkState>,
    /// The last position fed into the local ring.
    pub fed: Position,
    /// Live local subscribers.
    pub subscribers: usize,
}

impl NodeHealth {
    /// Every link is connected.
    pub fn is_healthy(&self) -> bool {
        self.log.is_connected()
            && self.tail.is_connected()
            && self.control.as_ref().is_none_or(LinkState::is_connected)
    }
}

/// How a [`Node::subscribe`] started, for logs and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resume {
    /// No `Last-Event-ID`: live events only.
    New,
    /// From the local ring at once.
    Ring,
    /// From the log first (the ring did not cover the id), then the ring.
    Log,
}

struct Ring {
    broadcaster: Broadcaster,
    /// The last position fed into the ring (the tail's start at first).
    fed: Position,
}

struct Conn {
    /// Which connection (several may come and go for one identity).
    id: u64,
    token: Option<ClaimToken>,
    stop: watch::Sender<bool>,
    live: Option<(Broadcaster, SubscriberKey)>,
    pending: Vec<Event>,
}

struct Shared<L> {
    log: L,
    config: NodeConfig,
    ring: Mutex<Ring>,
    /// Bumped after each feed, to wake resuming subscribers.
    fed: watch::Sender<u64>,
    tail_state: watch::Receiver<LinkState>,
    identities: Option<Identities>,
    conns: Mutex<HashMap<String, Conn>>,
    next_conn: AtomicU64,
    superseded: Option<Bytes>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One server process's fan-out over a [`SharedLog`] (Redis for several
/// processes, [`MemoryLog`](crate::MemoryLog) for several nodes in one).
///
/// - **Publishing** ([`publish`](Self::publish)) appends to the log only;
///   the returned [`Position`] is the event's SSE id. Every node, this one
///   included, delivers events as its tail reads them, so every subscriber
///   on every node sees one order. With the log unreachable, publishing
///   returns the error: nothing is queued.
/// - **Resuming** ([`subscribe`](Self::subscribe)): from the local ring when
///   it holds the `Last-Event-ID`; otherwise from the log in batches of
///   [`NodeConfig::read_batch`], trying the ring again after each batch:
///   the first batch after which the ring holds the last position sent
///   hands over to the ring, so the seam has no gap and no duplicate.
/// - **Lost positions** (the log's epoch changed, the events after it were
///   trimmed, the log lost writes, or the id is not a position): the client
///   gets `event: reset` (see [`NodeConfig::reset_event_type`]) whose id is
///   the position it goes on after (the log's head; the start, offset 0, of
///   a new epoch, so that none of its events is skipped) and whose data is `{"reason":R,"last_event_id":ID}` (R
///   one of `epoch-changed`, `trimmed`, `ahead-of-log`, `corrupt`,
///   `unknown-id`), then the events after that position. The tail's own losses
///   reach every live subscriber the same way (without `last_event_id`).
///   A client treats `reset` as "reload your state": no gap is silent.
/// - **Identities**: one connection per identity across nodes through the
///   log's [`Identities`] when it has them, on this node alone otherwise;
///   the older connection ends with the fan-out's superseded event.
///   [`send_to`](Self::send_to) reaches an identity on whichever node.
/// - **Health** ([`health`](Self::health)): the log, tail and control links.
///
/// Dropping the node stops its tasks; live subscriptions then stay open
/// but get no more events (call [`close`](Self::close) first).
pub struct Node<L: SharedLog> {
    shared: Arc<Shared<L>>,
    tasks: Vec<JoinHandle<()>>,
}

impl<L: SharedLog> std::fmt::Debug for Node<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("log", &self.shared.log.target())
            .finish_non_exhaustive()
    }
}

impl<L: SharedLog> Drop for Node<L> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl<L: SharedLog> Node<L> {
    /// Starts a node: reads the log's head (so an unreachable log is an
    /// error now), starts the tail after it and, when the log has them, the
    /// identities' control channel. Spawns on the current tokio runtime.
    pub async fn start(log: L, config: NodeConfig) -> Result<Self, Error> {
        let head = log.head().await?;
        let mut tail = log.tail(TailFrom::After(head.clone()));
        let (identities, notices) = match log.identities() {
            Some((i, n)) => (Some(i), Some(n)),
            None => (None, None),
        };
        let superseded = config
            .broadcast
            .get_fanout()
            .get_superseded_event()
            .and_then(|s| {
                encode(&Event::new(s.data().to_owned()).with_event_type(s.event_type().to_owned()))
            });
        let shared = Arc::new(Shared {
            ring: Mutex::new(Ring {
                broadcaster: Broadcaster::new(config.broadcast.clone()),
                fed: head,
            }),
            fed: watch::Sender::new(0),
            tail_state: tail.watch_state(),
            identities,
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            superseded,
            log,
            config,
        });
        let mut tasks = Vec::new();
        let feeder = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            while let Some(item) = tail.next().await {
                feeder.feed(item);
            }
        }));
        if let Some(mut notices) = notices {
            let handler = Arc::clone(&shared);
            tasks.push(tokio::spawn(async move {
                while let Some(notice) = notices.next().await {
                    handler.notice(notice);
                }
            }));
        }
        Ok(Self { shared, tasks })
    }

    /// The log.
    pub fn log(&self) -> &L {
        &self.shared.log
    }

    /// The settings.
    pub fn config(&self) -> &NodeConfig {
        &self.shared.config
    }

    /// Appends `event` to the shared log (its id is replaced) and returns
    /// its position, the id every node sends it with. Local subscribers get
    /// it when this node's tail reads it, like everyone else's.
    ///
    /// # Errors
    /// The log's error (Redis unreachable: [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable)
    /// after at most the response timeout). The event is not queued.
    pub async fn publish(&self, event: &Event) -> Result<Position, Error> {
        self.shared.log.publish(event).await
    }

    /// Sends `event` (type and data; no id) to the connection of
    /// `identity`, on whichever node it is.
    ///
    /// # Errors
    /// The log's error when the control channel cannot be reached.
    pub async fn send_to(&self, identity: &str, event: &Event) -> Result<Targeted, Error> {
        match &self.shared.identities {
            Some(identities) => identities.send_to(identity, event).await,
            None => Ok(self.shared.deliver_targeted(identity, None, event)),
        }
    }

    /// A subscriber's stream of encoded events (wrap it in an
    /// [`SseBody`](resse_tokio::server::SseBody) for keep-alives), resumed
    /// after `last_event_id` (see the type docs); with `identity`, the
    /// identity's older connection, on any node, is superseded.
    ///
    /// With identities in the log, the claim is made here; if the log is
    /// unreachable the subscription goes on without it (this node's rule
    /// still holds).
    pub async fn subscribe(
        &self,
        last_event_id: Option<&str>,
        identity: Option<&str>,
    ) -> NodeSubscription {
        let shared = Arc::clone(&self.shared);
        let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let (stop_tx, stop) = watch::channel(false);
        let mut own_stop = None;
        let identity = identity.filter(|i| !i.is_empty()).map(str::to_owned);
        if let Some(identity) = &identity {
            let older = lock(&shared.conns).insert(
                identity.clone(),
                Conn {
                    id: conn,
                    token: None,
                    stop: stop_tx,
                    live: None,
                    pending: Vec::new(),
                },
            );
            if let Some(older) = older {
                older.stop.send_replace(true);
            }
            if let Some(identities) = &shared.identities {
                if let Ok(claim) = identities.claim(identity).await {
                    let mut conns = lock(&shared.conns);
                    if let Some(c) = conns.get_mut(identity).filter(|c| c.id == conn) {
                        if identities.holds(identity, &claim.token) {
                            c.token = Some(claim.token);
                        } else {
                            // Superseded while the claim was in flight.
                            c.stop.send_replace(true);
                        }
                    } else {
                        drop(conns);
                        // Superseded locally meanwhile: give the claim back.
                        let identities = identities.clone();
                        let identity = identity.clone();
                        tokio::spawn(async move {
                            let _ = identities.release(&identity, &claim.token).await;
                        });
                    }
                }
            }
        } else {
            own_stop = Some(stop_tx);
        }
        let last = last_event_id.filter(|id| !id.is_empty()).map(str::to_owned);
        let (phase, resume) = match last {
            None => {
                let ring = lock(&shared.ring);
                let sub = ring.broadcaster.subscribe(None);
                let broadcaster = ring.broadcaster.clone();
                drop(ring);
                shared.went_live(identity.as_deref(), conn, &broadcaster, sub.key());
                (Phase::Live(sub), Resume::New)
            }
            Some(last) => match shared.try_ring(&last) {
                Some((broadcaster, sub)) => {
                    shared.went_live(identity.as_deref(), conn, &broadcaster, sub.key());
                    (Phase::Live(sub), Resume::Ring)
                }
                None => (Phase::CatchUp { last }, Resume::Log),
            },
        };
        let state = ConnState {
            shared: Arc::clone(&shared),
            phase,
            stop,
            _own_stop: own_stop,
            identity: identity.clone(),
            conn,
        };
        NodeSubscription {
            stream: Box::pin(futures_util::stream::unfold(state, ConnState::step)),
            resume,
            guard: Box::new(Guard {
                shared,
                identity,
                conn,
            }),
        }
    }

    /// The links' states and where the ring is.
    pub fn health(&self) -> NodeHealth {
        let ring = lock(&self.shared.ring);
        NodeHealth {
            log: self.shared.log.state(),
            tail: self.shared.tail_state.borrow().clone(),
            control: self.shared.identities.as_ref().map(Identities::state),
            fed: ring.fed.clone(),
            subscribers: ring.broadcaster.subscriber_count(),
        }
    }

    /// The local broadcaster's counters (subscribers, lag drops,
    /// supersessions on this node, replays by outcome).
    pub fn stats(&self) -> BroadcastStats {
        lock(&self.shared.ring).broadcaster.stats()
    }

    /// Ends every live subscription (each writes what it has queued) and
    /// refuses new ones from the ring; for a graceful shutdown.
    pub fn close(&self) {
        lock(&self.shared.ring).broadcaster.close();
    }
}

impl<L: SharedLog> Shared<L> {
    /// Feeds one tail item into the ring.
    fn feed(&self, item: TailItem) {
        let (position, event) = match item {
            TailItem::Event(position, event) => (position, event),
            TailItem::Lost { reason, resume } => {
                let event = self.reset_event(&resume, &reason, None);
                (resume, event)
            }
        };
        let mut ring = lock(&self.ring);
        if ring.broadcaster.publish(event.clone()).is_err() {
            // The ring cannot take it (its id is already there: the log lost
            // writes and reuses offsets; or it is larger than the ring).
            // Start a new ring: live subscribers end and resume from the log,
            // which says what happened.
            ring.broadcaster.close();
            ring.broadcaster = Broadcaster::new(self.config.broadcast.clone());
            let _ = ring.broadcaster.publish(event);
        }
        ring.fed = position;
        drop(ring);
        self.fed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn reset_event(&self, head: &Position, reason: &LostReason, last: Option<&str>) -> Event {
        let reason = match reason {
            LostReason::EpochChanged => "epoch-changed",
            LostReason::Trimmed => "trimmed",
            LostReason::AheadOfLog => "ahead-of-log",
            LostReason::Corrupt(_) => "corrupt",
        };
        reset_event(&self.config.reset_event_type, head, reason, last)
    }

    /// Subscribes from the ring if it covers `last` (or `last` is where the
    /// ring's feed starts); under the feed lock, so that nothing is fed
    /// between the check and the subscription.
    fn try_ring(&self, last: &str) -> Option<(Broadcaster, Subscription)> {
        let ring = lock(&self.ring);
        let sub = ring.broadcaster.subscribe(Some(last));
        if sub.replay().is_exact() {
            return Some((ring.broadcaster.clone(), sub));
        }
        drop(sub);
        if ring.fed.to_string() == last {
            let sub = ring.broadcaster.subscribe(None);
            return Some((ring.broadcaster.clone(), sub));
        }
        None
    }

    /// Records that connection `conn` of `identity` is live, and hands it
    /// the targeted events it was sent meanwhile.
    fn went_live(
        &self,
        identity: Option<&str>,
        conn: u64,
        broadcaster: &Broadcaster,
        key: SubscriberKey,
    ) {
        let Some(identity) = identity else { return };
        let mut conns = lock(&self.conns);
        if let Some(c) = conns.get_mut(identity).filter(|c| c.id == conn) {
            c.live = Some((broadcaster.clone(), key));
            for event in std::mem::take(&mut c.pending) {
                let _ = broadcaster.send_to(key, &event);
            }
        }
    }

    fn notice(&self, notice: Notice) {
        match notice {
            Notice::Superseded { identity, token } => {
                let conns = lock(&self.conns);
                if let Some(c) = conns
                    .get(&identity)
                    .filter(|c| c.token.as_ref() == Some(&token))
                {
                    c.stop.send_replace(true);
                }
            }
            Notice::Targeted {
                identity,
                token,
                event,
            } => {
                self.deliver_targeted(&identity, Some(&token), &event);
            }
        }
    }

    fn deliver_targeted(
        &self,
        identity: &str,
        token: Option<&ClaimToken>,
        event: &Event,
    ) -> Targeted {
        let mut conns = lock(&self.conns);
        let Some(c) = conns
            .get_mut(identity)
            .filter(|c| token.is_none() || c.token.as_ref() == token)
        else {
            return Targeted::NotHeld;
        };
        match &c.live {
            Some((broadcaster, key)) => match broadcaster.send_to(*key, event) {
                Ok(()) => Targeted::Delivered,
                Err(_) => Targeted::NotHeld,
            },
            None if c.pending.len() < self.config.max_pending_targeted => {
                c.pending.push(event.clone());
                Targeted::Delivered
            }
            None => Targeted::NotHeld,
        }
    }
}

/// The `reset` event: id `head`, data `{"reason":…,"last_event_id":…}`.
fn reset_event(event_type: &str, head: &Position, reason: &str, last: Option<&str>) -> Event {
    let mut data = format!("{{\"reason\":\"{reason}\"");
    if let Some(last) = last {
        data.push_str(",\"last_event_id\":");
        json_string(&mut data, last);
    }
    data.push('}');
    Event::new(data)
        .with_event_type(event_type.to_owned())
        .with_id(Text::from(head.to_string()))
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn encode(event: &Event) -> Option<Bytes> {
    let mut buf = BytesMut::new();
    Encoder::new().encode(event, &mut buf).ok()?;
    Some(buf.freeze())
}

enum Phase {
    /// Reading from the log after `last` until the ring covers it.
    CatchUp {
        last: String,
    },
    Live(Subscription),
    Ended,
}

struct ConnState<L: SharedLog> {
    shared: Arc<Shared<L>>,
    phase: Phase,
    stop: watch::Receiver<bool>,
    /// The stop sender of a connection without identity (never fires).
    _own_stop: Option<watch::Sender<bool>>,
    identity: Option<String>,
    conn: u64,
}

/// Waits until `stop` says so (forever if its sender is gone without).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl<L: SharedLog> ConnState<L> {
    async fn step(mut self) -> Option<(Bytes, Self)> {
        loop {
            if matches!(self.phase, Phase::Ended) {
                return None;
            }
            if *self.stop.borrow() {
                self.phase = Phase::Ended;
                let last = self.shared.superseded.clone()?;
                return Some((last, self));
            }
            match &mut self.phase {
                Phase::Ended => return None,
                Phase::Live(sub) => {
                    tokio::select! {
                        biased;
                        () = stopped(&mut self.stop) => {}
                        item = sub.next() => match item {
                            Some(bytes) => return Some((bytes, self)),
                            None => return None,
                        },
                    }
                }
                Phase::CatchUp { last } => {
                    let last = std::mem::take(last);
                    match self.catch_up(last).await {
                        Some(bytes) => return Some((bytes, self)),
                        None if matches!(self.phase, Phase::Ended) => return None,
                        None => {}
                    }
                }
            }
        }
    }

    /// One step of catching up after `last`: a batch to write (the phase
    /// then holds the new last position), or `None` when the phase changed
    /// (live, or ended) or the step must be retried.
    async fn catch_up(&mut self, last: String) -> Option<Bytes> {
        let shared = Arc::clone(&self.shared);
        if let Some((broadcaster, sub)) = shared.try_ring(&last) {
            shared.went_live(self.identity.as_deref(), self.conn, &broadcaster, sub.key());
            self.phase = Phase::Live(sub);
            return None;
        }
        let Ok(position) = last.parse::<Position>() else {
            return self.lost(&last, None).await;
        };
        let mut fed = shared.fed.subscribe();
        let read = tokio::select! {
            biased;
            () = stopped(&mut self.stop) => return None,
            read = shared.log.read_after(&position, shared.config.read_batch) => read,
        };
        match read {
            Err(_) => {
                // The log is unreachable: end; the client reconnects later.
                self.phase = Phase::Ended;
                None
            }
            Ok(ReadAfter::Lost { reason, head }) => {
                let head = resume_after_loss(&reason, head);
                let event = shared.reset_event(&head, &reason, Some(&last));
                self.phase = Phase::CatchUp {
                    last: head.to_string(),
                };
                encode(&event)
            }
            Ok(ReadAfter::Events { events, .. }) if events.is_empty() => {
                // The log ends at `last` but the ring does not reach it yet:
                // wait for the tail.
                self.phase = Phase::CatchUp { last };
                let wait = shared.config.catch_up_wait;
                tokio::select! {
                    biased;
                    () = stopped(&mut self.stop) => {}
                    changed = fed.changed() => if changed.is_err() { self.phase = Phase::Ended },
                    () = tokio::time::sleep(wait) => self.phase = Phase::Ended,
                }
                None
            }
            Ok(ReadAfter::Events { events, .. }) => {
                let mut buf = BytesMut::new();
                let mut encoder = Encoder::new();
                let mut new_last = last;
                for (position, event) in &events {
                    if encoder.encode(event, &mut buf).is_ok() {
                        new_last = position.to_string();
                    } else {
                        break;
                    }
                }
                self.phase = Phase::CatchUp { last: new_last };
                Some(buf.freeze())
            }
        }
    }

    /// `last` is not a position: reset to the head.
    async fn lost(&mut self, last: &str, reason: Option<LostReason>) -> Option<Bytes> {
        let Ok(head) = self.shared.log.head().await else {
            self.phase = Phase::Ended;
            return None;
        };
        let event = match reason {
            Some(reason) => self.shared.reset_event(&head, &reason, Some(last)),
            None => reset_event(
                &self.shared.config.reset_event_type,
                &head,
                "unknown-id",
                Some(last),
            ),
        };
        self.phase = Phase::CatchUp {
            last: head.to_string(),
        };
        encode(&event)
    }
}

struct Guard<L: SharedLog> {
    shared: Arc<Shared<L>>,
    identity: Option<String>,
    conn: u64,
}

impl<L: SharedLog> Drop for Guard<L> {
    fn drop(&mut self) {
        let Some(identity) = self.identity.take() else {
            return;
        };
        let mut conns = lock(&self.shared.conns);
        if conns.get(&identity).is_some_and(|c| c.id == self.conn) {
            let token = conns.remove(&identity).and_then(|c| c.token);
            drop(conns);
            if let (Some(token), Some(identities)) = (token, self.shared.identities.clone()) {
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    handle.spawn(async move {
                        let _ = identities.release(&identity, &token).await;
                    });
                }
            }
        }
    }
}

/// A subscriber's stream on a [`Node`]: encoded events (and at the end the
/// superseded event, if another connection took its identity). Dropping it
/// releases its identity.
pub struct NodeSubscription {
    stream: Pin<Box<dyn Stream<Item = Bytes> + Send>>,
    resume: Resume,
    #[allow(dead_code)]
    guard: Box<dyn Send + Sync>,
}

impl std::fmt::Debug for NodeSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSubscription")
            .field("resume", &self.resume)
            .finish_non_exhaustive()
    }
}

impl NodeSubscription {
    /// Where it started from.
    pub fn resume(&self) -> &Resume {
        &self.resume
    }
}

impl Stream for NodeSubscription {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.stream.as_mut().poll_next(cx)
    }
}
