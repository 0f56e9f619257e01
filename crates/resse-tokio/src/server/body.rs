//! [`SseBody`]: an `http_body::Body` of encoded events with keep-alives.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::Response;
use http_body::{Body, Frame as BodyFrame, SizeHint};
use resse_codec::{EncodeError, Encoder, Event, Frame};
use resse_heartbeat::{KeepAlive, KeepAliveConfig};
use tokio::time::Sleep;

use crate::now;

pub use crate::BoxError;

/// Why an [`SseBody`] ended with an error. The response is cut off there
/// (hyper closes the connection without the final chunk), so the client
/// notices, reconnects with its `Last-Event-ID` and, from a
/// [`Broadcaster`](super::Broadcaster), is replayed what it missed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// An event could not be encoded without breaking the stream's framing
    /// (CR or LF in its event type or id, NUL in its id). It was not sent
    /// and never altered; everything before it was sent. Fix the code that
    /// builds such events: the value would let one event inject others.
    Encode(EncodeError),
    /// The event stream yielded this error (a stream of `Result<T, E>`).
    Stream(BoxError),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => write!(
                f,
                "cannot encode an event ({e}); the event stream was ended there instead of \
                 altering the event"
            ),
            Self::Stream(e) => write!(f, "the event stream failed: {e}"),
        }
    }
}

impl StdError for BodyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Encode(e) => Some(e),
            Self::Stream(e) => Some(&**e),
        }
    }
}

impl From<EncodeError> for BodyError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

/// Something an [`SseBody`] can write: the items of its stream.
///
/// Implemented for [`Event`] (encoded with [`resse_codec::Encoder`]),
/// [`Frame`] (an event, a `retry:` line or a comment, e.g. decoded from an
/// upstream stream), [`Bytes`] (**already encoded** event stream bytes, such
/// as a [`Subscription`](super::Subscription) yields; written as they are),
/// and `Result<T, E>` of any of them, where an `Err` ends the body with
/// [`BodyError::Stream`]. Implement it for your own types by writing through
/// the [`Wire`] handed to you.
///
/// ```
/// use resse_codec::Event;
/// use resse_tokio::server::{BodyError, IntoWire, Wire};
///
/// /// A temperature reading, sent as a `reading` event.
/// struct Reading(f64);
///
/// impl IntoWire for Reading {
///     fn into_wire(self, wire: &mut Wire) -> Result<(), BodyError> {
///         Ok(wire.event(&Event::new(self.0.to_string()).with_event_type("reading"))?)
///     }
/// }
/// ```
pub trait IntoWire {
    /// Appends this item's event stream bytes to `wire`.
    ///
    /// # Errors
    /// A [`BodyError`] ends the response with that error (after the bytes
    /// written before it), and is logged.
    fn into_wire(self, wire: &mut Wire) -> Result<(), BodyError>;
}

impl IntoWire for Event {
    fn into_wire(self, wire: &mut Wire) -> Result<(), BodyError> {
        Ok(wire.event(&self)?)
    }
}

impl IntoWire for &Event {
    fn into_wire(self, wire: &mut Wire) -> Result<(), BodyError> {
        Ok(wire.event(self)?)
    }
}

impl IntoWire for Frame {
    fn into_wire(self, wire: &mut Wire) -> Result<(), BodyError> {
        match self {
            Self::Event(event) => wire.event(&event)?,
            Self::Retry(retry) => Encoder::new().retry(retry, wire.buf()),
            Self::Comment(text) => wire.comment(&text),
            // `Frame` may grow; a frame this version does not know is not
            // written rather than guessed at.
            _ => {}
        }
        Ok(())
    }
}

impl IntoWire for Bytes {
    fn into_wire(self, wire: &mut Wire) -> Result<(), BodyError> {
        wire.bytes(self);
        Ok(())
    }
}

impl<T, E> IntoWire for Result<T, E>
where
    T: IntoWire,
    E: Into<BoxError>,
{
    fn into_wire(self, wire: &mut Wire) -> Result<(), BodyError> {
        match self {
            Ok(item) => item.into_wire(wire),
            Err(e) => Err(BodyError::Stream(e.into())),
        }
    }
}

/// The bytes an [`SseBody`] is about to hand to the HTTP server, collected
/// from the items that were ready together (so that a busy stream is written
/// with few, large chunks).
///
/// A single [`bytes`](Self::bytes) item is passed on as it is, without a
/// copy; several items are concatenated. The buffer is released once handed
/// over, so an idle stream holds no buffer.
#[derive(Debug, Default)]
pub struct Wire {
    /// A lone pre-encoded item, kept as is (zero-copy).
    single: Option<Bytes>,
    /// Everything else, concatenated.
    buf: BytesMut,
}

impl Wire {
    /// Encodes `event` (see [`Encoder::encode`]).
    ///
    /// # Errors
    /// [`EncodeError`] if the event type contains CR or LF, or the id
    /// contains CR, LF or NUL; nothing is written then.
    pub fn event(&mut self, event: &Event) -> Result<(), EncodeError> {
        let estimate = 16
            + event.data().len()
            + event.event_type_text().map_or(0, |t| t.len() + 8)
            + event.id().map_or(0, |id| id.len() + 5)
            + if event.retry().is_some() { 28 } else { 0 };
        let buf = self.buf();
        buf.reserve(estimate);
        Encoder::new().encode(event, buf)
    }

    /// Writes a comment (see [`Encoder::comment`]); clients ignore it.
    pub fn comment(&mut self, text: &str) {
        Encoder::new().comment(text, self.buf());
    }

    /// Writes bytes that are already a valid event stream (whole encoded
    /// events, comments or `retry:` lines), unchanged.
    pub fn bytes(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        if self.single.is_none() && self.buf.is_empty() {
            self.single = Some(bytes);
        } else {
            self.buf().extend_from_slice(&bytes);
        }
    }

    /// How many bytes are collected.
    pub fn len(&self) -> usize {
        self.single.as_ref().map_or(0, Bytes::len) + self.buf.len()
    }

    /// Whether nothing is collected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The concatenation buffer, with a pending single item moved into it.
    fn buf(&mut self) -> &mut BytesMut {
        if let Some(single) = self.single.take() {
            self.buf.reserve(single.len() + 256);
            self.buf.extend_from_slice(&single);
        }
        &mut self.buf
    }

    /// Hands out everything collected, leaving no buffer behind.
    fn take(&mut self) -> Option<Bytes> {
        if let Some(single) = self.single.take() {
            return Some(single);
        }
        if self.buf.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.buf).freeze())
    }
}

/// How many items one [`Body::poll_frame`] call takes from the stream at
/// most, so that a stream that is always ready cannot hog the task.
const MAX_ITEMS_PER_FRAME: usize = 1024;

pin_project_lite::pin_project! {
    /// An [`http_body::Body`] that writes a stream of events as
    /// `text/event-stream`, with keep-alive comments while it is quiet.
    ///
    /// * **Items**: anything [`IntoWire`]: [`Event`]s are encoded with
    ///   [`resse_codec::Encoder`]; [`Bytes`] (e.g. from a
    ///   [`Subscription`](super::Subscription)) are written as they are;
    ///   `Result<T, E>` ends the body on `Err`. An event that cannot be
    ///   encoded (CR/LF in its event type or id, NUL in its id) is never
    ///   altered: the body ends with [`BodyError::Encode`] and the reason is
    ///   logged (`tracing::error!`).
    /// * **Batching**: when several items are ready, one frame carries all of
    ///   them (up to [`max_batch_len`](Self::max_batch_len) bytes), so a busy
    ///   stream costs one write per batch, not per event. A lone pre-encoded
    ///   item is passed on without copying.
    /// * **Keep-alive**: a [`resse_heartbeat::KeepAlive`] (default
    ///   [`KeepAliveConfig`]: a `: keep-alive` comment after 15 s of quiet)
    ///   decides when; real traffic postpones it. One tokio [`Sleep`] is armed
    ///   at its [`poll_timeout`](KeepAlive::poll_timeout) and re-armed when it
    ///   fires early. Time is tokio's clock, so tests can pause it. Keep-alives
    ///   need a runtime with timers enabled; turn them off with
    ///   [`without_keep_alive`](Self::without_keep_alive) otherwise.
    /// * **End**: when the stream ends, the body ends (the client then
    ///   reconnects, as SSE clients do).
    ///
    /// The body is `Send` when the stream is; it works with hyper directly
    /// (a `service_fn` returning `Response<SseBody<S>>`) and with axum (an
    /// `http::Response<SseBody<S>>` is an `IntoResponse`). Use
    /// [`into_response`](Self::into_response) for the right head.
    ///
    /// ```
    /// use futures_util::stream;
    /// use resse_codec::Event;
    /// use resse_tokio::server::SseBody;
    ///
    /// let events = stream::iter([Event::new("hello").with_id("1"), Event::new("world").with_id("2")]);
    /// let response = SseBody::new(events).into_response();
    /// assert_eq!(response.headers()["content-type"], "text/event-stream");
    /// ```
    #[must_use = "a body does nothing unless an HTTP server polls it"]
    pub struct SseBody<S> {
        #[pin]
        stream: S,
        keep_alive: Option<KeepAlive>,
        #[pin]
        sleep: Option<Sleep>,
        max_batch_len: usize,
        error: Option<BodyError>,
        stream_done: bool,
        done: bool,
    }
}

impl<S> fmt::Debug for SseBody<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseBody")
            .field("keep_alive", &self.keep_alive)
            .field("max_batch_len", &self.max_batch_len)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S> SseBody<S>
where
    S: Stream,
    S::Item: IntoWire,
{
    /// The default [`max_batch_len`](Self::max_batch_len): 64 KiB.
    pub const DEFAULT_MAX_BATCH_LEN: usize = 64 * 1024;

    /// A body writing `stream`, with the default keep-alive
    /// ([`KeepAliveConfig::default`]: a comment after 15 s of quiet),
    /// counted from now.
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            keep_alive: Some(KeepAlive::new(now(), KeepAliveConfig::default())),
            sleep: None,
            max_batch_len: Self::DEFAULT_MAX_BATCH_LEN,
            error: None,
            stream_done: false,
            done: false,
        }
    }

    /// Uses this keep-alive configuration (interval, message), counted from
    /// now.
    pub fn keep_alive(mut self, config: KeepAliveConfig) -> Self {
        self.keep_alive = Some(KeepAlive::new(now(), config));
        self
    }

    /// Sends no keep-alives (and needs no timer). Only for streams that are
    /// never quiet for long, or behind a proxy that sends its own: a quiet
    /// connection is otherwise closed by proxies and load balancers (60 s is a
    /// common idle timeout) and half-open connections go unnoticed.
    pub fn without_keep_alive(mut self) -> Self {
        self.keep_alive = None;
        self
    }

    /// Sets how many bytes one frame collects from ready items before it is
    /// handed to the server (default [`DEFAULT_MAX_BATCH_LEN`](Self::DEFAULT_MAX_BATCH_LEN);
    /// at least one item is always taken). Larger batches mean fewer writes
    /// for a busy stream; the buffer is freed as soon as it is written.
    pub fn max_batch_len(mut self, len: usize) -> Self {
        self.max_batch_len = len;
        self
    }

    /// This body in a `200 OK` response with the event stream head (see
    /// [`headers`](super::headers)).
    pub fn into_response(self) -> Response<Self> {
        let mut response = Response::new(self);
        *response.headers_mut() = super::headers();
        response
    }
}

impl<S> SseBody<S> {
    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, pinned.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut S> {
        self.project().stream
    }
}

impl<S> Body for SseBody<S>
where
    S: Stream,
    S::Item: IntoWire,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        // Collect whatever is ready, up to the batch limit. The buffer lives
        // only for this call: an idle body holds none.
        let mut wire = Wire::default();
        let mut items = 0;
        while !*this.stream_done
            && this.error.is_none()
            && items < MAX_ITEMS_PER_FRAME
            && wire.len() < *this.max_batch_len
        {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    items += 1;
                    if let Err(e) = item.into_wire(&mut wire) {
                        tracing::error!(error = %e, "ending the event stream response");
                        *this.error = Some(e);
                    }
                }
                Poll::Ready(None) => *this.stream_done = true,
                Poll::Pending => break,
            }
        }
        if let Some(bytes) = wire.take() {
            if let Some(keep_alive) = this.keep_alive.as_mut() {
                keep_alive.on_bytes_sent(now());
            }
            return Poll::Ready(Some(Ok(BodyFrame::data(bytes))));
        }
        if let Some(e) = this.error.take() {
            *this.done = true;
            return Poll::Ready(Some(Err(e)));
        }
        if *this.stream_done {
            *this.done = true;
            return Poll::Ready(None);
        }
        // Quiet: is a keep-alive due?
        let Some(keep_alive) = this.keep_alive.as_mut() else {
            return Poll::Pending;
        };
        loop {
            let Some(deadline) = keep_alive.poll_timeout() else {
                return Poll::Pending;
            };
            let deadline = tokio::time::Instant::from_std(deadline);
            let sleep = match this.sleep.as_mut().as_pin_mut() {
                Some(sleep) => sleep,
                None => {
                    this.sleep.set(Some(tokio::time::sleep_until(deadline)));
                    this.sleep
                        .as_mut()
                        .as_pin_mut()
                        .expect("the sleep was just set")
                }
            };
            // Traffic only moves the keep-alive deadline later, so the sleep
            // never fires late; when it fires early it is re-armed below.
            ready!(sleep.poll(cx));
            match keep_alive.handle_timeout(now()) {
                Some(message) => {
                    let mut wire = Wire::default();
                    let written = resse_session::encode_keep_alive(&message, wire.buf());
                    if let Err(e) = written {
                        let e = BodyError::Encode(e);
                        tracing::error!(error = %e, "the keep-alive message cannot be encoded; ending the event stream response");
                        *this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                    if let Some(bytes) = wire.take() {
                        return Poll::Ready(Some(Ok(BodyFrame::data(bytes))));
                    }
                }
                None => {
                    if let (Some(sleep), Some(deadline)) =
                        (this.sleep.as_mut().as_pin_mut(), keep_alive.poll_timeout())
                    {
                        sleep.reset(tokio::time::Instant::from_std(deadline));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
