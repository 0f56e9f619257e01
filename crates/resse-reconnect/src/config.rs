//! [`ReconnectConfig`], [`Jitter`] and [`ConfigError`].

use std::fmt;
use std::time::Duration;

use crate::VerdictTable;

/// How a delay is drawn: decorrelated jitter (the default), or a jittered
/// exponential step.
///
/// With `base` the base delay (the server's `retry:`, or the initial delay,
/// clamped into `[floor, ceiling]`), `cap = max(max_delay, base)`, `step`
/// the exponential step `min(base × multiplier^(k-1), cap)` of attempt `k`
/// (see [`ReconnectPolicy`](crate::ReconnectPolicy) for the whole formula),
/// `prev` the delay used for the previous attempt of the outage (`base` for
/// the first attempt) and `u` uniform in `[0, 1)` drawn from the seeded
/// generator, the delay is:
///
/// | jitter | delay | range |
/// | --- | --- | --- |
/// | [`Decorrelated(g)`](Self::Decorrelated) (default, `g = 2.5`) | `base + u·(hi - base)`, `hi = min(cap, g·max(prev, base))` | `[base, hi)` |
/// | [`None`](Self::None) | `step` | `step` |
/// | [`Spread(s)`](Self::Spread) | `step + u·step·s` | `[step, step·(1+s))` |
/// | [`Full`](Self::Full) | `u·step` | `[0, step)` |
/// | [`Equal`](Self::Equal) | `step/2 + u·step/2` | `[step/2, step)` |
///
/// (An empty range, `hi = base`, gives `base`.) Whatever the mode, a delay
/// is never shorter than the floor nor than a `Retry-After`: a range that
/// starts below that bound is shifted up to start at it, keeping its width
/// (so the clients stay spread).
///
/// # Why decorrelated jitter is the default
///
/// It never reconnects sooner than the base (so never sooner than the
/// server's `retry:` asked, which `Full` and `Equal` would), and it keeps a
/// herd spread out for the whole outage. Clients dropped together draw their
/// first delay over `[base, 2.5·base)`, and every later delay is drawn from
/// a range that depends on the client's own previous delay, so the clients
/// drift apart instead of moving in step: the attempt rate stays flat. An
/// exponential step with a small jitter instead sends the clients back in
/// synchronised waves, one per step, whose peaks decay only like `1/t`.
///
/// The `herd` test of this crate drops 10,000 clients (seeds 0 to 9,999) at
/// the same instant. When the server is back at once, the busiest 100 ms
/// window holds 3.6 % of the reconnections and 99 % of the clients stream
/// again within 2.49× the base delay (targets: 5 % and 3×). When the server
/// stays down for 30 s (attempts failing at once), no 100 ms window after
/// the first 5 s holds more than 1.51× the mean attempt rate of that period
/// (target: 2×). The previous default (1 s doubling, `Spread(1.0)`) gave
/// 10.4 % and 5.1×.
///
/// `Spread` keeps the exponential step (with the
/// [`multiplier`](crate::ReconnectConfig::multiplier)) and spreads each
/// delay above it; `None` is for tests and for clients that are alone.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: the delay is the step.
    None,
    /// Spread above the step: `step + uniform(0, step × s)`. `s` must be
    /// finite and non-negative.
    Spread(f64),
    /// "Full jitter": `uniform(0, step)`.
    Full,
    /// "Equal jitter": `step/2 + uniform(0, step/2)`.
    Equal,
    /// "Decorrelated jitter" (as in AWS's "Exponential Backoff and Jitter"),
    /// never below the base: `uniform(base, min(cap, g × max(prev, base)))`
    /// with `g` the growth factor, which must be finite and ≥ 1. The
    /// [`multiplier`](crate::ReconnectConfig::multiplier) does not apply: the
    /// delays grow by up to `g` per attempt, up to the cap.
    Decorrelated(f64),
}

impl Jitter {
    /// The growth factor of the default jitter, [`Decorrelated(2.5)`](Self::Decorrelated).
    pub const DEFAULT_GROWTH: f64 = 2.5;
}

impl Default for Jitter {
    /// `Decorrelated(2.5)`.
    fn default() -> Self {
        Self::Decorrelated(Self::DEFAULT_GROWTH)
    }
}

/// A configuration that [`ReconnectConfig::validate`] refused.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The floor is zero: `retry: 0` (or a zero initial delay) would let a
    /// client reconnect in a tight loop.
    ZeroFloor,
    /// The floor is above the ceiling.
    FloorAboveCeiling {
        /// The configured floor.
        floor: Duration,
        /// The configured ceiling.
        ceiling: Duration,
    },
    /// The multiplier is not a finite number ≥ 1 (a backoff must not shrink).
    InvalidMultiplier(f64),
    /// The [`Jitter::Spread`] factor is not a finite number ≥ 0.
    InvalidSpread(f64),
    /// The [`Jitter::Decorrelated`] growth factor is not a finite number ≥ 1
    /// (the range a delay is drawn from must not shrink below the base).
    InvalidGrowth(f64),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroFloor => f.write_str("the delay floor must not be zero"),
            Self::FloorAboveCeiling { floor, ceiling } => write!(
                f,
                "the delay floor ({floor:?}) is above the ceiling ({ceiling:?})"
            ),
            Self::InvalidMultiplier(m) => {
                write!(
                    f,
                    "the backoff multiplier must be finite and at least 1, not {m}"
                )
            }
            Self::InvalidSpread(s) => {
                write!(
                    f,
                    "the jitter spread must be finite and not negative, not {s}"
                )
            }
            Self::InvalidGrowth(g) => {
                write!(
                    f,
                    "the jitter growth factor must be finite and at least 1, not {g}"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Configuration of a [`ReconnectPolicy`](crate::ReconnectPolicy): backoff,
/// jitter, limits and the response verdict table.
///
/// Chainable by-value setters; getters are named `get_*`. Checked by
/// [`validate`](Self::validate) (which
/// [`ReconnectPolicy::new`](crate::ReconnectPolicy::new) calls).
///
/// ```
/// use std::time::Duration;
/// use resse_reconnect::{Jitter, ReconnectConfig, VerdictTable};
///
/// let config = ReconnectConfig::default()
///     .seed(0x5eed)                              // one seed per client!
///     .initial_delay(Duration::from_millis(500))
///     .max_delay(Duration::from_secs(60))
///     .jitter(Jitter::Full)
///     .max_attempts(Some(10))
///     .verdicts(VerdictTable::strict());
/// config.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectConfig {
    pub(crate) seed: u64,
    pub(crate) initial_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) multiplier: f64,
    pub(crate) jitter: Jitter,
    pub(crate) floor: Duration,
    pub(crate) ceiling: Duration,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) min_healthy: Duration,
    pub(crate) max_redirects: u32,
    pub(crate) verdicts: VerdictTable,
    pub(crate) stop_on_clean_end: bool,
}

impl ReconnectConfig {
    /// Default [`initial_delay`](Self::initial_delay): 2 s.
    pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(2);
    /// Default [`max_delay`](Self::max_delay): 30 s.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
    /// Default [`multiplier`](Self::multiplier): 2 (used by the exponential
    /// jitter modes, not by the default [`Jitter::Decorrelated`]).
    pub const DEFAULT_MULTIPLIER: f64 = 2.0;
    /// Default [`floor`](Self::floor): 100 ms.
    pub const DEFAULT_FLOOR: Duration = Duration::from_millis(100);
    /// Default [`ceiling`](Self::ceiling): 1 hour.
    pub const DEFAULT_CEILING: Duration = Duration::from_secs(3600);
    /// Default [`min_healthy`](Self::min_healthy): 10 s.
    pub const DEFAULT_MIN_HEALTHY: Duration = Duration::from_secs(10);
    /// Default [`max_redirects`](Self::max_redirects): 20, fetch's limit.
    pub const DEFAULT_MAX_REDIRECTS: u32 = 20;

    resse_builder::field_methods! {
        /// Seeds the jitter generator (default 0).
        ///
        /// **Give every client its own seed** (e.g. from the OS random source in
        /// the adapter, or a hash of a client id): clients with the same seed
        /// draw the same jitter and come back together, which is what jitter is
        /// for preventing. Tests pass fixed seeds and get exact, reproducible
        /// delays.
        pub fn seed(mut self, seed: u64) -> Self;

        /// The base delay before the first reconnection, used until the server
        /// sends `retry:` (default 2 s). Clamped into `[floor, ceiling]`. No
        /// delay is shorter than the base (with the default jitter, `None` or
        /// `Spread`); with the default jitter, clients dropped together come
        /// back over `[base, 2.5·base)`.
        pub fn initial_delay(mut self, d: Duration) -> Self;

        /// Caps the growth of the delays (default 30 s): the exponential step,
        /// or the upper end of the [`Jitter::Decorrelated`] range. The cap never
        /// pushes a delay below its base, so a server's `retry:` above it is
        /// still honoured.
        pub fn max_delay(mut self, d: Duration) -> Self;

        /// Growth factor of the exponential step per failed attempt (default 2;
        /// must be finite and ≥ 1; 1 means a constant delay). Used by
        /// [`Jitter::None`], [`Spread`](Jitter::Spread), [`Full`](Jitter::Full)
        /// and [`Equal`](Jitter::Equal); [`Jitter::Decorrelated`] has its own
        /// growth factor.
        pub fn multiplier(mut self, m: f64) -> Self;

        /// How delays are drawn (default [`Jitter::Decorrelated(2.5)`](Jitter::Decorrelated)).
        pub fn jitter(mut self, jitter: Jitter) -> Self;

        /// The shortest delay ever chosen (default 100 ms; must not be zero).
        ///
        /// It turns `retry: 0` (or a zero initial delay) into a short wait rather
        /// than a tight reconnect loop. 100 ms is imperceptible next to a
        /// reconnection (a TCP and TLS handshake, often across an ocean, costs
        /// about as much) yet bounds a misbehaving server to ten attempts a
        /// second per client before the exponential growth kicks in.
        pub fn floor(mut self, d: Duration) -> Self;

        /// The largest base delay and `Retry-After` honoured (default 1 hour):
        /// larger `retry:` and `Retry-After` values (a typo, a unit mistake, a
        /// hostile server) are clamped to it.
        pub fn ceiling(mut self, d: Duration) -> Self;

        /// Gives up after this many consecutive reconnection attempts (default
        /// `None`: never). `Some(0)` never reconnects.
        pub fn max_attempts(mut self, n: Option<u32>) -> Self;

        /// Gives up rather than schedule a reconnection later than this long
        /// after the first failure of an outage (default `None`: never).
        pub fn max_elapsed(mut self, d: Option<Duration>) -> Self;

        /// How long a stream must stay open for the outage to count as over
        /// even without an event (default 10 s). A stream that dispatched an
        /// event ends the outage however short it was
        /// ([`ReconnectPolicy::on_progress`](crate::ReconnectPolicy::on_progress)).
        /// Only then do the attempt count, the backoff step and the elapsed-time
        /// clock start again from the beginning; a server that accepts and
        /// closes without an event keeps the client backing off. `ZERO` resets
        /// on every successful open (the plain WHATWG behaviour).
        pub fn min_healthy(mut self, d: Duration) -> Self;

        /// How many redirects in a row are followed before failing (default 20,
        /// as in fetch).
        pub fn max_redirects(mut self, n: u32) -> Self;

        /// What each response status means (default [`VerdictTable::default()`];
        /// [`VerdictTable::strict()`] behaves exactly as the WHATWG spec says).
        pub fn verdicts(mut self, table: VerdictTable) -> Self;

        /// Whether a stream that ends cleanly at an event boundary
        /// ([`Cause::EndOfBodyClean`](crate::Cause::EndOfBodyClean)) means "done"
        /// rather than "reconnect" (default `false`, as the spec says). Some APIs
        /// (LLM token streams, for instance) end a finished stream that way.
        pub fn stop_on_clean_end(mut self, yes: bool) -> Self;

        /// The jitter seed.
        pub fn get_seed(&self) -> u64 = self.seed;
        /// The base delay used until the server sends `retry:`.
        pub fn get_initial_delay(&self) -> Duration = self.initial_delay;
        /// The cap on the delays' growth.
        pub fn get_max_delay(&self) -> Duration = self.max_delay;
        /// The step's growth factor.
        pub fn get_multiplier(&self) -> f64 = self.multiplier;
        /// The jitter mode.
        pub fn get_jitter(&self) -> Jitter = self.jitter;
        /// The shortest delay.
        pub fn get_floor(&self) -> Duration = self.floor;
        /// The largest base delay and `Retry-After` honoured.
        pub fn get_ceiling(&self) -> Duration = self.ceiling;
        /// The attempt limit.
        pub fn get_max_attempts(&self) -> Option<u32> = self.max_attempts;
        /// The elapsed-time limit.
        pub fn get_max_elapsed(&self) -> Option<Duration> = self.max_elapsed;
        /// The uptime after which an outage counts as over.
        pub fn get_min_healthy(&self) -> Duration = self.min_healthy;
        /// The redirect limit.
        pub fn get_max_redirects(&self) -> u32 = self.max_redirects;
        /// The verdict table.
        pub fn get_verdicts(&self) -> &VerdictTable = &self.verdicts;
        /// Whether a clean end of stream stops.
        pub fn get_stop_on_clean_end(&self) -> bool = self.stop_on_clean_end;
    }

    /// Checks the configuration: a non-zero floor not above the ceiling, a
    /// finite multiplier ≥ 1, a finite spread ≥ 0, a finite decorrelated
    /// growth factor ≥ 1. Nothing else can fail.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.floor.is_zero() {
            return Err(ConfigError::ZeroFloor);
        }
        if self.floor > self.ceiling {
            return Err(ConfigError::FloorAboveCeiling {
                floor: self.floor,
                ceiling: self.ceiling,
            });
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(ConfigError::InvalidMultiplier(self.multiplier));
        }
        match self.jitter {
            Jitter::Spread(s) if !(s.is_finite() && s >= 0.0) => Err(ConfigError::InvalidSpread(s)),
            Jitter::Decorrelated(g) if !(g.is_finite() && g >= 1.0) => {
                Err(ConfigError::InvalidGrowth(g))
            }
            _ => Ok(()),
        }
    }
}

impl Default for ReconnectConfig {
    /// Seed 0, 2 s initial delay, `Decorrelated(2.5)` jitter up to 30 s
    /// (multiplier 2 for the other jitter modes), 100 ms floor, 1 h ceiling, no attempt or time limit, 10 s to count as
    /// healthy, 20 redirects, the default [`VerdictTable`], reconnect after a
    /// clean end.
    fn default() -> Self {
        Self {
            seed: 0,
            initial_delay: Self::DEFAULT_INITIAL_DELAY,
            max_delay: Self::DEFAULT_MAX_DELAY,
            multiplier: Self::DEFAULT_MULTIPLIER,
            jitter: Jitter::default(),
            floor: Self::DEFAULT_FLOOR,
            ceiling: Self::DEFAULT_CEILING,
            max_attempts: None,
            max_elapsed: None,
            min_healthy: Self::DEFAULT_MIN_HEALTHY,
            max_redirects: Self::DEFAULT_MAX_REDIRECTS,
            verdicts: VerdictTable::default(),
            stop_on_clean_end: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(ReconnectConfig::default().validate(), Ok(()));
    }

    #[test]
    fn default_is_decorrelated_from_two_seconds() {
        let c = ReconnectConfig::default();
        assert_eq!(c.get_jitter(), Jitter::Decorrelated(2.5));
        assert_eq!(
            Jitter::default(),
            Jitter::Decorrelated(Jitter::DEFAULT_GROWTH)
        );
        assert_eq!(c.get_initial_delay(), Duration::from_secs(2));
        assert_eq!(c.get_max_delay(), Duration::from_secs(30));
    }

    #[test]
    fn invalid_configs() {
        let base = ReconnectConfig::default;
        assert_eq!(
            base().floor(Duration::ZERO).validate(),
            Err(ConfigError::ZeroFloor)
        );
        assert_eq!(
            base()
                .floor(Duration::from_secs(2))
                .ceiling(Duration::from_secs(1))
                .validate(),
            Err(ConfigError::FloorAboveCeiling {
                floor: Duration::from_secs(2),
                ceiling: Duration::from_secs(1)
            })
        );
        for m in [0.5, -1.0, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(
                    base().multiplier(m).validate(),
                    Err(ConfigError::InvalidMultiplier(_))
                ),
                "{m}"
            );
        }
        for s in [-0.1, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(
                    base().jitter(Jitter::Spread(s)).validate(),
                    Err(ConfigError::InvalidSpread(_))
                ),
                "{s}"
            );
        }
        for g in [0.99, 0.0, -2.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(
                matches!(
                    base().jitter(Jitter::Decorrelated(g)).validate(),
                    Err(ConfigError::InvalidGrowth(_))
                ),
                "{g}"
            );
        }
        assert_eq!(base().jitter(Jitter::Decorrelated(1.0)).validate(), Ok(()));
        assert_eq!(base().multiplier(1.0).validate(), Ok(()));
        assert_eq!(base().jitter(Jitter::Spread(0.0)).validate(), Ok(()));
        let equal = Duration::from_secs(5);
        assert_eq!(base().floor(equal).ceiling(equal).validate(), Ok(()));
    }

    #[test]
    fn error_messages_are_lowercase_without_period() {
        for e in [
            ConfigError::ZeroFloor,
            ConfigError::InvalidMultiplier(0.5),
            ConfigError::InvalidSpread(-1.0),
            ConfigError::InvalidGrowth(0.5),
            ConfigError::FloorAboveCeiling {
                floor: Duration::from_secs(2),
                ceiling: Duration::from_secs(1),
            },
        ] {
            let msg = e.to_string();
            assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
        }
    }

    #[test]
    fn setters_and_getters_round_trip() {
        let c = ReconnectConfig::default()
            .seed(9)
            .initial_delay(Duration::from_millis(3))
            .max_delay(Duration::from_millis(4))
            .multiplier(1.5)
            .jitter(Jitter::Equal)
            .floor(Duration::from_millis(1))
            .ceiling(Duration::from_millis(5))
            .max_attempts(Some(6))
            .max_elapsed(Some(Duration::from_millis(7)))
            .min_healthy(Duration::from_millis(8))
            .max_redirects(9)
            .verdicts(VerdictTable::strict())
            .stop_on_clean_end(true);
        assert_eq!(c.get_seed(), 9);
        assert_eq!(c.get_initial_delay(), Duration::from_millis(3));
        assert_eq!(c.get_max_delay(), Duration::from_millis(4));
        assert_eq!(c.get_multiplier(), 1.5);
        assert_eq!(c.get_jitter(), Jitter::Equal);
        assert_eq!(c.get_floor(), Duration::from_millis(1));
        assert_eq!(c.get_ceiling(), Duration::from_millis(5));
        assert_eq!(c.get_max_attempts(), Some(6));
        assert_eq!(c.get_max_elapsed(), Some(Duration::from_millis(7)));
        assert_eq!(c.get_min_healthy(), Duration::from_millis(8));
        assert_eq!(c.get_max_redirects(), 9);
        assert_eq!(c.get_verdicts(), &VerdictTable::strict());
        assert!(c.get_stop_on_clean_end());
    }
}
