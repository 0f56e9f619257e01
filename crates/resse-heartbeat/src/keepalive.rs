//! The server-side keep-alive scheduler.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use crate::{clamp_period, saturating_add};

/// What to send as a keep-alive: plain data for the server's encoder.
///
/// This crate does not depend on an encoder; an adapter turns the message
/// into bytes, e.g. with `resse_codec::Encoder::comment` for
/// [`KeepAliveMessage::Comment`] or `Encoder::encode` for
/// [`KeepAliveMessage::Event`].
///
/// ```
/// use resse_heartbeat::KeepAliveMessage;
///
/// assert_eq!(KeepAliveMessage::default(), KeepAliveMessage::comment("keep-alive"));
/// let ping = KeepAliveMessage::event("ping", "");
/// assert!(matches!(ping, KeepAliveMessage::Event { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeepAliveMessage {
    /// A comment line (`:` followed by the text). Clients ignore comments, so
    /// this keeps the connection busy without surfacing anything to the
    /// application. The usual choice, and the default (`": keep-alive"`).
    Comment(Cow<'static, str>),
    /// A named event, for clients that want to observe heartbeats (e.g. a
    /// browser `EventSource`, which never exposes comments). The event type
    /// must not contain CR or LF, or the encoder will refuse it.
    Event {
        /// The event type (the `event:` field), e.g. `"ping"`.
        event_type: Cow<'static, str>,
        /// The event data (the `data:` field); may be empty.
        data: Cow<'static, str>,
    },
}

impl KeepAliveMessage {
    /// A comment keep-alive with the given text.
    pub fn comment(text: impl Into<Cow<'static, str>>) -> Self {
        Self::Comment(text.into())
    }

    /// A named-event keep-alive.
    pub fn event(
        event_type: impl Into<Cow<'static, str>>,
        data: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Event {
            event_type: event_type.into(),
            data: data.into(),
        }
    }
}

impl Default for KeepAliveMessage {
    /// The comment `keep-alive` (on the wire: `: keep-alive`).
    fn default() -> Self {
        Self::comment("keep-alive")
    }
}

/// Configuration of a [`KeepAlive`].
///
/// ```
/// use std::time::Duration;
/// use resse_heartbeat::{KeepAliveConfig, KeepAliveMessage};
///
/// let config = KeepAliveConfig::default()
///     .interval(Duration::from_secs(20))
///     .message(KeepAliveMessage::event("heartbeat", ""));
/// assert_eq!(config.get_interval(), Duration::from_secs(20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeepAliveConfig {
    interval: Duration,
    message: KeepAliveMessage,
}

impl KeepAliveConfig {
    /// The default interval: 15 seconds, well below common proxy and load
    /// balancer idle timeouts (nginx's `proxy_read_timeout` and AWS ALB's idle
    /// timeout default to 60 s), and a third of the
    /// [`IdleConfig`](crate::IdleConfig) default timeout.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

    /// A configuration with the given interval (raised to
    /// [`MIN_PERIOD`](crate::MIN_PERIOD) if shorter) and the default message.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval: clamp_period(interval),
            message: KeepAliveMessage::default(),
        }
    }

    /// Sets how long the stream may stay quiet before a keep-alive is due.
    /// Raised to [`MIN_PERIOD`](crate::MIN_PERIOD) if shorter.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = clamp_period(interval);
        self
    }

    /// Sets what to send (default: the comment `keep-alive`).
    pub fn message(mut self, message: KeepAliveMessage) -> Self {
        self.message = message;
        self
    }

    /// The quiet time after which a keep-alive is due.
    pub fn get_interval(&self) -> Duration {
        self.interval
    }

    /// What is sent as a keep-alive.
    pub fn get_message(&self) -> &KeepAliveMessage {
        &self.message
    }
}

impl Default for KeepAliveConfig {
    /// [`KeepAliveConfig::DEFAULT_INTERVAL`] (15 s) and a `keep-alive` comment.
    fn default() -> Self {
        Self::new(Self::DEFAULT_INTERVAL)
    }
}

/// Server-side keep-alive scheduler: asks for a keep-alive message whenever
/// the stream has been quiet for the interval.
///
/// # Drive loop
///
/// * **Input**: [`on_bytes_sent(now)`](Self::on_bytes_sent) after every real
///   write (events, `retry:` lines, anything) moves the deadline to
///   `now + interval`; a stream that is busy never gets a keep-alive.
/// * **Timer**: arm a timer at [`poll_timeout()`](Self::poll_timeout); when it
///   fires call [`handle_timeout(now)`](Self::handle_timeout). It returns the
///   message to send once per quiet interval and counts it as sent at `now`
///   (calling `on_bytes_sent` for it as well is harmless). Early or repeated
///   calls return `None`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use resse_heartbeat::{KeepAlive, KeepAliveConfig, KeepAliveMessage};
///
/// let t0 = Instant::now();
/// let s = Duration::from_secs;
/// let mut ka = KeepAlive::new(t0, KeepAliveConfig::new(s(15)));
///
/// ka.on_bytes_sent(t0 + s(10)); // a real event went out
/// assert_eq!(ka.handle_timeout(t0 + s(15)), None); // not quiet long enough
/// assert_eq!(ka.handle_timeout(t0 + s(25)), Some(KeepAliveMessage::comment("keep-alive")));
/// assert_eq!(ka.handle_timeout(t0 + s(25)), None); // once per interval
/// assert_eq!(ka.poll_timeout(), Some(t0 + s(40)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeepAlive {
    config: KeepAliveConfig,
    last_sent: Instant,
    deadline: Instant,
}

impl KeepAlive {
    /// A scheduler for a stream that starts at `now` (the response head
    /// counts as sent): the first keep-alive is due at `now + interval`.
    pub fn new(now: Instant, config: KeepAliveConfig) -> Self {
        let deadline = saturating_add(now, config.interval);
        Self {
            config,
            last_sent: now,
            deadline,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &KeepAliveConfig {
        &self.config
    }

    /// The latest instant at which something was sent (or the scheduler was
    /// created, or a keep-alive was handed out).
    pub fn last_sent(&self) -> Instant {
        self.last_sent
    }

    /// Notes that bytes were written at `now`; the next keep-alive is due at
    /// `now + interval`. An instant earlier than the last send is ignored.
    pub fn on_bytes_sent(&mut self, now: Instant) {
        if now > self.last_sent {
            self.last_sent = now;
            self.deadline = saturating_add(now, self.config.interval);
        }
    }

    /// When the next keep-alive is due, if nothing is sent before. Always
    /// `Some`: the scheduler is armed for the life of the stream.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.deadline)
    }

    /// Checks the deadline at `now`.
    ///
    /// On the first call with `now >= deadline`, returns the message to send
    /// and counts it as sent at `now` (the next one is due at
    /// `now + interval`). Otherwise returns `None` and changes nothing.
    #[must_use = "a returned keep-alive should be sent"]
    pub fn handle_timeout(&mut self, now: Instant) -> Option<KeepAliveMessage> {
        if now < self.deadline {
            return None;
        }
        self.last_sent = now;
        self.deadline = saturating_add(now, self.config.interval);
        Some(self.config.message.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn keepalive(interval_ms: u64) -> (Instant, KeepAlive) {
        let t0 = Instant::now();
        (
            t0,
            KeepAlive::new(t0, KeepAliveConfig::new(ms(interval_ms))),
        )
    }

    #[test]
    fn due_exactly_after_interval() {
        let (t0, mut ka) = keepalive(15_000);
        assert_eq!(ka.poll_timeout(), Some(t0 + ms(15_000)));
        assert_eq!(ka.handle_timeout(t0 + ms(14_999)), None);
        assert_eq!(
            ka.handle_timeout(t0 + ms(15_000)),
            Some(KeepAliveMessage::default())
        );
        assert_eq!(ka.poll_timeout(), Some(t0 + ms(30_000)));
        assert_eq!(ka.last_sent(), t0 + ms(15_000));
    }

    #[test]
    fn real_sends_postpone_keepalives() {
        let (t0, mut ka) = keepalive(1000);
        for at in [300, 900, 1800] {
            ka.on_bytes_sent(t0 + ms(at));
            assert_eq!(ka.poll_timeout(), Some(t0 + ms(at + 1000)));
        }
        assert_eq!(ka.handle_timeout(t0 + ms(2000)), None);
        assert_eq!(ka.handle_timeout(t0 + ms(2799)), None);
        assert!(ka.handle_timeout(t0 + ms(2800)).is_some());
    }

    #[test]
    fn one_keepalive_per_quiet_interval() {
        let (t0, mut ka) = keepalive(1000);
        // Called late: rescheduled from the actual call.
        assert!(ka.handle_timeout(t0 + ms(1250)).is_some());
        assert_eq!(ka.handle_timeout(t0 + ms(1250)), None);
        assert_eq!(ka.handle_timeout(t0 + ms(2249)), None);
        assert!(ka.handle_timeout(t0 + ms(2250)).is_some());
        // Three quiet intervals, polled exactly: three keep-alives.
        let mut sent = 0;
        let mut now = t0 + ms(2250);
        for _ in 0..3 {
            now = ka.poll_timeout().expect("always armed");
            if ka.handle_timeout(now).is_some() {
                sent += 1;
            }
        }
        assert_eq!(sent, 3);
        assert_eq!(now, t0 + ms(5250));
    }

    #[test]
    fn sending_the_keepalive_is_idempotent() {
        let (t0, mut ka) = keepalive(1000);
        assert!(ka.handle_timeout(t0 + ms(1000)).is_some());
        ka.on_bytes_sent(t0 + ms(1000));
        assert_eq!(ka.poll_timeout(), Some(t0 + ms(2000)));
    }

    #[test]
    fn configured_event_message() {
        let t0 = Instant::now();
        let config = KeepAliveConfig::default()
            .interval(ms(10))
            .message(KeepAliveMessage::event("heartbeat", "{}"));
        let mut ka = KeepAlive::new(t0, config);
        assert_eq!(
            ka.handle_timeout(t0 + ms(10)),
            Some(KeepAliveMessage::Event {
                event_type: "heartbeat".into(),
                data: "{}".into()
            })
        );
        assert_eq!(
            ka.config().get_message(),
            &KeepAliveMessage::event("heartbeat", String::from("{}"))
        );
    }

    #[test]
    fn zero_interval_cannot_spin() {
        let (t0, mut ka) = keepalive(0);
        assert_eq!(ka.config().get_interval(), crate::MIN_PERIOD);
        assert!(ka.handle_timeout(t0 + ms(1)).is_some());
        // Due again only after time passes.
        assert_eq!(ka.handle_timeout(t0 + ms(1)), None);
        assert!(ka.poll_timeout().expect("armed") > t0 + ms(1));
    }

    #[test]
    fn defaults() {
        let c = KeepAliveConfig::default();
        assert_eq!(c.get_interval(), KeepAliveConfig::DEFAULT_INTERVAL);
        assert_eq!(c.get_message(), &KeepAliveMessage::comment("keep-alive"));
    }

    #[test]
    fn instants_going_backwards_are_ignored() {
        let (t0, mut ka) = keepalive(1000);
        ka.on_bytes_sent(t0 + ms(500));
        ka.on_bytes_sent(t0 + ms(100));
        assert_eq!(ka.poll_timeout(), Some(t0 + ms(1500)));
    }
}
