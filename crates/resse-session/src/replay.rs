//! [`ReplayLog`]: the server side of `Last-Event-ID`.

use std::collections::{BTreeMap, VecDeque, vec_deque};
use std::fmt;
use std::iter::FusedIterator;

use bytes::Bytes;
use resse_codec::Text;

/// Limits of a [`ReplayLog`].
///
/// Memory is bounded by all three: at most `max_events` entries holding at
/// most `max_len` bytes (encoded bytes plus id bytes), plus an index of
/// their ids, plus `max_tombstones` 8-byte hashes of evicted ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplayConfig {
    max_events: usize,
    max_len: usize,
    max_tombstones: usize,
}

impl ReplayConfig {
    /// Default [`max_events`](Self::max_events): 1024.
    pub const DEFAULT_MAX_EVENTS: usize = 1024;
    /// Default [`max_len`](Self::max_len): 4 MiB.
    pub const DEFAULT_MAX_LEN: usize = 4 * 1024 * 1024;
    /// Default [`max_tombstones`](Self::max_tombstones): 4096.
    pub const DEFAULT_MAX_TOMBSTONES: usize = 4096;

    resse_builder::field_methods! {
        /// The most entries the log keeps (default 1024). Zero keeps none.
        pub fn max_events(mut self, n: usize) -> Self;

        /// The most bytes the entries may hold, counting each entry's encoded
        /// bytes and its id (default 4 MiB). An entry larger than this on its
        /// own is not kept (see [`ReplayLog::push`]).
        pub fn max_len(mut self, n: usize) -> Self;

        /// How many evicted ids the log remembers (as 8-byte hashes), so that
        /// [`ReplayLog::events_after`] can tell [`Replay::TooOld`] from
        /// [`Replay::Unknown`] (default 4096). Older evicted ids read as
        /// `Unknown`.
        pub fn max_tombstones(mut self, n: usize) -> Self;

        /// The entry limit.
        pub fn get_max_events(&self) -> usize = self.max_events;
        /// The byte limit.
        pub fn get_max_len(&self) -> usize = self.max_len;
        /// The tombstone limit.
        pub fn get_max_tombstones(&self) -> usize = self.max_tombstones;
    }
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            max_events: Self::DEFAULT_MAX_EVENTS,
            max_len: Self::DEFAULT_MAX_LEN,
            max_tombstones: Self::DEFAULT_MAX_TOMBSTONES,
        }
    }
}

/// One published event in a [`ReplayLog`]: its id and its encoded bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayEntry {
    id: Text,
    bytes: Bytes,
}

impl ReplayEntry {
    /// The event's id.
    pub fn id(&self) -> &Text {
        &self.id
    }

    /// The encoded event, ready to write to a subscriber (cloning it is a
    /// reference-count increment).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    fn len(&self) -> usize {
        self.id.len().saturating_add(self.bytes.len())
    }
}

/// The answer of [`ReplayLog::events_after`].
#[derive(Clone, Debug)]
#[must_use]
pub enum Replay<'a> {
    /// Exactly the events published after the id, oldest first (empty when
    /// the id is the newest). Send them, then go live.
    Events(Events<'a>),
    /// The id was published but has been evicted since (the log is
    /// bounded): some events after it are gone, no exact answer exists.
    /// Typical responses: replay everything kept ([`ReplayLog::iter`]) and
    /// let the application resynchronise, or tell the client to reload.
    TooOld,
    /// The id was never published here, or was evicted so long ago that
    /// the log forgot it (beyond [`ReplayConfig::max_tombstones`]); for
    /// instance an id from before a server restart, or a forged one. No
    /// exact answer exists; respond as for `TooOld`, or start the client
    /// from now.
    Unknown,
}

impl Replay<'_> {
    /// How many events [`Events`](Self::Events) holds; `None` for
    /// [`TooOld`](Self::TooOld) and [`Unknown`](Self::Unknown).
    pub fn event_count(&self) -> Option<usize> {
        match self {
            Self::Events(events) => Some(events.len()),
            Self::TooOld | Self::Unknown => None,
        }
    }

    /// Whether this is an exact answer ([`Events`](Self::Events)).
    pub fn is_exact(&self) -> bool {
        matches!(self, Self::Events(_))
    }
}

/// The entries published after an id, oldest first: the iterator of
/// [`Replay::Events`].
#[derive(Clone, Debug)]
pub struct Events<'a> {
    iter: vec_deque::Iter<'a, ReplayEntry>,
}

impl<'a> Iterator for Events<'a> {
    type Item = &'a ReplayEntry;

    fn next(&mut self) -> Option<Self::Item> {
        self.iter.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl DoubleEndedIterator for Events<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.iter.next_back()
    }
}

impl ExactSizeIterator for Events<'_> {}
impl FusedIterator for Events<'_> {}

/// Why [`ReplayLog::push`] refused an entry. The log is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError {
    /// The id is empty. An event without an id (or with `id:` empty, which
    /// clears the client's last event id) cannot be resumed from, so it
    /// cannot be a replay key.
    EmptyId,
    /// An entry with this id is still in the log (or is the newest evicted
    /// one): a second one would make "after this id" ambiguous.
    DuplicateId(Text),
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyId => f.write_str("a replayed event needs a non-empty id"),
            Self::DuplicateId(id) => write!(f, "event id {id:?} is already in the replay log"),
        }
    }
}

impl std::error::Error for PushError {}

/// A bounded log of recently published events, keyed by id, so that a
/// subscriber reconnecting with `Last-Event-ID` gets exactly the events it
/// missed: in order, once, or an explicit "cannot" ([`Replay::TooOld`],
/// [`Replay::Unknown`]).
///
/// Ids are any non-empty strings ([`Text`]; `&str` and `String` convert),
/// unique among the retained events; they need not be numeric nor ordered
/// (monotone ids are the common case). The order of the log is the order of
/// [`push`](Self::push). The oldest entries are evicted first when a limit of
/// the [`ReplayConfig`] is exceeded.
///
/// # For a broadcaster
///
/// Publish and subscribe under the same lock, so that no event falls between
/// the replay and the live feed: to publish, encode the event, `push` it and
/// send it to the current subscribers; to subscribe with a `Last-Event-ID`,
/// take [`events_after`](Self::events_after), clone the bytes out (cheap),
/// and register the subscriber for live events, before releasing the lock.
///
/// ```
/// use bytes::BytesMut;
/// use resse_codec::{Encoder, Event};
/// use resse_session::{Replay, ReplayConfig, ReplayLog};
///
/// let mut log = ReplayLog::new(ReplayConfig::default().max_events(2));
/// for n in 1..=4 {
///     let event = Event::new(format!("tick {n}")).with_id(n.to_string());
///     let mut wire = BytesMut::new();
///     Encoder::new().encode(&event, &mut wire)?;
///     log.push(n.to_string(), wire.freeze())?; // and send to live subscribers
/// }
/// // A client that saw event 3 gets exactly event 4.
/// let Replay::Events(events) = log.events_after("3") else { panic!("3 is kept") };
/// let ids: Vec<&str> = events.map(|e| e.id().as_str()).collect();
/// assert_eq!(ids, ["4"]);
/// // The log keeps 2 events (3 and 4). Event 2 was evicted, but what came after
/// // it is all kept, so that answer is still exact; after 1, event 2 is missing.
/// assert_eq!(log.events_after("2").event_count(), Some(2));
/// assert!(matches!(log.events_after("1"), Replay::TooOld));
/// // An id never published is unknown.
/// assert!(matches!(log.events_after("7"), Replay::Unknown));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReplayLog {
    config: ReplayConfig,
    entries: VecDeque<ReplayEntry>,
    /// Id → sequence number; `entries[i]` has sequence `first_seq + i`.
    index: BTreeMap<Text, u64>,
    first_seq: u64,
    /// Sum of the entries' lengths.
    len: usize,
    /// The newest evicted id (copied, so that it does not keep a large
    /// buffer alive): the events after it are exactly the retained ones.
    anchor: Option<Text>,
    /// Hashes of older evicted ids, oldest first, and their counts.
    tombstones: VecDeque<u64>,
    tombstone_set: BTreeMap<u64, u32>,
}

impl Default for ReplayLog {
    fn default() -> Self {
        Self::new(ReplayConfig::default())
    }
}

impl ReplayLog {
    /// An empty log with these limits.
    pub fn new(config: ReplayConfig) -> Self {
        Self {
            config,
            entries: VecDeque::new(),
            index: BTreeMap::new(),
            first_seq: 0,
            len: 0,
            anchor: None,
            tombstones: VecDeque::new(),
            tombstone_set: BTreeMap::new(),
        }
    }

    /// The limits.
    pub fn config(&self) -> &ReplayConfig {
        &self.config
    }

    /// How many events the log holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log holds no event.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes the entries hold (encoded bytes plus ids); at most
    /// [`ReplayConfig::max_len`].
    pub fn byte_len(&self) -> usize {
        self.len
    }

    /// The id of the oldest event kept.
    pub fn oldest_id(&self) -> Option<&Text> {
        self.entries.front().map(ReplayEntry::id)
    }

    /// The id of the newest event kept.
    pub fn newest_id(&self) -> Option<&Text> {
        self.entries.back().map(ReplayEntry::id)
    }

    /// Whether an event with this id is kept.
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// All events kept, oldest first.
    pub fn iter(&self) -> Events<'_> {
        Events {
            iter: self.entries.iter(),
        }
    }

    /// The sequence number of the oldest kept entry (the next one's when
    /// the log is empty); each push takes the next number.
    pub(crate) fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// The entry with this sequence number, if kept.
    pub(crate) fn get(&self, seq: u64) -> Option<&ReplayEntry> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.entries.get(i)
    }

    /// Appends a published event: its id and its encoded bytes (what was
    /// sent to live subscribers). Evicts the oldest events until the limits
    /// hold again.
    ///
    /// An entry larger than [`ReplayConfig::max_len`] on its own (or any
    /// entry when `max_events` is 0) cannot be kept: the log then evicts
    /// everything and remembers only the id, so that a client that received
    /// this event still gets an exact answer (the events after it), while
    /// clients that missed it get [`Replay::TooOld`].
    ///
    /// # Errors
    /// [`PushError`] for an empty or duplicate id; the log is unchanged.
    pub fn push(&mut self, id: impl Into<Text>, bytes: Bytes) -> Result<(), PushError> {
        let id = id.into();
        if id.is_empty() {
            return Err(PushError::EmptyId);
        }
        if self.index.contains_key(id.as_str()) || self.anchor.as_ref() == Some(&id) {
            return Err(PushError::DuplicateId(id));
        }
        let entry = ReplayEntry { id, bytes };
        let seq = self.first_seq.saturating_add(self.entries.len() as u64);
        if entry.len() > self.config.max_len || self.config.max_events == 0 {
            while self.evict_oldest() {}
            self.set_anchor(&entry.id);
            self.first_seq = seq.saturating_add(1);
            return Ok(());
        }
        self.len += entry.len();
        self.index.insert(entry.id.clone(), seq);
        self.entries.push_back(entry);
        while self.entries.len() > self.config.max_events || self.len > self.config.max_len {
            self.evict_oldest();
        }
        Ok(())
    }

    /// The events published after the event with this id, for a client
    /// that reconnects with it as `Last-Event-ID`: exactly those, in order,
    /// each once ([`Replay::Events`], empty if it is the newest); or
    /// [`Replay::TooOld`] if it was evicted; or [`Replay::Unknown`] if the
    /// log never had it (or forgot it). An empty id is `Unknown`: a client
    /// without `Last-Event-ID` is a new subscriber and needs no replay.
    pub fn events_after(&self, id: &str) -> Replay<'_> {
        if let Some(&seq) = self.index.get(id) {
            let start = usize::try_from(seq - self.first_seq).map_or(self.entries.len(), |i| i + 1);
            let start = start.min(self.entries.len());
            return Replay::Events(Events {
                iter: self.entries.range(start..),
            });
        }
        if self.anchor.as_deref() == Some(id) {
            return Replay::Events(self.iter());
        }
        if self.tombstone_set.contains_key(&fnv1a(id)) {
            return Replay::TooOld;
        }
        Replay::Unknown
    }

    /// Evicts the oldest entry; `false` if there was none.
    fn evict_oldest(&mut self) -> bool {
        let Some(entry) = self.entries.pop_front() else {
            return false;
        };
        self.first_seq = self.first_seq.saturating_add(1);
        self.len -= entry.len();
        self.index.remove(entry.id.as_str());
        self.set_anchor(&entry.id);
        true
    }

    /// Makes `id` the newest evicted id; the previous one becomes a
    /// tombstone.
    fn set_anchor(&mut self, id: &Text) {
        let copy = Text::from(id.as_str());
        if let Some(old) = self.anchor.replace(copy) {
            self.bury(fnv1a(&old));
        }
    }

    fn bury(&mut self, hash: u64) {
        if self.config.max_tombstones == 0 {
            return;
        }
        self.tombstones.push_back(hash);
        *self.tombstone_set.entry(hash).or_insert(0) += 1;
        while self.tombstones.len() > self.config.max_tombstones {
            let Some(old) = self.tombstones.pop_front() else {
                break;
            };
            if let Some(count) = self.tombstone_set.get_mut(&old) {
                *count -= 1;
                if *count == 0 {
                    self.tombstone_set.remove(&old);
                }
            }
        }
    }
}

/// FNV-1a, 64 bits: deterministic (no random keys, no clock), enough to
/// remember evicted ids. A collision only makes an unknown id read as
/// [`Replay::TooOld`], never changes an exact answer.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(r: Replay<'_>) -> Option<Vec<String>> {
        match r {
            Replay::Events(e) => Some(e.map(|e| e.id().to_string()).collect()),
            _ => None,
        }
    }

    #[test]
    fn answers_after_each_id() {
        let mut log = ReplayLog::default();
        for id in ["a", "b", "c"] {
            log.push(id, Bytes::from_static(b"data: x\n\n"))
                .expect("unique ids");
        }
        assert_eq!(
            ids(log.events_after("a")),
            Some(vec!["b".into(), "c".into()])
        );
        assert_eq!(ids(log.events_after("c")), Some(vec![]));
        assert!(matches!(log.events_after("z"), Replay::Unknown));
        assert!(matches!(log.events_after(""), Replay::Unknown));
    }

    #[test]
    fn refuses_empty_and_duplicate_ids() {
        let mut log = ReplayLog::new(ReplayConfig::default().max_events(1));
        assert_eq!(log.push("", Bytes::new()), Err(PushError::EmptyId));
        log.push("a", Bytes::new()).expect("first");
        assert_eq!(
            log.push("a", Bytes::new()),
            Err(PushError::DuplicateId("a".into()))
        );
        log.push("b", Bytes::new()).expect("evicts a");
        // "a" is the newest evicted id: still refused.
        assert!(log.push("a", Bytes::new()).is_err());
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn eviction_by_count_and_bytes() {
        let mut log = ReplayLog::new(ReplayConfig::default().max_events(3).max_len(30));
        for n in 0..10u8 {
            log.push(n.to_string(), Bytes::from(vec![b'x'; 9]))
                .expect("unique");
            assert!(log.len() <= 3 && log.byte_len() <= 30);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.oldest_id().map(Text::as_str), Some("7"));
        assert_eq!(
            ids(log.events_after("6")),
            Some(vec!["7".into(), "8".into(), "9".into()])
        );
        assert!(matches!(log.events_after("5"), Replay::TooOld));
        // Bytes: 10-byte entries, 30 bytes: three fit; a 25-byte one leaves room for none else.
        log.push("big", Bytes::from(vec![b'y'; 22]))
            .expect("unique");
        assert_eq!(log.len(), 1);
        assert_eq!(log.byte_len(), 25);
        assert_eq!(ids(log.events_after("9")), Some(vec!["big".into()]));
    }

    #[test]
    fn oversized_entry_is_an_anchor() {
        let mut log = ReplayLog::new(ReplayConfig::default().max_len(10));
        log.push("1", Bytes::from_static(b"abc")).expect("fits");
        log.push("2", Bytes::from(vec![0; 100]))
            .expect("accepted, not kept");
        assert!(log.is_empty());
        assert_eq!(ids(log.events_after("2")), Some(vec![]));
        assert!(matches!(log.events_after("1"), Replay::TooOld));
        log.push("3", Bytes::from_static(b"def")).expect("fits");
        assert_eq!(ids(log.events_after("2")), Some(vec!["3".into()]));
    }

    #[test]
    fn tombstones_are_bounded() {
        let mut log = ReplayLog::new(ReplayConfig::default().max_events(1).max_tombstones(2));
        for n in 0..6 {
            log.push(n.to_string(), Bytes::new()).expect("unique");
        }
        // Kept: 5; anchor: 4; tombstones: 3, 2; forgotten: 1, 0.
        assert_eq!(ids(log.events_after("4")), Some(vec!["5".into()]));
        assert!(matches!(log.events_after("3"), Replay::TooOld));
        assert!(matches!(log.events_after("2"), Replay::TooOld));
        assert!(matches!(log.events_after("1"), Replay::Unknown));
        assert!(log.tombstones.len() <= 2 && log.tombstone_set.len() <= 2);
    }
}
