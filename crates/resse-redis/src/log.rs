//! The shared log: connecting, publishing, replay.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Script, Value};
use resse_codec::Event;
use tokio::sync::watch;

use crate::config::RedisConfig;
use crate::entry::{self, array, text};
use crate::error::{Error, ErrorKind, elide_password};
use crate::position::{Epoch, Position};
use crate::state::{LinkState, mark_connected, mark_failed};

/// Why a position is no longer covered by the log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LostReason {
    /// The position is of another epoch: Redis lost, flushed or expired the
    /// log since.
    EpochChanged,
    /// The events right after the position were trimmed (`max_len`).
    Trimmed,
    /// The position is past the log's head in the same epoch: Redis lost
    /// writes that had been acknowledged (a crash with `appendfsync
    /// everysec`, a failover to a replica that lagged).
    AheadOfLog,
    /// An entry could not be read (written by something else, or damaged);
    /// the tail skipped it.
    Corrupt(String),
}

/// What [`RedisLog::read_after`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadAfter {
    /// The log covers the position: `events` follow it directly, oldest
    /// first, at most the batch asked for; empty when the position is the
    /// head. Ask again after the last one until it is `head` (or until the
    /// local tail takes over).
    Events {
        /// `(position, event)` pairs; each event's id is its position.
        events: Vec<(Position, Event)>,
        /// The newest position when the batch was read.
        head: Position,
    },
    /// The log no longer covers the position. A server sends a signal the
    /// client can see (resse's convention: a named event `reset` whose id is
    /// `head`) and continues with the events after `head`.
    Lost {
        /// Why.
        reason: LostReason,
        /// The newest position when this was found.
        head: Position,
    },
}

pub(crate) struct Inner {
    pub(crate) config: RedisConfig,
    pub(crate) target: String,
    pub(crate) client: redis::Client,
    conn: ConnectionManager,
    state: watch::Sender<LinkState>,
    pub(crate) node_id: String,
    pub(crate) claims: AtomicU64,
    publish: Script,
    pub(crate) read: Script,
}

/// One stream's shared log in Redis, and the node's handle on Redis: cheap
/// to clone (all clones share one multiplexed connection, which reconnects
/// by itself).
///
/// - [`publish`](Self::publish) appends an event and returns its position;
/// - [`read_after`](Self::read_after) replays after a position in bounded
///   batches, or says the position is lost;
/// - [`tail`](Self::tail) follows the log live on a dedicated connection;
/// - [`identities`](Self::identities) gives the cross-node identity and
///   targeting primitives.
#[derive(Clone)]
pub struct RedisLog {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLog")
            .field("target", &self.inner.target)
            .field("stream", &self.inner.config.get_stream())
            .field("node_id", &self.inner.node_id)
            .finish_non_exhaustive()
    }
}

impl RedisLog {
    /// Connects to Redis and checks that it answers `PING`.
    ///
    /// An unreachable Redis is an error of kind
    /// [`ErrorKind::Connect`] whose message has the URL, password elided.
    pub async fn connect(config: RedisConfig) -> Result<Self, Error> {
        let target = elide_password(config.get_url());
        config.validate()?;
        let client = redis::Client::open(config.get_url()).map_err(|e| {
            Error::new(
                ErrorKind::Connect,
                &target,
                format!("not a usable Redis URL: {e}"),
            )
        })?;
        let connect_err = |detail: String| Error::new(ErrorKind::Connect, &target, detail);
        // One plain connection first: a clear error now rather than a
        // connection manager retrying in the background.
        let mut probe = open_connection(&client, &config, config.get_response_timeout())
            .await
            .map_err(|e| connect_err(e.detail().to_owned()))?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut probe)
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        if pong != "PONG" {
            return Err(connect_err(format!("PING answered {pong:?}")));
        }
        drop(probe);
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.get_connect_timeout()))
            .set_response_timeout(Some(config.get_response_timeout()))
            .set_number_of_retries(1)
            .set_min_delay(config.get_backoff().0)
            .set_max_delay(config.get_backoff().1);
        let conn = ConnectionManager::new_with_config(client.clone(), manager_config)
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let node_id = config.get_node_id().map_or_else(
            || format!("{:016x}", crate::position::random_u64()),
            str::to_owned,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                target,
                client,
                conn,
                state: watch::Sender::new(LinkState::Connected),
                node_id,
                claims: AtomicU64::new(crate::position::random_u64() >> 16),
                publish: Script::new(crate::scripts::PUBLISH),
                read: Script::new(crate::scripts::READ),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// The Redis URL, password elided.
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// This node's id in identity claims.
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// The state of the shared connection, as of the last command: a failed
    /// command makes it [`LinkState::Reconnecting`], the next success
    /// [`LinkState::Connected`].
    pub fn state(&self) -> LinkState {
        self.inner.state.borrow().clone()
    }

    /// A receiver that sees every change of [`state`](Self::state).
    pub fn watch_state(&self) -> watch::Receiver<LinkState> {
        self.inner.state.subscribe()
    }

    pub(crate) fn inner_conn(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    pub(crate) fn record<T>(&self, result: redis::RedisResult<T>) -> Result<T, Error> {
        match result {
            Ok(v) => {
                mark_connected(&self.inner.state);
                Ok(v)
            }
            Err(e) => {
                let err = Error::from_redis(&self.inner.target, &e);
                if err.kind() == ErrorKind::Unavailable {
                    mark_failed(&self.inner.state, err.to_string());
                } else {
                    mark_connected(&self.inner.state);
                }
                Err(err)
            }
        }
    }

    /// Appends `event` (its type, data and retry; any id it has is replaced)
    /// to the log in one atomic script, and returns its position, whose
    /// [`Display`](std::fmt::Display) is the SSE id to send.
    ///
    /// With Redis down this returns an error at once (after at most the
    /// response timeout): the event is not queued. An
    /// [`ErrorKind::Unavailable`] error may also mean the reply was lost after
    /// the event was stored.
    pub async fn publish(&self, event: &Event) -> Result<Position, Error> {
        let config = &self.inner.config;
        let mut invocation = self.inner.publish.prepare_invoke();
        invocation
            .key(config.stream_key())
            .key(config.meta_key())
            .arg(Epoch::random().as_str())
            .arg(config.get_max_len())
            .arg(config.ttl_secs());
        for (name, value) in entry::event_fields(event) {
            invocation.arg(name).arg(value);
        }
        let mut conn = self.inner.conn.clone();
        let reply: Value = self.record(invocation.invoke_async(&mut conn).await)?;
        let parts = array(&reply).ok_or_else(|| {
            Error::corrupt(&self.inner.target, "publish script reply is not a list")
        })?;
        entry::head_of(&self.inner.target, parts)
    }

    /// The newest position (offset 0 in a log with no event yet). A client
    /// without a `Last-Event-ID` starts after it.
    pub async fn head(&self) -> Result<Position, Error> {
        let mut conn = self.inner.conn.clone();
        let result = read_head(&self.inner, &mut conn).await;
        match result {
            Ok(p) => {
                mark_connected(&self.inner.state);
                Ok(p)
            }
            Err(e) => {
                if e.kind() == ErrorKind::Unavailable {
                    mark_failed(&self.inner.state, e.to_string());
                }
                Err(e)
            }
        }
    }

    /// The events right after `after`, at most `batch` of them (cut to
    /// [`RedisConfig::max_read_batch`], at least 1), read atomically with the
    /// log's epoch and head; or [`ReadAfter::Lost`] when the log no longer
    /// covers `after`.
    ///
    /// Never reads more than one batch: to replay a long way, call again
    /// after the last position returned.
    pub async fn read_after(&self, after: &Position, batch: usize) -> Result<ReadAfter, Error> {
        let inner = &self.inner;
        let target = &inner.target;
        let count = batch.clamp(1, inner.config.get_max_read_batch());
        let next_id = after
            .offset()
            .checked_add(1)
            .map_or_else(String::new, |n| format!("{n}-0"));
        let mut conn = inner.conn.clone();
        let reply: Value = self.record(
            inner
                .read
                .key(inner.config.stream_key())
                .key(inner.config.meta_key())
                .arg(Epoch::random().as_str())
                .arg(count)
                .arg(after.epoch().as_str())
                .arg(after.offset())
                .arg(next_id)
                .invoke_async(&mut conn)
                .await,
        )?;
        let parts = array(&reply)
            .ok_or_else(|| Error::corrupt(target, "read script reply is not a list"))?;
        let head = entry::head_of(target, parts)?;
        let lost = |reason| {
            Ok(ReadAfter::Lost {
                reason,
                head: head.clone(),
            })
        };
        match parts.get(2).and_then(text) {
            Some("epoch") => lost(LostReason::EpochChanged),
            Some("ahead") => lost(LostReason::AheadOfLog),
            Some("trimmed") => lost(LostReason::Trimmed),
            Some("ok") => {
                let raw = parts.get(3).and_then(array).unwrap_or(&[]);
                let mut events = Vec::with_capacity(raw.len());
                let mut expected = after.offset();
                for v in raw {
                    let e = entry::raw_entry(target, v)?;
                    let (epoch, event) = e.decoded.map_err(|d| Error::corrupt(target, d))?;
                    expected += 1;
                    if e.offset != expected || epoch != *after.epoch() {
                        return Err(Error::corrupt(
                            target,
                            format!(
                                "entry {} where {}-0 of epoch {} was expected",
                                e.id,
                                expected,
                                after.epoch()
                            ),
                        ));
                    }
                    let position = Position::new(epoch, e.offset);
                    events.push((position.clone(), entry::with_position(event, &position)));
                }
                Ok(ReadAfter::Events { events, head })
            }
            other => Err(Error::corrupt(
                target,
                format!("read script answered status {other:?}"),
            )),
        }
    }
}

/// Where a reader whose position is lost for `reason` goes on: the start of
/// a new epoch (so that none of its events is skipped), else `head`.
pub(crate) fn resume_after_loss(reason: &LostReason, head: Position) -> Position {
    match reason {
        LostReason::EpochChanged => Position::new(head.epoch().clone(), 0),
        _ => head,
    }
}

/// Reads the log's epoch and head (creating the epoch if the log has none).
pub(crate) async fn read_head<C: redis::aio::ConnectionLike + Send>(
    inner: &Inner,
    conn: &mut C,
) -> Result<Position, Error> {
    let reply: Value = inner
        .read
        .key(inner.config.stream_key())
        .key(inner.config.meta_key())
        .arg(Epoch::random().as_str())
        .arg(0)
        .invoke_async(conn)
        .await
        .map_err(|e| Error::from_redis(&inner.target, &e))?;
    let parts = array(&reply)
        .ok_or_else(|| Error::corrupt(&inner.target, "read script reply is not a list"))?;
    entry::head_of(&inner.target, parts)
}

/// A connection of its own (not the shared one), with the given response
/// timeout, within the connect timeout.
pub(crate) async fn open_connection(
    client: &redis::Client,
    config: &RedisConfig,
    response_timeout: std::time::Duration,
) -> Result<MultiplexedConnection, Error> {
    let target = elide_password(config.get_url());
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.get_connect_timeout()))
        .set_response_timeout(Some(response_timeout));
    match tokio::time::timeout(
        config.get_connect_timeout(),
        client.get_multiplexed_async_connection_with_config(&cfg),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(Error::new(ErrorKind::Unavailable, &target, e.to_string())),
        Err(_) => Err(Error::new(
            ErrorKind::Unavailable,
            &target,
            format!("no connection within {:?}", config.get_connect_timeout()),
        )),
    }
}
