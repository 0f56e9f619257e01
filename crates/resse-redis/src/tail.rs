//! The live tail: `XREAD BLOCK` on a connection of its own, resumed after
//! every failure from the last entry seen.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use redis::Value;
use redis::aio::MultiplexedConnection;
use resse_codec::Event;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::entry::{self, array};
use crate::error::Error;
use crate::log::{Inner, LostReason, RedisLog, open_connection, read_head};
use crate::position::Position;
use crate::state::{LinkState, mark_connected, mark_failed};

/// Where a [`Tail`] starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailFrom {
    /// After the head at the time the tail first reaches Redis.
    Head,
    /// After this position (for a node that restarts and knows where its
    /// local cache ends). If the log no longer covers it, the first item is
    /// [`TailItem::Lost`].
    After(Position),
}

/// What a [`Tail`] yields, in log order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailItem {
    /// The next event of the log; its id is its position. Positions are
    /// consecutive: each is the previous one's offset plus one in the same
    /// epoch, unless a [`TailItem::Lost`] came between.
    Event(Position, Event),
    /// The log does not continue from the last item: the tail carries on
    /// with the events after `resume`. A node passes this on to its
    /// subscribers (resse's convention: a named event `reset` with id
    /// `resume`), so that no gap is silent.
    Lost {
        /// Why.
        reason: LostReason,
        /// The position the tail continues after.
        resume: Position,
    },
}

/// A task following the log live. Read it with [`Tail::next`] or as a
/// [`futures_core::Stream`]; dropping it stops the task.
///
/// The task reads with `XREAD BLOCK` on a connection of its own: a blocking
/// read on the shared multiplexed connection would hold up every command
/// queued behind it on that socket, and would trip its response timeout.
/// After any error (Redis restarted, connection cut, timeout) it reconnects
/// with backoff, checks the log's epoch and head, and reads on from the last
/// entry it yielded: no event is repeated or skipped without a
/// [`TailItem::Lost`]. Entries carry their epoch, and offsets are
/// consecutive, so a flush, a trim or lost writes are found from the data
/// itself; while idle, each `tail_block` ends with a check of the head.
///
/// Memory is bounded: at most `tail_batch` entries are read at once, and the
/// task waits while `tail_buffer` items are unread.
#[derive(Debug)]
pub struct Tail {
    rx: mpsc::Receiver<TailItem>,
    state: watch::Receiver<LinkState>,
    task: JoinHandle<()>,
}

impl Tail {
    /// A tail over an item channel fed by `task` (the in-memory log's).
    pub(crate) fn from_parts(
        rx: mpsc::Receiver<TailItem>,
        state: watch::Receiver<LinkState>,
        task: JoinHandle<()>,
    ) -> Self {
        Self { rx, state, task }
    }

    pub(crate) fn spawn(log: &RedisLog, from: TailFrom) -> Self {
        let (tx, rx) = mpsc::channel(log.inner.config.get_tail_buffer());
        let (state_tx, state) = watch::channel(LinkState::Connecting);
        let inner = Arc::clone(&log.inner);
        let task = tokio::spawn(run(inner, from, tx, state_tx));
        Self { rx, state, task }
    }

    /// The next item; `None` only once the task has ended (it ends only when
    /// the `Tail` is dropped, or if its runtime shuts down).
    pub async fn next(&mut self) -> Option<TailItem> {
        self.rx.recv().await
    }

    /// The state of the tail's connection.
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every change of [`state`](Self::state).
    pub fn watch_state(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl futures_core::Stream for Tail {
    type Item = TailItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TailItem>> {
        self.rx.poll_recv(cx)
    }
}

/// Where the tail is: the last position yielded and the raw id of the last
/// entry read (they differ only after an entry that was skipped as corrupt).
struct Cursor {
    last: Position,
    read_id: String,
}

impl Cursor {
    fn at(p: Position) -> Self {
        Self {
            read_id: p.entry_id(),
            last: p,
        }
    }
}

/// Ends when the reader is gone.
struct Closed;

async fn run(
    inner: Arc<Inner>,
    from: TailFrom,
    tx: mpsc::Sender<TailItem>,
    state: watch::Sender<LinkState>,
) {
    let mut cursor = match from {
        TailFrom::Head => None,
        TailFrom::After(p) => Some(Cursor::at(p)),
    };
    let mut attempts = 0u32;
    loop {
        match session(&inner, &mut cursor, &tx, &state, &mut attempts).await {
            Ok(Closed) => return,
            Err(e) => {
                mark_failed(&state, e.to_string());
                attempts = attempts.saturating_add(1);
                let delay = inner.config.backoff_delay(attempts);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = tx.closed() => return,
                }
            }
        }
    }
}

/// One connection's life: connect, check, read until an error.
async fn session(
    inner: &Inner,
    cursor: &mut Option<Cursor>,
    tx: &mpsc::Sender<TailItem>,
    state: &watch::Sender<LinkState>,
    attempts: &mut u32,
) -> Result<Closed, Error> {
    let config = &inner.config;
    let mut conn: MultiplexedConnection = open_connection(
        &inner.client,
        config,
        config.get_tail_block() + config.get_response_timeout(),
    )
    .await?;
    let head = read_head(inner, &mut conn).await?;
    *attempts = 0;
    mark_connected(state);
    let cursor = match cursor {
        Some(c) => c,
        None => cursor.insert(Cursor::at(head.clone())),
    };
    if check_head(cursor, head, tx).await.is_err() {
        return Ok(Closed);
    }
    let block_ms = u64::try_from(config.get_tail_block().as_millis()).unwrap_or(u64::MAX);
    let stream_key = config.stream_key();
    loop {
        let reply: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(config.get_tail_batch())
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(&stream_key)
            .arg(&cursor.read_id)
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::from_redis(&inner.target, &e))?;
        let entries = xread_entries(&inner.target, &reply)?;
        if entries.is_empty() {
            let head = read_head(inner, &mut conn).await?;
            if check_head(cursor, head, tx).await.is_err() {
                return Ok(Closed);
            }
            continue;
        }
        for v in entries {
            let raw = entry::raw_entry(&inner.target, v)?;
            if deliver(cursor, raw, tx).await.is_err() {
                return Ok(Closed);
            }
        }
    }
}

/// After a (re)connect or an idle block: is the log still the one the cursor
/// is in?
async fn check_head(
    cursor: &mut Cursor,
    head: Position,
    tx: &mpsc::Sender<TailItem>,
) -> Result<(), Closed> {
    let (reason, resume) = if head.epoch() != cursor.last.epoch() {
        // A new log: read it from its start, so that none of its events is
        // skipped (a trimmed start is found by the next read).
        (
            LostReason::EpochChanged,
            Position::new(head.epoch().clone(), 0),
        )
    } else if head.offset() < cursor.last.offset() {
        (LostReason::AheadOfLog, head)
    } else {
        return Ok(());
    };
    *cursor = Cursor::at(resume.clone());
    send(tx, TailItem::Lost { reason, resume }).await
}

async fn deliver(
    cursor: &mut Cursor,
    raw: entry::RawEntry,
    tx: &mpsc::Sender<TailItem>,
) -> Result<(), Closed> {
    let (epoch, event) = match raw.decoded {
        Ok(decoded) => decoded,
        Err(detail) => {
            // Skip it, and say so: the entry's place is lost.
            let resume = Position::new(cursor.last.epoch().clone(), raw.offset);
            cursor.last = resume.clone();
            cursor.read_id = raw.id;
            return send(
                tx,
                TailItem::Lost {
                    reason: LostReason::Corrupt(detail),
                    resume,
                },
            )
            .await;
        }
    };
    let position = Position::new(epoch, raw.offset);
    let reason = if position.epoch() != cursor.last.epoch() {
        Some(LostReason::EpochChanged)
    } else if Some(raw.offset) != cursor.last.offset().checked_add(1) {
        Some(LostReason::Trimmed)
    } else {
        None
    };
    if let Some(reason) = reason {
        let resume = Position::new(position.epoch().clone(), raw.offset.saturating_sub(1));
        send(tx, TailItem::Lost { reason, resume }).await?;
    }
    cursor.last = position.clone();
    cursor.read_id = raw.id;
    let event = entry::with_position(event, &position);
    send(tx, TailItem::Event(position, event)).await
}

async fn send(tx: &mpsc::Sender<TailItem>, item: TailItem) -> Result<(), Closed> {
    tx.send(item).await.map_err(|_| Closed)
}

/// The entries of an `XREAD` reply on one stream (none when it timed out).
fn xread_entries<'a>(target: &str, reply: &'a Value) -> Result<&'a [Value], Error> {
    let corrupt = || {
        Error::corrupt(
            target,
            format!("XREAD reply of an unknown shape: {reply:?}"),
        )
    };
    let streams = match reply {
        Value::Nil => return Ok(&[]),
        Value::Array(streams) => streams,
        Value::Map(pairs) => {
            return match pairs.first() {
                None => Ok(&[]),
                Some((_, entries)) => array(entries).ok_or_else(corrupt),
            };
        }
        _ => return Err(corrupt()),
    };
    match streams.first() {
        None => Ok(&[]),
        Some(stream) => {
            let pair = array(stream).filter(|p| p.len() == 2).ok_or_else(corrupt)?;
            array(&pair[1]).ok_or_else(corrupt)
        }
    }
}

impl RedisLog {
    /// Starts a [`Tail`] of the log on a connection of its own (spawned on
    /// the current tokio runtime). A node runs one and feeds each item into
    /// its local fan-out once.
    pub fn tail(&self, from: TailFrom) -> Tail {
        Tail::spawn(self, from)
    }
}
