//! The observable state of a link to Redis.

use std::time::Instant;

/// How a link to Redis is doing: the publishing connection
/// ([`RedisLog::state`](crate::RedisLog::state)), a tail
/// ([`Tail::state`](crate::Tail::state)), the control channel
/// ([`Identities::state`](crate::Identities::state)). Meant for a `/health`
/// endpoint: a link that is not [`LinkState::Connected`] means delivery
/// across nodes is stalled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Connecting for the first time.
    Connecting,
    /// The last operation on this link succeeded.
    Connected,
    /// The link failed; it is being re-established (with backoff) or, for the
    /// publishing connection, the next command will try again.
    Reconnecting {
        /// The failure that started this outage, with the URL (password
        /// elided).
        last_error: String,
        /// When the outage started.
        since: Instant,
        /// Attempts made so far in this outage.
        attempts: u32,
    },
}

impl LinkState {
    /// Whether the link is up.
    pub fn is_connected(&self) -> bool {
        matches!(self, Self::Connected)
    }

    /// The same state after one more failure `error`.
    pub(crate) fn failed(&self, error: String) -> Self {
        match self {
            Self::Reconnecting {
                since, attempts, ..
            } => Self::Reconnecting {
                last_error: error,
                since: *since,
                attempts: attempts.saturating_add(1),
            },
            _ => Self::Reconnecting {
                last_error: error,
                since: Instant::now(),
                attempts: 1,
            },
        }
    }
}

/// Records a failure on a watch channel, keeping the outage's start.
pub(crate) fn mark_failed(tx: &tokio::sync::watch::Sender<LinkState>, error: String) {
    tx.send_modify(|s| *s = s.failed(error));
}

/// Records success on a watch channel (without waking watchers if nothing
/// changed).
pub(crate) fn mark_connected(tx: &tokio::sync::watch::Sender<LinkState>) {
    tx.send_if_modified(|s| {
        if s.is_connected() {
            false
        } else {
            *s = LinkState::Connected;
            true
        }
    });
}
