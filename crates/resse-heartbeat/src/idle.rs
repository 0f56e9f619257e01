//! The client-side idle watchdog.

use std::time::{Duration, Instant};

use crate::{clamp_period, saturating_add};

/// Configuration of an [`IdleWatchdog`].
///
/// ```
/// use std::time::Duration;
/// use resse_heartbeat::IdleConfig;
///
/// let config = IdleConfig::default().timeout(Duration::from_secs(60));
/// assert_eq!(config.get_timeout(), Duration::from_secs(60));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdleConfig {
    timeout: Duration,
}

impl IdleConfig {
    /// The default timeout: 45 seconds, three times the [`KeepAlive`](crate::KeepAlive)
    /// default interval of 15 seconds, so two lost keep-alives plus network
    /// jitter do not kill a healthy connection.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(45);

    /// A configuration with the given timeout (raised to
    /// [`MIN_PERIOD`](crate::MIN_PERIOD) if shorter).
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout: clamp_period(timeout),
        }
    }

    /// Sets how long the connection may stay silent (no byte at all) before
    /// it is declared dead. Raised to [`MIN_PERIOD`](crate::MIN_PERIOD) if
    /// shorter.
    ///
    /// Pick it larger than the server's keep-alive interval, with margin: a
    /// server that sends a comment every 15 s is well served by 45 s.
    pub fn timeout(self, timeout: Duration) -> Self {
        Self::new(timeout)
    }

    /// The silence after which the connection is declared dead.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }
}

impl Default for IdleConfig {
    /// [`IdleConfig::DEFAULT_TIMEOUT`] (45 s).
    fn default() -> Self {
        Self::new(Self::DEFAULT_TIMEOUT)
    }
}

/// What [`IdleWatchdog::handle_timeout`] found.
///
/// Reports are edge-triggered: [`Liveness::Dead`] is returned exactly once
/// per silence; every other call returns [`Liveness::Alive`], meaning
/// "nothing new to act on" (use [`IdleWatchdog::is_dead`] for the level).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "a Dead connection must be dropped"]
pub enum Liveness {
    /// No death to report: the deadline has not passed, or death was already
    /// reported, or the watchdog is disarmed.
    Alive,
    /// The connection has been silent for the configured timeout: drop it.
    /// Reported once; [`IdleWatchdog::reset`] re-arms the watchdog.
    Dead,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Watching; dead at `deadline` unless bytes arrive.
    Armed { deadline: Instant },
    /// Death was reported; waits for [`IdleWatchdog::reset`].
    Dead,
    /// Not watching (no connection).
    Disarmed,
}

/// Client-side idle watchdog: declares a connection dead after a silence.
///
/// Any received byte counts as a sign of life: events, `retry:` lines,
/// comments (the usual keep-alive), even a partial line or a single byte.
/// That way a slow, chunked event is never mistaken for a dead connection.
///
/// # Drive loop
///
/// * **Input**: [`on_bytes_received(now)`](Self::on_bytes_received) moves the
///   deadline to `now + timeout`.
/// * **Timer**: arm a timer at [`poll_timeout()`](Self::poll_timeout); when it
///   fires call [`handle_timeout(now)`](Self::handle_timeout). Calling it
///   early, late or repeatedly is harmless.
/// * **Lifecycle**: [`reset(now)`](Self::reset) arms it for a new connection;
///   [`disarm()`](Self::disarm) stops watching (e.g. while waiting to
///   reconnect).
///
/// ```
/// use std::time::{Duration, Instant};
/// use resse_heartbeat::{IdleConfig, IdleWatchdog, Liveness};
///
/// let t0 = Instant::now();
/// let ms = Duration::from_millis;
/// let mut idle = IdleWatchdog::new(t0, IdleConfig::new(ms(1000)));
///
/// idle.on_bytes_received(t0 + ms(400)); // half a line counts too
/// assert_eq!(idle.handle_timeout(t0 + ms(1399)), Liveness::Alive);
/// assert_eq!(idle.handle_timeout(t0 + ms(1400)), Liveness::Dead);
/// assert_eq!(idle.handle_timeout(t0 + ms(5000)), Liveness::Alive); // reported once
/// assert!(idle.is_dead());
///
/// idle.reset(t0 + ms(6000)); // new connection
/// assert_eq!(idle.poll_timeout(), Some(t0 + ms(7000)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct IdleWatchdog {
    config: IdleConfig,
    last_activity: Instant,
    state: State,
}

impl IdleWatchdog {
    /// An armed watchdog: the connection is dead at `now + timeout` unless
    /// bytes arrive first. Call it when the connection opens.
    pub fn new(now: Instant, config: IdleConfig) -> Self {
        Self {
            config,
            last_activity: now,
            state: State::Armed {
                deadline: saturating_add(now, config.timeout),
            },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IdleConfig {
        &self.config
    }

    /// The latest instant at which bytes arrived or the watchdog was
    /// (re-)armed.
    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    /// Whether death was reported and the watchdog awaits
    /// [`reset`](Self::reset).
    pub fn is_dead(&self) -> bool {
        self.state == State::Dead
    }

    /// Whether the watchdog is watching (has a deadline).
    pub fn is_armed(&self) -> bool {
        matches!(self.state, State::Armed { .. })
    }

    /// Notes that bytes arrived at `now`: any bytes, however few.
    ///
    /// Moves the deadline to `now + timeout` (an instant earlier than the
    /// last activity is ignored). Does nothing once the connection was
    /// declared dead or while disarmed: only [`reset`](Self::reset) re-arms.
    pub fn on_bytes_received(&mut self, now: Instant) {
        if let State::Armed { deadline } = &mut self.state {
            if now > self.last_activity {
                self.last_activity = now;
                *deadline = saturating_add(now, self.config.timeout);
            }
        }
    }

    /// The instant at which the connection will be declared dead, if no byte
    /// arrives before. `None` once dead or while disarmed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Armed { deadline } => Some(deadline),
            State::Dead | State::Disarmed => None,
        }
    }

    /// Checks the deadline at `now`.
    ///
    /// Returns [`Liveness::Dead`] exactly once, on the first call with
    /// `now >= deadline`; the watchdog then stays dead (no deadline) until
    /// [`reset`](Self::reset). Every other call returns [`Liveness::Alive`]
    /// and changes nothing, so early or spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) -> Liveness {
        match self.state {
            State::Armed { deadline } if now >= deadline => {
                self.state = State::Dead;
                Liveness::Dead
            }
            _ => Liveness::Alive,
        }
    }

    /// Re-arms the watchdog at `now` (a new connection opened): dead at
    /// `now + timeout` unless bytes arrive. Works in every state.
    pub fn reset(&mut self, now: Instant) {
        *self = Self::new(now, self.config);
    }

    /// Stops watching: no deadline, no death reports, bytes ignored, until
    /// [`reset`](Self::reset). Use it while no connection is open.
    pub fn disarm(&mut self) {
        self.state = State::Disarmed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn watchdog(timeout_ms: u64) -> (Instant, IdleWatchdog) {
        let t0 = Instant::now();
        (t0, IdleWatchdog::new(t0, IdleConfig::new(ms(timeout_ms))))
    }

    #[test]
    fn fires_exactly_at_the_deadline() {
        let (t0, mut w) = watchdog(1000);
        assert_eq!(w.poll_timeout(), Some(t0 + ms(1000)));
        assert_eq!(w.handle_timeout(t0 + ms(999)), Liveness::Alive);
        assert!(!w.is_dead());
        assert_eq!(w.handle_timeout(t0 + ms(1000)), Liveness::Dead);
        assert!(w.is_dead());
    }

    #[test]
    fn one_nanosecond_early_does_nothing() {
        let (t0, mut w) = watchdog(1000);
        let early = t0 + ms(1000) - Duration::from_nanos(1);
        assert_eq!(w.handle_timeout(early), Liveness::Alive);
        assert_eq!(w.poll_timeout(), Some(t0 + ms(1000)));
    }

    #[test]
    fn bytes_push_the_deadline() {
        let (t0, mut w) = watchdog(1000);
        w.on_bytes_received(t0 + ms(700));
        assert_eq!(w.poll_timeout(), Some(t0 + ms(1700)));
        assert_eq!(w.last_activity(), t0 + ms(700));
        assert_eq!(w.handle_timeout(t0 + ms(1000)), Liveness::Alive);
        assert_eq!(w.handle_timeout(t0 + ms(1699)), Liveness::Alive);
        assert_eq!(w.handle_timeout(t0 + ms(1700)), Liveness::Dead);
    }

    #[test]
    fn dead_is_reported_once() {
        let (t0, mut w) = watchdog(1000);
        assert_eq!(w.handle_timeout(t0 + ms(1500)), Liveness::Dead);
        assert_eq!(w.poll_timeout(), None);
        for later in [1500, 2000, 10_000] {
            assert_eq!(w.handle_timeout(t0 + ms(later)), Liveness::Alive);
        }
        assert!(w.is_dead());
    }

    #[test]
    fn bytes_after_death_do_not_revive() {
        let (t0, mut w) = watchdog(1000);
        assert_eq!(w.handle_timeout(t0 + ms(1000)), Liveness::Dead);
        w.on_bytes_received(t0 + ms(1100));
        assert!(w.is_dead());
        assert_eq!(w.poll_timeout(), None);
        assert_eq!(w.handle_timeout(t0 + ms(5000)), Liveness::Alive);
    }

    #[test]
    fn reset_rearms_after_death() {
        let (t0, mut w) = watchdog(1000);
        assert_eq!(w.handle_timeout(t0 + ms(1000)), Liveness::Dead);
        w.reset(t0 + ms(3000));
        assert!(!w.is_dead());
        assert!(w.is_armed());
        assert_eq!(w.poll_timeout(), Some(t0 + ms(4000)));
        assert_eq!(w.handle_timeout(t0 + ms(3999)), Liveness::Alive);
        assert_eq!(w.handle_timeout(t0 + ms(4000)), Liveness::Dead);
    }

    #[test]
    fn disarmed_never_fires_and_ignores_bytes() {
        let (t0, mut w) = watchdog(1000);
        w.disarm();
        assert!(!w.is_armed());
        assert_eq!(w.poll_timeout(), None);
        w.on_bytes_received(t0 + ms(10));
        assert_eq!(w.handle_timeout(t0 + ms(100_000)), Liveness::Alive);
        assert!(!w.is_dead());
        w.reset(t0 + ms(200_000));
        assert_eq!(w.poll_timeout(), Some(t0 + ms(201_000)));
    }

    #[test]
    fn instants_going_backwards_are_ignored() {
        let (t0, mut w) = watchdog(1000);
        w.on_bytes_received(t0 + ms(500));
        w.on_bytes_received(t0 + ms(200));
        assert_eq!(w.poll_timeout(), Some(t0 + ms(1500)));
        assert_eq!(w.last_activity(), t0 + ms(500));
    }

    #[test]
    fn zero_timeout_is_raised_to_one_millisecond() {
        let (t0, mut w) = watchdog(0);
        assert_eq!(w.config().get_timeout(), crate::MIN_PERIOD);
        assert_eq!(w.handle_timeout(t0), Liveness::Alive);
        assert_eq!(w.handle_timeout(t0 + ms(1)), Liveness::Dead);
    }

    #[test]
    fn default_timeout() {
        assert_eq!(
            IdleConfig::default().get_timeout(),
            IdleConfig::DEFAULT_TIMEOUT
        );
        assert_eq!(
            IdleConfig::default().timeout(ms(5)).get_timeout(),
            ms(5),
            "setter overrides"
        );
    }

    #[test]
    fn huge_timeout_does_not_panic() {
        let t0 = Instant::now();
        let mut w = IdleWatchdog::new(t0, IdleConfig::new(Duration::MAX));
        let deadline = w.poll_timeout().expect("armed");
        assert!(deadline > t0);
        assert_eq!(w.handle_timeout(t0 + ms(10)), Liveness::Alive);
    }
}
