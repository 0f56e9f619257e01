//! Positions in the shared log and their wire form, the SSE `id`.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest accepted epoch, in characters.
pub const MAX_EPOCH_LEN: usize = 32;

/// The generation of a stream's log: drawn at random when the log is created
/// (by the first publish, read or tail on an empty Redis) and kept in the
/// stream's meta hash. A new epoch means the previous log is gone (Redis was
/// flushed, lost its data or the keys expired), so every position of the old
/// epoch is lost.
///
/// An epoch is 1 to [`MAX_EPOCH_LEN`] characters of `[0-9a-z]`; this crate
/// draws 16 hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Epoch(Arc<str>);

impl Epoch {
    /// Checks `s` and makes it an epoch.
    pub fn new(s: &str) -> Result<Self, ParsePositionError> {
        if s.is_empty()
            || s.len() > MAX_EPOCH_LEN
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        {
            return Err(ParsePositionError(()));
        }
        Ok(Self(s.into()))
    }

    /// A fresh random epoch (16 hex digits from the OS-seeded hasher, the
    /// clock and a process counter): a candidate for a log that has none yet.
    pub fn random() -> Self {
        let word = random_u64();
        Self(format!("{word:016x}").into())
    }

    /// The epoch as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 64 random bits: std's `RandomState` is keyed from the OS random source
/// once per thread; the clock and a counter make each draw differ.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A place in the shared log: the event with `offset` in `epoch`. Offsets
/// count from 1 and are consecutive within an epoch; offset 0 is the place
/// before the first event.
///
/// On the wire (the SSE `id`) a position is `{epoch}-{offset}`, for example
/// `9f3c2a7b10d4e6f8-1042`. Clients must treat it as opaque; a server reads
/// it back with [`str::parse`] and learns from it alone whether the log still
/// covers it ([`RedisLog::read_after`](crate::RedisLog::read_after)).
///
/// ```
/// use resse_redis::Position;
/// let p: Position = "9f3c2a7b10d4e6f8-1042".parse().unwrap();
/// assert_eq!(p.offset(), 1042);
/// assert_eq!(p.epoch().as_str(), "9f3c2a7b10d4e6f8");
/// assert_eq!(p.to_string(), "9f3c2a7b10d4e6f8-1042");
/// assert!("1042".parse::<Position>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Position {
    epoch: Epoch,
    offset: u64,
}

impl Position {
    /// The position `offset` in `epoch`.
    pub fn new(epoch: Epoch, offset: u64) -> Self {
        Self { epoch, offset }
    }

    /// The log generation.
    pub fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    /// The offset within the epoch (0: before the first event).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The stream entry id Redis stores this position under (`{offset}-0`).
    pub(crate) fn entry_id(&self) -> String {
        format!("{}-0", self.offset)
    }
}

impl fmt::Debug for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Position({self})")
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.offset)
    }
}

impl FromStr for Position {
    type Err = ParsePositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (epoch, offset) = s.rsplit_once('-').ok_or(ParsePositionError(()))?;
        Ok(Self {
            epoch: Epoch::new(epoch)?,
            offset: parse_offset(offset).ok_or(ParsePositionError(()))?,
        })
    }
}

/// Digits only (no sign, no spaces), at most `u64::MAX`.
pub(crate) fn parse_offset(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The text is not a position of this crate (`{epoch}-{offset}`, epoch of
/// `[0-9a-z]`, offset decimal). A server treats such a `Last-Event-ID` like
/// a lost position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsePositionError(());

impl fmt::Display for ParsePositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "not a resse-redis position: expected EPOCH-OFFSET (EPOCH 1 to 32 of [0-9a-z], OFFSET decimal)",
        )
    }
}

impl std::error::Error for ParsePositionError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "-",
            "a-",
            "-1",
            "A-1",
            "a-+1",
            "a-1 ",
            "a-x",
            "a-99999999999999999999",
            "a_b-1",
        ] {
            assert!(bad.parse::<Position>().is_err(), "{bad:?}");
        }
        let long = format!("{}-1", "a".repeat(MAX_EPOCH_LEN + 1));
        assert!(long.parse::<Position>().is_err());
    }

    #[test]
    fn random_epochs_differ_and_parse() {
        let a = Epoch::random();
        let b = Epoch::random();
        assert_ne!(a, b);
        assert_eq!(Epoch::new(a.as_str()).unwrap(), a);
    }
}
