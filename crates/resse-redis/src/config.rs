//! Every limit of the crate, in one builder.

use std::time::Duration;

use crate::error::{Error, ErrorKind, elide_password};

/// Settings of a [`RedisLog`](crate::RedisLog): where Redis is, which stream,
/// and every bound. Setters take `self` and return it; getters are `get_*`.
///
/// ```
/// use std::time::Duration;
/// use resse_redis::RedisConfig;
/// let config = RedisConfig::new("redis://127.0.0.1:6379/")
///     .stream("prices")
///     .max_len(50_000)
///     .ttl(Some(Duration::from_secs(3600)));
/// assert_eq!(config.get_max_len(), 50_000);
/// ```
#[derive(Clone, Debug)]
pub struct RedisConfig {
    url: String,
    stream: String,
    key_prefix: String,
    max_len: u64,
    ttl: Option<Duration>,
    max_read_batch: usize,
    tail_batch: usize,
    tail_block: Duration,
    tail_buffer: usize,
    connect_timeout: Duration,
    response_timeout: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    node_id: Option<String>,
    notice_buffer: usize,
}

/// Largest accepted `max_len`, `max_read_batch` and `tail_batch` (a Lua
/// reply or an `XREAD` reply of that many entries is held in memory at once).
pub const MAX_BATCH: usize = 100_000;

impl RedisConfig {
    /// Defaults for Redis at `url` (`redis://[:password@]host[:port][/db]`),
    /// stream `events`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: "events".to_owned(),
            key_prefix: "resse:".to_owned(),
            max_len: 10_000,
            ttl: None,
            max_read_batch: 1_000,
            tail_batch: 512,
            tail_block: Duration::from_secs(2),
            tail_buffer: 1_024,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            node_id: None,
            notice_buffer: 1_024,
        }
    }

    /// The stream name (default `events`): 1 to 200 characters of
    /// `[A-Za-z0-9_.-]`. Its keys are `{prefix}{{{stream}}}:log` and
    /// `{prefix}{{{stream}}}:meta` (one Redis Cluster hash slot).
    #[must_use]
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// Prefix of every key and channel (default `resse:`), at most 100
    /// characters without `{`, `}` or whitespace.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    resse_builder::field_methods! {
        /// Entries the log keeps (default 10 000, 1 to [`MAX_BATCH`] × 1000): an
        /// exact `XADD MAXLEN`, so positions older than the last `max_len`
        /// events are lost.
        #[must_use]
        pub fn max_len(mut self, entries: u64) -> Self;

        /// Time to live of the log after its last publish (default `None`: kept
        /// until trimmed). Rounded up to whole seconds. When it runs out, the
        /// meta hash goes too, and the next publish starts a new epoch.
        #[must_use]
        pub fn ttl(mut self, ttl: Option<Duration>) -> Self;

        /// Largest batch one [`RedisLog::read_after`](crate::RedisLog::read_after)
        /// returns (default 1 000, 1 to [`MAX_BATCH`]); a larger request is cut
        /// to it.
        #[must_use]
        pub fn max_read_batch(mut self, entries: usize) -> Self;

        /// `XREAD COUNT` of the tail (default 512, 1 to [`MAX_BATCH`]).
        #[must_use]
        pub fn tail_batch(mut self, entries: usize) -> Self;

        /// `XREAD BLOCK` of the tail (default 2 s, 1 ms to 60 s). When a block
        /// ends with nothing read, the tail checks the log's epoch and head, so
        /// this is also how long a flushed Redis can go unnoticed while idle.
        #[must_use]
        pub fn tail_block(mut self, block: Duration) -> Self;

        /// Items a tail holds for its reader (default 1 024, at least 1); the
        /// tail stops reading Redis while it is full.
        #[must_use]
        pub fn tail_buffer(mut self, items: usize) -> Self;

        /// Time allowed to open a connection (default 2 s, at least 1 ms).
        #[must_use]
        pub fn connect_timeout(mut self, timeout: Duration) -> Self;

        /// Time allowed for a reply on the shared connection (default 2 s, at
        /// least 1 ms). The tail's connection waits `tail_block` plus this.
        #[must_use]
        pub fn response_timeout(mut self, timeout: Duration) -> Self;
    }

    /// Reconnect delays of the tail and the control channel: from `min`,
    /// doubling per failed attempt up to `max`, each with up to 25% random
    /// jitter (defaults 100 ms and 5 s; `min` at least 1 ms, `max >= min`).
    #[must_use]
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max;
        self
    }

    /// This node's name in identity claims and its control channel (default:
    /// 16 random hex digits per [`RedisLog`](crate::RedisLog)); 1 to 64
    /// characters of `[A-Za-z0-9_-]`. Two live nodes must not share one.
    #[must_use]
    pub fn node_id(mut self, id: impl Into<String>) -> Self {
        self.node_id = Some(id.into());
        self
    }

    resse_builder::field_methods! {
        /// Notices the control channel holds for its reader (default 1 024, at
        /// least 1).
        #[must_use]
        pub fn notice_buffer(mut self, items: usize) -> Self;

        /// The Redis URL as given (it may hold a password: log
        /// [`elide_password`] of it instead).
        pub fn get_url(&self) -> &str = &self.url;
        /// The stream name.
        pub fn get_stream(&self) -> &str = &self.stream;
        /// The key prefix.
        pub fn get_key_prefix(&self) -> &str = &self.key_prefix;
        /// Entries the log keeps.
        pub fn get_max_len(&self) -> u64 = self.max_len;
        /// The log's time to live after its last publish.
        pub fn get_ttl(&self) -> Option<Duration> = self.ttl;
        /// Largest `read_after` batch.
        pub fn get_max_read_batch(&self) -> usize = self.max_read_batch;
        /// `XREAD COUNT` of the tail.
        pub fn get_tail_batch(&self) -> usize = self.tail_batch;
        /// `XREAD BLOCK` of the tail.
        pub fn get_tail_block(&self) -> Duration = self.tail_block;
        /// Items a tail holds for its reader.
        pub fn get_tail_buffer(&self) -> usize = self.tail_buffer;
        /// Connect timeout.
        pub fn get_connect_timeout(&self) -> Duration = self.connect_timeout;
        /// Response timeout of the shared connection.
        pub fn get_response_timeout(&self) -> Duration = self.response_timeout;
    }

    /// Reconnect backoff bounds `(min, max)`.
    pub fn get_backoff(&self) -> (Duration, Duration) {
        (self.backoff_min, self.backoff_max)
    }
    /// The node id if one was set.
    pub fn get_node_id(&self) -> Option<&str> {
        self.node_id.as_deref()
    }

    resse_builder::field_methods! {
        /// Notices the control channel holds for its reader.
        pub fn get_notice_buffer(&self) -> usize = self.notice_buffer;
    }

    /// Checks every setting; the message says which and what is accepted.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |msg: String| {
            Err(Error::new(
                ErrorKind::Config,
                &elide_password(&self.url),
                msg,
            ))
        };
        let name_ok = |s: &str, max: usize, extra: &[u8]| {
            !s.is_empty()
                && s.len() <= max
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        };
        if !name_ok(&self.stream, 200, b"_.-") {
            return bad(format!(
                "stream {:?}: expected 1 to 200 characters of [A-Za-z0-9_.-]",
                self.stream
            ));
        }
        if self.key_prefix.len() > 100
            || self
                .key_prefix
                .chars()
                .any(|c| c == '{' || c == '}' || c.is_whitespace())
        {
            return bad(format!(
                "key prefix {:?}: expected at most 100 characters without braces or whitespace",
                self.key_prefix
            ));
        }
        if let Some(node) = &self.node_id {
            if !name_ok(node, 64, b"_-") {
                return bad(format!(
                    "node id {node:?}: expected 1 to 64 characters of [A-Za-z0-9_-]"
                ));
            }
        }
        let max_len_cap = (MAX_BATCH as u64) * 1000;
        if self.max_len == 0 || self.max_len > max_len_cap {
            return bad(format!(
                "max_len {}: expected 1 to {max_len_cap}",
                self.max_len
            ));
        }
        for (name, v) in [
            ("max_read_batch", self.max_read_batch),
            ("tail_batch", self.tail_batch),
        ] {
            if v == 0 || v > MAX_BATCH {
                return bad(format!("{name} {v}: expected 1 to {MAX_BATCH}"));
            }
        }
        if self.tail_buffer == 0 || self.notice_buffer == 0 {
            return bad("tail_buffer and notice_buffer: expected at least 1".to_owned());
        }
        let ms = Duration::from_millis(1);
        if self.tail_block < ms || self.tail_block > Duration::from_secs(60) {
            return bad(format!(
                "tail_block {:?}: expected 1 ms to 60 s",
                self.tail_block
            ));
        }
        if self.connect_timeout < ms || self.response_timeout < ms || self.backoff_min < ms {
            return bad(
                "connect_timeout, response_timeout and the backoff minimum: expected at least 1 ms"
                    .to_owned(),
            );
        }
        if self.backoff_max < self.backoff_min {
            return bad(format!(
                "backoff {:?}..{:?}: expected max >= min",
                self.backoff_min, self.backoff_max
            ));
        }
        if let Some(ttl) = self.ttl {
            if ttl.is_zero() {
                return bad("ttl: expected None or at least 1 s".to_owned());
            }
        }
        Ok(())
    }

    /// The TTL in whole seconds, rounded up; 0 for none.
    pub(crate) fn ttl_secs(&self) -> u64 {
        self.ttl
            .map_or(0, |t| t.as_secs() + u64::from(t.subsec_nanos() > 0))
    }

    /// Delay before reconnect attempt `attempt` (1-based).
    pub(crate) fn backoff_delay(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(20);
        let base = self
            .backoff_min
            .saturating_mul(1u32 << shift)
            .min(self.backoff_max);
        let jitter_range = base.as_nanos() as u64 / 4;
        let jitter = if jitter_range == 0 {
            0
        } else {
            crate::position::random_u64() % jitter_range
        };
        base + Duration::from_nanos(jitter)
    }

    pub(crate) fn stream_key(&self) -> String {
        format!("{}{{{}}}:log", self.key_prefix, self.stream)
    }
    pub(crate) fn meta_key(&self) -> String {
        format!("{}{{{}}}:meta", self.key_prefix, self.stream)
    }
    pub(crate) fn identity_key(&self, identity: &str) -> String {
        format!("{}{{{}}}:who:{identity}", self.key_prefix, self.stream)
    }
    pub(crate) fn node_channel_prefix(&self) -> String {
        format!("{}{{{}}}:node:", self.key_prefix, self.stream)
    }
}
