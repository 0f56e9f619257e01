//! Watching one connection: the raw response head, when each piece of the
//! body arrived, and what the decoder made of it.
//!
//! Everything kept is bounded: events and deliveries are recorded up to a
//! count (then only counted), ids and previews are cut short, data is kept
//! as a hash, and the decoder's own limits bound what it buffers.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, StatusCode, Version};
use http_body_util::BodyExt;
use resse_codec::{BufferedDecoder, Decoder, DecoderConfig, Frame};
use resse_tokio::client::{Connect, HyperConnector, Request};

/// The most events recorded per connection (more are only counted).
const MAX_EVENTS: usize = 4096;
/// The most deliveries recorded per connection (more are only counted).
const MAX_DELIVERIES: usize = 4096;
/// The longest id kept for resumption; a longer one is not reused.
const MAX_ID: usize = 512;
/// The longest line and event the decoder accepts (longer ones are skipped).
const DECODER_LIMIT: usize = 1 << 20;
/// Body frames closer together than this are one delivery (one burst of
/// bytes, split by the transport).
const MERGE: Duration = Duration::from_millis(15);
/// A delivery that ends inside an event and whose rest comes this much
/// later was cut by something that holds bytes.
pub(crate) const CUT_WAIT: Duration = Duration::from_millis(250);
/// A cut counts only after a delivery of at least this many bytes (a small
/// write split in two is the server's doing, not a buffer's).
const CUT_MIN_BYTES: usize = 512;

/// The response head, as it came.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// When it arrived (since the doctor started).
    pub(crate) at: Duration,
    /// The status.
    pub(crate) status: StatusCode,
    /// The HTTP version of the response.
    pub(crate) version: Version,
    /// The headers (hyper bounds their number and size).
    pub(crate) headers: HeaderMap,
}

impl Head {
    /// Whether the body is compressed (a `Content-Encoding` other than `identity`).
    pub(crate) fn encoding(&self) -> Option<String> {
        let value = self.headers.get(CONTENT_ENCODING)?;
        let text = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
        (!text.is_empty() && !text.eq_ignore_ascii_case("identity")).then_some(text)
    }

    /// Whether the content type is `text/event-stream` (parameters allowed).
    pub(crate) fn is_event_stream(&self) -> bool {
        self.headers.get(CONTENT_TYPE).is_some_and(|v| {
            let text = String::from_utf8_lossy(v.as_bytes());
            let essence = text.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("text/event-stream")
        })
    }
}

/// One event as it arrived.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// When it was complete (since the doctor started).
    pub(crate) at: Duration,
    /// Its own `id:` field, when it had a non-empty one.
    pub(crate) id: Option<String>,
    /// Its `id:` field is longer than this module keeps.
    pub(crate) long_id: bool,
    /// A hash of its last event id, type and data: equal events have equal keys.
    pub(crate) key: u64,
    /// Its type, cut short.
    pub(crate) event_type: String,
    /// The start of its data.
    pub(crate) preview: String,
}

/// Body bytes that arrived together (frames less than 15 ms apart).
#[derive(Debug, Clone, Default)]
pub(crate) struct Delivery {
    /// When the first byte came (since the doctor started).
    pub(crate) at: Duration,
    /// When the last frame of it came.
    pub(crate) last: Duration,
    /// How many bytes.
    pub(crate) bytes: usize,
    /// How many events it completed.
    pub(crate) events: usize,
    /// A comment came, then an event, in this one delivery.
    pub(crate) comment_then_event: bool,
    /// It ended inside an event (or a line).
    pub(crate) ends_mid_event: bool,
}

/// A delivery that ended inside an event whose rest came much later.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cut {
    /// The size of the delivery that ended mid-event.
    pub(crate) bytes: usize,
    /// How long the rest of the event took.
    pub(crate) wait: Duration,
}

/// Everything seen on one connection.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// When the request was sent (since the doctor started).
    pub(crate) sent: Duration,
    /// The response head, once in.
    pub(crate) head: Option<Head>,
    /// Why the connection failed (escaped), when it did.
    pub(crate) error: Option<String>,
    /// When the body ended cleanly.
    pub(crate) ended: Option<Duration>,
    /// The watch of this connection is over (any reason).
    pub(crate) finished: bool,
    /// Body bytes received.
    pub(crate) bytes: u64,
    /// When the last body byte came.
    pub(crate) last_byte: Option<Duration>,
    /// The longest time without a byte, from the head on (but the trailing
    /// one, which only the caller can measure).
    pub(crate) longest_silence: Duration,
    /// The deliveries, up to a bound.
    pub(crate) deliveries: Vec<Delivery>,
    /// How many deliveries.
    pub(crate) delivery_count: usize,
    /// Deliveries cut inside an event and finished much later.
    pub(crate) cuts: Vec<Cut>,
    /// The events, up to a bound.
    pub(crate) events: Vec<Seen>,
    /// How many events.
    pub(crate) event_count: usize,
    /// How many comments.
    pub(crate) comment_count: usize,
    /// When the first comment came.
    pub(crate) first_comment: Option<Duration>,
    /// When the last comment came.
    pub(crate) last_comment: Option<Duration>,
    /// The first `retry:` value.
    pub(crate) retry: Option<Duration>,
    /// Blocks the decoder skipped (over its limits).
    pub(crate) decode_errors: usize,
}

impl Record {
    /// The longest silence up to `until` (the end of the watch, or of the body).
    pub(crate) fn silence_until(&self, until: Duration) -> Duration {
        let until = self.ended.map_or(until, |end| end.min(until));
        let since = self.last_byte.or(self.head.as_ref().map(|h| h.at));
        let trailing = since.map_or(Duration::ZERO, |since| until.saturating_sub(since));
        self.longest_silence.max(trailing)
    }

    /// Whether the connection got a `200` event stream that is not compressed.
    pub(crate) fn is_readable_stream(&self) -> bool {
        self.head.as_ref().is_some_and(|h| {
            h.status == StatusCode::OK && h.is_event_stream() && h.encoding().is_none()
        })
    }

    /// The index of the recorded event with `key`, if any.
    pub(crate) fn find(&self, key: u64) -> Option<usize> {
        self.events.iter().position(|e| e.key == key)
    }
}

/// A shared [`Record`], written by the connection's task, read by the doctor.
pub(crate) type Shared = Arc<Mutex<Record>>;

/// Locks a record (nothing panics while holding it; poisoning is ignored).
pub(crate) fn lock(record: &Shared) -> MutexGuard<'_, Record> {
    record.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends `request` and records the response until the body ends, fails, or
/// the task is aborted. Only a `200` uncompressed event stream is read.
pub(crate) async fn watch(
    connector: HyperConnector,
    request: Request,
    origin: Instant,
    record: Shared,
) {
    let since = || origin.elapsed();
    lock(&record).sent = since();
    let response = match connector.connect(request).await {
        Ok(response) => response,
        Err(e) => {
            let mut r = lock(&record);
            r.error = Some(crate::tail::chain(e.as_ref()));
            r.finished = true;
            return;
        }
    };
    let head = Head {
        at: since(),
        status: response.status(),
        version: response.version(),
        headers: response.headers().clone(),
    };
    let readable =
        head.status == StatusCode::OK && head.is_event_stream() && head.encoding().is_none();
    lock(&record).head = Some(head);
    if !readable {
        lock(&record).finished = true;
        return;
    }
    let mut body = response.into_body();
    let config = DecoderConfig::default()
        .max_line_len(DECODER_LIMIT)
        .max_event_len(DECODER_LIMIT)
        .comments(true);
    let mut decoder = BufferedDecoder::new(Decoder::with_config(config));
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        decoder.feed(&data);
                        arrived(&mut lock(&record), &mut decoder, data.len(), since());
                    }
                }
            }
            Some(Err(e)) => {
                let mut r = lock(&record);
                r.error = Some(crate::tail::chain(&e));
                r.finished = true;
                return;
            }
            None => {
                let mut r = lock(&record);
                r.ended = Some(since());
                r.finished = true;
                return;
            }
        }
    }
}

/// Notes `len` body bytes that arrived at `now` and the frames they completed.
fn arrived(r: &mut Record, decoder: &mut BufferedDecoder, len: usize, now: Duration) {
    let previous = r.last_byte.or(r.head.as_ref().map(|h| h.at));
    if let Some(previous) = previous {
        r.longest_silence = r.longest_silence.max(now.saturating_sub(previous));
    }
    r.last_byte = Some(now);
    r.bytes = r.bytes.saturating_add(len as u64);
    // Past the bound, the last recorded delivery is no longer the latest:
    // deliveries are then only counted.
    let tracking = r.deliveries.len() == r.delivery_count;
    let merge = tracking
        && r.deliveries
            .last()
            .is_some_and(|d| now.saturating_sub(d.last) <= MERGE);
    if !merge {
        if let Some(prev) = r.deliveries.last().filter(|_| tracking) {
            let wait = now.saturating_sub(prev.last);
            if prev.ends_mid_event && prev.bytes >= CUT_MIN_BYTES && wait >= CUT_WAIT {
                let cut = Cut {
                    bytes: prev.bytes,
                    wait,
                };
                if r.cuts.len() < MAX_DELIVERIES {
                    r.cuts.push(cut);
                }
            }
        }
        r.delivery_count += 1;
        if r.deliveries.len() < MAX_DELIVERIES {
            r.deliveries.push(Delivery {
                at: now,
                last: now,
                ..Delivery::default()
            });
        }
    }
    let mut events = 0;
    let mut comment_then_event = false;
    let mut comment = false;
    loop {
        match decoder.next_frame() {
            Ok(Some(Frame::Event(event))) => {
                events += 1;
                comment_then_event |= comment;
                r.event_count += 1;
                if r.events.len() < MAX_EVENTS {
                    r.events.push(seen(&event, now));
                }
            }
            Ok(Some(Frame::Comment(_))) => {
                comment = true;
                r.first_comment.get_or_insert(now);
                r.last_comment = Some(now);
                r.comment_count += 1;
            }
            Ok(Some(Frame::Retry(delay))) => {
                r.retry.get_or_insert(delay);
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => r.decode_errors += 1,
        }
    }
    let mid_event = !decoder.buffered().is_empty();
    if r.deliveries.len() == r.delivery_count {
        if let Some(d) = r.deliveries.last_mut() {
            d.last = now;
            d.bytes = d.bytes.saturating_add(len);
            d.events += events;
            d.comment_then_event |= comment_then_event;
            d.ends_mid_event = mid_event;
        }
    }
}

/// The record of one decoded event.
fn seen(event: &resse_codec::Event, at: Duration) -> Seen {
    let mut hasher = DefaultHasher::new();
    event.last_event_id().hash(&mut hasher);
    event.event_type().hash(&mut hasher);
    event.data().hash(&mut hasher);
    let id = event.id().filter(|id| !id.is_empty());
    Seen {
        at,
        id: id.filter(|id| id.len() <= MAX_ID).map(str::to_owned),
        long_id: id.is_some_and(|id| id.len() > MAX_ID),
        key: hasher.finish(),
        event_type: cut(event.event_type(), 40),
        preview: cut(event.data(), 40),
    }
}

/// The first `max` characters of `s`, with `…` when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(r: &mut Record, d: &mut BufferedDecoder, bytes: &[u8], at_ms: u64) {
        d.feed(bytes);
        arrived(r, d, bytes.len(), Duration::from_millis(at_ms));
    }

    fn decoder() -> BufferedDecoder {
        BufferedDecoder::new(Decoder::with_config(
            DecoderConfig::default().comments(true),
        ))
    }

    #[test]
    fn deliveries_merge_close_frames_and_note_cuts() {
        let mut r = Record::default();
        let mut d = decoder();
        feed(&mut r, &mut d, b"retry: 500\n\nid: 1\ndata: a\n\n", 0);
        feed(&mut r, &mut d, b"id: 2\ndata: b\n\n", 5);
        assert_eq!(r.delivery_count, 1);
        assert_eq!(r.deliveries[0].events, 2);
        assert_eq!(r.retry, Some(Duration::from_millis(500)));
        // A big delivery that ends inside an event, finished 400 ms later.
        let mut big = b"id: 3\ndata: ".to_vec();
        big.extend(std::iter::repeat_n(b'x', 600));
        feed(&mut r, &mut d, &big, 100);
        feed(&mut r, &mut d, b"\n\n: ka\n\nid: 4\ndata: c\n\n", 500);
        assert_eq!(r.delivery_count, 3);
        assert_eq!(r.cuts.len(), 1);
        assert_eq!(r.cuts[0].wait, Duration::from_millis(400));
        assert!(r.deliveries[2].comment_then_event);
        assert_eq!(r.event_count, 4);
        assert_eq!(r.events[3].id.as_deref(), Some("4"));
        assert_eq!(r.longest_silence, Duration::from_millis(400));
        assert_eq!(
            r.silence_until(Duration::from_millis(1500)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn equal_events_have_equal_keys_and_long_text_is_cut() {
        let a = seen(&resse_codec::Event::new("x").with_id("1"), Duration::ZERO);
        let b = seen(&resse_codec::Event::new("x").with_id("1"), Duration::ZERO);
        let c = seen(&resse_codec::Event::new("y").with_id("1"), Duration::ZERO);
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
