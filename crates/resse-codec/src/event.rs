//! [`Event`] and [`Frame`]: what the decoder produces and the encoder consumes.

use crate::Text;
use core::{fmt, time::Duration};

/// The event type a dispatched event has when the stream named none.
pub const DEFAULT_EVENT_TYPE: &str = "message";

/// One server-sent event.
///
/// The same type travels both ways:
///
/// * **Decoded** events (from [`Decoder`](crate::Decoder)) have an event type
///   only if the stream set a non-empty one ([`event_type`](Self::event_type)
///   then reads `"message"`), an [`id`](Self::id) that is always `Some` and
///   holds the *last event ID in effect* (`""` when none: the value a client
///   would send as `Last-Event-ID`), and no [`retry`](Self::retry) (a
///   `retry:` field arrives as its own [`Frame::Retry`], when it is read).
/// * **Events to encode** are built with [`Event::new`] and the `with_*`
///   methods; unset fields are simply not written.
///
/// ```
/// use resse_codec::Event;
/// use std::time::Duration;
///
/// let e = Event::new("hello\nworld")
///     .with_event_type("greeting")
///     .with_id("42")
///     .with_retry(Duration::from_secs(3));
/// assert_eq!(e.event_type(), "greeting");
/// assert_eq!(e.data(), "hello\nworld");
/// assert_eq!(e.last_event_id(), "42");
/// assert_eq!(Event::new("x").event_type(), "message");
/// ```
#[derive(Clone)]
pub struct Event {
    /// [`Text::ABSENT`] when unset: an `Option<Text>` would make every
    /// `Frame` larger (a `Text` has no spare bit pattern for `None`), and
    /// moving frames is a good part of decoding a small event.
    event_type: Text,
    data: Text,
    /// [`Text::ABSENT`] when unset, as `event_type`.
    id: Text,
    retry: Option<Duration>,
}

impl Default for Event {
    fn default() -> Self {
        Self::new(Text::new())
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.event_type_text() == other.event_type_text()
            && self.data == other.data
            && self.id_text() == other.id_text()
            && self.retry == other.retry
    }
}

impl Eq for Event {}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("event_type", &self.event_type_text())
            .field("data", &self.data)
            .field("id", &self.id_text())
            .field("retry", &self.retry)
            .finish()
    }
}

impl Event {
    /// An event carrying `data`, with no type, id or retry.
    pub fn new(data: impl Into<Text>) -> Self {
        Self {
            event_type: Text::ABSENT,
            data: data.into(),
            id: Text::ABSENT,
            retry: None,
        }
    }

    /// Builds a decoded event (no retry; id always present). `event_type`
    /// may be [`Text::ABSENT`].
    #[inline]
    pub(crate) fn decoded(event_type: Text, data: Text, id: Text) -> Self {
        debug_assert!(!id.is_absent() && !data.is_absent());
        Self {
            event_type,
            data,
            id,
            retry: None,
        }
    }

    /// Sets the event type (the `event:` field).
    #[must_use]
    pub fn with_event_type(mut self, event_type: impl Into<Text>) -> Self {
        self.event_type = event_type.into();
        self
    }

    /// Sets the id (the `id:` field). An empty id resets the client's last
    /// event ID.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<Text>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the reconnection time to announce (the `retry:` field, written in
    /// whole milliseconds).
    #[must_use]
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The event type: the `event:` value, or `"message"` when it was unset
    /// or empty.
    #[inline]
    pub fn event_type(&self) -> &str {
        // `ABSENT` reads as empty.
        if self.event_type.is_empty() {
            DEFAULT_EVENT_TYPE
        } else {
            self.event_type.as_str()
        }
    }

    /// The event type exactly as set; `None` when unset.
    #[inline]
    pub fn event_type_text(&self) -> Option<&Text> {
        self.event_type.present()
    }

    /// The data, lines joined with `\n`.
    #[inline]
    pub fn data(&self) -> &str {
        self.data.as_str()
    }

    /// The data as a [`Text`] (clone it to keep it without copying).
    #[inline]
    pub fn data_text(&self) -> &Text {
        &self.data
    }

    /// The id: for decoded events the last event ID in effect (possibly
    /// `""`); for events to encode, the `id:` to write, if any.
    #[inline]
    pub fn id(&self) -> Option<&str> {
        self.id.present().map(Text::as_str)
    }

    /// The id as a [`Text`].
    #[inline]
    pub fn id_text(&self) -> Option<&Text> {
        self.id.present()
    }

    /// The last event ID: [`id`](Self::id), or `""` when there is none.
    #[inline]
    pub fn last_event_id(&self) -> &str {
        // `ABSENT` reads as empty.
        self.id.as_str()
    }

    /// The reconnection time to announce when encoding. Always `None` for
    /// decoded events.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Takes the data out, leaving the event.
    #[inline]
    pub fn into_data(self) -> Text {
        self.data
    }
}

/// One unit of decoder output.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// An event was dispatched (a blank line ended a block with data).
    Event(Event),
    /// A valid `retry:` field was read: the server asks the client to wait
    /// this long before reconnecting. Reported as soon as the line is read,
    /// before the event of the same block, as the spec applies it at once.
    /// The value is in milliseconds; values beyond `u64::MAX` ms saturate.
    Retry(Duration),
    /// A comment line (`:` followed by text), with one leading space
    /// removed. Only produced when
    /// [`DecoderConfig::comments`](crate::DecoderConfig::comments) is on.
    Comment(Text),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_empty_fields_differ() {
        let plain = Event::new("x");
        assert_eq!(plain.id(), None);
        assert_eq!(plain.event_type_text(), None);
        assert_eq!(plain.last_event_id(), "");
        assert_eq!(plain.event_type(), DEFAULT_EVENT_TYPE);
        let empty_id = Event::new("x").with_id("");
        assert_eq!(empty_id.id(), Some(""));
        assert_ne!(plain, empty_id);
        let empty_type = Event::new("x").with_event_type("");
        assert_eq!(empty_type.event_type_text().map(Text::as_str), Some(""));
        assert_eq!(empty_type.event_type(), DEFAULT_EVENT_TYPE);
        assert_ne!(plain, empty_type);
        assert_eq!(plain, Event::new(Text::from("x")));
        assert_eq!(Event::default(), Event::new(""));
    }

    #[test]
    fn frames_stay_small() {
        // Every decoded event is moved a few times on its way out; a larger
        // `Frame` (for example `Option<Text>` fields, 40 bytes each) measured
        // up to 35% slower on small events.
        assert_eq!(size_of::<Text>(), 32);
        assert!(size_of::<Frame>() <= 112);
        assert_eq!(size_of::<Option<Frame>>(), size_of::<Frame>());
    }

    #[test]
    fn debug_shows_unset_fields_as_none() {
        let shown = alloc::format!("{:?}", Event::new("x").with_id("7"));
        assert_eq!(
            shown,
            r#"Event { event_type: None, data: "x", id: Some("7"), retry: None }"#
        );
    }
}
