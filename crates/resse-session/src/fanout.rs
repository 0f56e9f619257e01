//! [`Fanout`]: the server side of an event stream with many subscribers, as
//! a sans-IO state machine. Any adapter (tokio, blocking threads, a shared
//! log backend) drives it.

mod config;
mod head;
mod types;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use resse_codec::{Encoder, Event, Text};
use resse_heartbeat::KeepAlive;

use crate::replay::{Replay, ReplayLog};

pub use config::{FanoutConfig, SupersededEvent};
pub use head::{X_ACCEL_BUFFERING, encode_keep_alive, last_event_id, response_headers};
pub use types::{
    EndReason, FanoutStats, LagReport, PublishError, ReplayOutcome, SendError, Subscribe,
    Subscribed, SubscriberKey, Transmit,
};

struct Sub {
    /// Sequence of the next ring event to hand out.
    sent: u64,
    /// Sequence of the first ring event not acknowledged as written.
    acked: u64,
    /// The ring head when it subscribed: replayed events do not count as
    /// lag.
    start: u64,
    identity: Option<Box<str>>,
    end: Option<EndReason>,
    /// The `retry:` announcement is still to be written.
    preamble: bool,
    /// The superseded event is still to be written.
    final_event: bool,
    /// Targeted events, each with the ring sequence it goes before.
    /// Targeted events, boxed: most subscribers never get one, and a small
    /// `Sub` keeps the hot fields of many subscribers in few cache lines.
    targeted: Option<Box<Targeted>>,
    keep_alive: Option<Box<KeepAlive>>,
    /// The publish epoch in whose waiting list it is (see
    /// `Fanout::epoch`): it waits for the next publish.
    waiting: u64,
}

/// A subscriber's targeted events, each with the ring sequence it goes
/// before, and their bytes.
#[derive(Default)]
struct Targeted {
    queue: VecDeque<(u64, Bytes)>,
    len: usize,
}

struct Slot {
    generation: u32,
    sub: Option<Sub>,
}

/// The fan-out of one event stream to many subscribers, sans-IO.
///
/// Inputs are method calls with the time as an argument; outputs are what
/// [`poll_transmit`](Self::poll_transmit) hands out, the keys to wake from
/// [`drain_wakeups`](Self::drain_wakeups), and
/// [`poll_lag_report`](Self::poll_lag_report). It reads no clock, does no
/// I/O, spawns nothing: an adapter holds it under a lock, writes the bytes,
/// wakes its tasks or threads and sleeps until
/// [`poll_timeout`](Self::poll_timeout).
///
/// * [`publish`](Self::publish) assigns the next id to an event without
///   one, encodes it **once** and appends it to the ring ([`ReplayLog`]);
///   every subscriber is handed the same [`Bytes`].
/// * [`subscribe`](Self::subscribe) with a `Last-Event-ID` starts the
///   subscriber's cursor in the ring after that id ([`ReplayOutcome`]):
///   replay and live delivery are the same ring, so the seam has no gap
///   and no duplicate. An identity supersedes the previous subscriber with
///   it, which writes the [superseded event](FanoutConfig::superseded_event)
///   and ends.
/// * [`poll_transmit`](Self::poll_transmit) is the subscriber's next bytes:
///   the `retry:` announcement first (if configured), then ring events and
///   targeted events in order, batched up to
///   [`max_batch_len`](FanoutConfig::max_batch_len), or a keep-alive when
///   it has been idle; [`acknowledge`](Self::acknowledge) says they were
///   written. Lag is what was published since it subscribed and not
///   acknowledged.
/// * [`send_to`](Self::send_to) and [`send_to_identity`](Self::send_to_identity)
///   queue an event for one subscriber (not replayable, so without id).
///
/// Memory: the ring's limits ([`ReplayConfig`](crate::ReplayConfig)), plus per subscriber a
/// fixed-size state, its identity and at most
/// [`max_targeted_len`](FanoutConfig::max_targeted_len) bytes of targeted
/// events.
///
/// ```
/// use std::time::Instant;
/// use resse_codec::Event;
/// use resse_session::{Fanout, FanoutConfig, ReplayOutcome, Subscribe, Transmit};
///
/// let now = Instant::now();
/// let mut fanout = Fanout::new(FanoutConfig::default().keep_alive(None));
/// let alice = fanout.subscribe(now, Subscribe::new()).key;
/// fanout.publish(now, Event::new("one"))?;
/// assert_eq!(fanout.poll_transmit(now, alice), Transmit::Send("id: 1\ndata: one\n\n".into()));
/// fanout.acknowledge(now, alice);
/// assert_eq!(fanout.poll_transmit(now, alice), Transmit::Wait);
///
/// fanout.publish(now, Event::new("two"))?;
/// let bob = fanout.subscribe(now, Subscribe::new().last_event_id(Some("1")));
/// assert_eq!(bob.outcome, ReplayOutcome::Exact { replayed: 1 });
/// assert_eq!(fanout.poll_transmit(now, bob.key), Transmit::Send("id: 2\ndata: two\n\n".into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Fanout {
    config: FanoutConfig,
    max_lag_events: usize,
    max_lag_len: usize,
    log: ReplayLog,
    /// `offsets[i]`: encoded bytes published before the ring's i-th event.
    offsets: VecDeque<u64>,
    /// Encoded bytes published so far.
    total_len: u64,
    /// Encoded bytes in the ring.
    ring_len: usize,
    next_id: u64,
    slots: Vec<Slot>,
    free: Vec<u32>,
    identities: HashMap<Box<str>, SubscriberKey>,
    /// Subscribers waiting for the next publish (with their slot's
    /// `waiting` equal to `epoch`); possibly stale keys, filtered by the
    /// driver (generations) and compacted now and then.
    waiting: Vec<SubscriberKey>,
    /// Publishes so far, plus one: a subscriber is in the waiting list when
    /// its `waiting` equals it (0: never), so a publish empties the list by
    /// moving it, without touching each subscriber.
    epoch: u64,
    /// Subscribers to wake (drained by the adapter).
    wakeups: Vec<SubscriberKey>,
    closed: bool,
    since_sweep_events: usize,
    since_sweep_len: usize,
    lag_unreported: u64,
    last_lag_report: Option<Instant>,
    stats: FanoutStats,
}

impl fmt::Debug for Fanout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fanout")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Fanout {
    /// A fan-out with no subscribers.
    pub fn new(config: FanoutConfig) -> Self {
        Self {
            max_lag_events: config.get_max_lag_events(),
            max_lag_len: config.get_max_lag_len(),
            log: ReplayLog::new(*config.get_replay()),
            config,
            offsets: VecDeque::new(),
            total_len: 0,
            ring_len: 0,
            next_id: 1,
            slots: Vec::new(),
            free: Vec::new(),
            identities: HashMap::new(),
            waiting: Vec::new(),
            epoch: 1,
            wakeups: Vec::new(),
            closed: false,
            since_sweep_events: 0,
            since_sweep_len: 0,
            lag_unreported: 0,
            last_lag_report: None,
            stats: FanoutStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FanoutConfig {
        &self.config
    }

    fn head(&self) -> u64 {
        self.log.first_seq() + self.log.len() as u64
    }

    /// Encoded bytes published before ring sequence `seq` (clamped to the
    /// ring).
    fn offset(&self, seq: u64) -> u64 {
        let first = self.log.first_seq();
        if seq < first {
            return self.offsets.front().copied().unwrap_or(self.total_len);
        }
        usize::try_from(seq - first)
            .ok()
            .and_then(|i| self.offsets.get(i).copied())
            .unwrap_or(self.total_len)
    }

    fn sub(&self, key: SubscriberKey) -> Option<&Sub> {
        let slot = self.slots.get(key.index())?;
        if slot.generation != key.generation {
            return None;
        }
        slot.sub.as_ref()
    }

    fn sub_mut(&mut self, key: SubscriberKey) -> Option<&mut Sub> {
        let slot = self.slots.get_mut(key.index())?;
        if slot.generation != key.generation {
            return None;
        }
        slot.sub.as_mut()
    }

    /// Publishes `event` to every subscriber and to the ring; returns its
    /// id. An event without an id gets the next one (`<prefix>1`,
    /// `<prefix>2`, …, see [`FanoutConfig::id_prefix`]); one with an id
    /// keeps it. The event is encoded once. Subscribers waiting for bytes
    /// are listed for [`drain_wakeups`](Self::drain_wakeups); now and then
    /// (every quarter of the lag limit) lagging subscribers are cut off and
    /// listed too.
    ///
    /// # Errors
    /// [`PublishError`]: nothing was sent then (an assigned id is used up).
    pub fn publish(&mut self, now: Instant, event: Event) -> Result<Text, PublishError> {
        let _ = now;
        if self.closed {
            return Err(PublishError::Closed);
        }
        let (event, id) = match event.id_text() {
            Some(id) => {
                let id = id.clone();
                (event, id)
            }
            None => {
                let id = Text::from(format!("{}{}", self.config.id_prefix, self.next_id));
                self.next_id += 1;
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
        let len = bytes.len();
        let max_len = self.config.replay.get_max_len();
        if len.saturating_add(id.len()) > max_len {
            return Err(PublishError::TooLarge {
                len: len.saturating_add(id.len()),
                max_len,
            });
        }
        self.log
            .push(id.clone(), bytes)
            .map_err(PublishError::Replay)?;
        self.offsets.push_back(self.total_len);
        self.total_len += len as u64;
        self.ring_len += len;
        // Keep the offsets in step with the ring's evictions.
        while self.offsets.len() > self.log.len() {
            let first = self.offsets.pop_front().unwrap_or(0);
            let next = self.offsets.front().copied().unwrap_or(self.total_len);
            self.ring_len -= usize::try_from(next - first).unwrap_or(0);
        }
        self.stats.published += 1;
        // Everyone waiting is woken: the list moves as it is.
        self.epoch += 1;
        if self.wakeups.is_empty() {
            std::mem::swap(&mut self.wakeups, &mut self.waiting);
        } else {
            self.wakeups.append(&mut self.waiting);
        }
        self.since_sweep_events += 1;
        self.since_sweep_len += len;
        if self.since_sweep_events >= (self.max_lag_events / 4).max(1)
            || self.since_sweep_len >= (self.max_lag_len / 4).max(1)
        {
            self.sweep();
        }
        Ok(id)
    }

    /// Whether a live subscriber is lagging: an event it has to write left
    /// the ring, or it is beyond the lag limits.
    fn lagging(&self, sub: &Sub) -> bool {
        let head = self.head();
        let first = self.log.first_seq();
        let from = sub.acked.max(sub.start);
        let behind = head.saturating_sub(from);
        if sub.sent < first || sub.acked < first {
            return true;
        }
        if behind <= 1 {
            return false; // the newest event always counts as deliverable
        }
        behind > self.max_lag_events as u64
            || self.total_len - self.offset(from) > self.max_lag_len as u64
    }

    /// Cuts off every lagging subscriber and updates `longest_queue`.
    fn sweep(&mut self) {
        self.since_sweep_events = 0;
        self.since_sweep_len = 0;
        let head = self.head();
        let mut longest = 0;
        for index in 0..self.slots.len() {
            let Some(sub) = self.slots[index].sub.as_ref() else {
                continue;
            };
            if sub.end.is_some() {
                continue;
            }
            let key = SubscriberKey {
                index: index as u32,
                generation: self.slots[index].generation,
            };
            if self.lagging(sub) {
                self.end(key, EndReason::Lagged);
            } else {
                longest = longest.max(head.saturating_sub(sub.acked.max(sub.start)));
            }
        }
        self.stats.longest_queue = usize::try_from(longest).unwrap_or(usize::MAX);
    }

    /// Ends a live subscriber and lists it for waking.
    fn end(&mut self, key: SubscriberKey, reason: EndReason) {
        let final_event = reason == EndReason::Replaced && self.config.superseded.is_some();
        let Some(sub) = self.sub_mut(key) else {
            return;
        };
        if sub.end.is_some() {
            return;
        }
        sub.end = Some(reason);
        sub.final_event = final_event;
        if reason != EndReason::Closed {
            // It ends at once: its targeted events are dropped.
            sub.targeted = None;
        }
        sub.waiting = 0;
        let identity = sub.identity.take();
        self.stats.subscribers -= 1;
        if let Some(identity) = identity {
            if self.identities.get(&identity) == Some(&key) {
                self.identities.remove(&identity);
            }
        }
        match reason {
            EndReason::Lagged => {
                self.stats.lagged += 1;
                self.lag_unreported += 1;
            }
            EndReason::Replaced => self.stats.replaced += 1,
            EndReason::Closed => {}
        }
        self.wakeups.push(key);
    }

    /// A new subscriber. Replay (from `Last-Event-ID`) and the live feed
    /// start together: its cursor is placed in the ring. With an identity,
    /// the live subscriber with the same identity is superseded. After
    /// [`close`](Self::close), the subscriber is ended at once
    /// ([`Transmit::End`]).
    pub fn subscribe(&mut self, now: Instant, options: Subscribe<'_>) -> Subscribed {
        let head = self.head();
        let first = self.log.first_seq();
        let (outcome, cursor) = match options.last_event_id.filter(|id| !id.is_empty()) {
            _ if self.closed => (ReplayOutcome::New, head),
            None => (ReplayOutcome::New, head),
            Some(id) => {
                let kept = if options.replay_kept_on_miss {
                    (self.log.len(), first)
                } else {
                    (0, head)
                };
                match self.log.events_after(id) {
                    Replay::Events(events) => {
                        let replayed = events.len();
                        self.stats.replays_exact += 1;
                        (ReplayOutcome::Exact { replayed }, head - replayed as u64)
                    }
                    Replay::TooOld => {
                        self.stats.replays_too_old += 1;
                        (ReplayOutcome::TooOld { replayed: kept.0 }, kept.1)
                    }
                    Replay::Unknown => {
                        self.stats.replays_unknown += 1;
                        (ReplayOutcome::Unknown { replayed: kept.0 }, kept.1)
                    }
                }
            }
        };
        let closed = self.closed;
        let superseded = match (closed, options.identity) {
            (false, Some(identity)) => self.identities.get(identity).copied(),
            _ => None,
        };
        if let Some(old) = superseded {
            self.end(old, EndReason::Replaced);
        }
        let sub = Sub {
            sent: cursor,
            acked: cursor,
            start: head,
            identity: None,
            end: closed.then_some(EndReason::Closed),
            preamble: self.config.retry.is_some() && !closed,
            final_event: false,
            targeted: None,
            keep_alive: self
                .config
                .keep_alive
                .clone()
                .map(|config| Box::new(KeepAlive::new(now, config))),
            waiting: 0,
        };
        let key = self.insert(sub);
        if !closed {
            self.stats.subscribers += 1;
            if let Some(identity) = options.identity {
                let identity: Box<str> = identity.into();
                self.identities.insert(identity.clone(), key);
                if let Some(sub) = self.sub_mut(key) {
                    sub.identity = Some(identity);
                }
            }
        }
        Subscribed {
            key,
            outcome,
            superseded,
        }
    }

    /// Drops the keys of removed subscribers from the waiting list (they
    /// pile up only when subscribers come and go while nothing is
    /// published).
    fn compact_waiting(&mut self) {
        let mut waiting = std::mem::take(&mut self.waiting);
        let epoch = self.epoch;
        waiting.retain(|&key| self.sub(key).is_some_and(|sub| sub.waiting == epoch));
        self.waiting = waiting;
    }

    fn insert(&mut self, sub: Sub) -> SubscriberKey {
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.sub = Some(sub);
            SubscriberKey {
                index,
                generation: slot.generation,
            }
        } else {
            let index = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
            self.slots.push(Slot {
                generation: 0,
                sub: Some(sub),
            });
            SubscriberKey {
                index,
                generation: 0,
            }
        }
    }

    /// Removes a subscriber (its connection is gone). Unknown keys are
    /// ignored.
    pub fn unsubscribe(&mut self, key: SubscriberKey) {
        let Some(slot) = self.slots.get_mut(key.index()) else {
            return;
        };
        if slot.generation != key.generation {
            return;
        }
        let Some(sub) = slot.sub.take() else {
            return;
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        if sub.end.is_none() {
            self.stats.subscribers -= 1;
            if let Some(identity) = &sub.identity {
                if self.identities.get(identity) == Some(&key) {
                    self.identities.remove(identity);
                }
            }
        }
    }

    /// The subscriber's next bytes to write at `now`: see [`Transmit`].
    /// Returning [`Transmit::Wait`] lists it to be woken on the next
    /// publish.
    pub fn poll_transmit(&mut self, now: Instant, key: SubscriberKey) -> Transmit {
        self.transmit(now, key, false)
    }

    /// [`poll_transmit`](Self::poll_transmit) and, when it hands out bytes,
    /// [`acknowledge`](Self::acknowledge) at once: for a driver that hands
    /// the bytes to a layer that bounds its own buffering (an HTTP server
    /// that stops asking for more while its socket is full).
    pub fn poll_transmit_acknowledged(&mut self, now: Instant, key: SubscriberKey) -> Transmit {
        self.transmit(now, key, true)
    }

    fn transmit(&mut self, now: Instant, key: SubscriberKey, acknowledge: bool) -> Transmit {
        let head = self.head();
        let first = self.log.first_seq();
        let max_batch_len = self.config.max_batch_len;
        // The fast path (a live subscriber keeping up): at most the newest
        // event to write, nothing else pending, no keep-alive to check.
        if let Some(sub) = self
            .slots
            .get_mut(key.index())
            .filter(|slot| slot.generation == key.generation)
            .and_then(|slot| slot.sub.as_mut())
        {
            let simple = sub.end.is_none()
                && !sub.preamble
                && sub.targeted.is_none()
                && sub.keep_alive.is_none()
                && sub.sent >= first
                && sub.acked >= first
                && head - sub.sent <= 1
                && head - sub.acked.max(sub.start).min(head) <= 1;
            if simple {
                if sub.sent < head {
                    if let Some(entry) = self.log.get(sub.sent) {
                        sub.sent += 1;
                        if acknowledge {
                            sub.acked = sub.sent;
                        }
                        return Transmit::Send(entry.bytes().clone());
                    }
                } else {
                    if sub.waiting != self.epoch {
                        sub.waiting = self.epoch;
                        self.waiting.push(key);
                        if self.waiting.len() > 2 * self.slots.len() {
                            self.compact_waiting();
                        }
                    }
                    return Transmit::Wait;
                }
            }
        }
        let Some(sub) = self.sub(key) else {
            return Transmit::Gone;
        };
        if sub.end.is_none() && self.lagging(sub) {
            self.end(key, EndReason::Lagged);
        }
        let retry = self.config.retry;
        let Some(slot) = self.slots.get_mut(key.index()) else {
            return Transmit::Gone;
        };
        let Some(sub) = slot.sub.as_mut() else {
            return Transmit::Gone;
        };
        match sub.end {
            Some(EndReason::Lagged) => return Transmit::End(EndReason::Lagged),
            Some(EndReason::Replaced) => {
                if std::mem::take(&mut sub.final_event) {
                    if let Some(event) = &self.config.superseded {
                        let mut buf = BytesMut::new();
                        let encoded = Encoder::new().encode(
                            &Event::new(event.data.as_str())
                                .with_event_type(event.event_type.as_str()),
                            &mut buf,
                        );
                        if encoded.is_ok() {
                            return Transmit::Send(buf.freeze());
                        }
                    }
                }
                return Transmit::End(EndReason::Replaced);
            }
            _ => {}
        }
        let mut buf = BytesMut::new();
        if std::mem::take(&mut sub.preamble) {
            if let Some(retry) = retry {
                Encoder::new().retry(retry, &mut buf);
            }
        }
        // What goes out, in order: targeted events due before the next ring
        // event, and ring events, up to the batch limit. First measured by
        // reference, then copied once (or handed out as is when alone).
        let mut total = buf.len();
        let (mut items, mut targeted_items, mut targeted_bytes) = (0usize, 0usize, 0usize);
        let mut sent = sub.sent;
        loop {
            let len = match sub
                .targeted
                .as_ref()
                .and_then(|t| t.queue.get(targeted_items))
            {
                Some((before, bytes)) if *before <= sent => bytes.len(),
                _ if sent >= first && sent < head => match self.log.get(sent) {
                    Some(entry) => entry.bytes().len(),
                    None => break,
                },
                _ => break,
            };
            if total > 0 && total + len > max_batch_len {
                break; // it starts the next batch
            }
            total += len;
            items += 1;
            match sub
                .targeted
                .as_ref()
                .and_then(|t| t.queue.get(targeted_items))
            {
                Some((before, _)) if *before <= sent => {
                    targeted_items += 1;
                    targeted_bytes += len;
                }
                _ => sent += 1,
            }
        }
        let mut single = None;
        if items == 1 && buf.is_empty() {
            // One event: the shared encoding itself, no copy.
            single = if targeted_items == 1 {
                sub.targeted
                    .as_mut()
                    .and_then(|t| t.queue.pop_front())
                    .map(|(_, bytes)| bytes)
            } else {
                self.log.get(sub.sent).map(|entry| entry.bytes().clone())
            };
        } else if items > 0 {
            buf.reserve(total - buf.len());
            let mut seq = sub.sent;
            for _ in 0..items {
                match sub.targeted.as_ref().and_then(|t| t.queue.front()) {
                    Some((before, _)) if *before <= seq => {
                        if let Some((_, bytes)) =
                            sub.targeted.as_mut().and_then(|t| t.queue.pop_front())
                        {
                            buf.extend_from_slice(&bytes);
                        }
                    }
                    _ => {
                        if let Some(entry) = self.log.get(seq) {
                            buf.extend_from_slice(entry.bytes());
                        }
                        seq += 1;
                    }
                }
            }
        }
        if let Some(targeted) = &mut sub.targeted {
            targeted.len = targeted.len.saturating_sub(targeted_bytes);
            if targeted.queue.is_empty() {
                sub.targeted = None; // back to the fast path, memory freed
            }
        }
        sub.sent = sent;
        let out = single.or_else(|| (!buf.is_empty()).then(|| buf.freeze()));
        debug_assert!(out.as_ref().is_none_or(|b| b.len() == total));
        if let Some(bytes) = out {
            if let Some(keep_alive) = &mut sub.keep_alive {
                keep_alive.on_bytes_sent(now);
            }
            if acknowledge {
                sub.acked = sub.sent;
            }
            return Transmit::Send(bytes);
        }
        if let Some(reason) = sub.end {
            return Transmit::End(reason);
        }
        if let Some(keep_alive) = &mut sub.keep_alive {
            if let Some(message) = keep_alive.handle_timeout(now) {
                let mut buf = BytesMut::new();
                if encode_keep_alive(&message, &mut buf).is_ok() && !buf.is_empty() {
                    return Transmit::Send(buf.freeze());
                }
            }
        }
        if sub.waiting != self.epoch {
            sub.waiting = self.epoch;
            self.waiting.push(key);
            if self.waiting.len() > 2 * self.slots.len() {
                self.compact_waiting();
            }
        }
        Transmit::Wait
    }

    /// Everything handed out by [`poll_transmit`](Self::poll_transmit) to
    /// this subscriber has been written (accepted by the connection): it no
    /// longer counts as lag.
    pub fn acknowledge(&mut self, now: Instant, key: SubscriberKey) {
        if let Some(sub) = self.sub_mut(key) {
            sub.acked = sub.sent;
            if let Some(keep_alive) = &mut sub.keep_alive {
                keep_alive.on_bytes_sent(now);
            }
        }
    }

    /// When the subscriber's keep-alive is due, if it has keep-alives and
    /// is live: call [`poll_transmit`](Self::poll_transmit) then.
    pub fn poll_timeout(&self, key: SubscriberKey) -> Option<Instant> {
        let sub = self.sub(key)?;
        if sub.end.is_some() {
            return None;
        }
        sub.keep_alive.as_ref()?.poll_timeout()
    }

    /// Queues `event` for one subscriber only, in order with the published
    /// events. It is not in the ring: it is not replayed, and must have no
    /// id ([`SendError::HasId`]). Lists the subscriber for waking.
    ///
    /// # Errors
    /// [`SendError`]; nothing was queued then.
    pub fn send_to(&mut self, key: SubscriberKey, event: &Event) -> Result<(), SendError> {
        if event.id().is_some() {
            return Err(SendError::HasId);
        }
        let mut buf = BytesMut::new();
        Encoder::new()
            .encode(event, &mut buf)
            .map_err(SendError::Encode)?;
        let max = self.config.max_targeted_len;
        let head = self.head();
        let sub = self.sub_mut(key).ok_or(SendError::NoSubscriber)?;
        if sub.end.is_some() {
            return Err(SendError::NoSubscriber);
        }
        let targeted = sub.targeted.get_or_insert_with(Box::default);
        if targeted.len.saturating_add(buf.len()) > max {
            return Err(SendError::Full);
        }
        targeted.len += buf.len();
        targeted.queue.push_back((head, buf.freeze()));
        // Woken now; its key may stay in the waiting list (a spurious wake
        // on the next publish, harmless).
        let wake = std::mem::take(&mut sub.waiting) == self.epoch;
        self.stats.targeted += 1;
        if wake {
            self.wakeups.push(key);
        }
        Ok(())
    }

    /// [`send_to`](Self::send_to) the live subscriber with this identity.
    ///
    /// # Errors
    /// [`SendError`]; nothing was queued then.
    pub fn send_to_identity(
        &mut self,
        identity: &str,
        event: &Event,
    ) -> Result<SubscriberKey, SendError> {
        let key = *self
            .identities
            .get(identity)
            .ok_or(SendError::NoSubscriber)?;
        self.send_to(key, event).map(|()| key)
    }

    /// The live subscriber with this identity.
    pub fn identity_key(&self, identity: &str) -> Option<SubscriberKey> {
        self.identities.get(identity).copied()
    }

    /// Why the subscriber ended, if it has (it may still have bytes to
    /// write).
    pub fn end_reason(&self, key: SubscriberKey) -> Option<EndReason> {
        self.sub(key)?.end
    }

    /// Moves the keys of subscribers to wake (new bytes, or ended) into
    /// `out`.
    pub fn drain_wakeups(&mut self, out: &mut Vec<SubscriberKey>) {
        out.append(&mut self.wakeups);
    }

    /// Ends every subscriber (each writes what was published before, then
    /// ends) and refuses further events; later subscribers end at once.
    /// Lists every subscriber for waking.
    pub fn close(&mut self) {
        self.closed = true;
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if slot.sub.as_ref().is_some_and(|s| s.end.is_none()) {
                let key = SubscriberKey {
                    index: index as u32,
                    generation: slot.generation,
                };
                self.end(key, EndReason::Closed);
            }
        }
        self.waiting.clear();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Lag drops since the previous report, at most once per
    /// [`lag_report_interval`](FanoutConfig::lag_report_interval) and only
    /// when there were some.
    pub fn poll_lag_report(&mut self, now: Instant) -> Option<LagReport> {
        let due = self.last_lag_report.is_none_or(|last| {
            now.saturating_duration_since(last) >= self.config.lag_report_interval
        });
        if self.lag_unreported == 0 || !due {
            return None;
        }
        self.last_lag_report = Some(now);
        Some(LagReport {
            dropped: std::mem::take(&mut self.lag_unreported),
            max_lag_events: self.max_lag_events,
            max_lag_len: self.max_lag_len,
        })
    }

    /// Counters and sizes; reading them walks no subscriber.
    pub fn stats(&self) -> FanoutStats {
        FanoutStats {
            queued_events: self.log.len(),
            queued_len: self.ring_len,
            replay_events: self.log.len(),
            replay_len: self.log.byte_len(),
            ..self.stats
        }
    }

    /// How many subscribers are live (not ended, not removed).
    pub fn subscriber_count(&self) -> usize {
        self.stats.subscribers
    }
}
