//! Redis Streams as the shared event log of a Server-Sent Events service run
//! as several nodes (processes behind a load balancer): a client that
//! reconnects to any node resumes exactly where it was.
//!
//! - [`RedisLog::publish`] appends an event in one atomic Lua script and
//!   returns its [`Position`], whose text `{epoch}-{offset}` is the SSE id.
//! - [`RedisLog::read_after`] replays after a position in bounded batches,
//!   or says the position is lost ([`ReadAfter::Lost`]: another epoch,
//!   trimmed, or past the head) so that the server can tell the client.
//! - [`RedisLog::tail`] follows the log live on a connection of its own and
//!   resumes after any Redis failure with no gap and no duplicate; a node
//!   feeds each [`TailItem`] into its local fan-out once.
//! - [`RedisLog::identities`] gives one connection per identity across nodes
//!   ([`Identities::claim`], [`Notice::Superseded`]) and sends to one
//!   identity wherever it is connected ([`Identities::send_to`]).
//! - [`Node`] puts it all under one process's fan-out ([`resse_tokio`]'s
//!   `Broadcaster`): publish to the log, deliver from the tail, resume any
//!   client exactly once from the ring or the log, say `reset` when a
//!   position is lost. It runs over any [`SharedLog`]: [`RedisLog`], or
//!   [`MemoryLog`] for several nodes in one process without Redis.
//! - [`LinkState`] of each link is observable for health checks; an
//!   unreachable Redis at start is an [`Error`] naming the URL with the
//!   password elided.
//!
//! This is a layer-2 crate (I/O, tasks, clocks) over `resse-codec`'s
//! [`Event`]; see the README for the design.
#![forbid(unsafe_code)]

mod config;
mod entry;
mod error;
mod identity;
mod log;
mod memory;
mod node;
mod position;
mod scripts;
mod shared;
mod state;
mod tail;

pub use config::{MAX_BATCH, RedisConfig};
pub use error::{Error, ErrorKind, elide_password};
pub use identity::{Claim, ClaimToken, Identities, MAX_IDENTITY_LEN, Notice, Notices, Targeted};
pub use log::{LostReason, ReadAfter, RedisLog};
pub use memory::{MemoryConfig, MemoryLog};
pub use node::{Node, NodeConfig, NodeHealth, NodeSubscription, Resume};
pub use position::{Epoch, MAX_EPOCH_LEN, ParsePositionError, Position};
pub use shared::SharedLog;
pub use state::LinkState;
pub use tail::{Tail, TailFrom, TailItem};

/// The codec types this crate's API names.
pub use resse_codec::{Event, Text};
