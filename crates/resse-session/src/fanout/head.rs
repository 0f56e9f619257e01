//! The response head, `Last-Event-ID` and keep-alive encoding: the parts of
//! an event-stream response that every server adapter writes alike.

use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use resse_codec::{EncodeError, Encoder, Event};
use resse_heartbeat::KeepAliveMessage;

#[allow(unused_imports)] // doc links
use super::Fanout;

/// The `X-Accel-Buffering` header, which tells nginx (and proxies that copy
/// it) not to buffer this response.
pub const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The response headers of an event stream:
///
/// * `Content-Type: text/event-stream`
/// * `Cache-Control: no-store`: neither browsers nor proxies may cache or
///   replay it.
/// * `X-Accel-Buffering: no`: nginx (and compatible proxies) must pass each
///   chunk on at once instead of buffering the response.
///
/// No `Content-Encoding`: an event stream must not be compressed
/// (compressors hold output back until they have enough of it).
///
/// ```
/// let headers = resse_session::response_headers();
/// assert_eq!(headers["content-type"], "text/event-stream");
/// assert_eq!(headers["cache-control"], "no-store");
/// assert_eq!(headers["x-accel-buffering"], "no");
/// ```
pub fn response_headers() -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_ACCEL_BUFFERING, HeaderValue::from_static("no"));
    headers
}

/// The request's `Last-Event-ID`, to pass to [`Fanout::subscribe`]: `None`
/// when absent, empty, or not UTF-8 (WHATWG: the header carries the last
/// event id string, and an empty one means none).
///
/// ```
/// use http::HeaderMap;
/// use resse_session::last_event_id;
///
/// let mut headers = HeaderMap::new();
/// assert_eq!(last_event_id(&headers), None);
/// headers.insert("last-event-id", "42".parse()?);
/// assert_eq!(last_event_id(&headers), Some("42"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn last_event_id(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(crate::LAST_EVENT_ID)?;
    std::str::from_utf8(value.as_bytes())
        .ok()
        .filter(|id| !id.is_empty())
}

/// Appends the wire form of a keep-alive message to `buf`: a comment
/// (`: text`) or a named event without an id (so that it never moves a
/// client's `Last-Event-ID`). A message kind this version does not know
/// is written as the comment `: keep-alive`. Both adapters use it.
///
/// # Errors
/// [`EncodeError`] if an event keep-alive's type contains CR or LF; nothing
/// is written then.
pub fn encode_keep_alive<B: bytes::BufMut>(
    message: &KeepAliveMessage,
    buf: &mut B,
) -> Result<(), EncodeError> {
    match message {
        KeepAliveMessage::Comment(text) => {
            Encoder::new().comment(text, buf);
            Ok(())
        }
        KeepAliveMessage::Event { event_type, data } => Encoder::new().encode(
            &Event::new(data.as_ref()).with_event_type(event_type.as_ref()),
            buf,
        ),
        // A kind this version does not know: a comment keeps the
        // connection busy all the same.
        _ => {
            Encoder::new().comment("keep-alive", buf);
            Ok(())
        }
    }
}
