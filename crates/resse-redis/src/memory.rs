//! An in-process shared log with the shape of the Redis one: several
//! [`Node`](crate::Node)s in one process (`resse demo --nodes N`), or one
//! node without Redis.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use resse_codec::Event;
use tokio::sync::{mpsc, watch};

use crate::entry::with_position;
use crate::error::Error;
use crate::log::{LostReason, ReadAfter};
use crate::position::{Epoch, Position};
use crate::shared::SharedLog;
use crate::state::LinkState;
use crate::tail::{Tail, TailFrom, TailItem};

/// Settings of a [`MemoryLog`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryConfig {
    max_len: usize,
    max_read_batch: usize,
    tail_batch: usize,
    tail_buffer: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            max_len: 100_000,
            max_read_batch: 1_000,
            tail_batch: 256,
            tail_buffer: 1_024,
        }
    }
}

impl MemoryConfig {
    /// Events kept (older ones are trimmed, as Redis's `MAXLEN`); default
    /// 100 000, at least 1.
    pub fn max_len(mut self, events: usize) -> Self {
        self.max_len = events.max(1);
        self
    }

    /// Most events one [`read_after`](MemoryLog::read_after) returns;
    /// default 1 000, at least 1.
    pub fn max_read_batch(mut self, events: usize) -> Self {
        self.max_read_batch = events.max(1);
        self
    }

    /// Events a tail takes per read; default 256, at least 1.
    pub fn tail_batch(mut self, events: usize) -> Self {
        self.tail_batch = events.max(1);
        self
    }

    /// Items a tail holds unread before it waits; default 1 024, at least 1.
    pub fn tail_buffer(mut self, items: usize) -> Self {
        self.tail_buffer = items.max(1);
        self
    }

    /// See [`max_len`](Self::max_len).
    pub fn get_max_len(&self) -> usize {
        self.max_len
    }

    /// See [`max_read_batch`](Self::max_read_batch).
    pub fn get_max_read_batch(&self) -> usize {
        self.max_read_batch
    }
}

struct State {
    epoch: Epoch,
    /// The newest offset.
    offset: u64,
    /// `(offset, event)`, oldest first; the event's id is its position.
    events: VecDeque<(u64, Event)>,
}

struct Inner {
    config: MemoryConfig,
    state: Mutex<State>,
    /// Bumped on every change, to wake tails.
    changed: watch::Sender<u64>,
}

/// A shared log in this process's memory, with the semantics of
/// [`RedisLog`](crate::RedisLog): positions `{epoch}-{offset}`, bounded
/// reads, trimmed to [`MemoryConfig::max_len`], tails that say where the
/// log does not continue. Cheap to clone (clones share the log). Never
/// unavailable; [`flush`](Self::flush) and [`trim`](Self::trim) play a
/// lost or trimmed Redis log in tests.
#[derive(Clone)]
pub struct MemoryLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryLog")
            .field("epoch", &state.epoch)
            .field("offset", &state.offset)
            .field("kept", &state.events.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryLog {
    fn default() -> Self {
        Self::new(MemoryConfig::default())
    }
}

impl MemoryLog {
    /// An empty log with a random epoch.
    pub fn new(config: MemoryConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State {
                    epoch: Epoch::random(),
                    offset: 0,
                    events: VecDeque::new(),
                }),
                changed: watch::Sender::new(0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Appends `event` (its id is replaced by its position).
    pub fn append(&self, event: &Event) -> Position {
        let position = {
            let mut state = self.lock();
            state.offset += 1;
            let position = Position::new(state.epoch.clone(), state.offset);
            let offset = state.offset;
            state
                .events
                .push_back((offset, with_position(event.clone(), &position)));
            while state.events.len() > self.inner.config.max_len {
                state.events.pop_front();
            }
            position
        };
        self.bump();
        position
    }

    /// The newest position.
    pub fn head_now(&self) -> Position {
        let state = self.lock();
        Position::new(state.epoch.clone(), state.offset)
    }

    /// Forgets every event and starts a new epoch, as a flushed Redis.
    pub fn flush(&self) {
        {
            let mut state = self.lock();
            state.epoch = Epoch::random();
            state.offset = 0;
            state.events.clear();
        }
        self.bump();
    }

    /// Keeps only the newest `keep` events, as `XTRIM MAXLEN`.
    pub fn trim(&self, keep: usize) {
        let mut state = self.lock();
        while state.events.len() > keep {
            state.events.pop_front();
        }
    }

    /// As [`RedisLog::read_after`](crate::RedisLog::read_after).
    pub fn read_now(&self, after: &Position, batch: usize) -> ReadAfter {
        let count = batch.clamp(1, self.inner.config.max_read_batch);
        let state = self.lock();
        let head = Position::new(state.epoch.clone(), state.offset);
        let lost = |reason| ReadAfter::Lost {
            reason,
            head: head.clone(),
        };
        if *after.epoch() != state.epoch {
            return lost(LostReason::EpochChanged);
        }
        if after.offset() > state.offset {
            return lost(LostReason::AheadOfLog);
        }
        let first = state.events.front().map_or(state.offset + 1, |e| e.0);
        if after.offset() + 1 < first {
            return lost(LostReason::Trimmed);
        }
        let skip = usize::try_from(after.offset() + 1 - first).unwrap_or(usize::MAX);
        let events = state
            .events
            .iter()
            .skip(skip)
            .take(count)
            .map(|(offset, event)| (Position::new(state.epoch.clone(), *offset), event.clone()))
            .collect();
        ReadAfter::Events { events, head }
    }
}

impl SharedLog for MemoryLog {
    async fn publish(&self, event: &Event) -> Result<Position, Error> {
        Ok(self.append(event))
    }

    async fn head(&self) -> Result<Position, Error> {
        Ok(self.head_now())
    }

    async fn read_after(&self, after: &Position, batch: usize) -> Result<ReadAfter, Error> {
        Ok(self.read_now(after, batch))
    }

    fn tail(&self, from: TailFrom) -> Tail {
        let (tx, rx) = mpsc::channel(self.inner.config.tail_buffer);
        let (_state_tx, state) = watch::channel(LinkState::Connected);
        let log = self.clone();
        let task = tokio::spawn(async move {
            let mut changed = log.inner.changed.subscribe();
            let mut cursor = match from {
                TailFrom::Head => log.head_now(),
                TailFrom::After(p) => p,
            };
            let batch = log.inner.config.tail_batch;
            loop {
                changed.borrow_and_update();
                match log.read_now(&cursor, batch) {
                    ReadAfter::Events { events, .. } if events.is_empty() => {
                        if changed.changed().await.is_err() {
                            return;
                        }
                    }
                    ReadAfter::Events { events, .. } => {
                        for (position, event) in events {
                            cursor = position.clone();
                            if tx.send(TailItem::Event(position, event)).await.is_err() {
                                return;
                            }
                        }
                    }
                    ReadAfter::Lost { reason, head } => {
                        let resume = crate::log::resume_after_loss(&reason, head);
                        cursor = resume.clone();
                        let item = TailItem::Lost { reason, resume };
                        if tx.send(item).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Tail::from_parts(rx, state, task)
    }

    fn state(&self) -> LinkState {
        LinkState::Connected
    }

    fn target(&self) -> String {
        "memory".to_owned()
    }
}
