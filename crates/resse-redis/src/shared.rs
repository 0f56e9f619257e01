//! The shape every shared log has: Redis ([`RedisLog`]) and the in-process
//! [`MemoryLog`](crate::MemoryLog), so that a [`Node`](crate::Node) runs
//! over either.

use std::future::Future;

use resse_codec::Event;

use crate::error::Error;
use crate::identity::{Identities, Notices};
use crate::log::{ReadAfter, RedisLog};
use crate::position::Position;
use crate::state::LinkState;
use crate::tail::{Tail, TailFrom};

/// A shared event log as a [`Node`](crate::Node) uses it: append, read after
/// a position in bounded batches, follow live. Implemented by [`RedisLog`]
/// (several processes) and [`MemoryLog`](crate::MemoryLog) (several nodes in
/// one process, or one node without Redis).
///
/// The contract, which the node's exactly-once splice relies on:
///
/// - positions are `{epoch}-{offset}`, offsets consecutive from 1 within an
///   epoch;
/// - [`read_after`](Self::read_after) returns at most `batch` events, the
///   ones right after the position, or says the position is lost;
/// - a [`Tail`] yields every event once, in log order, and a
///   [`TailItem::Lost`](crate::TailItem::Lost) wherever the log does not
///   continue from the previous item.
pub trait SharedLog: Clone + Send + Sync + 'static {
    /// Appends `event` (its id is replaced) and returns its position.
    fn publish(&self, event: &Event) -> impl Future<Output = Result<Position, Error>> + Send;

    /// The newest position (offset 0 in an empty epoch).
    fn head(&self) -> impl Future<Output = Result<Position, Error>> + Send;

    /// At most `batch` events right after `after`, or [`ReadAfter::Lost`].
    fn read_after(
        &self,
        after: &Position,
        batch: usize,
    ) -> impl Future<Output = Result<ReadAfter, Error>> + Send;

    /// Follows the log live from `from` (spawned on the current runtime).
    fn tail(&self, from: TailFrom) -> Tail;

    /// The state of the log's shared connection.
    fn state(&self) -> LinkState;

    /// Cross-node identities and targeted events, when the log spans
    /// processes (Redis); `None` when one [`Node`](crate::Node)'s local rule
    /// is all there is.
    fn identities(&self) -> Option<(Identities, Notices)> {
        None
    }

    /// What the log is, for messages (a URL with the password elided).
    fn target(&self) -> String;
}

impl SharedLog for RedisLog {
    fn publish(&self, event: &Event) -> impl Future<Output = Result<Position, Error>> + Send {
        Self::publish(self, event)
    }

    fn head(&self) -> impl Future<Output = Result<Position, Error>> + Send {
        Self::head(self)
    }

    fn read_after(
        &self,
        after: &Position,
        batch: usize,
    ) -> impl Future<Output = Result<ReadAfter, Error>> + Send {
        Self::read_after(self, after, batch)
    }

    fn tail(&self, from: TailFrom) -> Tail {
        Self::tail(self, from)
    }

    fn state(&self) -> LinkState {
        Self::state(self)
    }

    fn identities(&self) -> Option<(Identities, Notices)> {
        Some(Self::identities(self))
    }

    fn target(&self) -> String {
        Self::target(self).to_owned()
    }
}
