//! [`Metrics`]: a snapshot for logs, dashboards and "reconnecting in..."
//! displays.

use std::time::{Duration, Instant};

use resse_codec::Text;
use resse_reconnect::{Cause, DelayReason};

use crate::ConnectionState;

/// A snapshot of a [`ClientSession`](crate::ClientSession), taken by
/// [`ClientSession::metrics(now)`](crate::ClientSession::metrics).
///
/// "This connection" counters start at zero with every
/// [`Action::Connect`](crate::Action::Connect) and keep their values after
/// it ends, until the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Where the session is.
    pub state: ConnectionState,
    /// The attempt number: of the connection being made while connecting,
    /// of the scheduled reconnection while waiting, else the reconnection
    /// attempts of the current outage (0 when healthy).
    pub attempt: u32,
    /// Connections requested since the session was created.
    pub connections: u64,
    /// While waiting: the delay chosen. Otherwise: the delay the next
    /// failure would get (from the policy's current state, without a
    /// `Retry-After`).
    pub next_delay: Duration,
    /// What set [`next_delay`](Self::next_delay)'s lower bound.
    pub next_delay_reason: DelayReason,
    /// While waiting: when the session reconnects.
    pub reconnect_at: Option<Instant>,
    /// Why the last connection or attempt ended (`None` before any ended).
    pub last_cause: Option<Cause>,
    /// Time since the last body byte (of any connection) up to the `now`
    /// given, `None` before any byte arrived.
    pub since_last_byte: Option<Duration>,
    /// The current last event id (empty: none).
    pub last_event_id: Text,
    /// Events received on this connection.
    pub events_received: u64,
    /// Body bytes received on this connection.
    pub bytes_received: u64,
    /// Events received since the session was created.
    pub total_events: u64,
    /// Body bytes received since the session was created.
    pub total_bytes: u64,
    /// Liveness probes sent since the session was created
    /// ([`SessionConfig::probe`](crate::SessionConfig::probe)).
    pub probes_sent: u64,
    /// Probes answered on the stream in time.
    pub probes_answered: u64,
    /// Probe side requests that failed (reported by the adapter; each counts
    /// only if its answer also misses the deadline).
    pub probes_failed: u64,
}
