//! [`Event`] and [`Frame`]: what the decoder produces and the encoder consumes.

use crate::Text;
use core::time::Duration;

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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    event_type: Option<Text>,
    data: Text,
    id: Option<Text>,
    retry: Option<Duration>,
}

impl Event {
    /// An event carrying `data`, with no type, id or retry.
    pub fn new(data: impl Into<Text>) -> Self {
        Self {
            event_type: None,
            data: data.into(),
            id: None,
            retry: None,
        }
    }

    /// Builds a decoded event (no retry; id always present).
    pub(crate) fn decoded(event_type: Option<Text>, data: Text, id: Text) -> Self {
        Self {
            event_type,
            data,
            id: Some(id),
            retry: None,
        }
    }

    /// Sets the event type (the `event:` field).
    #[must_use]
    pub fn with_event_type(mut self, event_type: impl Into<Text>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Sets the id (the `id:` field). An empty id resets the client's last
    /// event ID.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<Text>) -> Self {
        self.id = Some(id.into());
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
        match &self.event_type {
            Some(t) if !t.is_empty() => t.as_str(),
            _ => DEFAULT_EVENT_TYPE,
        }
    }

    /// The event type exactly as set; `None` when unset.
    #[inline]
    pub fn event_type_text(&self) -> Option<&Text> {
        self.event_type.as_ref()
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
        self.id.as_deref()
    }

    /// The id as a [`Text`].
    #[inline]
    pub fn id_text(&self) -> Option<&Text> {
        self.id.as_ref()
    }

    /// The last event ID: [`id`](Self::id), or `""` when there is none.
    #[inline]
    pub fn last_event_id(&self) -> &str {
        self.id().unwrap_or("")
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
