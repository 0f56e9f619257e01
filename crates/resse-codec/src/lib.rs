//! A sans-IO codec for [Server-Sent Events]: an incremental, zero-copy
//! decoder that follows the WHATWG HTML standard's [event stream
//! interpretation] exactly, and an encoder that cannot be tricked into
//! injecting events.
//!
//! It does no I/O, reads no clock and spawns nothing: bytes go in, frames come
//! out. The decoder's call shape is `tokio_util::codec::Decoder`'s, so async
//! adapters delegate to it; blocking readers feed it the same way.
//!
//! # Sans-IO: the drive loop
//!
//! 1. Append the bytes you received to a [`BytesMut`](bytes::BytesMut).
//! 2. Call [`Decoder::decode`] until it returns `Ok(None)` (need more bytes);
//!    handle each [`Frame`]: an [`Event`], a [`Frame::Retry`], or, if you
//!    asked for them, a [`Frame::Comment`].
//!    If your HTTP client hands out body chunks as [`Bytes`](bytes::Bytes)
//!    (hyper, reqwest), use [`Decoder::decode_bytes`] instead: events that
//!    lie within a chunk are then sliced from it without any copy. If you
//!    use each event before reading the next (a parser of LLM responses, a
//!    CLI), [`Decoder::decode_slice`] hands out [`FrameRef`]s whose texts
//!    borrow from your `&[u8]` chunk: no reference count, no allocation;
//!    [`Decoder::frames`] reads a whole chunk that way, faster (see
//!    [`ChunkFrames`]).
//! 3. At the end of the stream call [`Decoder::decode_eof`] (or
//!    [`Decoder::decode_bytes_eof`], [`Decoder::decode_slice_eof`]) until
//!    `Ok(None)`;
//!    [`Decoder::incomplete_at_eof`] then says whether an unterminated event
//!    was discarded, and [`Decoder::last_event_id`] is what to send as
//!    `Last-Event-ID` when reconnecting.
//!
//! ```
//! use bytes::BytesMut;
//! use resse_codec::{Decoder, Encoder, Event, Frame};
//!
//! // A server encodes...
//! let mut wire = BytesMut::new();
//! Encoder::new().encode(&Event::new("{\"n\":1}").with_id("1"), &mut wire)?;
//!
//! // ...a client decodes.
//! let mut decoder = Decoder::new();
//! match decoder.decode(&mut wire)? {
//!     Some(Frame::Event(e)) => {
//!         assert_eq!(e.data(), "{\"n\":1}");
//!         assert_eq!(e.last_event_id(), "1");
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Conformance
//!
//! Lines end at CRLF, LF or a lone CR (also when split across reads); one
//! leading BOM is stripped; one space after the colon is removed; `id`
//! values containing NUL are ignored; the last event ID is committed only when
//! a blank line ends the block; `retry` counts only when all ASCII digits;
//! unknown fields are ignored; invalid UTF-8 becomes U+FFFD (one per maximal
//! subpart, as browsers do); a block cut off by the end of the stream is
//! discarded. The test suite ports the web-platform-tests `eventsource/format-*`
//! cases and checks the decoder against a naive reference implementation.
//!
//! # Limits and untrusted input
//!
//! See [`DecoderConfig`]: a maximum line length and a maximum event size
//! (16 MiB each by default) bound memory (to the larger limit plus one chunk
//! plus [`MEMORY_SLACK`], on every input shape); exceeding one yields a
//! [`DecodeError`] once, and the decoder either resynchronises at the next
//! blank line or stops ([`Overflow`]). No input makes the decoder panic;
//! fuzzing checks this.
//!
//! # Crate features
//!
//! * `std` (default): runtime CPU feature detection in `memchr` (AVX2 line
//!   scanning). Without it the crate is `no_std` + `alloc`.
//!
//! [Server-Sent Events]: https://html.spec.whatwg.org/multipage/server-sent-events.html
//! [event stream interpretation]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod borrowed;
mod chunks;
mod decoder;
mod encoder;
mod error;
mod event;
mod source;
mod text;

pub use borrowed::{EventRef, FrameRef};
pub use chunks::ChunkDecoder;
pub use decoder::{
    BufferedDecoder, ChunkFrames, DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN, Decoder,
    DecoderConfig, MEMORY_SLACK, Overflow,
};
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError};
pub use event::{DEFAULT_EVENT_TYPE, Event, Frame};
pub use text::Text;

/// The `bytes` crate of the buffers the decoder reads from and the encoder
/// writes to ([`BytesMut`](bytes::BytesMut)), so that you need no `bytes`
/// dependency of your own and cannot end up with a second version of it.
pub use bytes;

/// The README's examples, compiled and run as doctests (not part of the API).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
